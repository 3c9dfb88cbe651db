import type { z } from 'zod';
import { AiamApiError, AiamResponseError } from './api-errors.js';
import { OPERATIONS, type OperationId } from './api-operations.js';
import {
  AccessKeySchema,
  AttachmentSchema,
  AuditRecordSchema,
  CreatedAccessKeySchema,
  DecisionSchema,
  DenyAssignmentSchema,
  ErrorBodySchema,
  GroupSchema,
  IdentitySchema,
  InlinePolicySchema,
  IssuerSchema,
  type Page,
  PolicySchema,
  PolicyVersionSchema,
  pageSchema,
  RoleAssignmentSchema,
  RoleDefinitionSchema,
  RoleSchema,
  TagsSchema,
  UserSchema,
} from './api-schemas.js';
import { type CredentialSources, resolveCredentials } from './credentials.js';
import { type AwsCredentials, signRequest } from './sigv4-signer.js';

/** Options of {@link AiamClient}. */
export interface AiamClientOptions {
  /** The server's base URL; default `AIAM_ENDPOINT`, then `http://127.0.0.1:7477`. */
  readonly endpoint?: string;
  /** Fixed credentials, or a function resolving them; default: the AWS chain ({@link resolveCredentials}). */
  readonly credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
  /** The SigV4 region; default `AWS_REGION`, `AWS_DEFAULT_REGION`, then `us-east-1` (aiam accepts any). */
  readonly region?: string;
  /** Injectable `fetch` (tests, proxies). Default the global one. */
  readonly fetch?: typeof fetch;
  /** Environment (AIAM_ENDPOINT, AWS_*); default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Where the credential chain reads files (tests). */
  readonly credentialSources?: CredentialSources;
  /** Clock for signing, ms since the epoch. */
  readonly now?: () => number;
}

/** A principal kind that can hold policies. */
export type PrincipalKind = 'user' | 'group' | 'role';
/** A policy document: an object or its JSON text. */
export type PolicyDocumentInput = string | Record<string, unknown>;
/** Options of writes that honour If-Match (the entity `version` read earlier). */
export interface IfMatch {
  readonly ifMatch?: number;
}
/** Paging options of list operations. */
export interface PageOptions {
  readonly limit?: number;
  readonly cursor?: string;
}

interface CallInput {
  params?: Record<string, string>;
  query?: Record<string, string | number | boolean | undefined>;
  body?: unknown;
  ifMatch?: number | undefined;
}

const DEFAULT_ENDPOINT = 'http://127.0.0.1:7477';
const TITLE = { user: 'User', group: 'Group', role: 'Role' } as const;

/**
 * The typed client of aiam's control-plane API. Every request is signed with AWS Signature V4
 * (service `aiam`) using credentials found as AWS tools find them; every answer is checked
 * against its schema; errors are {@link AiamApiError}s with the server's code, request id and
 * (on a 403) decision id.
 *
 * @example
 * const aiam = new AiamClient();                       // AIAM_ENDPOINT + AWS credentials
 * await aiam.createUser({ name: 'alice', tags: { team: 'ml' } });
 * await aiam.attachPolicy('user', 'alice', 'aiDataAccessPolicy');
 */
export class AiamClient {
  readonly endpoint: string;
  readonly #fetch: typeof fetch;
  readonly #region: string;
  readonly #now: () => number;
  readonly #credentials: () => Promise<AwsCredentials>;
  #resolved: Promise<AwsCredentials> | undefined;

  constructor(options: AiamClientOptions = {}) {
    const env = options.env ?? process.env;
    this.endpoint = (options.endpoint ?? env.AIAM_ENDPOINT ?? DEFAULT_ENDPOINT).replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
    this.#now = options.now ?? Date.now;
    const creds = options.credentials;
    this.#credentials =
      typeof creds === 'function'
        ? creds
        : creds
          ? async () => creds
          : () => resolveCredentials({ env, ...options.credentialSources });
  }

