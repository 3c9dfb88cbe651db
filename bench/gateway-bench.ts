import type { ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  compiledNodeFlags,
  has,
  pinned,
  run,
  startNginx,
  startReadyChild,
  stopChild,
  type WrkResult,
  wrk,
} from './bench-processes.js';
import {
  GATEWAY_ENDPOINT,
  type GatewayBenchReady,
  JSON_BODY,
  type SseClientResult,
} from './gateway-bench-server.js';
import type { BenchArea, BenchOptions, BenchOutcome } from './harness.js';
import { formatRate, formatTable, formatUs, percentile } from './harness.js';

/**
 * The inference-gateway bench of issue 5 ("Tests and bench"): what aiam's gateway
 * (`/endpoints/{name}/…`, key auth, `ml:InvokeEndpoint` decided and audited on every call) adds
 * in front of an upstream, beside nginx as a plain keep-alive reverse proxy in front of the same
 * upstream. Load from `wrk` (Debian `wrk`), nginx from Debian `nginx-light`.
 *
 * Placement: upstream, aiam and nginx (one worker) each in their own process pinned to core 1,
 * wrk and the SSE client to core 0, all on 127.0.0.1. nginx runs in the foreground with a config
 * generated into a temporary directory and is killed at the end like every other child.
 *
 * Measured: (a) added latency at one connection, p50 through the proxy minus p50 straight to the
 * upstream; (b) requests/s at 32 connections and the p99 the gateway adds there; (c) per-event
 * delay of a server-sent-event stream (upstream stamps each event with the monotonic clock just
 * before writing it, the client subtracts it from the arrival time), gateway and nginx minus
 * direct, with every event checked byte for byte and in order. Each latency keeps its best
 * (lowest) round and each rate its best (highest): on a shared machine other work only slows.
 */
export const gatewayBench: BenchArea = {
  name: 'gateway',
  description:
    'inference gateway (key auth, authorization, audit) vs nginx as a keep-alive reverse proxy, load from wrk',
  run: runGatewayBench,
};

const TARGETS = {
  /** Added p50 at one connection, at most this many times nginx's. */
  addedLatencyVsNginx: 3,
  /** Requests/s at 32 connections, at least this share of nginx's. */
  throughputVsNginx: 0.5,
  /** p99 the gateway adds at 32 connections, below this. */
  p99AddedUs: 1000,
  /** Added per-event delay of an SSE stream (p50), at most this. */
  sseAddedP50Us: 110,
};
const LOAD_CONNECTIONS = 32;
const SSE_DELAY_MS = 2;
const SCRIPT = fileURLToPath(new URL('./gateway-bench-server.ts', import.meta.url));

/**
 * `AIAM_BENCH_CPU_PROF=DIR` profiles the aiam child (`--cpu-prof`, written to DIR when it
 * stops): what the gateway spends its time on.
 */
function nodeArgv(args: readonly string[]): string[] {
  const profDir = process.env.AIAM_BENCH_CPU_PROF;
  const prof = profDir && args[0] === 'aiam' ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  return [
    process.execPath,
    ...(args[0] === 'aiam' ? compiledNodeFlags() : process.execArgv),
    ...prof,
    SCRIPT,
    ...args,
  ];
}

async function startChild(args: readonly string[], pin: boolean) {
  return startReadyChild<GatewayBenchReady>(args[0]!, nodeArgv(args), 1, pin);
}

/** nginx as a plain keep-alive reverse proxy, one worker, no buffering (SSE passes through). */
function startNginxProxy(dir: string, upstreamUrl: string, pin: boolean) {
  const upstream = new URL(upstreamUrl).host;
  return startNginx(
    dir,
    `  upstream bench_upstream { server ${upstream}; keepalive 64; keepalive_requests 1000000; }`,
    `    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }`,
    '/json',
    1,
    pin,
  );
}

async function sseStream(
  url: string,
  key: string | undefined,
  n: number,
  pin: boolean,
): Promise<SseClientResult> {
  const [cmd, args] = pinned(0, nodeArgv(['sse-client', url, key ?? '-', String(n)]), pin);
  const { stdout } = await run(cmd, args, { timeout: 60_000 + n * SSE_DELAY_MS * 4 });
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as SseClientResult;
}

