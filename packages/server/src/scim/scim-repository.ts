import type { ScimStoreQuery } from './scim-filter.js';
import type { ScimResource, ScimResourceTypeName } from './scim-schema.js';

/**
 * A stored SCIM resource: the canonical resource (attributes and `schemas`, without `id` and
 * `meta`, which the service derives) and the store's bookkeeping.
 */
export interface StoredScimResource {
  id: string;
  /** Starts at 1, +1 on every successful replace. Drives the ETag (`W/"3"`). */
  version: number;
  /** ISO 8601 instants. */
  created: string;
  lastModified: string;
  resource: ScimResource;
}

/** A page of matches and the total number of matches of the query. */
export interface ScimFindResult {
  resources: StoredScimResource[];
  total: number;
}

/**
 * What the SCIM service needs from a store; the wiring phase implements it over the aiam
 * store, in transactions. Contract (the in-memory fixture is the reference implementation):
 *
 * - `find` returns matches of `query` (see `matchesStoreQuery` for its exact semantics:
 *   equality on id/externalId/userName/displayName, case-insensitive when `caseExact` is
 *   false) in a stable order (creation order), `offset`/`limit` applied, and the total.
 * - `create` stores a new resource with version 1. It throws `ConflictError` when a
 *   `uniqueness: server` attribute is taken: userName (case-insensitively) for users,
 *   displayName for groups (Entra ID requires it), and externalId per resource type.
 * - `replace` writes a new version only when `expectedVersion` is still current; otherwise it
 *   throws `PreconditionFailedError`. Unknown id: `NotFoundError`. Uniqueness as in create.
 *   When a user's `active` turns false, the implementation revokes the user's access keys,
 *   temporary credentials and tokens in the same transaction (issue 6, deprovisioning).
 * - `delete` removes the resource (and, for a user, its group memberships and every
 *   credential), with the same `expectedVersion` check when given. Unknown id: `NotFoundError`.
 */
export interface ScimRepository {
  get(type: ScimResourceTypeName, id: string): Promise<StoredScimResource | undefined>;
  find(
    type: ScimResourceTypeName,
    query: ScimStoreQuery,
    page: { offset: number; limit: number },
  ): Promise<ScimFindResult>;
  create(
    type: ScimResourceTypeName,
    id: string,
    resource: ScimResource,
    at: string,
  ): Promise<StoredScimResource>;
  /**
   * Replaces a resource at `expectedVersion`. `patch`: the new document came from a PATCH, so
   * only what it changed needs applying (a group's added and removed members); otherwise (PUT)
   * the document is applied whole.
   */
  replace(
    type: ScimResourceTypeName,
    id: string,
    resource: ScimResource,
    expectedVersion: number,
    at: string,
    options?: { readonly patch?: boolean },
  ): Promise<StoredScimResource>;
  delete(type: ScimResourceTypeName, id: string, expectedVersion?: number): Promise<void>;
  /**
   * The groups whose `members` directly include this user, for the user's readOnly `groups`
   * attribute (RFC 7643 §4.1.2). Optional: without it, users are returned without `groups`.
   */
  groupsOf?(userId: string): Promise<{ id: string; displayName: string }[]>;
}