  // ---- users --------------------------------------------------------------------------
  /** Creates a user. */
  createUser(input: {
    name: string;
    path?: string;
    tags?: Record<string, string>;
    permissionsBoundaryArn?: string;
  }) {
    return this.call('createUser', { body: input }, UserSchema);
  }
  /** One page of users. */
  listUsers(options: PageOptions & { pathPrefix?: string } = {}) {
    return this.call('listUsers', { query: { ...options } }, pageSchema(UserSchema));
  }
  /** A user. */
  getUser(name: string) {
    return this.call('getUser', { params: { name } }, UserSchema);
  }
  /** Renames, moves, enables or disables a user. */
  updateUser(
    name: string,
    patch: { newName?: string; path?: string; status?: 'active' | 'disabled' },
    o: IfMatch = {},
  ) {
    return this.call('updateUser', { params: { name }, body: patch, ifMatch: o.ifMatch }, UserSchema);
  }
  /** Deletes a user (`force`: with its keys, memberships and policies). */
  deleteUser(name: string, o: IfMatch & { force?: boolean } = {}) {
    return this.call('deleteUser', { params: { name }, query: { force: o.force }, ifMatch: o.ifMatch });
  }
  /** A user's tags. */
  listUserTags(name: string) {
    return this.call('listUserTags', { params: { name } }, TagsSchema);
  }
  /** Adds or overwrites tags of a user. */
  tagUser(name: string, tags: Record<string, string>, o: IfMatch = {}) {
    return this.call('tagUser', { params: { name }, body: { tags }, ifMatch: o.ifMatch }, TagsSchema);
  }
  /** Removes tags of a user. */
  untagUser(name: string, keys: string[], o: IfMatch = {}) {
    return this.call(
      'untagUser',
      { params: { name }, query: { keys: keys.join(',') }, ifMatch: o.ifMatch },
      TagsSchema,
    );
  }
  /** The groups of a user. */
  listGroupsForUser(name: string, options: PageOptions = {}) {
    return this.call(
      'listGroupsForUser',
      { params: { name }, query: { ...options } },
      pageSchema(GroupSchema),
    );
  }

  // ---- groups -------------------------------------------------------------------------
  /** Creates a group. */
  createGroup(input: { name: string; path?: string }) {
    return this.call('createGroup', { body: input }, GroupSchema);
  }
  /** One page of groups. */
  listGroups(options: PageOptions = {}) {
    return this.call('listGroups', { query: { ...options } }, pageSchema(GroupSchema));
  }
  /** A group. */
  getGroup(name: string) {
    return this.call('getGroup', { params: { name } }, GroupSchema);
  }
  /** Renames or moves a group. */
  updateGroup(name: string, patch: { newName?: string; path?: string }, o: IfMatch = {}) {
    return this.call('updateGroup', { params: { name }, body: patch, ifMatch: o.ifMatch }, GroupSchema);
  }
  /** Deletes a group. */
  deleteGroup(name: string, o: IfMatch & { force?: boolean } = {}) {
    return this.call('deleteGroup', { params: { name }, query: { force: o.force }, ifMatch: o.ifMatch });
  }
  /** The members of a group. */
  listGroupMembers(name: string, options: PageOptions = {}) {
    return this.call('listGroupMembers', { params: { name }, query: { ...options } }, pageSchema(UserSchema));
  }
  /** Adds a user to a group. */
  addUserToGroup(group: string, userName: string) {
    return this.call('addUserToGroup', { params: { name: group, userName } });
  }
  /** Removes a user from a group. */
  removeUserFromGroup(group: string, userName: string) {
    return this.call('removeUserFromGroup', { params: { name: group, userName } });
  }

