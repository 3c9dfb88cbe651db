/**
 * The client side of the provisioning bench, in its own process so its peak memory is its own:
 * `node … provisioning-bench-client.ts FILE` does what `aiam apply -f FILE --yes` does (the CLI's
 * `planFile` steps, then `toApplyChanges` and `ConfigClient.apply`) against AIAM_ENDPOINT with
 * the AWS_* credentials of the environment, timing each step, then plans again to check the
 * apply is idempotent. Prints one JSON line ({@link ProvisioningClientReport}).
 */
import { fileURLToPath } from 'node:url';
import { ConfigClient, diffAccess, planChanges, readConfigFile, toApplyChanges } from '@aiam/client';

/** What the client child prints. */
export interface ProvisioningClientReport {
  /** Milliseconds per step, in order. */
  readonly phases: Readonly<Record<string, number>>;
  readonly changes: number;
  readonly applied: number;
  /** Changes a plan made right after the apply finds (0 when the apply is idempotent). */
  readonly changesAfter: number;
  /** Peak resident set size of this process, KiB. */
  readonly maxRssKiB: number;
}

async function main(): Promise<void> {
  const [file] = process.argv.slice(2);
  if (!file) throw new Error('usage: provisioning-bench-client.ts FILE');
  const phases: Record<string, number> = {};
  const timed = async <T>(name: string, fn: () => Promise<T> | T): Promise<T> => {
    const t0 = performance.now();
    const out = await fn();
    phases[name] = (phases[name] ?? 0) + performance.now() - t0;
    return out;
  };
  const client = new ConfigClient();
  // The steps of the CLI's planFile: check the file, read the state, load again with the account.
  const checked = await timed('load + check file', () => readConfigFile(file));
  if (!checked.config) throw new Error(`the generated file is invalid: ${JSON.stringify(checked.errors[0])}`);
  const server = await timed('GET state', () => client.getState());
  const loaded = await timed('load + check file', () =>
    readConfigFile(file, { accountId: server.accountId }),
  );
  const desired = loaded.config!;
  const plan = await timed('plan', () => planChanges(desired, server.state, { deleteUnowned: false }));
  await timed('access diff', () => diffAccess(desired, server.state, { accountId: server.accountId }));
  const changes = await timed('to apply changes', () => toApplyChanges(plan, desired, server.state));
  const result = await timed('POST apply', () => client.apply(server.revision, changes));
  const after = await timed('re-plan (GET state + plan)', async () => {
    const state = await client.getState();
    return planChanges(desired, state.state, { deleteUnowned: false });
  });
  const report: ProvisioningClientReport = {
    phases,
    changes: changes.length,
    applied: result.applied,
    changesAfter: after.changes.length,
    maxRssKiB: process.resourceUsage().maxRSS,
  };
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
