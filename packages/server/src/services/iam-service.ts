import {
  type Finding,
  findBuiltInRole,
  InvalidResourceNameError,
  matchActions,
  resolveResourcePath,
  scopeContains,
} from '@aiam/policy';
import { type Clock, systemClock } from '../clock.js';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import {
  generateAccessKeyId,
  generateSecretAccessKey,
  type RandomSource,
  secureRandom,
} from '../identity/credential-ids.js';
import type { Keyring } from '../identity/keyring.js';
import type { Store, StoreTransaction } from '../store/store.js';
import type {
  AccessKey,
  DenyAssignment,
  Group,
  InlinePolicy,
  ManagedIdentity,
  ManagedPolicy,
  NewTrustedIssuer,
  PolicyAttachment,
  PolicyVersion,
  PrincipalSource,
  ResourcePolicy,
  Role,
  RoleAssignment,
  RoleDefinition,
  RolePermissions,
  Tags,
  TrustedIssuer,
  User,
} from '../store/store-types.js';
import { SESSION_REVOCATION_PREFIX } from './access-snapshot-cache.js';
import { checkPolicyDocument, type PolicyDocumentInput } from './policy-documents.js';

/** An access key as listed: never with its secret. */
export type AccessKeyMetadata = Omit<AccessKey, 'secretCiphertext'>;

/** What `createAccessKey` returns: the only time the secret is ever shown. */
export interface CreatedAccessKey {
  readonly accessKey: AccessKeyMetadata;
  readonly secretAccessKey: string;
}

/** Options of {@link IamService}. */
export interface IamServiceOptions {
  readonly store: Store;
  /** Encrypts access-key secrets at rest. */
  readonly keyring: Keyring;
  readonly clock?: Clock;
  readonly random?: RandomSource;
}

/** The AAD context binding an access key's encrypted secret to its key id. */
export function accessKeySecretContext(accessKeyId: string): string {
  return `access-key-secret:${accessKeyId}`;
}

// AWS IAM MaxSessionDuration: 1 to 12 hours.
const MIN_ROLE_SESSION = 3600;
const MAX_ROLE_SESSION = 43200;

function withoutSecret(k: AccessKey): AccessKeyMetadata {
  const { secretCiphertext: _omitted, ...rest } = k;
  return rest;
}

function required<T>(value: T | undefined, message: string): T {
  if (value === undefined) throw new NotFoundError(message);
  return value;
}

/** Marks every session of `arn` issued up to now as revoked, inside a transaction. */
export async function revokeSessionsIn(tx: StoreTransaction, arn: string, now: number): Promise<void> {
  const key = SESSION_REVOCATION_PREFIX + arn;
  const current = await tx.getSetting(key);
  await tx.putSetting(key, String(now), current?.version ?? null);
}

/**
 * The IAM domain service: users, groups, roles, managed identities, managed and inline
 * policies, attachments, permissions boundaries, access keys, role definitions and
 * assignments, deny assignments and trusted OIDC issuers. Callers are already authorized (the
 * HTTP layer asks the authorizer first); this layer validates, keeps the invariants and runs
 * every mutation in one store transaction with optimistic concurrency (`expectedVersion`: a
 * stale one is a `PreconditionFailedError`).
 */
export class IamService {
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #clock: Clock;
  readonly #random: RandomSource;

  constructor(options: IamServiceOptions) {
    this.#store = options.store;
    this.#keyring = options.keyring;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? secureRandom;
  }

  /** The account every ARN of this server carries. */
  get accountId(): string {
    return this.#store.accountId;
  }

  // ---- users --------------------------------------------------------------------------

  /** Creates a user (AWS CreateUser): name, optional path, tags and permissions boundary. */
  async createUser(input: {
    name: string;
    path?: string;
    tags?: Tags;
    permissionsBoundaryArn?: string | null;
    source?: PrincipalSource;
    externalId?: string | null;
  }): Promise<User> {
    return this.#store.createUser(input);
  }