  // ---- roles --------------------------------------------------------------------------
  /** Creates a role with its trust policy. */
  createRole(input: {
    name: string;
    path?: string;
    trustPolicy: PolicyDocumentInput;
    maxSessionDuration?: number;
    description?: string;
    tags?: Record<string, string>;
    permissionsBoundaryArn?: string;
  }) {
    return this.call('createRole', { body: input }, RoleSchema);
  }
  /** One page of roles. */
  listRoles(options: PageOptions = {}) {
    return this.call('listRoles', { query: { ...options } }, pageSchema(RoleSchema));
  }
  /** A role. */
  getRole(name: string) {
    return this.call('getRole', { params: { name } }, RoleSchema);
  }
  /** Changes a role's description or maximum session duration. */
  updateRole(name: string, patch: { description?: string; maxSessionDuration?: number }, o: IfMatch = {}) {
    return this.call('updateRole', { params: { name }, body: patch, ifMatch: o.ifMatch }, RoleSchema);
  }
  /** Replaces a role's trust policy. */
  updateAssumeRolePolicy(name: string, document: PolicyDocumentInput, o: IfMatch = {}) {
    return this.call(
      'updateAssumeRolePolicy',
      { params: { name }, body: { document }, ifMatch: o.ifMatch },
      RoleSchema,
    );
  }
  /** Deletes a role. */
  deleteRole(name: string, o: IfMatch & { force?: boolean } = {}) {
    return this.call('deleteRole', { params: { name }, query: { force: o.force }, ifMatch: o.ifMatch });
  }
  /** Adds or overwrites tags of a role. */
  tagRole(name: string, tags: Record<string, string>, o: IfMatch = {}) {
    return this.call('tagRole', { params: { name }, body: { tags }, ifMatch: o.ifMatch }, TagsSchema);
  }

  // ---- managed identities -------------------------------------------------------------
  /** Creates a user-assigned managed identity. */
  createManagedIdentity(input: { name: string; tags?: Record<string, string> }) {
    return this.call('createManagedIdentity', { body: input }, IdentitySchema);
  }
  /** One page of managed identities. */
  listManagedIdentities(options: PageOptions = {}) {
    return this.call('listManagedIdentities', { query: { ...options } }, pageSchema(IdentitySchema));
  }
  /** A managed identity. */
  getManagedIdentity(name: string) {
    return this.call('getManagedIdentity', { params: { name } }, IdentitySchema);
  }
  /** Enables or disables an identity, or replaces its tags. */
  updateManagedIdentity(
    name: string,
    patch: { status?: 'active' | 'disabled'; tags?: Record<string, string> },
    o: IfMatch = {},
  ) {
    return this.call(
      'updateManagedIdentity',
      { params: { name }, body: patch, ifMatch: o.ifMatch },
      IdentitySchema,
    );
  }
  /** Deletes a user-assigned identity. */
  deleteManagedIdentity(name: string, o: IfMatch = {}) {
    return this.call('deleteManagedIdentity', { params: { name }, ifMatch: o.ifMatch });
  }

  // ---- managed policies ---------------------------------------------------------------
  /** Creates a managed policy. */
  createPolicy(input: {
    name: string;
    path?: string;
    description?: string;
    tags?: Record<string, string>;
    document: PolicyDocumentInput;
  }) {
    return this.call('createPolicy', { body: input }, PolicySchema);
  }
  /** One page of managed policies. */
  listPolicies(options: PageOptions = {}) {
    return this.call('listPolicies', { query: { ...options } }, pageSchema(PolicySchema));
  }
  /** A managed policy. */
  getPolicy(name: string) {
    return this.call('getPolicy', { params: { name } }, PolicySchema);
  }
  /** Deletes a managed policy. */
  deletePolicy(name: string, o: IfMatch = {}) {
    return this.call('deletePolicy', { params: { name }, ifMatch: o.ifMatch });
  }
  /** The versions of a managed policy. */
  listPolicyVersions(name: string) {
    return this.call('listPolicyVersions', { params: { name } }, pageSchema(PolicyVersionSchema));
  }
  /** Adds a version to a managed policy. */
  createPolicyVersion(
    name: string,
    document: PolicyDocumentInput,
    o: IfMatch & { setAsDefault?: boolean } = {},
  ) {
    const body = { document, ...(o.setAsDefault !== undefined ? { setAsDefault: o.setAsDefault } : {}) };
    return this.call(
      'createPolicyVersion',
      { params: { name }, body, ifMatch: o.ifMatch },
      PolicyVersionSchema,
    );
  }
  /** One version of a managed policy. */
  getPolicyVersion(name: string, versionId: string) {
    return this.call('getPolicyVersion', { params: { name, versionId } }, PolicyVersionSchema);
  }
  /** Deletes a non-default version. */
  deletePolicyVersion(name: string, versionId: string) {
    return this.call('deletePolicyVersion', { params: { name, versionId } });
  }
  /** Makes a version the default. */
  setDefaultPolicyVersion(name: string, versionId: string, o: IfMatch = {}) {
    return this.call(
      'setDefaultPolicyVersion',
      { params: { name }, body: { versionId }, ifMatch: o.ifMatch },
      PolicySchema,
    );
  }

