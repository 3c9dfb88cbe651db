import type { Workload, WorkloadRequest } from './policy-workload.js';

/**
 * One engine as the bench sees it, built from a `Workload`. Requests are translated into the
 * engine's own form in `prepare`, outside the timed loop, so the timings compare deciding, not
 * building request objects.
 */
export interface PolicyEngine {
  readonly name: string;
  /** Returns a function deciding the i-th prepared request: true when allowed. */
  prepare(requests: readonly WorkloadRequest[]): (i: number) => boolean;
  /** A one-line account of the engine's decision on one request, for a disagreement report. */
  describe(request: WorkloadRequest): string;
}

/** Builds an engine from a workload (policies parsed and indexed once, here). */
export type PolicyEngineFactory = (workload: Workload) => PolicyEngine;
