import type { AccessModel, AuthorizationRequest, AuthorizeOptions, Decision } from '@aiam/policy';

/** The engine's decision, and the id it is known by when the authorizer keeps it for `explain`. */
export interface AuthorizationOutcome {
  readonly decision: Decision;
  /** When absent, the pipeline makes one up; it becomes the audit record's id. */
  readonly decisionId?: string;
}

/**
 * The one authorization function of the server: every route, the bootstrap administrator's
 * included, is decided here by the policy engine. It may wait (for a model at least as new as
 * the caller's last write, say) but decides over an immutable snapshot; the pipeline audits.
 */
export interface Authorizer {
  authorize(
    request: AuthorizationRequest,
    options?: AuthorizeOptions,
  ): AuthorizationOutcome | Promise<AuthorizationOutcome>;
}

/** Where the current engine snapshot comes from (rebuilt by the app when the store changes). */
export interface AccessModelSource {
  /** The snapshot to decide with, or undefined before the first one is loaded (deny all). */
  current(): AccessModel | undefined;
}

const NOT_READY: Decision = {
  decision: 'implicitDeny',
  reason: 'no-allow',
  matched: [],
  missingContextValues: [],
};

/**
 * An `Authorizer` backed by the engine's `AccessModel`. Until a snapshot exists every request is
 * denied: failing closed is the only safe answer while the model is loading.
 */
export class AccessModelAuthorizer implements Authorizer {
  constructor(private readonly source: AccessModelSource) {}

  authorize(request: AuthorizationRequest, options?: AuthorizeOptions): AuthorizationOutcome {
    const model = this.source.current();
    if (model === undefined) return { decision: NOT_READY };
    return { decision: model.authorize(request, options) };
  }
}

/** A swappable holder of the current `AccessModel`, the usual `AccessModelSource`. */
export class AccessModelHolder implements AccessModelSource {
  #model: AccessModel | undefined;
  #revision = -1;

  /** The revision of the store the current model was built from (-1 before the first). */
  get revision(): number {
    return this.#revision;
  }

  current(): AccessModel | undefined {
    return this.#model;
  }

  /** Installs a model built from store revision `revision`; an older one never replaces a newer. */
  set(model: AccessModel, revision: number): boolean {
    if (revision < this.#revision) return false;
    this.#model = model;
    this.#revision = revision;
    return true;
  }
}