  // ---- policies of principals ---------------------------------------------------------
  /** Attaches a managed policy (name or ARN) to a user, group or role. */
  attachPolicy(kind: PrincipalKind, name: string, policy: string) {
    return this.call(`attach${TITLE[kind]}Policy`, { params: { name, policy } });
  }
  /** Detaches a managed policy. */
  detachPolicy(kind: PrincipalKind, name: string, policy: string) {
    return this.call(`detach${TITLE[kind]}Policy`, { params: { name, policy } });
  }
  /** The managed policies attached to a principal. */
  listAttachedPolicies(kind: PrincipalKind, name: string) {
    return this.call(
      `listAttached${TITLE[kind]}Policies`,
      { params: { name } },
      pageSchema(AttachmentSchema),
    );
  }
  /** Creates or replaces an inline policy. */
  putInlinePolicy(
    kind: PrincipalKind,
    name: string,
    policyName: string,
    document: PolicyDocumentInput,
    o: IfMatch = {},
  ) {
    return this.call(
      `put${TITLE[kind]}Policy`,
      { params: { name, policyName }, body: { document }, ifMatch: o.ifMatch },
      InlinePolicySchema,
    );
  }
  /** One inline policy. */
  getInlinePolicy(kind: PrincipalKind, name: string, policyName: string) {
    return this.call(`get${TITLE[kind]}Policy`, { params: { name, policyName } }, InlinePolicySchema);
  }
  /** Deletes an inline policy. */
  deleteInlinePolicy(kind: PrincipalKind, name: string, policyName: string) {
    return this.call(`delete${TITLE[kind]}Policy`, { params: { name, policyName } });
  }
  /** The inline policies of a principal. */
  listInlinePolicies(kind: PrincipalKind, name: string) {
    return this.call(`list${TITLE[kind]}Policies`, { params: { name } }, pageSchema(InlinePolicySchema));
  }
  /** Sets the permissions boundary (a managed policy, name or ARN) of a user or role. */
  putPermissionsBoundary(kind: 'user' | 'role', name: string, policy: string, o: IfMatch = {}) {
    return this.call(`put${TITLE[kind]}PermissionsBoundary`, {
      params: { name },
      body: { policy },
      ifMatch: o.ifMatch,
    });
  }
  /** Removes the permissions boundary of a user or role. */
  deletePermissionsBoundary(kind: 'user' | 'role', name: string, o: IfMatch = {}) {
    return this.call(`delete${TITLE[kind]}PermissionsBoundary`, { params: { name }, ifMatch: o.ifMatch });
  }

  // ---- access keys --------------------------------------------------------------------
  /** Creates an access key; the answer is the only place its secret ever appears. */
  createAccessKey(userName: string) {
    return this.call('createAccessKey', { params: { name: userName } }, CreatedAccessKeySchema);
  }
  /** A user's access keys (no secrets). */
  listAccessKeys(userName: string) {
    return this.call('listAccessKeys', { params: { name: userName } }, pageSchema(AccessKeySchema));
  }
  /** Activates or deactivates a key. */
  updateAccessKey(userName: string, accessKeyId: string, status: 'Active' | 'Inactive', o: IfMatch = {}) {
    return this.call(
      'updateAccessKey',
      { params: { name: userName, accessKeyId }, body: { status }, ifMatch: o.ifMatch },
      AccessKeySchema,
    );
  }
  /** Deletes a key. */
  deleteAccessKey(userName: string, accessKeyId: string) {
    return this.call('deleteAccessKey', { params: { name: userName, accessKeyId } });
  }