  /** A user by name; NotFoundError when there is none. */
  async getUser(name: string): Promise<User> {
    return required(await this.#store.getUser(name), `user "${name}" does not exist`);
  }

  /** Users, optionally under a path prefix. */
  async listUsers(options: { pathPrefix?: string } = {}): Promise<User[]> {
    return this.#store.listUsers(options);
  }

  /**
   * Changes a user at `expectedVersion`. Disabling also revokes every session issued to the
   * user so far (re-enabling does not bring them back).
   */
  async updateUser(
    name: string,
    expectedVersion: number,
    patch: {
      name?: string;
      path?: string;
      tags?: Tags;
      status?: User['status'];
      externalId?: string | null;
      permissionsBoundaryArn?: string | null;
    },
  ): Promise<User> {
    return this.#store.transaction(async (tx) => {
      const before = await tx.getUser(name);
      const after = await tx.updateUser(name, expectedVersion, patch);
      if (patch.status === 'disabled' && before) {
        await revokeSessionsIn(tx, before.arn, this.#clock.now());
        if (before.arn !== after.arn) await revokeSessionsIn(tx, after.arn, this.#clock.now());
      }
      return after;
    });
  }

  /**
   * Deletes a user. Without `force`, a user that still has keys, groups or policies is refused
   * (as AWS's DeleteConflict); with it, all of them go in the same transaction. Either way the
   * user's access keys and sessions stop working at once.
   */
  async deleteUser(name: string, expectedVersion: number, options: { force?: boolean } = {}): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const user = required(await tx.getUser(name), `user "${name}" does not exist`);
      await tx.deleteUser(name, expectedVersion, options);
      // A user later created with the same name gets the same ARN; old sessions must not revive.
      await revokeSessionsIn(tx, user.arn, this.#clock.now());
    });
  }

  /** Revokes every session issued so far to a user, role or managed identity (by ARN). */
  async revokeSessions(principalArn: string): Promise<void> {
    await this.#store.transaction(async (tx) => {
      if (!(await tx.findPrincipalKind(principalArn)))
        throw new NotFoundError(`principal ${principalArn} does not exist`);
      await revokeSessionsIn(tx, principalArn, this.#clock.now());
    });
  }

  // ---- groups -------------------------------------------------------------------------

  /** Creates a group. */
  async createGroup(input: { name: string; path?: string; externalId?: string | null }): Promise<Group> {
    return this.#store.createGroup(input);
  }

  /** A group by name; NotFoundError when there is none. */
  async getGroup(name: string): Promise<Group> {
    return required(await this.#store.getGroup(name), `group "${name}" does not exist`);
  }

  /** Every group. */
  async listGroups(): Promise<Group[]> {
    return this.#store.listGroups();
  }

  /** Renames or moves a group at `expectedVersion`. */
  async updateGroup(
    name: string,
    expectedVersion: number,
    patch: { name?: string; path?: string; externalId?: string | null },
  ): Promise<Group> {
    return this.#store.updateGroup(name, expectedVersion, patch);
  }

  /** Deletes a group (with `force`, its memberships and policies too). */
  async deleteGroup(name: string, expectedVersion: number, options: { force?: boolean } = {}): Promise<void> {
    await this.#store.deleteGroup(name, expectedVersion, options);
  }

  /** Adds a user to a group. */
  async addUserToGroup(groupName: string, userName: string): Promise<void> {
    await this.#store.addUserToGroup(groupName, userName);
  }

  /** Removes a user from a group. */
  async removeUserFromGroup(groupName: string, userName: string): Promise<void> {
    await this.#store.removeUserFromGroup(groupName, userName);
  }

  /** The members of a group. */
  async listGroupMembers(groupName: string): Promise<User[]> {
    return this.#store.listGroupMembers(groupName);
  }

  /** The groups of a user. */
  async listGroupsForUser(userName: string): Promise<Group[]> {
    return this.#store.listGroupsForUser(userName);
  }

  // ---- roles --------------------------------------------------------------------------

  /**
   * Creates a role. The trust policy is validated as a trust policy (a Principal is required);
   * `maxSessionDuration` is 3600..43200 seconds (default 3600), as AWS CreateRole.
   */
  async createRole(input: {
    name: string;
    path?: string;
    trustPolicy: PolicyDocumentInput;
    maxSessionDuration?: number;
    description?: string;
    tags?: Tags;
    permissionsBoundaryArn?: string | null;
  }): Promise<Role & { findings: Finding[] }> {
    const { text, findings } = checkPolicyDocument(input.trustPolicy, 'trust', 'trust policy');
    checkMaxSessionDuration(input.maxSessionDuration);
    const role = await this.#store.createRole({ ...input, trustPolicy: text });
    return { ...role, findings };
  }

  /** A role by name; NotFoundError when there is none. */
  async getRole(name: string): Promise<Role> {
    return required(await this.#store.getRole(name), `role "${name}" does not exist`);
  }

  /** Every role. */
  async listRoles(): Promise<Role[]> {
    return this.#store.listRoles();
  }

  /** Changes a role at `expectedVersion` (a new trust policy is validated first). */
  async updateRole(
    name: string,
    expectedVersion: number,
    patch: {
      trustPolicy?: PolicyDocumentInput;
      maxSessionDuration?: number;
      description?: string;
      tags?: Tags;
      permissionsBoundaryArn?: string | null;
    },
  ): Promise<Role> {
    const { trustPolicy, ...rest } = patch;
    checkMaxSessionDuration(patch.maxSessionDuration);
    const text =
      trustPolicy === undefined ? undefined : checkPolicyDocument(trustPolicy, 'trust', 'trust policy').text;
    return this.#store.updateRole(name, expectedVersion, { ...rest, ...(text ? { trustPolicy: text } : {}) });
  }

  /** Deletes a role; its sessions stop working at once. */
  async deleteRole(name: string, expectedVersion: number, options: { force?: boolean } = {}): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const role = required(await tx.getRole(name), `role "${name}" does not exist`);
      await tx.deleteRole(name, expectedVersion, options);
      await revokeSessionsIn(tx, role.arn, this.#clock.now());
    });
  }

  // ---- managed identities -------------------------------------------------------------

  /**
   * Creates the system-assigned identity of a resource (workspace, endpoint…), named by the
   * resource's path. Pass the caller's transaction so the identity is created with its resource.
   */
  async createSystemAssignedIdentity(
    ownerArn: string,
    tx?: StoreTransaction,
    tags: Tags = {},
  ): Promise<ManagedIdentity> {
    const name = identityNameFor(ownerArn);
    const run = (t: StoreTransaction) => t.createManagedIdentity({ name, kind: 'system', ownerArn, tags });
    return tx ? run(tx) : this.#store.transaction(run);
  }

  /**
   * Deletes the system-assigned identity of a resource (in the caller's transaction, with the
   * resource). Its policies, assignments and sessions go with it. No identity: nothing to do.
   */
  async deleteSystemAssignedIdentity(ownerArn: string, tx?: StoreTransaction): Promise<boolean> {
    const run = async (t: StoreTransaction): Promise<boolean> => {
      const identity = await t.getManagedIdentity({ ownerArn });
      if (!identity) return false;
      await t.deleteManagedIdentity(identity.name, identity.version);
      await revokeSessionsIn(t, identity.arn, this.#clock.now());
      return true;
    };
    return tx ? run(tx) : this.#store.transaction(run);
  }

  /** Creates a user-assigned (standalone) managed identity. */
  async createUserAssignedIdentity(input: { name: string; tags?: Tags }): Promise<ManagedIdentity> {
    if (input.name.includes('/'))
      throw new InputError(
        `managed identity name "${input.name}" may not contain "/" (reserved for system-assigned ones)`,
      );
    return this.#store.createManagedIdentity({ name: input.name, kind: 'user', tags: input.tags ?? {} });
  }

  /** A managed identity by name, or by its owner resource's ARN. */
  async getManagedIdentity(by: string | { ownerArn: string }): Promise<ManagedIdentity> {
    return required(
      await this.#store.getManagedIdentity(by),
      typeof by === 'string'
        ? `managed identity "${by}" does not exist`
        : `resource ${by.ownerArn} has no system-assigned identity`,
    );
  }

  /** Every managed identity. */
  async listManagedIdentities(): Promise<ManagedIdentity[]> {
    return this.#store.listManagedIdentities();
  }

  /** Enables or disables an identity, or changes its tags; disabling revokes its sessions. */
  async updateManagedIdentity(
    name: string,
    expectedVersion: number,
    patch: { status?: ManagedIdentity['status']; tags?: Tags },
  ): Promise<ManagedIdentity> {
    return this.#store.transaction(async (tx) => {
      const after = await tx.updateManagedIdentity(name, expectedVersion, patch);
      if (patch.status === 'disabled') await revokeSessionsIn(tx, after.arn, this.#clock.now());
      return after;
    });
  }

  /** Deletes a user-assigned identity (system-assigned ones go with their resource). */
  async deleteUserAssignedIdentity(name: string, expectedVersion: number): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const identity = required(
        await tx.getManagedIdentity(name),
        `managed identity "${name}" does not exist`,
      );
      if (identity.kind === 'system') {
        throw new ConflictError(
          `managed identity "${name}" is system-assigned: it is deleted with its resource ${identity.ownerArn}`,
        );
      }
      await tx.deleteManagedIdentity(name, expectedVersion);
      await revokeSessionsIn(tx, identity.arn, this.#clock.now());
    });
  }

  // ---- managed policies ---------------------------------------------------------------

  /**
   * Creates a managed policy; the document is validated first (ERROR findings refuse it with a
   * `PolicyValidationError`; warnings are returned as `findings`).
   */
  async createPolicy(input: {
    name: string;
    path?: string;
    description?: string;
    tags?: Tags;
    document: PolicyDocumentInput;
  }): Promise<ManagedPolicy & { findings: Finding[] }> {
    const { text, findings } = checkPolicyDocument(input.document, 'identity', `policy "${input.name}"`);
    const policy = await this.#store.createPolicy({ ...input, document: text });
    return { ...policy, findings };
  }

  /** A managed policy by ARN; NotFoundError when there is none. */
  async getPolicy(arn: string): Promise<ManagedPolicy> {
    return required(await this.#store.getPolicy(arn), `policy ${arn} does not exist`);
  }

  /** A managed policy by name. */
  async getPolicyByName(name: string): Promise<ManagedPolicy> {
    return required(await this.#store.findPolicyByName(name), `policy "${name}" does not exist`);
  }

  /** Every managed policy. */
  async listPolicies(): Promise<ManagedPolicy[]> {
    return this.#store.listPolicies();
  }

  /** Changes a policy's description or tags at `expectedVersion`. */
  async updatePolicy(
    arn: string,
    expectedVersion: number,
    patch: { description?: string; tags?: Tags },
  ): Promise<ManagedPolicy> {
    return this.#store.updatePolicy(arn, expectedVersion, patch);
  }

  /** Deletes a managed policy (refused while attached, as AWS). */
  async deletePolicy(arn: string, expectedVersion: number): Promise<void> {
    await this.#store.deletePolicy(arn, expectedVersion);
  }

  /**
   * Adds a validated version (at most five exist; delete one first), optionally making it the
   * default at once. `expectedVersion` is the policy's version.
   */
  async createPolicyVersion(
    arn: string,
    document: PolicyDocumentInput,
    options: { setAsDefault?: boolean; expectedVersion?: number } = {},
  ): Promise<PolicyVersion & { findings: Finding[] }> {
    const { text, findings } = checkPolicyDocument(document, 'identity', `new version of ${arn}`);
    const version = await this.#store.createPolicyVersion(arn, text, options);
    return { ...version, findings };
  }

  /** One version of a policy. */
  async getPolicyVersion(arn: string, versionId: string): Promise<PolicyVersion> {
    return required(
      await this.#store.getPolicyVersion(arn, versionId),
      `policy ${arn} has no version ${versionId}`,
    );
  }

  /** The versions of a policy. */
  async listPolicyVersions(arn: string): Promise<PolicyVersion[]> {
    return this.#store.listPolicyVersions(arn);
  }

  /** Makes a version the default, at the policy's `expectedVersion`. */
  async setDefaultPolicyVersion(
    arn: string,
    versionId: string,
    expectedVersion: number,
  ): Promise<ManagedPolicy> {
    return this.#store.setDefaultPolicyVersion(arn, versionId, expectedVersion);
  }

  /** Deletes a non-default version. */
  async deletePolicyVersion(arn: string, versionId: string): Promise<void> {
    await this.#store.deletePolicyVersion(arn, versionId);
  }

  // ---- inline policies, attachments, boundaries ---------------------------------------

  /** Creates or replaces an inline policy of a user, group, role or identity (validated). */
  async putInlinePolicy(
    principalArn: string,
    name: string,
    document: PolicyDocumentInput,
    expectedVersion?: number | null,
  ): Promise<InlinePolicy & { findings: Finding[] }> {
    const { text, findings } = checkPolicyDocument(document, 'identity', `inline policy "${name}"`);
    const policy = await this.#store.putInlinePolicy(principalArn, name, text, expectedVersion);
    return { ...policy, findings };
  }

  /** One inline policy. */
  async getInlinePolicy(principalArn: string, name: string): Promise<InlinePolicy> {
    return required(
      await this.#store.getInlinePolicy(principalArn, name),
      `${principalArn} has no inline policy "${name}"`,
    );
  }

  /** The inline policies of a principal. */
  async listInlinePolicies(principalArn: string): Promise<InlinePolicy[]> {
    return this.#store.listInlinePolicies(principalArn);
  }

  /** Deletes an inline policy. */
  async deleteInlinePolicy(principalArn: string, name: string): Promise<void> {
    await this.#store.deleteInlinePolicy(principalArn, name);
  }

  /** Attaches a managed policy to a principal (at most 20, as AWS). */
  async attachPolicy(principalArn: string, policyArn: string): Promise<void> {
    await this.#store.attachPolicy(principalArn, policyArn);
  }

  /** Detaches a managed policy. */
  async detachPolicy(principalArn: string, policyArn: string): Promise<void> {
    await this.#store.detachPolicy(principalArn, policyArn);
  }

  /** The managed policies attached to a principal. */
  async listAttachedPolicies(principalArn: string): Promise<PolicyAttachment[]> {
    return this.#store.listAttachedPolicies(principalArn);
  }

  /**
   * Sets (or with null removes) the permissions boundary of a user or role, at the entity's
   * `expectedVersion`. The boundary is a managed policy that caps identity-based grants.
   */
  async setPermissionsBoundary(
    principalArn: string,
    policyArn: string | null,
    expectedVersion: number,
  ): Promise<User | Role> {
    return this.#store.transaction(async (tx) => {
      const kind = await tx.findPrincipalKind(principalArn);
      if (kind === 'user') {
        const u = required(await tx.findUser({ arn: principalArn }), `user ${principalArn} does not exist`);
        return tx.updateUser(u.name, expectedVersion, { permissionsBoundaryArn: policyArn });
      }
      if (kind === 'role') {
        const r = required(await tx.findRoleByArn(principalArn), `role ${principalArn} does not exist`);
        return tx.updateRole(r.name, expectedVersion, { permissionsBoundaryArn: policyArn });
      }
      throw new InputError(
        kind
          ? `a permissions boundary can be set on users and roles, not on a ${kind}`
          : `principal ${principalArn} does not exist`,
      );
    });
  }

  // ---- access keys --------------------------------------------------------------------

  /**
   * Creates an access key for a user (at most two). The secret is encrypted under the keyring,
   * bound to the key id, before the store sees it; it is returned here once and never again.
   */
  async createAccessKey(userName: string): Promise<CreatedAccessKey> {
    const accessKeyId = generateAccessKeyId('long-term', this.#random);
    const secretAccessKey = generateSecretAccessKey(this.#random);
    const ciphertext = this.#keyring.encrypt(secretAccessKey, accessKeySecretContext(accessKeyId));
    const key = await this.#store.createAccessKey({
      userName,
      accessKeyId,
      secretCiphertext: Buffer.from(ciphertext, 'utf8'),
    });
    return { accessKey: withoutSecret(key), secretAccessKey };
  }

  /** A user's access keys, without secrets. */
  async listAccessKeys(userName: string): Promise<AccessKeyMetadata[]> {
    return (await this.#store.listAccessKeys(userName)).map(withoutSecret);
  }

  /** One access key's metadata. */
  async getAccessKey(accessKeyId: string): Promise<AccessKeyMetadata> {
    return withoutSecret(
      required(await this.#store.getAccessKey(accessKeyId), `access key ${accessKeyId} does not exist`),
    );
  }

  /** Activates or deactivates a key at `expectedVersion`; effective on the next request. */
  async updateAccessKeyStatus(
    accessKeyId: string,
    status: AccessKey['status'],
    expectedVersion: number,
  ): Promise<AccessKeyMetadata> {
    return withoutSecret(await this.#store.updateAccessKeyStatus(accessKeyId, status, expectedVersion));
  }

  /** Deletes an access key. */
  async deleteAccessKey(accessKeyId: string): Promise<void> {
    await this.#store.deleteAccessKey(accessKeyId);
  }

  // ---- role definitions and assignments -----------------------------------------------

  /**
   * Creates a custom (Azure-style) role definition. Every action pattern must name at least one
   * catalogued action of the right plane (control for `actions`, data for `dataActions`), so a
   * typo is refused instead of silently granting nothing; built-in names are reserved.
   */
  async createRoleDefinition(input: {
    name: string;
    description?: string;
    permissions: Partial<RolePermissions>;
    assignableScopes?: string[];
  }): Promise<RoleDefinition> {
    if (findBuiltInRole(input.name))
      throw new ConflictError(`"${input.name}" is a built-in role; choose another name for a custom role`);
    checkRolePermissions(input.permissions);
    const assignableScopes = (input.assignableScopes ?? []).map((s) => this.#resolve(s, 'assignable scope'));
    return this.#store.createRoleDefinition({ ...input, assignableScopes });
  }

  /** A role definition by name or id (custom ones; built-ins are in the catalog). */
  async getRoleDefinition(nameOrId: string): Promise<RoleDefinition> {
    return required(
      await this.#store.getRoleDefinition(nameOrId),
      `role definition "${nameOrId}" does not exist`,
    );
  }

  /** Custom role definitions (and built-ins already used by an assignment). */
  async listRoleDefinitions(): Promise<RoleDefinition[]> {
    return this.#store.listRoleDefinitions();
  }

  /** Changes a custom role definition at `expectedVersion`. */
  async updateRoleDefinition(
    nameOrId: string,
    expectedVersion: number,
    patch: { description?: string; permissions?: Partial<RolePermissions>; assignableScopes?: string[] },
  ): Promise<RoleDefinition> {
    if (findBuiltInRole(nameOrId)) throw new InputError(`built-in role "${nameOrId}" cannot be changed`);
    if (patch.permissions) checkRolePermissions(patch.permissions);
    const assignableScopes = patch.assignableScopes?.map((s) => this.#resolve(s, 'assignable scope'));
    return this.#store.updateRoleDefinition(nameOrId, expectedVersion, {
      ...patch,
      ...(assignableScopes ? { assignableScopes } : {}),
    });
  }

  /** Deletes a custom role definition (refused while assigned). */
  async deleteRoleDefinition(nameOrId: string, expectedVersion: number): Promise<void> {
    if (findBuiltInRole(nameOrId)) throw new InputError(`built-in role "${nameOrId}" cannot be deleted`);
    await this.#store.deleteRoleDefinition(nameOrId, expectedVersion);
  }

  /**
   * Grants a role at a scope. `principal` is a resource path (`user/alice`, `group/ml`,
   * `role/r`, `managed-identity/x`, or a resource with a system-assigned identity such as
   * `workspace/ws/endpoint/e`) or an ARN; `role` a built-in or custom role name; `scope` a path
   * or ARN, which must lie within the role's assignable scopes.
   */
  async createRoleAssignment(input: {
    principal: string;
    role: string;
    scope: string;
  }): Promise<RoleAssignment> {
    const scope = this.#resolve(input.scope, 'scope');
    return this.#store.transaction(async (tx) => {
      const principalArn = await this.#resolvePrincipal(tx, input.principal);
      const def = await this.#roleDefinitionFor(tx, input.role);
      if (def.assignableScopes.length && !def.assignableScopes.some((s) => scopeContains(s, scope))) {
        throw new InputError(
          `role "${def.name}" may be assigned only at or below ${def.assignableScopes.join(', ')}; ${scope} is outside`,
        );
      }
      return tx.createRoleAssignment({ principalArn, roleDefinition: def.id, scope });
    });
  }

  /** Role assignments, optionally of one principal (path or ARN) or at one scope. */
  async listRoleAssignments(by: { principal?: string; scope?: string } = {}): Promise<RoleAssignment[]> {
    const principalArn = by.principal
      ? await this.#store.readTransaction((tx) => this.#resolvePrincipal(tx, by.principal as string))
      : undefined;
    return this.#store.listRoleAssignments({
      ...(principalArn ? { principalArn } : {}),
      ...(by.scope ? { scope: this.#resolve(by.scope, 'scope') } : {}),
    });
  }

  /** Removes a role assignment. */
  async deleteRoleAssignment(id: string): Promise<void> {
    await this.#store.deleteRoleAssignment(id);
  }

  /** Creates a deny assignment: `principals` (paths, ARNs or `*`) are denied the permissions at `scope`. */
  async createDenyAssignment(input: {
    name: string;
    scope: string;
    principals: string[];
    excludedPrincipals?: string[];
    permissions: Partial<RolePermissions>;
  }): Promise<DenyAssignment> {
    checkRolePermissions(input.permissions);
    if (input.principals.length === 0)
      throw new InputError('a deny assignment needs at least one principal (or "*")');
    const scope = this.#resolve(input.scope, 'scope');
    return this.#store.transaction(async (tx) => {
      const resolve = async (list: string[]) => {
        const out: string[] = [];
        for (const p of list) out.push(p === '*' ? '*' : await this.#resolvePrincipal(tx, p));
        return out;
      };
      return tx.createDenyAssignment({
        name: input.name,
        scope,
        principalArns: await resolve(input.principals),
        excludedPrincipalArns: await resolve(input.excludedPrincipals ?? []),
        permissions: input.permissions,
      });
    });
  }

  /** Deny assignments, optionally at one scope. */
  async listDenyAssignments(by: { scope?: string } = {}): Promise<DenyAssignment[]> {
    return this.#store.listDenyAssignments(by.scope ? { scope: this.#resolve(by.scope, 'scope') } : {});
  }

  /** Removes a deny assignment. */
  async deleteDenyAssignment(id: string): Promise<void> {
    await this.#store.deleteDenyAssignment(id);
  }

  // ---- resource policies and trusted issuers ------------------------------------------

  /** Sets a resource (bucket) policy, validated as a resource policy. */
  async putResourcePolicy(
    resourceArn: string,
    document: PolicyDocumentInput,
    expectedVersion?: number | null,
  ): Promise<ResourcePolicy & { findings: Finding[] }> {
    const { text, findings } = checkPolicyDocument(document, 'resource', `policy of ${resourceArn}`);
    return { ...(await this.#store.putResourcePolicy(resourceArn, text, expectedVersion)), findings };
  }

  /** Trusts an external OIDC issuer (https, at least one audience, and a JWKS or its URL). */
  async createTrustedIssuer(input: NewTrustedIssuer): Promise<TrustedIssuer> {
    checkTrustedIssuer(input);
    return this.#store.createTrustedIssuer(input);
  }

  /** Every trusted issuer. */
  async listTrustedIssuers(): Promise<TrustedIssuer[]> {
    return this.#store.listTrustedIssuers();
  }

  /** Changes a trusted issuer at `expectedVersion`. */
  async updateTrustedIssuer(
    issuer: string,
    expectedVersion: number,
    patch: Partial<Omit<NewTrustedIssuer, 'issuer'>>,
  ): Promise<TrustedIssuer> {
    const current = required(await this.#store.getTrustedIssuer(issuer), `issuer ${issuer} is not trusted`);
    checkTrustedIssuer({ ...current, ...patch, issuer });
    return this.#store.updateTrustedIssuer(issuer, expectedVersion, patch);
  }

  /** Stops trusting an issuer. */
  async deleteTrustedIssuer(issuer: string, expectedVersion: number): Promise<void> {
    await this.#store.deleteTrustedIssuer(issuer, expectedVersion);
  }

  // ---- helpers ------------------------------------------------------------------------

  #resolve(pathOrArn: string, what: string): string {
    try {
      return resolveResourcePath(this.accountId, pathOrArn);
    } catch (e) {
      if (e instanceof InvalidResourceNameError) throw new InputError(`${what}: ${e.message}`, { cause: e });
      throw e;
    }
  }

  /** A principal path or ARN → the ARN of an existing user, group, role or managed identity. */
  async #resolvePrincipal(tx: StoreTransaction, principal: string): Promise<string> {
    let arn: string | undefined;
    if (principal.startsWith('arn:')) {
      arn = principal;
    } else {
      const path = principal.replace(/^\/+/, '');
      const [root, ...rest] = path.split('/');
      const name = rest.join('/');
      if (root === 'user') arn = (await tx.getUser(name))?.arn;
      else if (root === 'group') arn = (await tx.getGroup(name))?.arn;
      else if (root === 'role') arn = (await tx.getRole(name))?.arn;
      else if (root === 'managed-identity') arn = (await tx.getManagedIdentity(name))?.arn;
      else {
        // A resource with a system-assigned identity stands for that identity.
        const owner = this.#resolve(principal, 'principal');
        arn = (await tx.getManagedIdentity({ ownerArn: owner }))?.arn;
      }
      if (!arn) throw new NotFoundError(`principal "${principal}" does not exist`);
    }
    if (!(await tx.findPrincipalKind(arn))) throw new NotFoundError(`principal ${arn} does not exist`);
    return arn;
  }

  /** A role definition by name; a built-in one is stored on first use so assignments can refer to it. */
  async #roleDefinitionFor(tx: StoreTransaction, name: string): Promise<RoleDefinition> {
    const builtIn = findBuiltInRole(name);
    if (builtIn) {
      const stored = await tx.getRoleDefinition(builtIn.name);
      if (stored) return stored;
      return tx.createRoleDefinition({
        id: builtIn.name,
        name: builtIn.name,
        description: builtIn.description,
        permissions: {
          actions: [...builtIn.actions],
          notActions: [...builtIn.notActions],
          dataActions: [...builtIn.dataActions],
          notDataActions: [...builtIn.notDataActions],
        },
      });
    }
    return required(
      await tx.getRoleDefinition(name),
      `role definition "${name}" does not exist (built-in or custom)`,
    );
  }
}