interface Target {
  readonly name: string;
  readonly url: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** Interleaved rounds of every target; returns each target's results in round order. */
async function rounds(
  targets: readonly Target[],
  connections: number,
  seconds: number,
  count: number,
  pin: boolean,
): Promise<Map<string, WrkResult[]>> {
  const out = new Map<string, WrkResult[]>(targets.map((t) => [t.name, []]));
  for (let r = 0; r < count; r++) {
    for (const t of targets) out.get(t.name)!.push(await wrk(t.url, t.headers, connections, seconds, pin));
  }
  return out;
}

const verdict = (pass: boolean, quick: boolean) => (pass ? 'PASS' : quick ? 'FAIL (quick run)' : 'FAIL');

async function runGatewayBench(options: BenchOptions): Promise<BenchOutcome> {
  for (const tool of ['wrk', 'nginx']) {
    if (!(await has(tool))) {
      console.error(`${tool} is not installed (Debian: apt-get install -y wrk nginx-light)`);
      return { ok: false };
    }
  }
  const pin = availableParallelism() >= 2 && (await has('taskset'));
  const seconds = options.quick ? 2 : 5;
  const roundCount = options.quick ? 1 : 3;
  const sseEvents = options.quick ? 50 : 300;
  const sseStreams = options.quick ? 1 : 3;
  console.log(
    `wrk: 1 thread, ${roundCount} round(s) of ${seconds} s per target and connection count; ` +
      (pin
        ? 'upstream, aiam, nginx and the bare proxy on core 1, wrk and the SSE client on core 0'
        : 'unpinned'),
  );

  const dir = await mkdtemp(join(tmpdir(), 'aiam-gateway-bench-'));
  const children: ChildProcess[] = [];
  try {
    const upstream = await startChild(['upstream'], pin);
    children.push(upstream.child);
    const aiam = await startChild(['aiam', join(dir, 'data'), upstream.ready.url], pin);
    children.push(aiam.child);
    const nginx = await startNginxProxy(join(dir, 'nginx'), upstream.ready.url, pin);
    children.push(nginx.child);
    const nodeProxy = await startChild(['node-proxy', upstream.ready.url], pin);
    children.push(nodeProxy.child);
    const key = aiam.ready.key!;
    const gatewayBase = `${aiam.ready.url}/endpoints/${GATEWAY_ENDPOINT}`;
    const targets: Target[] = [
      { name: 'direct', url: `${upstream.ready.url}/json`, headers: {} },
      { name: 'nginx', url: `${nginx.url}/json`, headers: {} },
      { name: 'gateway', url: `${gatewayBase}/json`, headers: { authorization: `Bearer ${key}` } },
      // For scale, not a target: what Node.js itself reaches as a proxy, with no auth at all.
      { name: 'node:http proxy', url: `${nodeProxy.ready.url}/json`, headers: {} },
    ];

    // Correctness first: the bench must time successes, and refusals must stay refusals.
    let ok = true;
    for (const t of targets) {
      const res = await fetch(t.url, { headers: t.headers });
      const body = await res.text();
      if (res.status !== 200 || body !== JSON_BODY) {
        console.error(`FAILED: ${t.name} answered ${res.status} ${body.slice(0, 200)}`);
        ok = false;
      }
    }
    const anonymous = await fetch(`${gatewayBase}/json`);
    await anonymous.arrayBuffer();
    if (anonymous.status !== 401) {
      console.error(`FAILED: the gateway answered ${anonymous.status} without a key (expected 401)`);
      ok = false;
    }
    if (!ok) return { ok };

    for (const t of targets) await wrk(t.url, t.headers, LOAD_CONNECTIONS, options.quick ? 1 : 2, pin);
    const one = await rounds(targets, 1, seconds, roundCount, pin);
    const many = await rounds(targets, LOAD_CONNECTIONS, seconds, roundCount, pin);
    for (const [label, results] of [
      ['1 connection', one],
      [`${LOAD_CONNECTIONS} connections`, many],
    ] as const) {
      for (const [name, list] of results) {
        for (const r of list) {
          if (r.failures > 0) {
            console.error(`FAILED: ${name}, ${label}: ${r.failures} of ${r.requests} requests failed`);
            ok = false;
          }
        }
      }
    }
    const minOf = (m: Map<string, WrkResult[]>, name: string, f: (r: WrkResult) => number) =>
      Math.min(...m.get(name)!.map(f));
    const maxOf = (m: Map<string, WrkResult[]>, name: string, f: (r: WrkResult) => number) =>
      Math.max(...m.get(name)!.map(f));
    const p50Us = (name: string) => minOf(one, name, (r) => r.p50Ms * 1000);
    const p99Us1 = (name: string) => minOf(one, name, (r) => r.p99Ms * 1000);
    const rate = (name: string) => maxOf(many, name, (r) => r.perSecond);
    const p99Us = (name: string) => minOf(many, name, (r) => r.p99Ms * 1000);
    const p50UsMany = (name: string) => minOf(many, name, (r) => r.p50Ms * 1000);

    // (c) SSE: alternate direct, nginx and gateway streams so a neighbour's burst hits all alike.
    const sseTargets = [
      { name: 'direct', url: `${upstream.ready.url}/sse`, key: undefined },
      { name: 'nginx', url: `${nginx.url}/sse`, key: undefined },
      { name: 'gateway', url: `${gatewayBase}/sse`, key },
    ];
    const delays = new Map<string, number[]>(sseTargets.map((t) => [t.name, []]));
    // One untimed stream per path first: the upstream's and the proxies' SSE code paths get JIT-compiled.
    for (const t of sseTargets) await sseStream(`${t.url}?n=50&delayMs=1`, t.key, 50, pin);
    for (let s = 0; s < sseStreams; s++) {
      for (const t of sseTargets) {
        const result = await sseStream(
          `${t.url}?n=${sseEvents}&delayMs=${SSE_DELAY_MS}`,
          t.key,
          sseEvents,
          pin,
        );
        if (result.error !== undefined || !result.delaysUs) {
          console.error(`FAILED: SSE through ${t.name}: ${result.error ?? 'no result'}`);
          ok = false;
          continue;
        }
        // The first events pay for connection set-up and JIT warm-up: timed from the tenth on.
        delays.get(t.name)!.push(...result.delaysUs.slice(Math.min(10, result.delaysUs.length - 1)));
      }
    }
    if (!ok) return { ok };
    const sse = (name: string, p: number) => percentile(delays.get(name)!, p);

    console.log(`\n(a) 1 connection, GET of a ${JSON_BODY.length}-byte JSON body (best round)`);
    console.log(
      formatTable(
        ['path', 'p50 us', 'p99 us', 'added p50 us', 'requests/s'],
        targets.map((t) => [
          t.name,
          formatUs(p50Us(t.name)),
          formatUs(p99Us1(t.name)),
          t.name === 'direct' ? '-' : formatUs(p50Us(t.name) - p50Us('direct')),
          formatRate(maxOf(one, t.name, (r) => r.perSecond)),
        ]),
      ),
    );
    console.log(`\n(b) ${LOAD_CONNECTIONS} connections (best round)`);
    console.log(
      formatTable(
        ['path', 'requests/s', 'each round', 'p50 us', 'p99 us', 'added p99 us'],
        targets.map((t) => [
          t.name,
          formatRate(rate(t.name)),
          many
            .get(t.name)!
            .map((r) => formatRate(r.perSecond))
            .join(' / '),
          formatUs(p50UsMany(t.name)),
          formatUs(p99Us(t.name)),
          t.name === 'direct' ? '-' : formatUs(p99Us(t.name) - p99Us('direct')),
        ]),
      ),
    );
    console.log(
      `\n(c) SSE, ${sseStreams} stream(s) of ${sseEvents} events ${SSE_DELAY_MS} ms apart per path, ` +
        'every event byte-identical and in order',
    );
    console.log(
      formatTable(
        ['path', 'p50 us', 'p99 us', 'added p50 us', 'events timed'],
        sseTargets.map((t) => [
          t.name,
          formatUs(sse(t.name, 50)),
          formatUs(sse(t.name, 99)),
          t.name === 'direct' ? '-' : formatUs(sse(t.name, 50) - sse('direct', 50)),
          String(delays.get(t.name)!.length),
        ]),
      ),
    );

    const gwAdded = p50Us('gateway') - p50Us('direct');
    const nginxAdded = p50Us('nginx') - p50Us('direct');
    const ratio = rate('gateway') / rate('nginx');
    const p99Added = p99Us('gateway') - p99Us('direct');
    const sseAdded = sse('gateway', 50) - sse('direct', 50);
    const checks: [string, string, string, boolean][] = [
      [
        'added latency, 1 connection',
        `<= ${TARGETS.addedLatencyVsNginx}x nginx (${formatUs(nginxAdded * TARGETS.addedLatencyVsNginx)} us)`,
        `${formatUs(gwAdded)} us (${(gwAdded / nginxAdded).toFixed(1)}x)`,
        gwAdded <= TARGETS.addedLatencyVsNginx * nginxAdded,
      ],
      [
        `requests/s, ${LOAD_CONNECTIONS} connections`,
        `>= ${TARGETS.throughputVsNginx}x nginx`,
        `${ratio.toFixed(2)}x`,
        ratio >= TARGETS.throughputVsNginx,
      ],
      [
        `p99 added, ${LOAD_CONNECTIONS} connections`,
        `< ${TARGETS.p99AddedUs} us`,
        `${formatUs(p99Added)} us`,
        p99Added < TARGETS.p99AddedUs,
      ],
      [
        'SSE added p50',
        `<= ${TARGETS.sseAddedP50Us} us`,
        `${formatUs(sseAdded)} us`,
        sseAdded <= TARGETS.sseAddedP50Us,
      ],
    ];
    const nodeAdded = p50Us('node:http proxy') - p50Us('direct');
    console.log(
      `\nfor scale: a bare node:http proxy (no auth, no audit) adds ${formatUs(nodeAdded)} us at 1 connection ` +
        `(${(nodeAdded / nginxAdded).toFixed(1)}x nginx's) and reaches ${(rate('node:http proxy') / rate('nginx')).toFixed(2)}x ` +
        `nginx's requests/s; the gateway reaches ${(rate('gateway') / rate('node:http proxy')).toFixed(2)}x the bare proxy's`,
    );
    console.log('\ntargets');
    console.log(
      formatTable(
        ['target', 'wanted', 'measured', 'verdict'],
        checks.map(([name, wanted, got, pass]) => [name, wanted, got, verdict(pass, options.quick)]),
      ),
    );
    if (!options.quick && checks.some((c) => !c[3])) ok = false;
    return { ok };
  } finally {
    for (const child of children.reverse()) await stopChild(child);
    await rm(dir, { recursive: true, force: true });
  }
}
