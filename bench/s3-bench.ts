import type { ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compiledNodeFlags,
  has,
  run,
  startNginx,
  startReadyChild,
  stopChild,
  type WrkResult,
  wrk,
} from './bench-processes.js';
import type { BenchArea, BenchOptions, BenchOutcome } from './harness.js';
import { formatRate, formatTable } from './harness.js';
import { S3_LIST_KEYS, type S3BenchReady } from './s3-bench-server.js';

/**
 * The S3 data-plane bench of issue 4 ("Tests and bench"): GetObject through aiam's S3 surface
 * with a presigned URL (SigV4 query authentication, `s3:GetObject` decided and audited on each
 * request), replayed by `wrk` within its expiry, beside nginx serving the same bytes from disk
 * with `sendfile`, and small objects beside a bare `node:http` static-file server.
 *
 * Placement: aiam, nginx (one worker) and the Node server pinned to core 1, wrk to core 0, all
 * on 127.0.0.1. Each target keeps its best round (other work on a shared machine only slows).
 */
export const s3Bench: BenchArea = {
  name: 's3',
  description:
    'S3 GetObject with presigned URLs vs nginx (sendfile) and a bare node:http static server, load from wrk',
  run: runS3Bench,
};

const SCRIPT = fileURLToPath(new URL('./s3-bench-server.ts', import.meta.url));

interface Case {
  readonly file: string;
  readonly bytes: number;
  readonly connections: number;
  /** The baseline the issue compares with and the share of its rate aiam must reach. */
  readonly baseline: 'nginx' | 'node';
  readonly target: number;
}

// Small objects first: measured after the large-object rounds, the bare Node server's 4 KiB
// rate dropped from 13-16k to about 4k requests/s (aiam's did not), a state of the machine after
// gigabytes of loopback traffic that flattered aiam's ratio 4x. Not understood yet; measured
// first, both servers see a fresh machine.
const CASES: readonly Case[] = [
  { file: 'obj-4k', bytes: 4 * 1024, connections: 16, baseline: 'node', target: 0.7 },
  { file: 'obj-64m', bytes: 64 * 1024 * 1024, connections: 4, baseline: 'nginx', target: 0.8 },
  { file: 'obj-1m', bytes: 1024 * 1024, connections: 16, baseline: 'nginx', target: 0.6 },
];

/** Listings per second the issue asks for, and the load that measures them. */
const LIST_TARGET = 1000;
const LIST_CONNECTIONS = 16;
const PUT_CONNECTIONS = 4;

/**
 * Between two measured rounds: write back what the previous target left dirty (aiam's audit
 * rows and WAL, uploaded objects) and let the machine go quiet, so that the kernel's writeback
 * and a background WAL checkpoint land on nobody's round instead of on the next target's.
 */
async function settle(): Promise<void> {
  await run('sync', []);
  await new Promise((resolve) => setTimeout(resolve, 1000));
}

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

function formatBytesPerSecond(bytesPerSecond: number): string {
  return `${(bytesPerSecond / 1024 ** 3).toFixed(2)} GiB/s`;
}

