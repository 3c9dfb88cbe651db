import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { signRequest } from '@aiam/client';
import { compiledNodeFlags, pinned } from './bench-processes.js';
import type { BenchArea, BenchOptions, BenchOutcome } from './harness.js';
import { formatRate, formatTable } from './harness.js';
import { BENCH_PATH, type BenchServerReady } from './http-bench-server.js';

/**
 * The request-path bench of issue 3 ("Tests and bench"): authenticated and authorized no-op
 * requests per second through aiam's full HTTP path (authenticate → request context → the
 * engine → handler → audit) with SigV4, a bearer key and an aiam JWT, beside a bare `node:http`
 * server answering the same route. Load comes from `wrk` (Debian package `wrk`).
 *
 * Placement: each server runs in its own child process pinned with `taskset` to core 1, wrk to
 * core 0, so the server never competes with its load generator for a core (Node's own worker
 * threads, GC and libuv included, share the server's core like they would on a one-core pod).
 * wrk: one thread, 16 connections, keep-alive, all on 127.0.0.1.
 *
 * SigV4: a wrk script cannot sign each request, so the request is signed once with a fixed
 * `X-Amz-Date` and replayed. AWS accepts a signed request again within the 15-minute skew
 * window (SigV4 has no nonce), and so does aiam; the whole run takes well under a minute.
 *
 * Every target is measured in rounds (bare, SigV4, bearer, JWT, then again) and keeps its best
 * round; the ratio is best against best. On a shared machine other work only ever slows a run
 * down, and interleaving spreads a neighbour's burst over every target alike.
 */
export const httpBench: BenchArea = {
  name: 'http',
  description: 'full HTTP request path (SigV4, bearer key, JWT) vs a bare node:http server, load from wrk',
  run: runHttpBench,
};

/** The target: each authenticated mode at least half the bare server's rate. */
const TARGET_RATIO = 0.5;
const CONNECTIONS = 16;
const SERVER_SCRIPT = fileURLToPath(new URL('./http-bench-server.ts', import.meta.url));
const run = promisify(execFile);

interface WrkResult {
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly requests: number;
  /** Non-2xx/3xx responses plus socket errors: any is a failed correctness check. */
  readonly failures: number;
  /** The server process's CPU time per request (user + system), in µs; NaN off Linux. */
  readonly cpuUsPerRequest: number;
}

/**
 * CPU seconds a process has used (utime + stime of /proc/PID/stat), or NaN off Linux. CPU
 * per request is the contention-proof measure: a neighbour's load lowers requests/s but not
 * the work each request takes.
 */
async function cpuSeconds(pid: number | undefined): Promise<number> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may contain spaces) start at ") ".
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / CLOCK_TICKS;
  } catch {
    return Number.NaN;
  }
}
// USER_HZ: 100 on every Linux architecture Node supports (the kernel fixes it for /proc).
const CLOCK_TICKS = 100;

async function has(command: string): Promise<boolean> {
  try {
    await run('sh', ['-c', `command -v ${command}`]);
    return true;
  } catch {
    return false;
  }
}

