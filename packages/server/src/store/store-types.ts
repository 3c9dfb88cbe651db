/**
 * The values the store hands out and takes in. Timestamps are milliseconds since the epoch
 * (the unit of `Clock.now()`); `version` is the optimistic-concurrency counter that the API
 * exposes as an ETag. Policy documents are strings, kept verbatim as written.
 */

/** Tags as AWS IAM keeps them: a key-value map, keys unique. */
export type Tags = Record<string, string>;

/** Where a user came from: the REST API, SCIM provisioning, or an access-as-code file. */
export type PrincipalSource = 'api' | 'scim' | 'config';

/** A key/value setting (the account id lives here). */
export interface Setting {
  key: string;
  value: string;
  version: number;
  updatedAt: number;
}

/** An IAM user. */
export interface User {
  id: string;
  name: string;
  path: string;
  arn: string;
  tags: Tags;
  status: 'active' | 'disabled';
  source: PrincipalSource;
  externalId: string | null;
  permissionsBoundaryArn: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createUser` takes; everything but the name has a default. */
export interface NewUser {
  name: string;
  path?: string;
  tags?: Tags;
  status?: User['status'];
  source?: PrincipalSource;
  externalId?: string | null;
  permissionsBoundaryArn?: string | null;
}

/** The fields `updateUser` may change; `name` renames (and re-points the user's ARN). */
export type UserPatch = Partial<Omit<NewUser, 'source'>>;

/** An IAM group. */
export interface Group {
  id: string;
  name: string;
  path: string;
  arn: string;
  externalId: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createGroup` takes. */
export interface NewGroup {
  name: string;
  path?: string;
  externalId?: string | null;
}

/** An IAM role. */
export interface Role {
  id: string;
  name: string;
  path: string;
  arn: string;
  trustPolicy: string;
  /** Seconds, 3600..43200 (AWS MaxSessionDuration). */
  maxSessionDuration: number;
  description: string;
  tags: Tags;
  permissionsBoundaryArn: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createRole` takes. */
export interface NewRole {
  name: string;
  path?: string;
  trustPolicy: string;
  maxSessionDuration?: number;
  description?: string;
  tags?: Tags;
  permissionsBoundaryArn?: string | null;
}

/** The fields `updateRole` may change. */
export type RolePatch = Partial<Omit<NewRole, 'name' | 'path'>>;

/** A managed identity: system-assigned (lives and dies with `ownerArn`) or user-assigned. */
export interface ManagedIdentity {
  id: string;
  name: string;
  arn: string;
  kind: 'system' | 'user';
  ownerArn: string | null;
  status: 'active' | 'disabled';
  tags: Tags;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createManagedIdentity` takes; a system-assigned identity needs `ownerArn`. */
export interface NewManagedIdentity {
  name: string;
  kind: ManagedIdentity['kind'];
  ownerArn?: string | null;
  status?: ManagedIdentity['status'];
  tags?: Tags;
}

/** A customer-managed policy; its documents are in its versions. */
export interface ManagedPolicy {
  id: string;
  name: string;
  path: string;
  arn: string;
  description: string;
  defaultVersionId: string;
  tags: Tags;
  attachmentCount: number;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createPolicy` takes: the first document becomes version v1, the default. */
export interface NewManagedPolicy {
  name: string;
  path?: string;
  description?: string;
  tags?: Tags;
  document: string;
}

/** One version of a managed policy. */
export interface PolicyVersion {
  policyArn: string;
  versionId: string;
  document: string;
  isDefault: boolean;
  createdAt: number;
}

/** A policy embedded in one principal (user, group, role, managed identity). */
export interface InlinePolicy {
  principalArn: string;
  name: string;
  document: string;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** A managed policy attached to a principal. */
export interface PolicyAttachment {
  principalArn: string;
  policyArn: string;
  createdAt: number;
}

/** A long-term access key. The secret is ciphertext made by the caller; the store never sees it clear. */
export interface AccessKey {
  accessKeyId: string;
  userName: string;
  userArn: string;
  status: 'Active' | 'Inactive';
  secretCiphertext: Uint8Array;
  version: number;
  createdAt: number;
  lastUsedAt: number | null;
  lastUsedService: string | null;
}

/** What `createAccessKey` takes. */
export interface NewAccessKey {
  userName: string;
  accessKeyId: string;
  secretCiphertext: Uint8Array;
  status?: AccessKey['status'];
}

/** Temporary credentials issued by STS. Only a hash of the session token is kept. */
export interface TemporarySession {
  accessKeyId: string;
  secretCiphertext: Uint8Array;
  sessionTokenHash: string;
  principalArn: string;
  roleArn: string | null;
  roleSessionName: string | null;
  sourceIdentity: string | null;
  sessionPolicy: string | null;
  sessionTags: Tags;
  createdAt: number;
  expiresAt: number;
  revokedAt: number | null;
}

/** What `createSession` takes. */
export type NewTemporarySession = Omit<
  TemporarySession,
  | 'createdAt'
  | 'revokedAt'
  | 'roleArn'
  | 'roleSessionName'
  | 'sourceIdentity'
  | 'sessionPolicy'
  | 'sessionTags'
> &
  Partial<
    Pick<TemporarySession, 'roleArn' | 'roleSessionName' | 'sourceIdentity' | 'sessionPolicy' | 'sessionTags'>
  >;

/** A bearer key (endpoint key, SCIM token): only its hash is stored. */
export interface BearerKey {
  id: string;
  hash: string;
  ownerArn: string;
  purpose: string;
  status: 'Active' | 'Inactive';
  version: number;
  createdAt: number;
}

/** What `createBearerKey` takes. */
export interface NewBearerKey {
  id: string;
  hash: string;
  ownerArn: string;
  purpose: string;
  status?: BearerKey['status'];
}

/** An OIDC signing key of aiam's own issuer; the private JWK is ciphertext. */
export interface SigningKey {
  kid: string;
  alg: string;
  privateJwkCiphertext: Uint8Array;
  publicJwk: string;
  createdAt: number;
  /** Stop signing with it after this instant. */
  notAfter: number | null;
  /** When it was withdrawn from signing; it stays published until its tokens expire. */
  retiredAt: number | null;
}

/** What `createSigningKey` takes. */
export interface NewSigningKey {
  kid: string;
  alg: string;
  privateJwkCiphertext: Uint8Array;
  publicJwk: string;
  notAfter?: number | null;
}

/** The kinds of record that hold a ciphertext made with the master keyring. */
export type EncryptedRecordKind = 'access-key' | 'session' | 'signing-key' | 'setting';

/** One stored ciphertext, as `listEncryptedRecords` returns it (for master-key rotation). */
export interface EncryptedRecord {
  kind: EncryptedRecordKind;
  /** The row's key: access key id, session access key id, signing key kid or setting key. */
  id: string;
  /** The keyring ciphertext (`v1.<keyId>.…`). */
  ciphertext: string;
}

/** An external OIDC issuer aiam trusts for federation (CI, Kubernetes). */
export interface TrustedIssuer {
  issuer: string;
  audiences: string[];
  jwks: string | null;
  jwksUri: string | null;
  /** Free-form JSON: how subjects map to roles. */
  subjectMapping: unknown;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createTrustedIssuer` takes. */
export interface NewTrustedIssuer {
  issuer: string;
  audiences: string[];
  jwks?: string | null;
  jwksUri?: string | null;
  subjectMapping?: unknown;
}

/** Azure-style permissions of a role definition. */
export interface RolePermissions {
  actions: string[];
  notActions: string[];
  dataActions: string[];
  notDataActions: string[];
}

/** A custom (Azure-style) role definition. */
export interface RoleDefinition {
  id: string;
  name: string;
  description: string;
  permissions: RolePermissions;
  assignableScopes: string[];
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createRoleDefinition` takes. */
export interface NewRoleDefinition {
  id?: string;
  name: string;
  description?: string;
  permissions: Partial<RolePermissions>;
  assignableScopes?: string[];
}

/** A role definition granted to a principal at a scope. */
export interface RoleAssignment {
  id: string;
  principalArn: string;
  roleDefinitionId: string;
  roleDefinitionName: string;
  scope: string;
  condition: string | null;
  createdAt: number;
}

/** What `createRoleAssignment` takes; the role definition is named by name or id. */
export interface NewRoleAssignment {
  id?: string;
  principalArn: string;
  roleDefinition: string;
  scope: string;
  condition?: string | null;
}

/** An Azure-style deny assignment: denies actions at a scope to principals. */
export interface DenyAssignment {
  id: string;
  name: string;
  scope: string;
  principalArns: string[];
  excludedPrincipalArns: string[];
  permissions: RolePermissions;
  createdAt: number;
}

/** What `createDenyAssignment` takes. */
export interface NewDenyAssignment {
  id?: string;
  name: string;
  scope: string;
  principalArns: string[];
  excludedPrincipalArns?: string[];
  permissions: Partial<RolePermissions>;
}

/** A policy attached to a resource (a bucket policy). */
export interface ResourcePolicy {
  resourceArn: string;
  document: string;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** One audit record. */
export interface AuditRecord {
  id: string;
  time: number;
  requestId: string | null;
  principal: string | null;
  action: string | null;
  resource: string | null;
  decision: string | null;
  matchedStatements: unknown;
  sourceIp: string | null;
  userAgent: string | null;
  errorCode: string | null;
  extra: unknown;
}

/** What `appendAudit` takes: `id` defaults to a random UUID. */
export type NewAuditRecord = Partial<AuditRecord> & { time: number };

/** Filters for `queryAudit`; newest first; `cursor` comes from the previous page. */
export interface AuditQuery {
  from?: number;
  to?: number;
  principal?: string;
  action?: string;
  decision?: string;
  limit?: number;
  cursor?: string;
}

/** One page of audit records. */
export interface AuditPage {
  records: AuditRecord[];
  /** Pass back as `cursor` for the next page; absent on the last page. */
  nextCursor?: string;
}

/** Everything the policy engine needs, read in one consistent snapshot, with its revision. */
/** Some users as an access view holds them (`loadUsersOfAccessView`), at `revision`. */
export interface AccessViewUsers {
  revision: number;
  users: User[];
  memberships: { groupArn: string; userArn: string }[];
  /** Session-revocation settings of those users: the ARN and the stored value. */
  revocations: { arn: string; value: string }[];
}

export interface AccessSnapshot {
  revision: number;
  accountId: string;
  users: User[];
  groups: Group[];
  memberships: { groupArn: string; userArn: string }[];
  roles: Role[];
  managedIdentities: ManagedIdentity[];
  /** Managed policies with their default version's document. */
  policies: (ManagedPolicy & { document: string })[];
  attachments: PolicyAttachment[];
  inlinePolicies: InlinePolicy[];
  roleDefinitions: RoleDefinition[];
  roleAssignments: RoleAssignment[];
  denyAssignments: DenyAssignment[];
  resourcePolicies: ResourcePolicy[];
}

/** A committed change, delivered to `subscribeChanges` listeners (from every node on PostgreSQL). */
export interface StoreChange {
  revision: number;
  /** The entity kinds touched (`user`, `policy`, …); `*` after a lost notification channel. */
  kinds: string[];
  /**
   * Present when all the transaction did to access data was to these users (ARNs): create them
   * with nothing attached (no permissions boundary, no policy stored under the ARN), change
   * their rows without a new ARN or boundary, delete them, change their group memberships or
   * their session-revocation times. An access view may then re-read just these users instead of
   * everything. Absent: anything may have changed. Empty: no access data changed (keys,
   * sessions, buckets, the ML registry, SCIM bookkeeping).
   */
  changedUsers?: string[];
}

/** The settings key prefix of a principal's session-revocation time (ms since the epoch). */
export const SESSION_REVOCATION_PREFIX = 'sessions-revoked-before:';