  // ---- role definitions and assignments -----------------------------------------------
  /** Creates a custom role definition. */
  createRoleDefinition(input: {
    name: string;
    description?: string;
    permissions: {
      actions?: string[];
      notActions?: string[];
      dataActions?: string[];
      notDataActions?: string[];
    };
    assignableScopes?: string[];
  }) {
    return this.call('createRoleDefinition', { body: input }, RoleDefinitionSchema);
  }
  /** One page of role definitions. */
  listRoleDefinitions(options: PageOptions = {}) {
    return this.call('listRoleDefinitions', { query: { ...options } }, pageSchema(RoleDefinitionSchema));
  }
  /** A role definition. */
  getRoleDefinition(name: string) {
    return this.call('getRoleDefinition', { params: { name } }, RoleDefinitionSchema);
  }
  /** Changes a custom role definition. */
  updateRoleDefinition(
    name: string,
    patch: { description?: string; permissions?: Record<string, string[]>; assignableScopes?: string[] },
    o: IfMatch = {},
  ) {
    return this.call(
      'updateRoleDefinition',
      { params: { name }, body: patch, ifMatch: o.ifMatch },
      RoleDefinitionSchema,
    );
  }
  /** Deletes a custom role definition. */
  deleteRoleDefinition(name: string, o: IfMatch = {}) {
    return this.call('deleteRoleDefinition', { params: { name }, ifMatch: o.ifMatch });
  }
  /** Grants a role to a principal at a scope. */
  createRoleAssignment(input: { principal: string; role: string; scope: string }) {
    return this.call('createRoleAssignment', { body: input }, RoleAssignmentSchema);
  }
  /** One page of role assignments. */
  listRoleAssignments(options: PageOptions & { principal?: string; scope?: string } = {}) {
    return this.call('listRoleAssignments', { query: { ...options } }, pageSchema(RoleAssignmentSchema));
  }
  /** Removes a role assignment. */
  deleteRoleAssignment(id: string) {
    return this.call('deleteRoleAssignment', { params: { id } });
  }
  /** Creates a deny assignment. */
  createDenyAssignment(input: {
    name: string;
    scope: string;
    principals: string[];
    excludedPrincipals?: string[];
    permissions: {
      actions?: string[];
      notActions?: string[];
      dataActions?: string[];
      notDataActions?: string[];
    };
  }) {
    return this.call('createDenyAssignment', { body: input }, DenyAssignmentSchema);
  }
  /** One page of deny assignments. */
  listDenyAssignments(options: PageOptions & { scope?: string } = {}) {
    return this.call('listDenyAssignments', { query: { ...options } }, pageSchema(DenyAssignmentSchema));
  }
  /** Removes a deny assignment. */
  deleteDenyAssignment(id: string) {
    return this.call('deleteDenyAssignment', { params: { id } });
  }

  // ---- trusted issuers ----------------------------------------------------------------
  /** Trusts an external OIDC issuer. */
  createTrustedIssuer(input: {
    issuer: string;
    audiences: string[];
    jwks?: string | null;
    jwksUri?: string | null;
    subjectMapping?: unknown;
  }) {
    return this.call('createTrustedIssuer', { body: input }, IssuerSchema);
  }
  /** Every trusted issuer. */
  listTrustedIssuers() {
    return this.call('listTrustedIssuers', {}, pageSchema(IssuerSchema));
  }
  /** A trusted issuer. */
  getTrustedIssuer(issuer: string) {
    return this.call('getTrustedIssuer', { params: { issuer } }, IssuerSchema);
  }
  /** Changes a trusted issuer. */
  updateTrustedIssuer(
    issuer: string,
    patch: { audiences?: string[]; jwks?: string | null; jwksUri?: string | null; subjectMapping?: unknown },
    o: IfMatch = {},
  ) {
    return this.call(
      'updateTrustedIssuer',
      { params: { issuer }, body: patch, ifMatch: o.ifMatch },
      IssuerSchema,
    );
  }
  /** Stops trusting an issuer. */
  deleteTrustedIssuer(issuer: string, o: IfMatch = {}) {
    return this.call('deleteTrustedIssuer', { params: { issuer }, ifMatch: o.ifMatch });
  }

