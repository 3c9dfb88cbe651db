import {
  type AuthorizationRequest,
  type AuthorizeOptions,
  type CompiledPolicy,
  type Decision,
  explainDecision,
  type RequestContext,
  type RequestPrincipal,
} from '@aiam/policy';
import { type Clock, systemClock } from '../clock.js';
import type { Store } from '../store/store.js';
import type { NewAuditRecord } from '../store/store-types.js';
import { timeOrderedId } from '../store/time-ordered-id.js';
import type { AccessSnapshotCache, AccessView } from './access-snapshot-cache.js';
import { auditedDecision } from './audited-decision.js';

/** One authorization question, as every route asks it. */
export interface AuthorizeInput {
  readonly principal: RequestPrincipal;
  readonly action: string;
  readonly resource: string;
  readonly context: RequestContext;
  /** The caller's session policies (AssumeRole `Policy`/`PolicyArns`); they cap its grants. */
  readonly sessionPolicies?: readonly CompiledPolicy[];
  /**
   * Identity policies granted for this request only (e.g. an endpoint key's grant on its own
   * endpoint); decided by the engine with everything else, so denies still win.
   */
  readonly identityPolicies?: readonly CompiledPolicy[];
  /** Recorded with the decision for the audit trail. */
  readonly audit?: {
    readonly requestId?: string;
    readonly sourceIp?: string;
    readonly userAgent?: string;
    readonly credentialId?: string;
  };
}

/** The answer: the engine's decision, its unique id, and whether the request may proceed. */
export interface AuthorizeResult {
  readonly decision: Decision;
  readonly decisionId: string;
  readonly allowed: boolean;
  /** The store revision of the model that decided. */
  readonly revision: number;
}

/** A decision kept for `explain`. */
export interface RecordedDecision {
  readonly decisionId: string;
  readonly time: number;
  readonly revision: number;
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly decision: Decision;
  /** The engine's trace rendered for people (`explainDecision`), rendered when first read. */
  readonly explanation: string;
}

/**
 * A decision kept for `explain`, whose explanation is rendered only when someone asks: nearly
 * every decision is never explained, and rendering a trace walks every statement it names.
 */
class LazyRecordedDecision implements RecordedDecision {
  #explanation: string | undefined;

  constructor(
    readonly decisionId: string,
    readonly time: number,
    readonly revision: number,
    readonly principal: string,
    readonly action: string,
    readonly resource: string,
    readonly decision: Decision,
  ) {}

  get explanation(): string {
    this.#explanation ??= explainDecision(this.decision);
    return this.#explanation;
  }
}

/** Options of {@link ServiceAuthorizer}. */
export interface ServiceAuthorizerOptions {
  readonly clock?: Clock;
  /** How many recent decisions `explain` keeps in memory (default 10000). */
  readonly recentDecisions?: number;
  /** Write each decision to the audit trail (default true). */
  readonly audit?: boolean;
  /** Flush audit records after this many are queued (default 200) or this many ms (default 250). */
  readonly auditBatchSize?: number;
  readonly auditFlushMs?: number;
  /** Told when an audit batch could not be written (the decisions are still enforced). */
  readonly onAuditError?: (error: unknown) => void;
}

/**
 * THE authorization function of the server: every route (control plane, STS, S3, gateway,
 * SCIM) asks it, and nothing else decides. It waits only when a committed change is newer than
 * the model (read-your-writes); each decision gets a unique id, is kept in a bounded
 * recent-decisions map for `explain`, and is appended to the audit trail in batches, off the
 * request path, so a decision never waits on an audit write.
 *
 * @example
 * const { allowed, decisionId } = await authorizer.authorize({ principal, action: 'iam:CreateUser',
 *   resource: 'arn:aws:iam::111122223333:user/bob', context });
 * if (!allowed) throw new NotAllowedError('…', { decisionId });
 */
export class ServiceAuthorizer {
  readonly #cache: AccessSnapshotCache;
  readonly #store: Store;
  readonly #clock: Clock;
  readonly #recentLimit: number;
  readonly #recent = new Map<string, RecordedDecision>();
  /**
   * The ids in `#recent`, oldest first, in a ring: evicting through `Map.keys().next()` walks
   * the deleted entries V8 keeps at the map's head until it rehashes, which grew to ~3% of a
   * request's CPU under load.
   */
  #ring: (string | undefined)[] = [];
  #ringNext = 0;
  readonly #audit: boolean;
  readonly #batchSize: number;
  readonly #flushMs: number;
  readonly #onAuditError: ((e: unknown) => void) | undefined;
  #queue: NewAuditRecord[] = [];
  #timer: NodeJS.Timeout | undefined;
  #flushing: Promise<void> = Promise.resolve();

  constructor(cache: AccessSnapshotCache, store: Store, options: ServiceAuthorizerOptions = {}) {
    this.#cache = cache;
    this.#store = store;
    this.#clock = options.clock ?? systemClock;
    this.#recentLimit = options.recentDecisions ?? 10000;
    this.#audit = options.audit ?? true;
    this.#batchSize = options.auditBatchSize ?? 200;
    this.#flushMs = options.auditFlushMs ?? 250;
    this.#onAuditError = options.onAuditError;
  }

