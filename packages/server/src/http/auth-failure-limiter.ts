import { type Clock, systemClock } from '../clock.js';
import { RateLimitedError } from '../errors.js';

/** Options of an {@link AuthFailureLimiter}. */
export interface AuthFailureLimiterOptions {
  /** Failures allowed in a burst from one source. Default 20. */
  readonly burst?: number;
  /** Failures forgiven per second, per source. Default 1. */
  readonly refillPerSecond?: number;
  /** Most sources tracked at once; the least recently failing are forgotten first. Default 100 000. */
  readonly maxSources?: number;
  readonly clock?: Clock;
}

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per source address for authentication failures: each failure takes a token;
 * a source with no token left is refused with 429 and `Retry-After` before its credentials are
 * even looked at, so guessing keys or signatures costs time. Successful requests take nothing.
 * Memory is bounded: buckets refilled to full are dropped, and beyond `maxSources` the oldest
 * entries are evicted (Map insertion order, refreshed on each failure).
 */
export class AuthFailureLimiter {
  readonly #burst: number;
  readonly #rate: number;
  readonly #max: number;
  readonly #clock: Clock;
  readonly #buckets = new Map<string, Bucket>();

  constructor(options: AuthFailureLimiterOptions = {}) {
    this.#burst = options.burst ?? 20;
    this.#rate = options.refillPerSecond ?? 1;
    this.#max = options.maxSources ?? 100_000;
    this.#clock = options.clock ?? systemClock;
    if (!(this.#burst >= 1) || !(this.#rate > 0) || !(this.#max >= 1)) {
      throw new RangeError('AuthFailureLimiter needs burst >= 1, refillPerSecond > 0, maxSources >= 1');
    }
  }

  /** Number of sources currently tracked. */
  get size(): number {
    return this.#buckets.size;
  }

  /** Throws `RateLimitedError` when `source` has no failure left to spend. */
  check(source: string): void {
    if (this.#buckets.size === 0) return;
    const b = this.#refill(source);
    if (b !== undefined && b.tokens < 1) {
      const seconds = (1 - b.tokens) / this.#rate;
      throw new RateLimitedError(
        'Too many failed authentication attempts from this address; retry later.',
        Math.max(1, Math.ceil(seconds)),
      );
    }
  }

  /** Counts one failure from `source`. */
  recordFailure(source: string): void {
    const b = this.#refill(source) ?? { tokens: this.#burst, at: this.#clock.now() };
    b.tokens = Math.max(0, b.tokens - 1);
    this.#buckets.delete(source);
    this.#buckets.set(source, b);
    if (this.#buckets.size > this.#max) {
      const oldest = this.#buckets.keys().next().value;
      if (oldest !== undefined) this.#buckets.delete(oldest);
    }
  }

  #refill(source: string): Bucket | undefined {
    const b = this.#buckets.get(source);
    if (b === undefined) return undefined;
    const now = this.#clock.now();
    if (now > b.at) {
      b.tokens = Math.min(this.#burst, b.tokens + ((now - b.at) / 1000) * this.#rate);
      b.at = now;
    }
    if (b.tokens >= this.#burst) {
      this.#buckets.delete(source);
      return undefined;
    }
    return b;
  }
}
