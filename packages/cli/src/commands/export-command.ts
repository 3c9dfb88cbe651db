import { writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ConfigClient, exportConfig } from '@aiam/client';
import { type CliIo, type Command, UsageError } from '../cli-io.js';

const USAGE = `usage: aiam export [-o FILE]

Writes the server's current state as an access-as-code YAML file, in the format aiam apply
reads: applying the export changes nothing. No secret is ever exported (access keys are listed
by name).

  -o, --output FILE   write to FILE instead of stdout
`;

/** `aiam export`: the current state as YAML. */
export const exportCommand: Command = {
  summary: "write the server's state as an access-as-code file (no secrets)",
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    let values: { output?: string; help?: boolean };
    try {
      ({ values } = parseArgs({
        args,
        options: { output: { type: 'string', short: 'o' }, help: { type: 'boolean', short: 'h' } },
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    const { state, accountId, revision } = await new ConfigClient().getState();
    const text = exportConfig(state, {
      header: `Exported by aiam from account ${accountId} at revision ${revision}.\nSecrets are never exported: access keys are listed by name.`,
    });
    if (values.output) await writeFile(values.output, text, 'utf8');
    else io.stdout.write(text);
    return 0;
  },
};