  /** Decides one request with the model at the newest committed revision. */
  async authorize(input: AuthorizeInput): Promise<AuthorizeResult> {
    // The usual case, a fresh view, skips an await: one promise and microtask fewer per request.
    const cache = this.#cache;
    const view = cache.stale ? await cache.view() : (cache.latest as AccessView);
    const request: AuthorizationRequest = {
      principal: input.principal,
      action: input.action,
      resource: input.resource,
      context: input.context,
    };
    const options =
      input.sessionPolicies || input.identityPolicies
        ? {
            ...(input.sessionPolicies ? { sessionPolicies: input.sessionPolicies } : {}),
            ...(input.identityPolicies ? { identityPolicies: input.identityPolicies } : {}),
          }
        : undefined;
    return this.#decide(view, request, options, input.audit);
  }

  /**
   * `authorize` in the shape of the HTTP `Authorizer` (request and engine options apart, no
   * audit details): the request is decided as given, not copied, and the result is returned
   * synchronously when the access view is fresh (no promise per request on the hot path).
   */
  decide(
    request: AuthorizationRequest,
    options?: AuthorizeOptions,
  ): AuthorizeResult | Promise<AuthorizeResult> {
    const cache = this.#cache;
    if (cache.stale) return cache.view().then((view) => this.#decide(view, request, options, undefined));
    return this.#decide(cache.latest as AccessView, request, options, undefined);
  }

  #decide(
    view: AccessView,
    request: AuthorizationRequest,
    options: AuthorizeOptions | undefined,
    audit: AuthorizeInput['audit'],
  ): AuthorizeResult {
    const decision = view.model.authorize(request, options);
    const time = this.#clock.now();
    // Time-ordered: the audit trail is keyed by decision ids and appends them in order.
    const decisionId = timeOrderedId(time);
    const allowed = decision.decision === 'allowed';
    this.#remember(
      new LazyRecordedDecision(
        decisionId,
        time,
        view.revision,
        request.principal.arn,
        request.action,
        request.resource,
        decision,
      ),
    );
    if (this.#audit) {
      this.#enqueue({
        id: decisionId,
        time,
        requestId: audit?.requestId ?? null,
        principal: request.principal.arn,
        action: request.action,
        resource: request.resource,
        decision: decision.decision,
        matchedStatements: decision.matched,
        sourceIp: audit?.sourceIp ?? null,
        userAgent: audit?.userAgent ?? null,
        extra: {
          revision: view.revision,
          ...(decision.reason ? { reason: decision.reason } : {}),
          ...(decision.missingContextValues.length
            ? { missingContextValues: decision.missingContextValues }
            : {}),
          ...(audit?.credentialId ? { credentialId: audit.credentialId } : {}),
        },
      });
    }
    return { decision, decisionId, allowed, revision: view.revision };
  }

  /** A recent decision by id, with its trace; undefined once it has left the bounded map. */
  explain(decisionId: string): RecordedDecision | undefined {
    return this.#recent.get(decisionId);
  }

  /**
   * A decision by id, with its trace: a recent one from memory, any other from the audit trail
   * (made before a restart or on another node; kept in memory once read). Undefined when no
   * audit record has that id or the record is not an authorization decision.
   */
  async recall(decisionId: string): Promise<RecordedDecision | undefined> {
    const recent = this.#recent.get(decisionId);
    if (recent) return recent;
    const record = await this.#store.getAuditRecord(decisionId);
    const d = record && auditedDecision(record);
    if (!d) return undefined;
    const recorded = new LazyRecordedDecision(
      d.decisionId,
      d.time,
      d.revision,
      d.principal,
      d.action,
      d.resource,
      d.decision,
    );
    this.#remember(recorded);
    return recorded;
  }

  /** Writes every queued audit record now (call before shutdown). */
  async flush(): Promise<void> {
    if (this.#timer) {
      clearTimeout(this.#timer);
      this.#timer = undefined;
    }
    const batch = this.#queue;
    this.#queue = [];
    const previous = this.#flushing;
    this.#flushing = previous.then(async () => {
      if (batch.length === 0) return;
      try {
        await this.#store.appendAudit(batch);
      } catch (error) {
        this.#onAuditError?.(error);
      }
    });
    await this.#flushing;
  }

  #remember(record: RecordedDecision): void {
    if (this.#recentLimit <= 0) return;
    const oldest = this.#ring[this.#ringNext];
    if (oldest !== undefined) this.#recent.delete(oldest);
    this.#ring[this.#ringNext] = record.decisionId;
    this.#ringNext = (this.#ringNext + 1) % this.#recentLimit;
    this.#recent.set(record.decisionId, record);
  }

  #enqueue(record: NewAuditRecord): void {
    this.#queue.push(record);
    if (this.#queue.length >= this.#batchSize) {
      void this.flush();
    } else if (this.#timer === undefined) {
      this.#timer = setTimeout(() => {
        this.#timer = undefined;
        void this.flush();
      }, this.#flushMs);
      // An idle server must be able to exit; shutdown calls flush().
      this.#timer.unref();
    }
  }
}
