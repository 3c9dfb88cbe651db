import {
  type BenchArea,
  type BenchOptions,
  type BenchOutcome,
  formatRate,
  formatTable,
  formatUs,
  type Latency,
  measureLatency,
  measureThroughput,
  type Throughput,
  type ThroughputSettings,
} from './harness.js';
import { type AiamEngine, buildAiamEngine } from './policy/aiam-engine.js';
import { buildCasbinEngine } from './policy/casbin-engine.js';
import { buildCedarEngine } from './policy/cedar-engine.js';
import type { PolicyEngine } from './policy/policy-engine.js';
import {
  generateRequests,
  generateWorkload,
  type Workload,
  type WorkloadRequest,
} from './policy/policy-workload.js';

/**
 * The policy-engine bench of issue 2 ("Speed"): aiam, Cedar (`@cedar-policy/cedar-wasm`,
 * stateful API) and casbin on the same workload at 10, 100 and 1,000 policies. It first checks
 * that the engines agree, then measures decisions per second and aiam's per-decision latency,
 * and compares them with the targets.
 */

const SIZES = [10, 100, 1000] as const;
/** The requests timed, cycled through: all of the principal under test. */
const TIMED_REQUESTS = 512;

const TARGET_CEDAR_RATIO = 100;
const TARGET_MEDIAN_US = 16;
const TARGET_GROWTH = 2;

interface SizeResult {
  readonly size: number;
  readonly buildMs: { aiam: number; cedar: number; casbin: number };
  readonly aiam: Throughput;
  readonly cedar: Throughput;
  readonly casbin: Throughput;
  readonly latency: Latency;
}

/** Thrown when two engines decide a request differently: the bench's own correctness check. */
class DisagreementError extends Error {}

function timed<T>(build: () => T): { value: T; ms: number } {
  const t0 = process.hrtime.bigint();
  const value = build();
  return { value, ms: Number(process.hrtime.bigint() - t0) / 1e6 };
}

function describeRequest(r: WorkloadRequest): string {
  const { workspace, model, version } = r.resource;
  const resource = [workspace, model, version].filter(Boolean).join('/');
  return `${r.user} ${r.action} ${resource} from ${r.sourceIp}`;
}

/**
 * Decides every request with every engine and throws `DisagreementError` at the first request
 * where Cedar or casbin disagrees with aiam. Also refuses a workload that would make the check
 * vacuous: the requests must produce allows, explicit denies and implicit denies.
 */
function checkAgreement(
  size: number,
  requests: readonly WorkloadRequest[],
  aiam: AiamEngine,
  others: readonly PolicyEngine[],
): string {
  const decideOthers = others.map((e) => ({ engine: e, decide: e.prepare(requests) }));
  const counts = { allowed: 0, explicitDeny: 0, implicitDeny: 0 };
  for (let i = 0; i < requests.length; i++) {
    const request = requests[i]!;
    const decision = aiam.evaluate(request).decision;
    counts[decision]++;
    const allowed = decision === 'allowed';
    for (const { engine, decide } of decideOthers) {
      if (decide(i) !== allowed) {
        throw new DisagreementError(
          [
            `aiam and ${engine.name} disagree at ${size} policies, request #${i}: ${describeRequest(request)}`,
            `  aiam:  ${aiam.describe(request)}`,
            `  ${engine.name}: ${engine.describe(request)}`,
          ].join('\n'),
        );
      }
    }
  }
  for (const [kind, n] of Object.entries(counts)) {
    if (n === 0) throw new DisagreementError(`the workload at ${size} policies produced no ${kind} decision`);
  }
  return `${size} policies: ${requests.length} requests agree (${counts.allowed} allowed, ${counts.explicitDeny} explicit deny, ${counts.implicitDeny} implicit deny)`;
}

function throughputOf(
  engine: PolicyEngine,
  requests: readonly WorkloadRequest[],
  settings: ThroughputSettings,
) {
  const decide = engine.prepare(requests);
  const n = requests.length;
  return measureThroughput((i) => (decide(i % n) ? 1 : 0), settings);
}

