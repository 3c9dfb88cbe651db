import type { AccessModel, AuthorizationRequest, AuthorizeOptions, Decision } from '@aiam/policy';

/**
 * The one authorization function of the server: every route, the bootstrap administrator's
 * included, is decided here by the policy engine. Implementations must be synchronous and pure
 * over an immutable snapshot, so a decision never waits on I/O.
 */
export interface Authorizer {
  authorize(request: AuthorizationRequest, options?: AuthorizeOptions): Decision;
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

  authorize(request: AuthorizationRequest, options?: AuthorizeOptions): Decision {
    const model = this.source.current();
    if (model === undefined) return NOT_READY;
    return model.authorize(request, options);
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
