import { type Clock, systemClock } from '../clock.js';
import { type Logger, silentLogger } from './logger.js';
import type { MetricsRegistry } from './metrics.js';

/**
 * One audit record as the HTTP layer produces it: who, what, on which resource, the decision
 * and the statements that made it, from where, under which request id. Same shape as the
 * store's `NewAuditRecord`.
 */
export interface AuditEntry {
  id?: string;
  time: number;
  requestId?: string | null;
  principal?: string | null;
  action?: string | null;
  resource?: string | null;
  decision?: string | null;
  matchedStatements?: unknown;
  sourceIp?: string | null;
  userAgent?: string | null;
  errorCode?: string | null;
  extra?: unknown;
}

/** Where batches go: the store's `appendAudit`, in one transaction per batch. */
export interface AuditSink {
  append(records: readonly AuditEntry[]): Promise<unknown>;
}

/** Options of an {@link AuditWriter}. */
export interface AuditWriterOptions {
  readonly sink: AuditSink;
  /** Most records waiting; beyond it new records are dropped and counted. Default 50 000. */
  readonly maxQueue?: number;
  /** Records per write. Default 500. */
  readonly batchSize?: number;
  /** How long a record may wait for a batch to fill. Default 100 ms. */
  readonly flushIntervalMs?: number;
  readonly logger?: Logger;
  readonly metrics?: MetricsRegistry;
  readonly clock?: Clock;
}

/**
 * Writes audit records off the request path: `record` only pushes onto a bounded in-memory
 * queue; a timer drains it in batches to the sink. When the sink fails, the batch goes back to
 * the head of the queue and is retried with backoff. Nothing is lost silently: a record that
 * does not fit is counted (`aiam_audit_records_dropped_total`) and logged. `close` flushes.
 */
export class AuditWriter {
  readonly #sink: AuditSink;
  readonly #max: number;
  readonly #batch: number;
  readonly #interval: number;
  readonly #log: Logger;
  readonly #clock: Clock;
  #queue: AuditEntry[] = [];
  #timer: NodeJS.Timeout | undefined;
  #writing: Promise<void> | undefined;
  #failures = 0;
  #closed = false;
  #dropped = 0;
  #lastDropLog = 0;
  readonly #writtenCounter;
  readonly #droppedCounter;
  readonly #failedCounter;

  constructor(options: AuditWriterOptions) {
    this.#sink = options.sink;
    this.#max = options.maxQueue ?? 50_000;
    this.#batch = options.batchSize ?? 500;
    this.#interval = options.flushIntervalMs ?? 100;
    this.#log = options.logger ?? silentLogger;
    this.#clock = options.clock ?? systemClock;
    const m = options.metrics;
    this.#writtenCounter = m?.counter(
      'aiam_audit_records_written_total',
      'Audit records written to the store.',
    );
    this.#droppedCounter = m?.counter(
      'aiam_audit_records_dropped_total',
      'Audit records dropped because the queue was full or the store failed at shutdown.',
    );
    this.#failedCounter = m?.counter(
      'aiam_audit_write_failures_total',
      'Failed audit batch writes (retried).',
    );
    m?.gauge('aiam_audit_queue_length', 'Audit records waiting to be written.', [], (g) =>
      g.set(this.#queue.length),
    );
  }

  /** Records waiting to be written. */
  get pending(): number {
    return this.#queue.length;
  }

  /** Records dropped so far. */
  get dropped(): number {
    return this.#dropped;
  }

  /** Queues a record; never blocks, never throws. */
  record(entry: AuditEntry): void {
    if (this.#closed || this.#queue.length >= this.#max) {
      this.#drop(1, this.#closed ? 'writer closed' : 'queue full');
      return;
    }
    this.#queue.push(entry);
    if (this.#queue.length >= this.#batch) this.#kick(0);
    else this.#kick(this.#interval);
  }

  /** Writes everything queued now; resolves when the queue is empty or the sink fails. */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    for (;;) {
      if (this.#writing) await this.#writing;
      if (this.#queue.length === 0) return;
      const ok = await this.#writeOne();
      if (!ok) return;
    }
  }

  /**
   * Stops accepting records and flushes, trying at most until `timeoutMs` has passed; whatever
   * is still queued then is counted as dropped and logged, so the loss is reported, not silent.
   */
  async close(timeoutMs = 5000): Promise<void> {
    this.#closed = true;
    const deadline = this.#clock.now() + timeoutMs;
    while (this.#queue.length > 0 || this.#writing) {
      await this.flush();
      if (this.#queue.length === 0) break;
      if (this.#clock.now() >= deadline) break;
      await new Promise((r) => setTimeout(r, Math.min(200, Math.max(1, deadline - this.#clock.now()))));
    }
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length > 0) {
      const n = this.#queue.length;
      this.#queue = [];
      this.#drop(n, 'store unavailable at shutdown');
    }
  }

  #kick(delay: number): void {
    if (this.#timer !== undefined || this.#writing !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      void this.#drain();
    }, delay);
    // The audit timer alone must not keep the process alive; close() flushes explicitly.
    this.#timer.unref();
  }

  async #drain(): Promise<void> {
    while (this.#queue.length > 0 && !this.#writing) {
      const ok = await this.#writeOne();
      if (!ok) {
        // Exponential backoff up to 5 s while the store is failing.
        const delay = Math.min(5000, this.#interval * 2 ** Math.min(this.#failures, 6));
        this.#kick(delay);
        return;
      }
    }
  }

  async #writeOne(): Promise<boolean> {
    const batch = this.#queue.splice(0, this.#batch);
    let ok = true;
    const run = (async () => {
      try {
        await this.#sink.append(batch);
        this.#failures = 0;
        this.#writtenCounter?.inc(batch.length);
      } catch (err) {
        ok = false;
        this.#failures++;
        this.#failedCounter?.inc();
        // Back to the head, within the bound; what no longer fits is dropped and counted.
        const room = Math.max(0, this.#max - this.#queue.length);
        const kept = batch.slice(0, room);
        this.#queue = kept.concat(this.#queue);
        if (kept.length < batch.length) this.#drop(batch.length - kept.length, 'queue full during retry');
        this.#log.warn('audit batch write failed; will retry', { error: err, records: batch.length });
      }
    })();
    this.#writing = run;
    await run;
    this.#writing = undefined;
    return ok;
  }

  #drop(n: number, why: string): void {
    this.#dropped += n;
    this.#droppedCounter?.inc(n);
    const now = this.#clock.now();
    // At most one log line per second: a flood of drops must not become a flood of logs.
    if (now - this.#lastDropLog >= 1000) {
      this.#lastDropLog = now;
      this.#log.error('audit records dropped', { dropped: n, totalDropped: this.#dropped, reason: why });
    }
  }
}