async function benchSize(
  workload: Workload,
  options: BenchOptions,
  log: (line: string) => void,
): Promise<SizeResult> {
  const size = workload.rules.length;
  const aiam = timed(() => buildAiamEngine(workload));
  const cedar = timed(() => buildCedarEngine(workload));
  const t0 = process.hrtime.bigint();
  const casbin = await buildCasbinEngine(workload);
  const casbinMs = Number(process.hrtime.bigint() - t0) / 1e6;

  const agreementRequests = generateRequests(workload, options.quick ? 200 : 1000, options.seed + size);
  log(checkAgreement(size, agreementRequests, aiam.value, [cedar.value, casbin]));

  const requests = generateRequests(workload, TIMED_REQUESTS, options.seed + 7 * size, workload.principal);
  const settings: ThroughputSettings = options.quick
    ? { warmupMs: 30, rounds: 3, roundMs: 30 }
    : { warmupMs: 300, rounds: 7, roundMs: 200 };
  const aiamRate = throughputOf(aiam.value, requests, settings);
  const cedarRate = throughputOf(cedar.value, requests, settings);
  const casbinRate = throughputOf(casbin, requests, settings);
  const decide = aiam.value.prepare(requests);
  const latency = measureLatency((i) => (decide(i % TIMED_REQUESTS) ? 1 : 0), {
    batch: 32,
    samples: options.quick ? 300 : 4000,
    warmupCalls: options.quick ? 2_000 : 20_000,
  });
  return {
    size,
    buildMs: { aiam: aiam.ms, cedar: cedar.ms, casbin: casbinMs },
    aiam: aiamRate,
    cedar: cedarRate,
    casbin: casbinRate,
    latency,
  };
}

function ratio(x: number): string {
  return x >= 10 ? `${Math.round(x).toLocaleString('en-US')}x` : `${x.toFixed(2)}x`;
}

function report(results: readonly SizeResult[], quick: boolean): { text: string; pass: boolean } {
  const rows = results.map((r) => [
    r.size.toLocaleString('en-US'),
    formatRate(r.aiam.perSecond),
    formatRate(r.cedar.perSecond),
    formatRate(r.casbin.perSecond),
    ratio(r.aiam.perSecond / r.cedar.perSecond),
    ratio(r.aiam.perSecond / r.casbin.perSecond),
    formatUs(r.latency.p50Us),
    formatUs(r.latency.p99Us),
    formatUs(1e6 / r.cedar.perSecond),
    formatUs(1e6 / r.casbin.perSecond),
  ]);
  const table = formatTable(
    [
      'policies',
      'aiam dec/s',
      'Cedar dec/s',
      'casbin dec/s',
      'aiam/Cedar',
      'aiam/casbin',
      'aiam p50 us',
      'aiam p99 us',
      'Cedar us',
      'casbin us',
    ],
    rows,
  );
  const builds = formatTable(
    ['policies', 'aiam build ms', 'Cedar preparse ms', 'casbin load ms'],
    results.map((r) => [
      r.size.toLocaleString('en-US'),
      r.buildMs.aiam.toFixed(1),
      r.buildMs.cedar.toFixed(1),
      r.buildMs.casbin.toFixed(1),
    ]),
  );

  const small = results.find((r) => r.size === 10)!;
  const large = results.find((r) => r.size === 1000)!;
  const cedarRatio = large.aiam.perSecond / large.cedar.perSecond;
  const growth = large.latency.p50Us / small.latency.p50Us;
  const targets = [
    {
      name: 'aiam >= 100x Cedar at 1,000 policies',
      measured: ratio(cedarRatio),
      pass: cedarRatio >= TARGET_CEDAR_RATIO,
    },
    {
      name: 'aiam median <= 16 us at 1,000 policies',
      measured: `${formatUs(large.latency.p50Us)} us`,
      pass: large.latency.p50Us <= TARGET_MEDIAN_US,
    },
    {
      name: 'aiam median at 1,000 <= 2x median at 10',
      measured: ratio(growth),
      pass: growth <= TARGET_GROWTH,
    },
  ];
  const targetTable = formatTable(
    ['target', 'measured', quick ? 'result (quick: not enforced)' : 'result'],
    targets.map((t) => [t.name, t.measured, t.pass ? 'PASS' : 'FAIL']),
  );
  return {
    text: [table, '', builds, '', targetTable].join('\n'),
    pass: targets.every((t) => t.pass),
  };
}

/** The policy bench as a `bench/run.ts` area. */
export const policyBench: BenchArea = {
  name: 'policy',
  description: 'aiam vs Cedar (cedar-wasm) vs casbin: agreement, decisions/s, aiam p50/p99',
  async run(options: BenchOptions): Promise<BenchOutcome> {
    const log = (line: string): void => console.log(line);
    log(
      `policy bench: ${options.quick ? 'quick' : 'full'} run, seed ${options.seed}; ` +
        `${TIMED_REQUESTS} timed requests of the principal under test, cycled; ` +
        `throughput = median of rounds; latency = batches of 32 calls (see bench/harness.ts)`,
    );
    const results: SizeResult[] = [];
    try {
      for (const size of SIZES)
        results.push(await benchSize(generateWorkload(size, options.seed), options, log));
    } catch (error) {
      if (error instanceof DisagreementError) {
        console.error(`\nAGREEMENT CHECK FAILED\n${error.message}`);
        return { ok: false };
      }
      throw error;
    }
    const { text, pass } = report(results, options.quick);
    log(`\n${text}`);
    return { ok: pass || options.quick };
  },
};