function checkMaxSessionDuration(value: number | undefined): void {
  if (value === undefined) return;
  if (!Number.isInteger(value) || value < MIN_ROLE_SESSION || value > MAX_ROLE_SESSION) {
    throw new InputError(
      `MaxSessionDuration must be a whole number of seconds from ${MIN_ROLE_SESSION} (1 hour) to ${MAX_ROLE_SESSION} (12 hours); got ${value}`,
    );
  }
}

function checkRolePermissions(p: Partial<RolePermissions>): void {
  const lists: [keyof RolePermissions, 'control' | 'data'][] = [
    ['actions', 'control'],
    ['notActions', 'control'],
    ['dataActions', 'data'],
    ['notDataActions', 'data'],
  ];
  let any = false;
  for (const [field, plane] of lists) {
    const list = p[field];
    if (list === undefined) continue;
    if (!Array.isArray(list) || list.some((a) => typeof a !== 'string'))
      throw new InputError(`${field} must be a list of action patterns`);
    if (field === 'actions' || field === 'dataActions') any ||= list.length > 0;
    for (const pattern of list) {
      const matched = matchActions(pattern);
      if (matched.length === 0) {
        throw new InputError(
          `${field}: "${pattern}" matches no catalogued action; check the service prefix and name`,
        );
      }
      if (!matched.some((a) => a.plane === plane)) {
        throw new InputError(
          `${field}: "${pattern}" matches only ${plane === 'data' ? 'control' : 'data'}-plane actions; put it in ${plane === 'data' ? 'actions' : 'dataActions'}`,
        );
      }
    }
  }
  if (!any) throw new InputError('a role needs at least one entry in actions or dataActions');
}