async function runS3Bench(options: BenchOptions): Promise<BenchOutcome> {
  for (const tool of ['wrk', 'nginx']) {
    if (!(await has(tool))) {
      console.error(`${tool} is not installed (Debian: apt-get install -y wrk nginx-light)`);
      return { ok: false };
    }
  }
  const pin = availableParallelism() >= 2 && (await has('taskset'));
  const seconds = options.quick ? 2 : 5;
  const roundCount = options.quick ? 1 : 2;
  console.log(
    `wrk: 1 thread, ${roundCount} round(s) of ${seconds} s per target; ` +
      (pin ? 'aiam, nginx and node:http on core 1, wrk on core 0' : 'unpinned'),
  );

  const dir = await mkdtemp(join(tmpdir(), 'aiam-s3-bench-'));
  const children: ChildProcess[] = [];
  try {
    // nginx's worker runs as an unprivileged user when the bench runs as root: it must be able
    // to read the files (random bytes, nothing secret) through the 0700 temporary directory.
    await chmod(dir, 0o755);
    const filesDir = join(dir, 'files');
    await mkdir(filesDir, { mode: 0o755 });
    const digests = new Map<string, string>();
    for (const c of CASES) {
      const bytes = randomBytes(c.bytes);
      digests.set(c.file, sha256(bytes));
      await writeFile(join(filesDir, c.file), bytes, { mode: 0o644 });
    }
    const node = (args: string[]) => [process.execPath, ...compiledNodeFlags(), SCRIPT, ...args];
    const aiam = await startReadyChild<S3BenchReady>(
      'aiam',
      node(['aiam', join(dir, 'data'), filesDir]),
      1,
      pin,
    );
    children.push(aiam.child);
    const bare = await startReadyChild<S3BenchReady>('node-static', node(['node-static', filesDir]), 1, pin);
    children.push(bare.child);
    const nginx = await startNginx(
      join(dir, 'nginx'),
      '  sendfile on;\n  tcp_nopush on;',
      `    root ${filesDir};\n    location / { default_type application/octet-stream; }`,
      `/${CASES[0]!.file}`,
      1,
      pin,
    );
    children.push(nginx.child);

    const urlOf = (server: 'aiam' | 'nginx' | 'node', file: string) =>
      server === 'aiam'
        ? aiam.ready.presigned![file]!
        : server === 'nginx'
          ? `${nginx.url}/${file}`
          : `${bare.ready.url}/${file}`;

    // Correctness first: every server returns the same bytes; a tampered signature is refused.
    let ok = true;
    for (const c of CASES) {
      for (const server of ['aiam', 'nginx', 'node'] as const) {
        const res = await fetch(urlOf(server, c.file));
        const body = new Uint8Array(await res.arrayBuffer());
        if (res.status !== 200 || sha256(body) !== digests.get(c.file)) {
          console.error(
            `FAILED: ${server} ${c.file}: status ${res.status}, ${body.length} bytes, not the object`,
          );
          ok = false;
        }
      }
    }
    const tampered = await fetch(urlOf('aiam', 'obj-1m').replace('obj-1m', 'obj-4k'));
    await tampered.arrayBuffer();
    if (tampered.status !== 403) {
      console.error(`FAILED: a presigned URL for another key answered ${tampered.status} (expected 403)`);
      ok = false;
    }
    if (!ok) return { ok };

    const rows: string[][] = [];
    for (const c of CASES) {
      const servers = ['aiam', c.baseline] as const;
      for (const s of servers) await wrk(urlOf(s, c.file), {}, c.connections, 1, pin);
      const results = new Map<string, WrkResult[]>(servers.map((s) => [s, []]));
      for (let r = 0; r < roundCount; r++) {
        for (const s of servers) {
          await settle();
          results.get(s)!.push(await wrk(urlOf(s, c.file), {}, c.connections, seconds, pin));
        }
      }
      for (const [s, list] of results) {
        for (const r of list) {
          if (r.failures > 0) {
            console.error(`FAILED: ${s} ${c.file}: ${r.failures} of ${r.requests} requests failed`);
            ok = false;
          }
        }
      }
      const best = (s: string) => Math.max(...results.get(s)!.map((r) => r.perSecond));
      const ratio = best('aiam') / best(c.baseline);
      const pass = ratio >= c.target;
      if (!pass && !options.quick) ok = false;
      for (const s of servers) {
        rows.push([
          `${c.file} (${c.connections} conn), ${s}`,
          formatRate(best(s)),
          formatBytesPerSecond(best(s) * c.bytes),
          results
            .get(s)!
            .map((r) => formatRate(r.perSecond))
            .join(' / '),
          s === 'aiam' ? `${ratio.toFixed(2)}x ${c.baseline}` : '',
          s === 'aiam' ? `>= ${c.target}x` : '',
          s === 'aiam' ? (pass ? 'PASS' : options.quick ? 'FAIL (quick run)' : 'FAIL') : '',
        ]);
      }
    }
    // ListObjectsV2 of a 200-key bucket, one page per request: an absolute target.
    const listUrl = aiam.ready.listUrl!;
    const listing = await fetch(listUrl);
    const listed = (await listing.text()).match(/<Key>/g)?.length ?? 0;
    if (listing.status !== 200 || listed !== S3_LIST_KEYS) {
      console.error(`FAILED: the presigned listing answered ${listing.status} with ${listed} keys`);
      return { ok: false };
    }
    await wrk(listUrl, {}, LIST_CONNECTIONS, 1, pin);
    const lists: WrkResult[] = [];
    for (let r = 0; r < roundCount; r++) lists.push(await wrk(listUrl, {}, LIST_CONNECTIONS, seconds, pin));
    const bestList = Math.max(...lists.map((r) => r.perSecond));
    const listPass = bestList >= LIST_TARGET && lists.every((r) => r.failures === 0);
    if (!listPass && !options.quick) ok = false;
    rows.push([
      `ListObjectsV2 of ${S3_LIST_KEYS} keys (${LIST_CONNECTIONS} conn), aiam`,
      formatRate(bestList),
      '',
      lists.map((r) => formatRate(r.perSecond)).join(' / '),
      '',
      `>= ${formatRate(LIST_TARGET)}/s`,
      listPass ? 'PASS' : options.quick ? 'FAIL (quick run)' : 'FAIL',
    ]);

    // PutObject of 1 MiB with a presigned URL (unsigned payload), beside the Node server
    // writing the same body as durably (temporary file, fsync, rename). No target: reported.
    const script = join(dir, 'put.lua');
    await writeFile(
      script,
      `wrk.method = "PUT"
local f = io.open("${join(filesDir, 'obj-1m')}", "rb")
wrk.body = f:read("*a")
f:close()
`,
    );
    const putUrls = { aiam: aiam.ready.putUrl!, node: `${bare.ready.url}/put-target` };
    const puts = new Map<string, WrkResult[]>([
      ['aiam', []],
      ['node', []],
    ]);
    for (const s of ['aiam', 'node'] as const) await wrk(putUrls[s], {}, PUT_CONNECTIONS, 1, pin, script);
    for (let r = 0; r < roundCount; r++) {
      for (const s of ['aiam', 'node'] as const) {
        await settle();
        puts.get(s)!.push(await wrk(putUrls[s], {}, PUT_CONNECTIONS, seconds, pin, script));
      }
    }
    const bestPut = (s: string) => Math.max(...puts.get(s)!.map((r) => r.perSecond));
    for (const [s, list] of puts) {
      if (list.some((r) => r.failures > 0)) {
        console.error(`FAILED: ${s} PutObject: requests failed`);
        ok = false;
      }
    }
    for (const s of ['aiam', 'node'] as const) {
      rows.push([
        `PutObject 1 MiB (${PUT_CONNECTIONS} conn), ${s}`,
        formatRate(bestPut(s)),
        formatBytesPerSecond(bestPut(s) * 1024 * 1024),
        puts
          .get(s)!
          .map((r) => formatRate(r.perSecond))
          .join(' / '),
        s === 'aiam' ? `${(bestPut('aiam') / bestPut('node')).toFixed(2)}x node` : '',
        '',
        '',
      ]);
    }
    console.log(
      formatTable(
        ['object, server', 'requests/s', 'throughput', 'each round', 'ratio', 'target', 'verdict'],
        rows,
      ),
    );
    return { ok };
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}
