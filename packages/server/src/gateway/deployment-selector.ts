import http from 'node:http';
import https from 'node:https';
import { type Clock, systemClock } from '../clock.js';
import { InputError, NotFoundError, ServiceUnavailableError } from '../errors.js';
import type { ForwardResult } from './reverse-proxy.js';

/** The request header that pins a deployment, as Azure ML online endpoints do. */
export const PINNED_DEPLOYMENT_HEADER = 'azureml-model-deployment';

/** The deployment a request pins with {@link PINNED_DEPLOYMENT_HEADER}, if any (sent twice: refused). */
export function pinnedDeployment(
  headers: Readonly<Record<string, string | string[] | undefined>>,
): string | undefined {
  const value = headers[PINNED_DEPLOYMENT_HEADER];
  if (Array.isArray(value)) throw new InputError(`Send the ${PINNED_DEPLOYMENT_HEADER} header at most once.`);
  return value === undefined || value === '' ? undefined : value;
}

/** What the selector needs to know of a deployment; callers may carry more fields. */
export interface DeploymentDescription {
  /** Unique within the endpoint: letters, digits, `.`, `_`, `-`, at most 64. */
  readonly name: string;
  /** The upstream base URL (http or https). */
  readonly upstreamUrl: string;
  /** Share of traffic, a whole number 0..100. Weight 0 is reachable only when pinned. */
  readonly trafficWeight: number;
}

