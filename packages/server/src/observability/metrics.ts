/**
 * A Prometheus metrics registry rendered in the text exposition format 0.0.4
 * (https://prometheus.io/docs/instrumenting/exposition_formats/). Counters, gauges and
 * histograms with fixed label names; hot paths bind label values once (`labels(...)`) so an
 * increment is a property write, not a string join.
 */

/** The content type of the text exposition format. */
export const PROMETHEUS_CONTENT_TYPE = 'text/plain; version=0.0.4; charset=utf-8';

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/** Default latency buckets, in seconds (sub-millisecond to 10 s). */
export const DEFAULT_SECONDS_BUCKETS: readonly number[] = [
  0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

interface Metric {
  readonly name: string;
  render(out: string[]): void;
}

// Exposition format: label values escape \, " and newline; HELP escapes \ and newline.
function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}
function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Number.POSITIVE_INFINITY) return '+Inf';
  if (v === Number.NEGATIVE_INFINITY) return '-Inf';
  return String(v);
}
function labelText(names: readonly string[], values: readonly string[], extra?: string): string {
  const parts = names.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
  if (extra) parts.push(extra);
  return parts.length ? `{${parts.join(',')}}` : '';
}

function checkLabels(metric: string, names: readonly string[], values: readonly string[]): void {
  if (values.length !== names.length) {
    throw new RangeError(`metric ${metric} takes labels (${names.join(', ')}), got ${values.length} values`);
  }
}

/** A bound counter series. */
export interface CounterChild {
  inc(by?: number): void;
}

/** A monotonically increasing count. */
export class Counter implements Metric {
  readonly #series = new Map<string, { values: readonly string[]; value: number; child: CounterChild }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
  ) {}

  /** The series for these label values (in `labelNames` order). */
  labels(...values: string[]): CounterChild {
    const key = values.join('\u0000');
    let s = this.#series.get(key);
    if (s === undefined) {
      checkLabels(this.name, this.labelNames, values);
      const series = { values, value: 0, child: undefined as unknown as CounterChild };
      series.child = {
        inc: (by = 1) => {
          if (!(by >= 0)) throw new RangeError(`counter ${this.name} cannot decrease`);
          series.value += by;
        },
      };
      s = series;
      this.#series.set(key, s);
    }
    return s.child;
  }

  /** Adds `by` (default 1) to the unlabelled series, or to the series of `values`. */
  inc(by = 1, ...values: string[]): void {
    this.labels(...values).inc(by);
  }

  /** The current value of a series (0 when never incremented). */
  get(...values: string[]): number {
    return this.#series.get(values.join('\u0000'))?.value ?? 0;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} counter`);
    if (this.#series.size === 0 && this.labelNames.length === 0) out.push(`${this.name} 0`);
    for (const s of this.#series.values()) {
      out.push(`${this.name}${labelText(this.labelNames, s.values)} ${formatValue(s.value)}`);
    }
  }
}

/** A value that goes up and down, read when scraped from `collect`, or set directly. */
export class Gauge implements Metric {
  readonly #series = new Map<string, { values: readonly string[]; value: number }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    private readonly collect?: (gauge: Gauge) => void,
  ) {}

  /** Sets a series' value. */
  set(value: number, ...values: string[]): void {
    checkLabels(this.name, this.labelNames, values);
    this.#series.set(values.join('\u0000'), { values, value });
  }

  /** The current value of a series. */
  get(...values: string[]): number | undefined {
    return this.#series.get(values.join('\u0000'))?.value;
  }

  render(out: string[]): void {
    this.collect?.(this);
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} gauge`);
    for (const s of this.#series.values()) {
      out.push(`${this.name}${labelText(this.labelNames, s.values)} ${formatValue(s.value)}`);
    }
  }
}

/** A bound histogram series. */
export interface HistogramChild {
  observe(value: number): void;
}

interface HistogramSeries {
  values: readonly string[];
  counts: number[];
  sum: number;
  count: number;
  child: HistogramChild;
}

/** Observations counted into cumulative buckets (`le`), with their sum and count. */
export class Histogram implements Metric {
  readonly #series = new Map<string, HistogramSeries>();
  readonly buckets: readonly number[];

  constructor(
    readonly name: string,
    readonly help: string,
    readonly labelNames: readonly string[],
    buckets: readonly number[] = DEFAULT_SECONDS_BUCKETS,
  ) {
    const sorted = [...buckets].sort((a, b) => a - b);
    if (sorted.some((b, i) => !Number.isFinite(b) || (i > 0 && b === sorted[i - 1]))) {
      throw new RangeError(`histogram ${name} needs distinct finite buckets`);
    }
    this.buckets = sorted;
  }

  /** The series for these label values. */
  labels(...values: string[]): HistogramChild {
    const key = values.join('\u0000');
    let s = this.#series.get(key);
    if (s === undefined) {
      checkLabels(this.name, this.labelNames, values);
      const series: HistogramSeries = {
        values,
        counts: new Array(this.buckets.length).fill(0),
        sum: 0,
        count: 0,
        child: undefined as unknown as HistogramChild,
      };
      const buckets = this.buckets;
      series.child = {
        observe: (value: number) => {
          // Stored per bucket, made cumulative when rendered: one increment per observation.
          let i = 0;
          while (i < buckets.length && value > buckets[i]!) i++;
          if (i < buckets.length) series.counts[i]!++;
          series.sum += value;
          series.count++;
        },
      };
      s = series;
      this.#series.set(key, s);
    }
    return s.child;
  }

  /** Records one observation on the series of `values`. */
  observe(value: number, ...values: string[]): void {
    this.labels(...values).observe(value);
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} histogram`);
    for (const s of this.#series.values()) {
      let cumulative = 0;
      for (let i = 0; i < this.buckets.length; i++) {
        cumulative += s.counts[i]!;
        const le = `le="${formatValue(this.buckets[i]!)}"`;
        out.push(`${this.name}_bucket${labelText(this.labelNames, s.values, le)} ${cumulative}`);
      }
      out.push(`${this.name}_bucket${labelText(this.labelNames, s.values, 'le="+Inf"')} ${s.count}`);
      out.push(`${this.name}_sum${labelText(this.labelNames, s.values)} ${formatValue(s.sum)}`);
      out.push(`${this.name}_count${labelText(this.labelNames, s.values)} ${s.count}`);
    }
  }
}

