import { type ChildProcess, execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import pg from 'pg';
import { compiledNodeFlags, startReadyChild, stopChild } from './bench-processes.js';
import { type BenchArea, type BenchOptions, type BenchOutcome, formatRate, formatTable } from './harness.js';
import type { ProvisioningClientReport } from './provisioning-bench-client.js';
import type { ProvisioningServerReady } from './provisioning-bench-server.js';

/**
 * The provisioning bench: (1) `aiam apply` of a generated access-as-code file of 10,000 users,
 * 1,000 groups and 5,000 managed policies into an empty server (time per step, peak memory of
 * the server and of the client), then a plan that must find nothing to do; (2) SCIM provisioning
 * of 10,000 users through POST /scim/v2/Users with a provisioning token over a few concurrent
 * connections (users per second). Both on SQLite and on PostgreSQL (a fresh database per server,
 * dropped afterwards; skipped when PostgreSQL is not reachable). SCIM then creates 100 groups, adds
 * 2,000 memberships one PATCH each, grows one group to 2,000 members one PATCH at a time (one
 * connection) and deactivates 1,000 users (ops per second). `--quick`: a tenth of the sizes.
 * `AIAM_BENCH_CPU_PROF=DIR` profiles the server and client children (`--cpu-prof`).
 */
export const provisioningBench: BenchArea = {
  name: 'provisioning',
  description:
    'aiam apply of 10k users / 1k groups / 5k policies; SCIM: 10k users, 2k memberships, 1k deactivations',
  run: runProvisioningBench,
};

const SERVER_SCRIPT = fileURLToPath(new URL('./provisioning-bench-server.ts', import.meta.url));
const CLIENT_SCRIPT = fileURLToPath(new URL('./provisioning-bench-client.ts', import.meta.url));
const PG_ADMIN_URL = process.env.AIAM_BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test';
const SCIM_CONNECTIONS = Number(process.env.AIAM_BENCH_SCIM_CONNECTIONS ?? 4);
const execFileAsync = promisify(execFile);

/** Sizes of one run. */
interface Sizes {
  readonly users: number;
  readonly groups: number;
  readonly policies: number;
  readonly scimUsers: number;
  readonly scimGroups: number;
  readonly scimMemberships: number;
  readonly scimBigGroup: number;
  readonly scimDeactivations: number;
}

/**
 * The access-as-code file: policy i allows reading one team prefix; group i attaches 5
 * policies (so every policy is attached once); user i belongs to 2 groups and has 1 policy.
 */
export function generateConfigYaml(sizes: Sizes): string {
  const out: string[] = ['policies:'];
  for (let i = 0; i < sizes.policies; i++)
    out.push(
      `  p${i}:`,
      '    document:',
      '      Version: "2012-10-17"',
      '      Statement:',
      '        - Effect: Allow',
      '          Action: [s3:GetObject, s3:ListBucket]',
      `          Resource: [arn:aws:s3:::data-${i % 100}, arn:aws:s3:::data-${i % 100}/team-${i}/*]`,
    );
  out.push('groups:');
  const perGroup = Math.max(1, Math.min(5, Math.floor(sizes.policies / sizes.groups)));
  for (let i = 0; i < sizes.groups; i++) {
    const ps = Array.from({ length: perGroup }, (_, k) => `p${(i * perGroup + k) % sizes.policies}`);
    out.push(`  g${i}:`, `    policies: [${ps.join(', ')}]`);
  }
  out.push('users:');
  for (let i = 0; i < sizes.users; i++) {
    const a = i % sizes.groups;
    const b = (i * 7 + 3) % sizes.groups;
    const groups = a === b ? `g${a}` : `g${a}, g${b}`;
    out.push(`  u${i}:`, `    groups: [${groups}]`, `    policies: [p${i % sizes.policies}]`);
  }
  return `${out.join('\n')}\n`;
}

function nodeArgv(script: string, args: readonly string[]): string[] {
  const profDir = process.env.AIAM_BENCH_CPU_PROF;
  const prof = profDir ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  return [process.execPath, ...compiledNodeFlags(), ...prof, script, ...args];
}

/** Peak resident set size (VmHWM) of a live process, KiB. */
async function peakRssKiB(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
  if (!match) throw new Error(`no VmHWM in /proc/${pid}/status`);
  return Number(match[1]);
}

function mib(kib: number): string {
  return `${(kib / 1024).toFixed(0)} MiB`;
}

function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(2)} s`;
}

/** A backend: where a fresh server keeps its state, and how to drop it. */
interface Backend {
  readonly name: string;
  fresh(): Promise<{ url?: string; drop(): Promise<void> }>;
}

const sqlite: Backend = {
  name: 'SQLite',
  fresh: async () => ({ drop: async () => {} }),
};

async function pgAdmin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: PG_ADMIN_URL });
  await client.connect();
  try {
    return await fn(client);
  } finally {
    await client.end();
  }
}

const postgres: Backend = {
  name: 'PostgreSQL',
  async fresh() {
    const db = `aiam_bench_${randomBytes(6).toString('hex')}`;
    await pgAdmin((c) => c.query(`CREATE DATABASE ${db}`));
    const url = new URL(PG_ADMIN_URL);
    url.pathname = `/${db}`;
    return {
      url: url.toString(),
      drop: () => pgAdmin((c) => c.query(`DROP DATABASE IF EXISTS ${db} WITH (FORCE)`)).then(() => {}),
    };
  },
};

async function postgresReachable(): Promise<boolean> {
  try {
    await pgAdmin((c) => c.query('SELECT 1'));
    return true;
  } catch {
    return false;
  }
}

/** Runs `fn` against a fresh server on `backend`; stops it and drops its state afterwards. */
async function withServer<T>(
  backend: Backend,
  fn: (ready: ProvisioningServerReady, child: ChildProcess) => Promise<T>,
): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'aiam-provisioning-bench-'));
  const store = await backend.fresh();
  let child: ChildProcess | undefined;
  try {
    const started = await startReadyChild<ProvisioningServerReady>(
      'aiam',
      nodeArgv(SERVER_SCRIPT, store.url ? [dir, store.url] : [dir]),
      0,
      false,
    );
    child = started.child;
    return await fn(started.ready, child);
  } finally {
    if (child) await stopChild(child);
    await store.drop();
    await rm(dir, { recursive: true, force: true });
  }
}

interface ApplyRun {
  readonly wallMs: number;
  readonly report: ProvisioningClientReport;
  readonly serverPeakKiB: number;
}

async function benchApply(backend: Backend, file: string): Promise<ApplyRun> {
  return withServer(backend, async (ready) => {
    const env = {
      ...process.env,
      AIAM_ENDPOINT: ready.url,
      AWS_ACCESS_KEY_ID: ready.accessKeyId,
      AWS_SECRET_ACCESS_KEY: ready.secretAccessKey,
      AWS_SESSION_TOKEN: '',
      AWS_PROFILE: '',
    };
    const [cmd, ...args] = nodeArgv(CLIENT_SCRIPT, [file]);
    const t0 = performance.now();
    const { stdout } = await execFileAsync(cmd!, args, { env, maxBuffer: 1 << 20, timeout: 30 * 60_000 });
    const wallMs = performance.now() - t0;
    const report = JSON.parse(stdout.trim().split('\n').at(-1)!) as ProvisioningClientReport;
    return { wallMs, report, serverPeakKiB: await peakRssKiB(ready.pid) };
  });
}

interface ScimRun {
  readonly ms: number;
  readonly created: number;
  readonly failed: number;
  readonly listed: number;
  /** Group memberships added one PATCH each, and how long they took. */
  readonly memberships: { readonly done: number; readonly ms: number };
  /** One group grown member by member (one PATCH each, one connection). */
  readonly bigGroup: { readonly done: number; readonly ms: number };
  /** Users deactivated (PATCH active=false), and how long it took. */
  readonly deactivations: { readonly done: number; readonly ms: number };
  readonly serverPeakKiB: number;
}

function scimUser(i: number): unknown {
  const name = `person${i}`;
  return {
    schemas: [
      'urn:ietf:params:scim:schemas:core:2.0:User',
      'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User',
    ],
    userName: `${name}@example.com`,
    externalId: `ext-${i}`,
    name: { givenName: 'Person', familyName: String(i) },
    displayName: `Person ${i}`,
    emails: [{ value: `${name}@example.com`, type: 'work', primary: true }],
    active: true,
    'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User': { department: `dept-${i % 50}` },
  };
}

/**
 * SCIM as an identity provider drives it, over SCIM_CONNECTIONS connections: `count` users
 * created (POST /Users), then `groups` groups, then `memberships` users added to them one PATCH
 * each (as Okta and Entra ID push a membership), then `deactivations` users deactivated
 * (PATCH active=false). Each phase is timed; a refused request is counted, not thrown.
 */
async function benchScim(backend: Backend, sizes: Sizes): Promise<ScimRun> {
  return withServer(backend, async (ready) => {
    const headers = {
      authorization: `Bearer ${ready.scimToken}`,
      'content-type': 'application/scim+json',
      accept: 'application/scim+json',
    };
    let failed = 0;
    let firstFailure: string | undefined;
    /** Runs `send(i)` for i in [0, n) over the connections; returns the successes and the time. */
    const phase = async (
      n: number,
      ok: number,
      send: (i: number) => Promise<Response>,
      onOk?: (i: number, body: string) => void,
      connections = SCIM_CONNECTIONS,
    ) => {
      let next = 0;
      let done = 0;
      const worker = async (): Promise<void> => {
        while (next < n) {
          const i = next++;
          const res = await send(i);
          const text = await res.text();
          if (res.status === ok) {
            done++;
            onOk?.(i, text);
          } else {
            failed++;
            firstFailure ??= `${res.status}: ${text.slice(0, 200)}`;
          }
        }
      };
      const t0 = performance.now();
      await Promise.all(Array.from({ length: connections }, worker));
      return { done, ms: performance.now() - t0 };
    };
    const scim = (method: string, path: string, body: unknown) =>
      fetch(`${ready.url}/scim/v2${path}`, { method, headers, body: JSON.stringify(body) });
    const patch = (ops: unknown[]) => ({
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: ops,
    });

    const userIds: string[] = [];
    const users = await phase(
      sizes.scimUsers,
      201,
      (i) => scim('POST', '/Users', scimUser(i)),
      (i, body) => {
        userIds[i] = (JSON.parse(body) as { id: string }).id;
      },
    );
    const res = await fetch(`${ready.url}/scim/v2/Users?count=1`, { headers });
    const listed = ((await res.json()) as { totalResults?: number }).totalResults ?? -1;

    const groupIds: string[] = [];
    await phase(
      sizes.scimGroups,
      201,
      (i) =>
        scim('POST', '/Groups', {
          schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
          displayName: `team-${i}`,
        }),
      (i, body) => {
        groupIds[i] = (JSON.parse(body) as { id: string }).id;
      },
    );
    const memberships = await phase(sizes.scimMemberships, 204, (i) =>
      scim(
        'PATCH',
        `/Groups/${groupIds[i % groupIds.length]}`,
        patch([{ op: 'add', path: 'members', value: [{ value: userIds[i % userIds.length] }] }]),
      ),
    );
    const big = (await scim('POST', '/Groups', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:Group'],
      displayName: 'everyone',
    }).then((r) => r.json())) as { id: string };
    const bigGroup = await phase(
      sizes.scimBigGroup,
      204,
      (i) =>
        scim(
          'PATCH',
          `/Groups/${big.id}`,
          patch([{ op: 'add', path: 'members', value: [{ value: userIds[i] }] }]),
        ),
      undefined,
      1,
    );
    const deactivations = await phase(sizes.scimDeactivations, 200, (i) =>
      scim(
        'PATCH',
        `/Users/${userIds[userIds.length - 1 - i]}`,
        patch([{ op: 'replace', path: 'active', value: false }]),
      ),
    );
    if (firstFailure) console.log(`${backend.name}: ${failed} SCIM requests refused; first: ${firstFailure}`);
    return {
      ms: users.ms,
      created: users.done,
      failed,
      listed,
      memberships,
      bigGroup,
      deactivations,
      serverPeakKiB: await peakRssKiB(ready.pid),
    };
  });
}

async function runProvisioningBench(options: BenchOptions): Promise<BenchOutcome> {
  const scale = options.quick ? 10 : 1;
  const sizes: Sizes = {
    users: 10_000 / scale,
    groups: 1_000 / scale,
    policies: 5_000 / scale,
    scimUsers: 10_000 / scale,
    scimGroups: 100 / scale,
    scimMemberships: 2_000 / scale,
    scimBigGroup: 2_000 / scale,
    scimDeactivations: 1_000 / scale,
  };
  const backends = [sqlite];
  if (await postgresReachable()) backends.push(postgres);
  else console.log(`PostgreSQL at ${new URL(PG_ADMIN_URL).host} is not reachable: SQLite only`);

  const dir = await mkdtemp(join(tmpdir(), 'aiam-provisioning-config-'));
  const file = join(dir, 'access.yaml');
  const yaml = generateConfigYaml(sizes);
  await writeFile(file, yaml, 'utf8');
  console.log(
    `config: ${sizes.users} users, ${sizes.groups} groups, ${sizes.policies} policies ` +
      `(${(Buffer.byteLength(yaml) / 1024 / 1024).toFixed(1)} MiB of YAML); SCIM: ${sizes.scimUsers} users over ${SCIM_CONNECTIONS} connections`,
  );
  let ok = true;
  const applyRows: string[][] = [];
  const phaseRows: string[][] = [];
  const scimRows: string[][] = [];
  try {
    for (const backend of backends) {
      const run = await benchApply(backend, file);
      const r = run.report;
      const good = r.applied === r.changes && r.changes > 0 && r.changesAfter === 0;
      ok &&= good;
      applyRows.push([
        backend.name,
        String(r.changes),
        seconds(run.wallMs),
        mib(run.serverPeakKiB),
        mib(r.maxRssKiB),
        good ? 'ok' : `FAILED (applied ${r.applied}/${r.changes}, ${r.changesAfter} left after)`,
      ]);
      for (const [phase, ms] of Object.entries(r.phases)) phaseRows.push([backend.name, phase, seconds(ms)]);
      console.log(`${backend.name}: apply of ${r.changes} changes in ${seconds(run.wallMs)}`);
    }
    for (const backend of backends) {
      const run = await benchScim(backend, sizes);
      const good =
        run.created === sizes.scimUsers &&
        run.listed === sizes.scimUsers &&
        run.memberships.done === sizes.scimMemberships &&
        run.bigGroup.done === sizes.scimBigGroup &&
        run.deactivations.done === sizes.scimDeactivations;
      ok &&= good;
      scimRows.push([
        backend.name,
        String(run.created),
        seconds(run.ms),
        formatRate((run.created * 1000) / run.ms),
        `${run.memberships.done} in ${seconds(run.memberships.ms)} (${formatRate((run.memberships.done * 1000) / run.memberships.ms)})`,
        `${run.bigGroup.done} in ${seconds(run.bigGroup.ms)} (${formatRate((run.bigGroup.done * 1000) / run.bigGroup.ms)})`,
        `${run.deactivations.done} in ${seconds(run.deactivations.ms)} (${formatRate((run.deactivations.done * 1000) / run.deactivations.ms)})`,
        mib(run.serverPeakKiB),
        good ? 'ok' : `FAILED (${run.failed} refused, ${run.listed} listed)`,
      ]);
      console.log(`${backend.name}: SCIM ${run.created} users in ${seconds(run.ms)}`);
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  console.log(
    formatTable(
      [
        'apply (empty server)',
        'changes',
        'wall (client process)',
        'server peak RSS',
        'client peak RSS',
        'check',
      ],
      applyRows,
    ),
  );
  console.log(formatTable(['apply steps', 'step', 'time'], phaseRows));
  console.log(
    formatTable(
      [
        'SCIM',
        'users (POST)',
        'time',
        'users/s',
        'memberships (PATCH, one each), per s',
        'one group grown (PATCH, one each), per s',
        'deactivations (PATCH), per s',
        'server peak RSS',
        'check',
      ],
      scimRows,
    ),
  );
  return { ok };
}