/** A timer source, injectable so health probing can be tested without waiting. */
export interface Scheduler {
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

const realScheduler: Scheduler = {
  setTimeout: (callback, ms) => {
    const handle = setTimeout(callback, ms);
    handle.unref();
    return handle;
  },
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** Active health checking: a probe run periodically, and with backoff while a deployment is down. */
export interface HealthProbeOptions<D extends DeploymentDescription> {
  /** Resolves true when the deployment is serving. A rejection counts as false. */
  readonly check: (deployment: D) => Promise<boolean>;
  /** Period of probes of healthy deployments, and first retry of an unhealthy one. Default 10 s. */
  readonly intervalMs?: number;
  /** The backoff between probes of an unhealthy deployment doubles up to this. Default 5 min. */
  readonly maxBackoffMs?: number;
}

/** Options of a {@link DeploymentSelector}. */
export interface DeploymentSelectorOptions<D extends DeploymentDescription> {
  /** A number in [0, 1); injectable for tests. Default Math.random. */
  readonly random?: () => number;
  /** Consecutive failed requests that take a deployment out of rotation. Default 3. */
  readonly failureThreshold?: number;
  /**
   * Without an active probe, how long an ejected deployment stays out before it is tried
   * again (doubling on each ejection in a row, up to 32×). Default 30 s.
   */
  readonly ejectionMs?: number;
  readonly probe?: HealthProbeOptions<D>;
  readonly clock?: Clock;
  readonly scheduler?: Scheduler;
  /** Told whenever a deployment leaves or re-enters rotation (for logs and metrics). */
  readonly onHealthChange?: (name: string, healthy: boolean) => void;
}

interface Health {
  healthy: boolean;
  consecutiveFailures: number;
  ejections: number;
  ejectedUntil: number;
  probeBackoffMs: number;
  timer: unknown;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Checks a deployment list the way Azure ML checks traffic: weights 0..100 summing to 100 (or all 0). */
export function validateDeployments(deployments: readonly DeploymentDescription[]): void {
  const seen = new Set<string>();
  let total = 0;
  for (const d of deployments) {
    if (!NAME.test(d.name)) {
      throw new InputError(
        `Deployment name '${d.name}' is invalid: use 1-64 letters, digits, '.', '_' or '-', starting with a letter or digit.`,
      );
    }
    if (seen.has(d.name)) throw new InputError(`Deployment name '${d.name}' appears twice.`);
    seen.add(d.name);
    if (!Number.isInteger(d.trafficWeight) || d.trafficWeight < 0 || d.trafficWeight > 100) {
      throw new InputError(
        `Deployment '${d.name}' has traffic weight ${d.trafficWeight}; use a whole number 0..100.`,
      );
    }
    let url: URL;
    try {
      url = new URL(d.upstreamUrl);
    } catch {
      throw new InputError(`Deployment '${d.name}' has an upstream URL that is not a URL.`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new InputError(`Deployment '${d.name}' needs an http or https upstream URL.`);
    }
    if (url.username || url.password || url.search || url.hash) {
      throw new InputError(
        `Deployment '${d.name}' upstream URL must not carry credentials, a query or a fragment.`,
      );
    }
    total += d.trafficWeight;
  }
  if (total !== 0 && total !== 100) {
    throw new InputError(`Traffic weights add up to ${total}; they must add up to 100 (or all be 0).`);
  }
}

/**
 * Chooses the deployment that serves a request: the one pinned by the
 * `azureml-model-deployment` header, or one drawn by traffic weight among the healthy ones
 * (an unhealthy deployment's share is spread over the rest in proportion).
 *
 * Health is passive and, optionally, active. Passive: `failureThreshold` failed requests in
 * a row (connection failures, timeouts, 502/503/504 answers) take a deployment out; without
 * a probe it comes back after `ejectionMs` on probation (one more failure ejects it again,
 * for twice as long). Active: `probe.check` runs every `intervalMs` on healthy deployments
 * (a failed probe ejects) and with exponential backoff on unhealthy ones (a passing probe
 * puts it back). Call `start()` to begin probing and `stop()` when done.
 */
export class DeploymentSelector<D extends DeploymentDescription = DeploymentDescription> {
  #deployments: readonly D[] = [];
  readonly #health = new Map<string, Health>();
  readonly #random: () => number;
  readonly #threshold: number;
  readonly #ejectionMs: number;
  readonly #probe: HealthProbeOptions<D> | undefined;
  readonly #clock: Clock;
  readonly #scheduler: Scheduler;
  readonly #onHealthChange: ((name: string, healthy: boolean) => void) | undefined;
  #running = false;

  constructor(deployments: readonly D[], options: DeploymentSelectorOptions<D> = {}) {
    this.#random = options.random ?? Math.random;
    this.#threshold = options.failureThreshold ?? 3;
    if (!Number.isInteger(this.#threshold) || this.#threshold < 1) {
      throw new InputError('failureThreshold must be a whole number of at least 1.');
    }
    this.#ejectionMs = options.ejectionMs ?? 30_000;
    this.#probe = options.probe;
    this.#clock = options.clock ?? systemClock;
    this.#scheduler = options.scheduler ?? realScheduler;
    this.#onHealthChange = options.onHealthChange;
    this.replaceDeployments(deployments);
  }

  /** The deployments, in declared order. */
  get deployments(): readonly D[] {
    return this.#deployments;
  }

  /** Swaps in a new list (weights changed, deployment added or removed), keeping known health. */
  replaceDeployments(deployments: readonly D[]): void {
    validateDeployments(deployments);
    const names = new Set(deployments.map((d) => d.name));
    for (const [name, health] of this.#health) {
      if (names.has(name)) continue;
      if (health.timer !== undefined) this.#scheduler.clearTimeout(health.timer);
      this.#health.delete(name);
    }
    for (const d of deployments) {
      if (this.#health.has(d.name)) continue;
      this.#health.set(d.name, {
        healthy: true,
        consecutiveFailures: 0,
        ejections: 0,
        ejectedUntil: 0,
        probeBackoffMs: 0,
        timer: undefined,
      });
      if (this.#running) this.#schedule(d.name, this.#probe?.intervalMs ?? 10_000);
    }
    this.#deployments = [...deployments];
  }

  /** Whether the named deployment is in rotation now. */
  isHealthy(name: string): boolean {
    const health = this.#health.get(name);
    if (!health) return false;
    this.#maybeReadmit(name, health);
    return health.healthy;
  }

  /**
   * Picks a deployment. `pinned` (the header's value) selects by name and bypasses weights
   * but not health. `accepts`, when given, narrows the choice (e.g. to the deployments that
   * serve the model a request names); weights are then drawn among those. Throws InputError
   * for an unknown pinned name or a pinned deployment that `accepts` refuses, NotFoundError
   * when no deployment is accepted at all, ServiceUnavailableError (503) when none of the
   * accepted ones is healthy and takes traffic.
   */
  select(pinned?: string, accepts?: (deployment: D) => boolean, what = 'this request'): D {
    if (pinned !== undefined) {
      const d = this.#deployments.find((x) => x.name === pinned);
      if (!d)
        throw new InputError(`This endpoint has no deployment named '${pinned}'.`, {
          code: 'ERR_UNKNOWN_DEPLOYMENT',
        });
      if (accepts && !accepts(d)) {
        throw new InputError(
          `Deployment '${d.name}' does not serve ${what}; pin a deployment that does, or none.`,
          {
            code: 'ERR_DEPLOYMENT_MISMATCH',
          },
        );
      }
      if (!this.isHealthy(d.name)) {
        throw new ServiceUnavailableError(
          `Deployment '${d.name}' is out of rotation (unhealthy); retry later.`,
        );
      }
      return d;
    }
    const candidates = accepts ? this.#deployments.filter(accepts) : this.#deployments;
    if (candidates.length === 0) {
      throw new NotFoundError(`No deployment of this endpoint serves ${what}.`, {
        code: 'ERR_NO_DEPLOYMENT',
      });
    }
    let total = 0;
    for (const d of candidates) if (d.trafficWeight > 0 && this.isHealthy(d.name)) total += d.trafficWeight;
    if (total === 0) {
      throw new ServiceUnavailableError(
        `No healthy deployment that serves ${what} takes traffic; retry later.`,
      );
    }
    let r = this.#random() * total;
    let last: D | undefined;
    for (const d of candidates) {
      if (d.trafficWeight === 0 || !this.isHealthy(d.name)) continue;
      last = d;
      r -= d.trafficWeight;
      if (r < 0) return d;
    }
    return last as D; // only reachable if random() returned 1 or more
  }

  /** {@link select} with the pin read from request headers (a repeated header is refused). */
  selectFor(
    headers: Readonly<Record<string, string | string[] | undefined>>,
    accepts?: (deployment: D) => boolean,
    what?: string,
  ): D {
    return this.select(pinnedDeployment(headers), accepts, what);
  }

  /** Records a request that the deployment served. */
  recordSuccess(name: string): void {
    const health = this.#health.get(name);
    if (!health) return;
    health.consecutiveFailures = 0;
    if (health.healthy) health.ejections = 0;
  }

  /** Records a request the deployment failed (unreachable, timed out, 502/503/504). */
  recordFailure(name: string): void {
    const health = this.#health.get(name);
    if (!health?.healthy) return;
    health.consecutiveFailures++;
    if (health.consecutiveFailures >= this.#threshold) this.#eject(name, health);
  }

  /**
   * Feeds a {@link ForwardResult} into passive health: upstream failures, timeouts and
   * 502/503/504 answers count against the deployment; a client abort counts for nothing.
   */
  recordResult(name: string, result: ForwardResult): void {
    if (result.outcome === 'client-aborted') return;
    if (
      result.outcome !== 'completed' ||
      (result.status !== undefined && result.status >= 502 && result.status <= 504)
    ) {
      this.recordFailure(name);
    } else this.recordSuccess(name);
  }

  /** Starts active probing (no-op without a probe). */
  start(): void {
    if (this.#running || !this.#probe) return;
    this.#running = true;
    for (const d of this.#deployments) this.#schedule(d.name, this.#probe.intervalMs ?? 10_000);
  }

  /** Stops active probing and clears its timers. */
  stop(): void {
    this.#running = false;
    for (const health of this.#health.values()) {
      if (health.timer !== undefined) this.#scheduler.clearTimeout(health.timer);
      health.timer = undefined;
    }
  }

  #eject(name: string, health: Health): void {
    health.healthy = false;
    health.ejections++;
    health.ejectedUntil = this.#clock.now() + this.#ejectionMs * 2 ** Math.min(health.ejections - 1, 5);
    health.probeBackoffMs = this.#probe?.intervalMs ?? 10_000;
    this.#onHealthChange?.(name, false);
    if (this.#running) this.#schedule(name, health.probeBackoffMs);
  }

  #readmit(name: string, health: Health, probation: boolean): void {
    health.healthy = true;
    // On probation (no probe proved it healthy), one more failure ejects it again.
    health.consecutiveFailures = probation ? this.#threshold - 1 : 0;
    if (!probation) health.ejections = 0;
    this.#onHealthChange?.(name, true);
  }

  #maybeReadmit(name: string, health: Health): void {
    // With a running probe, only a passing probe readmits.
    if (health.healthy || this.#running) return;
    if (this.#clock.now() >= health.ejectedUntil) this.#readmit(name, health, true);
  }

  #schedule(name: string, ms: number): void {
    const health = this.#health.get(name);
    if (!health || !this.#probe) return;
    if (health.timer !== undefined) this.#scheduler.clearTimeout(health.timer);
    health.timer = this.#scheduler.setTimeout(() => {
      health.timer = undefined;
      void this.#runProbe(name);
    }, ms);
  }

  async #runProbe(name: string): Promise<void> {
    const probe = this.#probe;
    const deployment = this.#deployments.find((d) => d.name === name);
    if (!probe || !deployment || !this.#running) return;
    let ok: boolean;
    try {
      ok = await probe.check(deployment);
    } catch {
      ok = false;
    }
    const health = this.#health.get(name);
    if (!health || !this.#running) return;
    const interval = probe.intervalMs ?? 10_000;
    if (ok) {
      if (!health.healthy) this.#readmit(name, health, false);
      health.probeBackoffMs = interval;
      this.#schedule(name, interval);
      return;
    }
    if (health.healthy) {
      this.#eject(name, health); // schedules the first retry
      return;
    }
    health.probeBackoffMs = Math.min(health.probeBackoffMs * 2, probe.maxBackoffMs ?? 300_000);
    this.#schedule(name, health.probeBackoffMs);
  }
}

/**
 * A probe for {@link HealthProbeOptions.check}: GET `path` below the deployment's URL,
 * healthy on any 2xx within `timeoutMs`. vLLM and TGI serve `/health`, KServe `/v2/health/ready`.
 */
export function httpHealthProbe(
  path = '/health',
  timeoutMs = 2_000,
): (deployment: DeploymentDescription) => Promise<boolean> {
  return (deployment) =>
    new Promise<boolean>((resolve) => {
      const base = new URL(deployment.upstreamUrl);
      const url = new URL(`${base.pathname.replace(/\/$/, '')}${path}`, base);
      const transport = url.protocol === 'https:' ? https : http;
      const req = transport.get(url, { timeout: timeoutMs, agent: false }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        resolve(status >= 200 && status < 300);
      });
      req.on('timeout', () => req.destroy());
      req.on('error', () => resolve(false));
    });
}