/**
 * The set of metrics one server exposes at `GET /metrics`. Names are checked once when a
 * metric is created; creating the same name twice returns the existing metric if it has the
 * same type and labels (so independent modules can share a counter), and throws otherwise.
 *
 * @example
 * const registry = new MetricsRegistry();
 * const requests = registry.counter('aiam_http_requests_total', 'HTTP requests.', ['route', 'status']);
 * requests.inc(1, 'GET /healthz', '200');
 * registry.render(); // "# HELP aiam_http_requests_total HTTP requests.\n# TYPE ..."
 */
export class MetricsRegistry {
  readonly #metrics = new Map<string, Metric>();

  counter(name: string, help: string, labelNames: readonly string[] = []): Counter {
    return this.#register(name, labelNames, Counter, () => new Counter(name, help, labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = [], collect?: (g: Gauge) => void): Gauge {
    return this.#register(name, labelNames, Gauge, () => new Gauge(name, help, labelNames, collect));
  }

  histogram(
    name: string,
    help: string,
    labelNames: readonly string[] = [],
    buckets?: readonly number[],
  ): Histogram {
    return this.#register(name, labelNames, Histogram, () => new Histogram(name, help, labelNames, buckets));
  }

  /** The text exposition of every metric, in registration order. */
  render(): string {
    const out: string[] = [];
    for (const m of this.#metrics.values()) m.render(out);
    return out.length ? `${out.join('\n')}\n` : '';
  }

  #register<T extends Metric & { labelNames: readonly string[] }>(
    name: string,
    labelNames: readonly string[],
    type: abstract new (...args: never[]) => T,
    create: () => T,
  ): T {
    if (!NAME.test(name)) throw new RangeError(`invalid metric name "${name}"`);
    for (const l of labelNames) {
      if (!LABEL.test(l) || l.startsWith('__') || l === 'le')
        throw new RangeError(`invalid label name "${l}"`);
    }
    const existing = this.#metrics.get(name);
    if (existing !== undefined) {
      if (existing instanceof type && existing.labelNames.join() === labelNames.join()) return existing;
      throw new RangeError(`metric "${name}" is already registered with another type or labels`);
    }
    const metric = create();
    this.#metrics.set(name, metric);
    return metric;
  }
}

/** Adds the process metrics every Prometheus client exposes (memory, CPU, uptime, event loop). */
export function registerProcessMetrics(registry: MetricsRegistry): void {
  const started = Date.now();
  registry.gauge('process_resident_memory_bytes', 'Resident memory size in bytes.', [], (g) =>
    g.set(process.memoryUsage.rss()),
  );
  registry.gauge('nodejs_heap_used_bytes', 'V8 heap in use, in bytes.', [], (g) =>
    g.set(process.memoryUsage().heapUsed),
  );
  registry.gauge('process_cpu_seconds_total', 'User and system CPU time spent, in seconds.', [], (g) => {
    const u = process.cpuUsage();
    g.set((u.user + u.system) / 1e6);
  });
  registry.gauge(
    'process_start_time_seconds',
    'Start time of the process since the epoch, in seconds.',
    [],
    (g) => g.set(Math.floor(started / 1000)),
  );
}
