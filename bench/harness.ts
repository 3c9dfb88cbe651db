/**
 * Timing and reporting helpers shared by every bench area (policy, and later HTTP, S3, gateway).
 * Benches are programs, not tests: they print what they measure and exit non-zero only when a
 * correctness check or, in a full run, a target fails.
 */

/** Options every bench area receives from `bench/run.ts`. */
export interface BenchOptions {
  /** Few, short rounds: a smoke run that finishes in seconds; targets are shown but not enforced. */
  readonly quick: boolean;
  /** Seed of the deterministic workload generator. */
  readonly seed: number;
}

/** What a bench area reports back to the dispatcher. */
export interface BenchOutcome {
  /** Correctness checks and (in a full run) targets all passed. */
  readonly ok: boolean;
}

/** A bench area: a name for the command line and the function that runs it. */
export interface BenchArea {
  readonly name: string;
  readonly description: string;
  run(options: BenchOptions): Promise<BenchOutcome>;
}

/**
 * A small deterministic PRNG (mulberry32), so the same seed gives the same workload on every
 * machine and Node version; `Math.random` cannot be seeded.
 */
export class SeededRandom {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  /** A float in [0, 1). */
  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)]!;
  }

  /** `count` distinct elements (or all of them when there are fewer). */
  sample<T>(items: readonly T[], count: number): T[] {
    const copy = [...items];
    const out: T[] = [];
    while (out.length < count && copy.length > 0) out.push(copy.splice(this.int(copy.length), 1)[0]!);
    return out;
  }

  /** True with probability `p`. */
  chance(p: number): boolean {
    return this.next() < p;
  }
}

/** The median of a non-empty list (not modified). */
export function median(values: readonly number[]): number {
  return percentile(values, 50);
}

/** The nearest-rank percentile `p` (0..100) of a non-empty list (not modified). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) throw new RangeError('percentile of an empty list');
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

/** Settings of `measureThroughput`. */
export interface ThroughputSettings {
  /** Wall time to spend warming up (JIT, caches) before measuring. */
  readonly warmupMs: number;
  readonly rounds: number;
  /** Target duration of one round; the call count per round is calibrated from the warm-up. */
  readonly roundMs: number;
}

/** Result of `measureThroughput`: calls per second, median over rounds, and every round's rate. */
export interface Throughput {
  readonly perSecond: number;
  readonly rounds: readonly number[];
}

/**
 * Calls `fn(i)` for i = 0, 1, 2, … and reports calls per second: a time-boxed warm-up that
 * also calibrates how many calls fill `roundMs`, then `rounds` rounds of that many calls,
 * and the median of the rounds' rates (the median, not the mean, so one round disturbed by
 * another process on a shared machine does not move the result). `fn` returns a number that
 * is summed into a sink, so the JIT cannot drop the calls as dead code.
 */
export function measureThroughput(fn: (i: number) => number, settings: ThroughputSettings): Throughput {
  let sink = 0;
  let i = 0;
  const warmupNs = BigInt(Math.round(settings.warmupMs * 1e6));
  const start = process.hrtime.bigint();
  let elapsed = 0n;
  // Check the clock only every few calls: slow engines take milliseconds per call anyway, and
  // fast ones would otherwise measure the clock.
  while (elapsed < warmupNs) {
    for (let k = 0; k < 8; k++) sink += fn(i++);
    elapsed = process.hrtime.bigint() - start;
  }
  const perCallNs = Number(elapsed) / i;
  const callsPerRound = Math.max(8, Math.round((settings.roundMs * 1e6) / perCallNs));
  const rates: number[] = [];
  for (let r = 0; r < settings.rounds; r++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < callsPerRound; k++) sink += fn(i++);
    const ns = Number(process.hrtime.bigint() - t0);
    rates.push((callsPerRound * 1e9) / ns);
  }
  keep(sink);
  return { perSecond: median(rates), rounds: rates };
}

/** Result of `measureLatency`, in microseconds per call. */
export interface Latency {
  readonly p50Us: number;
  readonly p99Us: number;
  readonly samples: number;
}

/**
 * Per-call latency percentiles of a sub-microsecond to few-microsecond function.
 *
 * Method: a single call is too short to time on its own (`process.hrtime.bigint()` itself costs
 * tens of nanoseconds and its readings jitter by about as much), so calls are timed in batches
 * of `batch` consecutive calls and each batch yields one sample, its duration divided by
 * `batch`. The p50 is thus the median per-call cost; the p99 is the 99th percentile of batch
 * averages, which shows GC pauses and scheduler interruptions that hit a batch but smooths
 * a single slow call within a batch across its neighbours (it understates a lone outlier by up
 * to `batch` times). Every sample batch cycles through the same request mix as the throughput
 * measurement.
 */
export function measureLatency(
  fn: (i: number) => number,
  settings: { readonly batch: number; readonly samples: number; readonly warmupCalls: number },
): Latency {
  let sink = 0;
  let i = 0;
  for (let k = 0; k < settings.warmupCalls; k++) sink += fn(i++);
  const perCallUs: number[] = new Array(settings.samples);
  for (let s = 0; s < settings.samples; s++) {
    const t0 = process.hrtime.bigint();
    for (let k = 0; k < settings.batch; k++) sink += fn(i++);
    perCallUs[s] = Number(process.hrtime.bigint() - t0) / 1000 / settings.batch;
  }
  keep(sink);
  return { p50Us: percentile(perCallUs, 50), p99Us: percentile(perCallUs, 99), samples: settings.samples };
}

let kept = 0;
/** Makes a computed value observable so the JIT must compute it. */
function keep(value: number): void {
  kept = (kept + value) | 0;
  if (kept === 0x7fffffff) console.log('');
}

/** Formats a table with a header row; columns are right-aligned except the first. */
export function formatTable(header: readonly string[], rows: readonly (readonly string[])[]): string {
  const widths = header.map((h, c) => Math.max(h.length, ...rows.map((r) => (r[c] ?? '').length)));
  const line = (cells: readonly string[]): string =>
    cells
      .map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!)))
      .join('  ')
      .trimEnd();
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.map(line)].join('\n');
}

/** A rate with thousands separators and no decimals: `1,234,567`. */
export function formatRate(perSecond: number): string {
  return Math.round(perSecond).toLocaleString('en-US');
}

/** A duration in microseconds with 2 significant decimals below 10, 1 above. */
export function formatUs(us: number): string {
  return us < 10 ? us.toFixed(2) : us.toFixed(1);
}
