import { parseArgs } from 'node:util';
import {
  type AccessDiff,
  ConfigClient,
  ConfigError,
  diffAccess,
  formatConfigIssue,
  type NormalizedConfig,
  type Plan,
  planChanges,
  plannedState,
  planToJson,
  readConfigFile,
  renderPlan,
  type ServerState,
} from '@aiam/client';
import { type CliIo, type Command, UsageError } from '../cli-io.js';

const USAGE = `usage: aiam plan -f FILE [--format text|json] [--delete-unowned]

Compares an access-as-code file (YAML, JSON, .mjs/.ts defineConfig) with the server named by
AIAM_ENDPOINT and shows the resource diff and the access diff (who gains or loses which action
on what). Changes nothing. Exits 0 when there is nothing to do, 2 on a usage error, 1 when
the file is invalid or the server refuses; with --detailed-exitcode, 3 when there are changes.

  -f, --file FILE       the config file
  --format FORMAT       text (default) or json
  --delete-unowned      also delete resources created through the API that the file omits
                        (resources from SCIM are never deleted unless the file claims them)
  --detailed-exitcode   exit 3 when the plan has changes (for CI)
`;

/** A file checked and planned against the server: everything `plan` and `apply` show. */
export interface PlannedFile {
  readonly desired: NormalizedConfig;
  readonly server: ServerState;
  readonly plan: Plan;
  readonly access: AccessDiff;
}

/**
 * Loads `path` (every issue printed with file:line:col; an invalid file is refused before the
 * server is asked anything), reads the server's state and plans against it.
 */
export async function planFile(
  path: string,
  io: CliIo,
  client: ConfigClient,
  options: { deleteUnowned?: boolean } = {},
): Promise<PlannedFile> {
  const checked = await readConfigFile(path);
  for (const w of checked.warnings) io.stderr.write(`${formatConfigIssue(w)}\n`);
  if (!checked.config) throw new ConfigError([...checked.errors, ...checked.warnings]);
  const server = await client.getState();
  // Again with the account, so ARNs of this account plan like the paths the server reports.
  const loaded = await readConfigFile(path, { accountId: server.accountId });
  if (!loaded.config) throw new ConfigError([...loaded.errors]);
  const desired = loaded.config;
  const plan = planChanges(desired, server.state, { deleteUnowned: options.deleteUnowned === true });
  // Access after the apply is the file plus what the plan leaves alone (the admin, SCIM users…),
  // not the file alone, or every unmanaged grant would read as lost.
  const access = diffAccess(plannedState(desired, server.state, plan), server.state, {
    accountId: server.accountId,
  });
  return { desired, server, plan, access };
}

/** Whether a stream is an interactive terminal (colours, progress). */
export function isTty(stream: unknown): boolean {
  return (stream as { isTTY?: boolean }).isTTY === true;
}

/** Options the plan and apply commands share. */
export const PLAN_OPTIONS = {
  file: { type: 'string', short: 'f' },
  'delete-unowned': { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

/** `aiam plan -f FILE`: the resource and access diff against the server, changing nothing. */
export const planCommand: Command = {
  summary: 'show what applying an access-as-code file would change (resources and access)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    let values: {
      file?: string;
      format?: string;
      'delete-unowned'?: boolean;
      help?: boolean;
      'detailed-exitcode'?: boolean;
    };
    try {
      ({ values } = parseArgs({
        args,
        options: {
          ...PLAN_OPTIONS,
          format: { type: 'string' },
          'detailed-exitcode': { type: 'boolean' },
        },
        allowPositionals: false,
      }));
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
    if (values.help) {
      io.stdout.write(USAGE);
      return 0;
    }
    if (!values.file) throw new UsageError('give the config file with -f FILE');
    const format = values.format ?? 'text';
    if (format !== 'text' && format !== 'json')
      throw new UsageError(`--format must be text or json, not "${format}"`);
    const { plan, access } = await planFile(values.file, io, new ConfigClient(), {
      deleteUnowned: values['delete-unowned'] === true,
    });
    if (format === 'json') io.stdout.write(`${JSON.stringify(planToJson(plan, access), null, 2)}\n`);
    else io.stdout.write(renderPlan(plan, access, { color: isTty(io.stdout) }));
    return values['detailed-exitcode'] && plan.changes.length > 0 ? 3 : 0;
  },
};
