import { isAiamError } from '@aiam/policy';
import { type CliIo, type Command, processIo, UsageError } from './cli-io.js';
import { accessKeyCommand } from './commands/access-key-command.js';
import { adminCommand } from './commands/admin-command.js';
import { auditCommand } from './commands/audit-command.js';
import { endpointCommand } from './commands/endpoint-command.js';
import { explainCommand } from './commands/explain-command.js';
import { groupCommand } from './commands/group-command.js';
import { modelCommand } from './commands/model-command.js';
import { policyCommand } from './commands/policy-command.js';
import { roleAssignmentCommand } from './commands/role-assignment-command.js';
import { roleCommand } from './commands/role-command.js';
import { applyCommand } from './commands/apply-command.js';
import { domainCommand } from './commands/domain-command.js';
import { exportCommand } from './commands/export-command.js';
import { planCommand } from './commands/plan-command.js';
import { runCommand } from './commands/run-command.js';
import { scimTokenCommand } from './commands/scim-token-command.js';
import { serveCommand } from './commands/serve-command.js';
import { simulateCommand } from './commands/simulate-command.js';
import { simulateCustomPolicyCommand } from './commands/simulate-custom-policy-command.js';
import { userCommand } from './commands/user-command.js';
import { validateCommand } from './commands/validate-command.js';
import { whocanCommand } from './commands/whocan-command.js';
import { workspaceCommand } from './commands/workspace-command.js';

/**
 * The `aiam` command line. Each subcommand lives in its own module under `commands/` and is
 * registered here by name; this file only dispatches. To add one, write a `Command` and add it
 * to `COMMANDS`.
 */
const VERSION = '0.1.0';

const COMMANDS: Readonly<Record<string, Command>> = {
  serve: serveCommand,
  run: runCommand,
  plan: planCommand,
  apply: applyCommand,
  export: exportCommand,
  domain: domainCommand,
  validate: validateCommand,
  'simulate-custom-policy': simulateCustomPolicyCommand,
  user: userCommand,
  group: groupCommand,
  role: roleCommand,
  policy: policyCommand,
  'access-key': accessKeyCommand,
  'role-assignment': roleAssignmentCommand,
  audit: auditCommand,
  explain: explainCommand,
  workspace: workspaceCommand,
  model: modelCommand,
  endpoint: endpointCommand,
  whocan: whocanCommand,
  simulate: simulateCommand,
  'scim-token': scimTokenCommand,
  admin: adminCommand,
};

function usage(): string {
  const width = Math.max(...Object.keys(COMMANDS).map((n) => n.length), 'version'.length) + 2;
  const lines = Object.entries(COMMANDS).map(([name, c]) => `  ${name.padEnd(width)} ${c.summary}`);
  lines.push(`  ${'version'.padEnd(width)} print the version`);
  return `usage: aiam <command> [options]\n\ncommands:\n${lines.join('\n')}\n\nRun "aiam <command> --help" for a command's options.\n`;
}

/**
 * Runs the CLI with `argv` (without node and script) and resolves to the exit status: 0 success,
 * 1 the command's own failure (an ERROR finding, a refused policy), 2 a usage error.
 * `io` defaults to the process streams; tests pass their own.
 */
export async function main(argv: string[], io: CliIo = processIo()): Promise<number> {
  const [name, ...args] = argv;
  if (name === undefined || name === 'help' || name === '--help' || name === '-h') {
    io.stdout.write(usage());
    return 0;
  }
  if (name === 'version' || name === '--version') {
    io.stdout.write(`aiam ${VERSION}\n`);
    return 0;
  }
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    io.stderr.write(`aiam: unknown command "${name}"\n${usage()}`);
    return 2;
  }
  try {
    return await command.run(args, io);
  } catch (err) {
    if (err instanceof UsageError) {
      io.stderr.write(`aiam ${name}: ${err.message}\n\n${command.usage}`);
      return 2;
    }
    if (isAiamError(err)) {
      io.stderr.write(`aiam ${name}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}
