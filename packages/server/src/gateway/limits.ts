import type { ServerResponse } from 'node:http';
import { type Clock, systemClock } from '../clock.js';
import { InputError, RateLimitedError } from '../errors.js';

/**
 * The limits of one (principal, endpoint) pair. Absent fields are unlimited.
 *
 * Semantics at the boundary, exactly:
 * - `requestsPerSecond: R` is a token bucket holding `burst` tokens (default `R`), full at
 *   first use, refilled continuously at R tokens per second. A request is admitted when at
 *   least one whole token is left and takes it. So with R = 10: ten requests at the same
 *   instant are admitted, the 11th is refused; 100 ms later exactly one more is admitted.
 *   Over any window of W seconds at most `burst + floor(W × R)` requests pass.
 * - `maxConcurrent: N` admits a request while fewer than N are in flight: the Nth concurrent
 *   request is admitted, the (N+1)th refused. A slot is freed when the response completes
 *   or the client goes away.
 * A refused request consumes nothing (neither a token nor a slot).
 */
export interface GatewayLimits {
  /** Sustained requests per second; precision 0.001. */
  readonly requestsPerSecond?: number;
  /** Bucket size, the most requests admitted at once after a quiet period. Default: requestsPerSecond, at least 1. */
  readonly burst?: number;
  /** Most requests in flight at once. */
  readonly maxConcurrent?: number;
}

/** An admitted request's hold on its concurrency slot. `release` is idempotent. */
export interface LimitLease {
  release(): void;
}

/** Options of a {@link GatewayLimiter}. */
export interface GatewayLimiterOptions {
  readonly clock?: Clock;
  /** How often idle state (a full bucket and nothing in flight) is forgotten. Default 60 s. */
  readonly sweepIntervalMs?: number;
}

// Tokens are kept as integers of 1e6 units, so refill arithmetic is exact (no float drift
// that would make the boundary request pass or fail by luck).
const UNIT = 1_000_000;

interface LimitState {
  units: number;
  capacityUnits: number;
  lastRefill: number;
  perMs: number;
  inFlight: number;
}

const NO_OP_LEASE: LimitLease = { release() {} };

function validate(limits: GatewayLimits): void {
  const { requestsPerSecond: rps, burst, maxConcurrent } = limits;
  if (rps !== undefined && !(Number.isFinite(rps) && rps > 0)) {
    throw new InputError(`requestsPerSecond must be a positive number, got ${rps}.`);
  }
  if (burst !== undefined && !(Number.isInteger(burst) && burst >= 1)) {
    throw new InputError(`burst must be a whole number of at least 1, got ${burst}.`);
  }
  if (maxConcurrent !== undefined && !(Number.isInteger(maxConcurrent) && maxConcurrent >= 1)) {
    throw new InputError(`maxConcurrent must be a whole number of at least 1, got ${maxConcurrent}.`);
  }
}

/**
 * Per (principal, endpoint) admission control: a token bucket for requests per second and a
 * semaphore for concurrent requests. In-memory and per process; see docs/gateway.md for how
 * it behaves when the gateway runs as several processes.
 *
 * @example
 * const lease = limiter.acquire(principalArn, endpointArn, { requestsPerSecond: 10, maxConcurrent: 4 });
 * releaseOnClose(lease, res); // throws RateLimitedError (429 + Retry-After) when refused
 */
export class GatewayLimiter {
  readonly #clock: Clock;
  readonly #sweepIntervalMs: number;
  readonly #states = new Map<string, LimitState>();
  #lastSweep: number;

  constructor(options: GatewayLimiterOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#sweepIntervalMs = options.sweepIntervalMs ?? 60_000;
    this.#lastSweep = this.#clock.now();
  }

  /** How many (principal, endpoint) pairs hold state now; for tests and metrics. */
  get size(): number {
    return this.#states.size;
  }

  /**
   * Admits one request or throws {@link RateLimitedError} with a whole-second Retry-After
   * (RFC 9110 §10.2.3), rounded up and at least 1.
   */
  acquire(principal: string, endpoint: string, limits: GatewayLimits): LimitLease {
    validate(limits);
    const rps = limits.requestsPerSecond;
    const max = limits.maxConcurrent;
    if (rps === undefined && max === undefined) return NO_OP_LEASE;
    const now = this.#clock.now();
    this.#sweep(now);
    const key = `${principal}\n${endpoint}`;
    const capacityUnits = (limits.burst ?? Math.max(1, Math.floor(rps ?? 1))) * UNIT;
    let state = this.#states.get(key);
    if (!state) {
      state = { units: capacityUnits, capacityUnits, lastRefill: now, perMs: 0, inFlight: 0 };
      this.#states.set(key, state);
    }
    if (rps !== undefined) {
      const perMs = Math.round(rps * 1000); // units per millisecond = rps × UNIT / 1000
      const elapsed = Math.max(0, now - state.lastRefill);
      state.capacityUnits = capacityUnits;
      state.perMs = perMs;
      state.units = Math.min(capacityUnits, state.units + elapsed * perMs);
      state.lastRefill = now;
      if (state.units < UNIT) {
        const waitMs = Math.ceil((UNIT - state.units) / perMs);
        throw new RateLimitedError(
          `More than ${rps} requests per second to this endpoint; retry after the interval in Retry-After.`,
          Math.max(1, Math.ceil(waitMs / 1000)),
        );
      }
    }
    if (max !== undefined && state.inFlight >= max) {
      // No way to know when a slot frees; one second is the smallest honest Retry-After.
      throw new RateLimitedError(
        `${max} requests to this endpoint are already in flight; retry when one completes.`,
        1,
      );
    }
    if (rps !== undefined) state.units -= UNIT;
    if (max === undefined) return NO_OP_LEASE;
    state.inFlight++;
    const held = state;
    let released = false;
    return {
      release: () => {
        if (released) return;
        released = true;
        held.inFlight--;
      },
    };
  }

  #sweep(now: number): void {
    if (now - this.#lastSweep < this.#sweepIntervalMs) return;
    this.#lastSweep = now;
    for (const [key, state] of this.#states) {
      // Forgetting a pair is only safe when it would be recreated identical: full, idle.
      const refilled = state.units + (now - state.lastRefill) * state.perMs >= state.capacityUnits;
      if (state.inFlight === 0 && (state.perMs === 0 || refilled)) this.#states.delete(key);
    }
  }
}

/**
 * Releases `lease` when the response is done: completed, or the connection closed early
 * (client abort). Uses 'close', which Node emits in both cases.
 */
export function releaseOnClose(lease: LimitLease, res: ServerResponse): void {
  if (res.closed) {
    lease.release();
    return;
  }
  res.once('close', () => lease.release());
}
