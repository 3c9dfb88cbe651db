import { constants } from 'node:fs';
import { type FileHandle, open, unlink } from 'node:fs/promises';
import { createInterface } from 'node:readline/promises';
import { parseArgs } from 'node:util';
import { type ApplyResult, ConfigClient, type Plan, renderPlan, toApplyChanges } from '@aiam/client';
import { type CliIo, type Command, UsageError } from '../cli-io.js';
import { isTty, PLAN_OPTIONS, planFile } from './plan-command.js';

const USAGE = `usage: aiam apply -f FILE [--yes] [--secrets-out PATH [--force]] [--delete-unowned]

Plans the file against the server (as aiam plan), shows the plan, asks for confirmation, and
applies every change in one transaction: all or nothing. A second apply of the same file
changes nothing. When the server changed since the plan was made, nothing is applied: run it
again. New secrets (access keys, endpoint keys) are never printed: they go to --secrets-out.

  -f, --file FILE        the config file
  -y, --yes              apply without asking (required when stdin is not a terminal)
  --secrets-out PATH     write new secrets to PATH as JSON keyed like the config (mode 0600);
                         required when the plan creates a secret
  --force                overwrite PATH if it exists
  --delete-unowned       also delete resources created through the API that the file omits
`;

/** Whether applying `plan` makes a secret the server shows once. */
function makesSecrets(plan: Plan): boolean {
  return plan.changes.some(
    (c) =>
      c.returnsSecret === true ||
      (c.kind === 'endpoint' &&
        c.action !== 'delete' &&
        c.fields.some((f) => f.field === 'authMode' && f.after === 'key')),
  );
}

/** The secrets of an apply, nested like the config: `{ users: { u: { accessKeys: { k: {...} } } } }`. */
export function secretsDocument(result: ApplyResult): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const s of result.secrets) {
    let node = out;
    for (const step of s.path) {
      if (!Object.hasOwn(node, step)) node[step] = {};
      node = node[step] as Record<string, unknown>;
    }
    Object.assign(node, s.value);
  }
  return out;
}

async function confirm(): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    const answer = await rl.question('\nApply these changes? Only "yes" is accepted: ');
    return answer.trim() === 'yes';
  } finally {
    rl.close();
  }
}

/** `aiam apply -f FILE`: plan, confirm, apply in one transaction, secrets to a 0600 file. */
export const applyCommand: Command = {
  summary: 'apply an access-as-code file to the server (one transaction, idempotent)',
  usage: USAGE,
  async run(args: string[], io: CliIo): Promise<number> {
    let values: {
      file?: string;
      yes?: boolean;
      'secrets-out'?: string;
      force?: boolean;
      'delete-unowned'?: boolean;
      help?: boolean;
    };
    try {
      ({ values } = parseArgs({
        args,
        options: {
          ...PLAN_OPTIONS,
          yes: { type: 'boolean', short: 'y' },
          'secrets-out': { type: 'string' },
          force: { type: 'boolean' },
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
    const client = new ConfigClient();
    const { desired, server, plan, access } = await planFile(values.file, io, client, {
      deleteUnowned: values['delete-unowned'] === true,
    });
    if (plan.changes.length === 0) {
      io.stdout.write('No changes. The server matches the file.\n');
      return 0;
    }
    const secretsOut = values['secrets-out'];
    if (makesSecrets(plan) && !secretsOut)
      throw new UsageError(
        'this plan creates secrets (access keys or endpoint keys), shown only once: pass --secrets-out PATH to keep them',
      );
    io.stdout.write(renderPlan(plan, access, { color: isTty(io.stdout) }));
    if (!values.yes) {
      if (!isTty(process.stdin))
        throw new UsageError('stdin is not a terminal: pass --yes to apply without confirmation');
      if (!(await confirm())) {
        io.stderr.write('Apply cancelled; nothing changed.\n');
        return 1;
      }
    }
    // Claim the secrets file before anything is applied, so a file that cannot be written
    // never costs a secret: created exclusively (unless --force) and readable by its owner only.
    let handle: FileHandle | undefined;
    if (secretsOut) {
      const flags =
        constants.O_WRONLY | constants.O_CREAT | (values.force ? constants.O_TRUNC : constants.O_EXCL);
      try {
        handle = await open(secretsOut, flags, 0o600);
        await handle.chmod(0o600);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        throw new UsageError(
          code === 'EEXIST'
            ? `${secretsOut} exists; choose another path or pass --force to overwrite it`
            : `cannot write ${secretsOut}: ${code ?? (err as Error).message}`,
        );
      }
    }
    const changes = toApplyChanges(plan, desired, server.state);
    const progress = isTty(io.stderr);
    if (progress) io.stderr.write(`Applying ${changes.length} change${changes.length === 1 ? '' : 's'}…\n`);
    let result: ApplyResult;
    try {
      result = await client.apply(server.revision, changes);
    } catch (err) {
      if (handle) {
        await handle.close();
        await unlink(secretsOut!).catch(() => {});
      }
      throw err;
    }
    if (handle) {
      await handle.writeFile(`${JSON.stringify(secretsDocument(result), null, 2)}\n`, 'utf8');
      await handle.close();
    }
    if (progress) io.stderr.write(`Applied ${result.applied}/${changes.length} changes.\n`);
    const s = plan.summary;
    io.stdout.write(
      `Apply complete: ${s.create} created, ${s.update} updated, ${s.replace} replaced, ${s.delete} deleted (revision ${result.revision}).\n`,
    );
    if (result.secrets.length && secretsOut)
      io.stdout.write(
        `${result.secrets.length} new secret${result.secrets.length === 1 ? '' : 's'} written to ${secretsOut}.\n`,
      );
    return 0;
  },
};
