/**
 * The `aiam` command line. Each subcommand lives in its own module under `commands/`; this file
 * only dispatches. Returns the process exit code instead of exiting, so tests can call it.
 */
const USAGE = `usage: aiam <command> [options]

commands:
  version                      print the version
`;

/** Runs the CLI with `argv` (without node and script) and resolves to the exit code. */
export async function main(argv: string[]): Promise<number> {
  const [command] = argv;
  switch (command) {
    case 'version':
    case '--version':
      process.stdout.write('aiam 0.1.0\n');
      return 0;
    case undefined:
    case 'help':
    case '--help':
      process.stdout.write(USAGE);
      return 0;
    default:
      process.stderr.write(`aiam: unknown command "${command}"\n${USAGE}`);
      return 2;
  }
}