async function startChild(
  args: readonly string[],
  pin: boolean,
): Promise<{ child: ChildProcess; ready: BenchServerReady }> {
  const [cmd, argv] = pinned(1, [process.execPath, ...compiledNodeFlags(), SERVER_SCRIPT, ...args], pin);
  const child = spawn(cmd, argv, { stdio: ['pipe', 'pipe', 'inherit'] });
  const lines = createInterface({ input: child.stdout! });
  const ready = await new Promise<BenchServerReady>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`the ${args[0]} server did not start within 60 s`)),
      60_000,
    );
    lines.once('line', (line) => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(line) as BenchServerReady);
      } catch (e) {
        reject(e);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the ${args[0]} server exited with ${code} before it was ready`));
    });
  });
  return { child, ready };
}

async function stopChild(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

function parseMs(value: string, unit: string): number {
  const n = Number(value);
  return unit === 'us' ? n / 1000 : unit === 's' ? n * 1000 : n;
}

/** Parses wrk's report (`--latency`). */
export function parseWrk(output: string): Omit<WrkResult, 'cpuUsPerRequest'> {
  const rate = /Requests\/sec:\s+([\d.]+)/.exec(output);
  const total = /(\d+) requests in/.exec(output);
  if (!rate || !total) throw new Error(`unexpected wrk output:\n${output}`);
  const latency = (p: string) => {
    const m = new RegExp(`\\s${p}%\\s+([\\d.]+)(us|ms|s)`).exec(output);
    return m ? parseMs(m[1]!, m[2]!) : Number.NaN;
  };
  const non2xx = /Non-2xx or 3xx responses:\s+(\d+)/.exec(output);
  const socket = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(output);
  const socketErrors = socket ? socket.slice(1).reduce((s, n) => s + Number(n), 0) : 0;
  return {
    perSecond: Number(rate[1]),
    p50Ms: latency('50'),
    p99Ms: latency('99'),
    requests: Number(total[1]),
    failures: (non2xx ? Number(non2xx[1]) : 0) + socketErrors,
  };
}

async function wrk(
  url: string,
  headers: Readonly<Record<string, string>>,
  seconds: number,
  pin: boolean,
  serverPid?: number,
): Promise<WrkResult> {
  const argv = ['wrk', '-t1', `-c${CONNECTIONS}`, `-d${seconds}s`, '--latency'];
  for (const [k, v] of Object.entries(headers)) argv.push('-H', `${k}: ${v}`);
  argv.push(url);
  const [cmd, args] = pinned(0, argv, pin);
  const cpu0 = await cpuSeconds(serverPid);
  const { stdout } = await run(cmd, args, { timeout: (seconds + 30) * 1000 });
  const cpu1 = await cpuSeconds(serverPid);
  const parsed = parseWrk(stdout);
  return { ...parsed, cpuUsPerRequest: ((cpu1 - cpu0) * 1e6) / parsed.requests };
}

/** One request through `fetch`, checked: the bench must measure successes, not refusals. */
async function check(
  url: string,
  headers: Readonly<Record<string, string>>,
  expectArn: string | undefined,
): Promise<string | undefined> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  if (res.status !== 200) return `${res.status} ${text.slice(0, 200)}`;
  if (expectArn !== undefined) {
    const arn = (JSON.parse(text) as { caller?: { arn?: string } }).caller?.arn;
    if (arn !== expectArn) return `caller ${arn}, expected ${expectArn}`;
  }
  return undefined;
}

/**
 * For scale, not a target: the bare server doing this many µs of busy work per request. On
 * 2-core machines here, each µs of work per request costs more than a µs of throughput (the
 * load generator and the kernel batch less as the server slows), so this row shows how little
 * per-request work a 0.5x ratio leaves for authentication, authorization and audit.
 */
const BUSY_MICROS = 8;
const BUSY_NAME = `bare + ${BUSY_MICROS} µs busy`;

async function runHttpBench(options: BenchOptions): Promise<BenchOutcome> {
  for (const tool of ['wrk']) {
    if (!(await has(tool))) {
      console.error(`${tool} is not installed (Debian: apt-get install -y ${tool})`);
      return { ok: false };
    }
  }
  const pin = availableParallelism() >= 2 && (await has('taskset'));
  if (!pin) console.log('note: fewer than 2 cores or no taskset: server and wrk are not pinned');
  const seconds = options.quick ? 2 : 5;
  const warmupSeconds = options.quick ? 1 : 2;
  const rounds = options.quick ? 1 : 3;
  console.log(
    `wrk: 1 thread, ${CONNECTIONS} connections, ${rounds} round(s) of ${seconds} s per target after ${warmupSeconds} s of warm-up; ` +
      (pin ? 'servers on core 1, wrk on core 0' : 'unpinned'),
  );

  const dataDir = await mkdtemp(join(tmpdir(), 'aiam-http-bench-'));
  const children: ChildProcess[] = [];
  try {
    const bare = await startChild(['bare'], pin);
    children.push(bare.child);
    const busy = await startChild(['bare-busy', String(BUSY_MICROS)], pin);
    children.push(busy.child);
    const aiam = await startChild(['aiam', dataDir], pin);
    children.push(aiam.child);
    const creds = aiam.ready.credentials!;
    const aiamUrl = `${aiam.ready.url}${BENCH_PATH}`;
    const bareUrl = `${bare.ready.url}${BENCH_PATH}`;

    // Signed once, replayed for the whole run (see the header comment).
    const signed = signRequest({
      method: 'GET',
      url: new URL(aiamUrl),
      headers: {},
      body: '',
      credentials: { accessKeyId: creds.accessKeyId, secretAccessKey: creds.secretAccessKey },
      region: 'us-east-1',
      service: 'aiam',
      now: Date.now(),
    });
    const { host: _host, ...sigv4 } = signed; // wrk sends the same Host itself
    const modes: { name: string; headers: Record<string, string> }[] = [
      { name: 'aiam, SigV4', headers: sigv4 },
      { name: 'aiam, bearer key', headers: { authorization: `Bearer ${creds.bearerKey}` } },
      { name: 'aiam, aiam JWT', headers: { authorization: `Bearer ${creds.jwt}` } },
    ];

    let ok = true;
    const refused = await check(aiamUrl, {}, undefined);
    if (refused === undefined) {
      console.error(`FAILED: ${BENCH_PATH} answered an unauthenticated request`);
      ok = false;
    }
    const adminArn = (
      JSON.parse(await (await fetch(aiamUrl, { headers: modes[1]!.headers })).text()) as {
        caller: { arn: string };
      }
    ).caller.arn;
    for (const mode of modes) {
      const problem = await check(aiamUrl, mode.headers, adminArn);
      if (problem !== undefined) {
        console.error(`FAILED: ${mode.name}: ${problem}`);
        ok = false;
      }
    }
    if (!ok) return { ok };

    // Rounds of every server and mode in turn, keeping each one's best round: on a shared
    // machine, other work only ever slows a run down, so the best round is the least disturbed.
    const targets = [
      { name: 'bare node:http', url: bareUrl, headers: {}, pid: bare.child.pid },
      { name: BUSY_NAME, url: `${busy.ready.url}${BENCH_PATH}`, headers: {}, pid: busy.child.pid },
      ...modes.map((m) => ({ ...m, url: aiamUrl, pid: aiam.child.pid })),
    ];
    const best = new Map<string, WrkResult>();
    const all: { name: string; result: WrkResult }[] = [];
    for (const t of targets) await wrk(t.url, t.headers, warmupSeconds, pin);
    for (let round = 0; round < rounds; round++) {
      for (const t of targets) {
        const result = await wrk(t.url, t.headers, seconds, pin, t.pid);
        all.push({ name: t.name, result });
        const prior = best.get(t.name);
        if (prior === undefined || result.perSecond > prior.perSecond) best.set(t.name, result);
      }
    }
    const bareRate = best.get('bare node:http')!.perSecond;
    // CPU per request: the least of the rounds (interference only adds to it).
    const cpuOf = (name: string) =>
      Math.min(...all.filter((a) => a.name === name).map((a) => a.result.cpuUsPerRequest));
    const bareCpu = cpuOf('bare node:http');

    const fmtMs = (ms: number) => (Number.isNaN(ms) ? '-' : ms < 1 ? ms.toFixed(2) : ms.toFixed(1));
    const rows: string[][] = [];
    for (const t of targets) {
      const result = best.get(t.name)!;
      const rates = all.filter((a) => a.name === t.name).map((a) => formatRate(a.result.perSecond));
      const row = [
        t.name,
        formatRate(result.perSecond),
        fmtMs(result.p50Ms),
        fmtMs(result.p99Ms),
        rates.join(' / '),
        Number.isNaN(cpuOf(t.name)) ? '-' : cpuOf(t.name).toFixed(0),
        Number.isNaN(bareCpu) ? '-' : `${(bareCpu / cpuOf(t.name)).toFixed(2)}x`,
      ];
      if (t.url === bareUrl) rows.push([...row, '1.00x', '']);
      else if (t.name === BUSY_NAME) {
        rows.push([...row, `${(result.perSecond / bareRate).toFixed(2)}x`, 'for scale']);
      } else {
        const ratio = result.perSecond / bareRate;
        const pass = ratio >= TARGET_RATIO;
        if (!pass && !options.quick) ok = false;
        rows.push([
          ...row,
          `${ratio.toFixed(2)}x`,
          pass ? 'ok' : options.quick ? 'below (quick run)' : 'BELOW',
        ]);
      }
    }
    console.log(
      formatTable(
        [
          'server, auth',
          'requests/s',
          'p50 ms',
          'p99 ms',
          'each round',
          'CPU µs/req',
          'CPU vs bare',
          'vs bare',
          `target ${TARGET_RATIO}x`,
        ],
        rows,
      ),
    );
    for (const { name, result } of all) {
      if (result.failures > 0) {
        console.error(`FAILED: ${name}: ${result.failures} of ${result.requests} requests failed`);
        ok = false;
      }
    }
    return { ok };
  } finally {
    for (const child of children) await stopChild(child);
    await rm(dataDir, { recursive: true, force: true });
  }
}