  // ---- audit, explain, simulate -------------------------------------------------------
  /** One page of audit records, newest first. Times are Dates, ISO strings or epoch ms. */
  queryAudit(
    options: PageOptions & {
      from?: Date | string | number;
      to?: Date | string | number;
      principal?: string;
      action?: string;
      decision?: string;
    } = {},
  ) {
    const time = (t: Date | string | number | undefined) =>
      t === undefined ? undefined : t instanceof Date ? t.toISOString() : String(t);
    return this.call(
      'queryAudit',
      { query: { ...options, from: time(options.from), to: time(options.to) } },
      pageSchema(AuditRecordSchema),
    );
  }
  /** A recent decision with the engine's trace. */
  explainDecision(decisionId: string) {
    return this.call('explainDecision', { params: { id: decisionId } }, DecisionSchema);
  }
  /** Decides a request for a principal against the live model, without acting. */
  simulate(input: {
    principal: string;
    action: string;
    resource: string;
    context?: Record<string, string | number | boolean | string[]>;
  }) {
    return this.call('simulate', { body: input }, DecisionSchema);
  }

  /** Every item of a paged list, following `nextCursor`. */
  async listAll<T>(page: (cursor: string | undefined) => Promise<Page<T>>): Promise<T[]> {
    const out: T[] = [];
    let cursor: string | undefined;
    do {
      const p = await page(cursor);
      out.push(...p.items);
      cursor = p.nextCursor;
    } while (cursor !== undefined);
    return out;
  }

  /**
   * Calls one operation: fills the path template, signs, sends, checks the answer against
   * `schema` (operations without one answer 204). Non-2xx answers throw {@link AiamApiError}.
   */
  async call<S extends z.ZodType = z.ZodUndefined>(
    operationId: OperationId,
    input: CallInput,
    schema?: S,
  ): Promise<z.output<S>> {
    const op = OPERATIONS[operationId];
    const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = input.params?.[name];
      if (value === undefined) throw new TypeError(`${operationId}: path parameter ${name} is missing`);
      return encodeURIComponent(value);
    });
    const url = new URL(this.endpoint + path);
    for (const [k, v] of Object.entries(input.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const body = input.body === undefined ? '' : JSON.stringify(input.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (input.body !== undefined) headers['content-type'] = 'application/json';
    if (input.ifMatch !== undefined) headers['if-match'] = `W/"${input.ifMatch}"`;
    this.#resolved ??= this.#credentials().catch((err) => {
      this.#resolved = undefined;
      throw err;
    });
    const credentials = await this.#resolved;
    const signed = signRequest({
      method: op.method,
      url,
      headers,
      body,
      credentials,
      region: this.#region,
      service: 'aiam',
      now: this.#now(),
    });
    // `host` is set by fetch itself from the URL (and may not be set by callers).
    const { host: _host, ...sendHeaders } = signed;
    let res: Response;
    try {
      res = await this.#fetch(url, { method: op.method, headers: sendHeaders, ...(body ? { body } : {}) });
    } catch (err) {
      throw new AiamResponseError(
        `cannot reach aiam at ${this.endpoint} (${(err as Error).message}); check AIAM_ENDPOINT`,
        {
          cause: err,
        },
      );
    }
    const text = await res.text();
    const requestId = res.headers.get('x-request-id') ?? undefined;
    if (!res.ok) {
      let parsed: z.infer<typeof ErrorBodySchema> | undefined;
      try {
        parsed = ErrorBodySchema.parse(JSON.parse(text));
      } catch {
        parsed = undefined;
      }
      throw new AiamApiError(
        parsed?.error.code ?? `HTTP_${res.status}`,
        parsed?.error.message ?? `HTTP ${res.status} from ${op.method} ${path}`,
        {
          status: res.status,
          requestId: parsed?.error.requestId ?? requestId,
          decisionId: parsed?.error.decisionId,
        },
      );
    }
    if (!schema) return undefined as z.output<S>;
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (err) {
      throw new AiamResponseError(`${operationId}: the answer is not JSON (request ${requestId})`, {
        cause: err,
      });
    }
    const checked = schema.safeParse(json);
    if (!checked.success) {
      throw new AiamResponseError(
        `${operationId}: the answer does not match the API's schema (${checked.error.issues[0]?.path.join('.')}: ${checked.error.issues[0]?.message}); is the server a different version?`,
      );
    }
    return checked.data;
  }
}