function checkTrustedIssuer(input: NewTrustedIssuer): void {
  const https = (value: string, what: string) => {
    let url: URL;
    try {
      url = new URL(value);
    } catch {
      throw new InputError(`${what} "${value}" is not a URL`);
    }
    if (url.protocol !== 'https:' && url.hostname !== 'localhost' && url.hostname !== '127.0.0.1')
      throw new InputError(`${what} must be an https URL; got ${value}`);
  };
  https(input.issuer, 'issuer');
  if (!Array.isArray(input.audiences) || input.audiences.length === 0)
    throw new InputError(`issuer ${input.issuer} needs at least one accepted audience`);
  if (input.jwksUri) https(input.jwksUri, 'jwksUri');
  if (input.jwks) {
    try {
      const keys = (JSON.parse(input.jwks) as { keys?: unknown }).keys;
      if (!Array.isArray(keys)) throw new Error('no keys');
    } catch {
      throw new InputError(`the inline JWKS of ${input.issuer} must be JSON with a "keys" array`);
    }
  }
  if (!input.jwks && !input.jwksUri)
    throw new InputError(`issuer ${input.issuer} needs a jwksUri or an inline jwks`);
}

/** The name of a resource's system-assigned identity: the resource part of its ARN. */
export function identityNameFor(ownerArn: string): string {
  const parts = ownerArn.split(':');
  const name = parts.length >= 6 ? parts.slice(5).join(':') : '';
  if (!ownerArn.startsWith('arn:') || !name) throw new InputError(`"${ownerArn}" is not a resource ARN`);
  return name;
}
