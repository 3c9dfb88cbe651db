import { randomBytes, randomUUID } from 'node:crypto';
import { iamArn, managedIdentityArn } from '@aiam/policy';
import { type Kysely, type Selectable, sql } from 'kysely';
import type { Clock } from '../clock.js';
import {
  ConflictError,
  InputError,
  LimitExceededError,
  NotFoundError,
  PreconditionFailedError,
} from '../errors.js';
import type { DatabaseSchema } from './database-schema.js';
import { beginMutation, beginUserChange, revokedUserOf } from './operations-core.js';
import { ScimResourceOperations } from './scim-resource-operations.js';
import { SESSION_REVOCATION_PREFIX } from './store-types.js';
import { timeOrderedId } from './time-ordered-id.js';
import type {
  EncryptedRecord,
  EncryptedRecordKind,
  AccessKey,
  AccessSnapshot,
  AccessViewUsers,
  AuditPage,
  AuditQuery,
  AuditRecord,
  BearerKey,
  DenyAssignment,
  Group,
  InlinePolicy,
  ManagedIdentity,
  ManagedPolicy,
  NewAccessKey,
  NewAuditRecord,
  NewBearerKey,
  NewDenyAssignment,
  NewGroup,
  NewManagedIdentity,
  NewManagedPolicy,
  NewRole,
  NewRoleAssignment,
  NewRoleDefinition,
  NewSigningKey,
  NewTemporarySession,
  NewTrustedIssuer,
  NewUser,
  PolicyAttachment,
  PolicyVersion,
  ResourcePolicy,
  Role,
  RoleAssignment,
  RoleDefinition,
  RolePatch,
  RolePermissions,
  Setting,
  SigningKey,
  Tags,
  TemporarySession,
  TrustedIssuer,
  User,
  UserPatch,
} from './store-types.js';

type Db = Kysely<DatabaseSchema>;
type Row<T extends keyof DatabaseSchema> = Selectable<DatabaseSchema[T]>;

/** AWS IAM quotas the store enforces (IAM User Guide, "IAM and AWS STS quotas"). */
export const STORE_LIMITS = {
  accessKeysPerUser: 2,
  versionsPerPolicy: 5,
  managedPoliciesPerPrincipal: 20,
  minSessionDuration: 3600,
  maxSessionDuration: 43200,
} as const;

/** What one unit of work needs besides its connection. */
export interface OperationsContext {
  accountId: string;
  clock: Clock;
  /** Records the kinds of entity a mutation touched; a non-empty set bumps the revision. */
  touched: Set<string>;
  /**
   * The users this transaction changed and nothing else of access data
   * (`StoreChange.changedUsers`), or null once any other mutation of access data ran.
   */
  changedUsers: Set<string> | null;
  /** False outside a write transaction: mutations then refuse to run. */
  writable: boolean;
  /** The engine's prepared audit insert (SQLite), run on this transaction's connection. */
  insertAuditRows?: (rows: readonly Row<'audit_records'>[]) => void;
}

// AWS IAM name grammars (CreateUser/CreateRole: [\w+=,.@-]{1,64}; CreateGroup/CreatePolicy: 1..128).
const NAME_64 = /^[\w+=,.@-]{1,64}$/;
const NAME_128 = /^[\w+=,.@-]{1,128}$/;
// A system-assigned identity is named by its resource's path, so '/' is allowed there.
const IDENTITY_NAME = /^[\w+=,.@/-]{1,512}$/;
// AWS path grammar: "/" or "/" + printable ASCII + "/", at most 512 characters.
const PATH = /^\/(?:[\x21-\x7e]*\/)?$/;

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** An AWS-style unique id: a four-letter prefix (AIDA user, AGPA group, AROA role, ANPA policy) + 17 chars. */
function uniqueId(prefix: string): string {
  const bytes = randomBytes(17);
  let out = prefix;
  for (const b of bytes) out += BASE32[b & 31];
  return out;
}

function checkName(kind: string, name: string, grammar: RegExp): void {
  if (typeof name !== 'string' || !grammar.test(name)) {
    throw new InputError(
      `${kind} name "${String(name)}" is invalid: use letters, digits and +=,.@_- (${grammar === NAME_64 ? 64 : 128} characters at most)`,
    );
  }
}

function checkPath(path: string): void {
  if (path.length > 512 || !PATH.test(path)) {
    throw new InputError(
      `path "${path}" is invalid: it must start and end with "/" (e.g. "/" or "/engineering/")`,
    );
  }
}

function checkTags(tags: Tags): void {
  // AWS: at most 50 tags per resource, keys 1..128 and values 0..256 characters.
  const entries = Object.entries(tags);
  if (entries.length > 50) throw new InputError('at most 50 tags are allowed on one resource');
  for (const [k, v] of entries) {
    if (k.length < 1 || k.length > 128 || typeof v !== 'string' || v.length > 256) {
      throw new InputError(`tag "${k}" is invalid: keys are 1..128 characters, values are strings of 0..256`);
    }
  }
}

function checkStatus<T extends string>(what: string, value: T, allowed: readonly T[]): void {
  if (!allowed.includes(value))
    throw new InputError(`${what} must be one of ${allowed.join(', ')}, not "${value}"`);
}

function json(value: unknown): string {
  return JSON.stringify(value ?? null);
}

function parse<T>(text: string | null): T {
  return (text === null ? null : JSON.parse(text)) as T;
}

/** True for a unique or primary-key violation, on either engine. */
export function isUniqueViolation(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

function permissions(p: Partial<RolePermissions>): RolePermissions {
  return {
    actions: p.actions ?? [],
    notActions: p.notActions ?? [],
    dataActions: p.dataActions ?? [],
    notDataActions: p.notDataActions ?? [],
  };
}

const toUser = (r: Row<'users'>): User => ({
  id: r.id,
  name: r.name,
  path: r.path,
  arn: r.arn,
  tags: parse(r.tags),
  status: r.status as User['status'],
  source: r.source as User['source'],
  externalId: r.external_id,
  permissionsBoundaryArn: r.permissions_boundary_arn,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toGroup = (r: Row<'groups'>): Group => ({
  id: r.id,
  name: r.name,
  path: r.path,
  arn: r.arn,
  externalId: r.external_id,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toRole = (r: Row<'roles'>): Role => ({
  id: r.id,
  name: r.name,
  path: r.path,
  arn: r.arn,
  trustPolicy: r.trust_policy,
  maxSessionDuration: r.max_session_duration,
  description: r.description,
  tags: parse(r.tags),
  permissionsBoundaryArn: r.permissions_boundary_arn,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toIdentity = (r: Row<'managed_identities'>): ManagedIdentity => ({
  id: r.id,
  name: r.name,
  arn: r.arn,
  kind: r.kind as ManagedIdentity['kind'],
  ownerArn: r.owner_arn,
  status: r.status as ManagedIdentity['status'],
  tags: parse(r.tags),
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toPolicy = (r: Row<'policies'>, attachmentCount: number): ManagedPolicy => ({
  id: r.id,
  name: r.name,
  path: r.path,
  arn: r.arn,
  description: r.description,
  defaultVersionId: r.default_version_id,
  tags: parse(r.tags),
  attachmentCount,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toInline = (r: Row<'inline_policies'>): InlinePolicy => ({
  principalArn: r.principal_arn,
  name: r.name,
  document: r.document,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toAttachment = (r: Row<'policy_attachments'>): PolicyAttachment => ({
  principalArn: r.principal_arn,
  policyArn: r.policy_arn,
  createdAt: r.created_at,
});

const toSession = (r: Row<'sessions'>): TemporarySession => ({
  accessKeyId: r.access_key_id,
  secretCiphertext: r.secret_ciphertext,
  sessionTokenHash: r.session_token_hash,
  principalArn: r.principal_arn,
  roleArn: r.role_arn,
  roleSessionName: r.role_session_name,
  sourceIdentity: r.source_identity,
  sessionPolicy: r.session_policy,
  sessionTags: parse(r.session_tags),
  createdAt: r.created_at,
  expiresAt: r.expires_at,
  revokedAt: r.revoked_at,
});

const toBearerKey = (r: Row<'bearer_keys'>): BearerKey => ({
  id: r.id,
  hash: r.hash,
  ownerArn: r.owner_arn,
  purpose: r.purpose,
  status: r.status as BearerKey['status'],
  version: r.version,
  createdAt: r.created_at,
});

const toSigningKey = (r: Row<'signing_keys'>): SigningKey => ({
  kid: r.kid,
  alg: r.alg,
  privateJwkCiphertext: r.private_jwk_ciphertext,
  publicJwk: r.public_jwk,
  createdAt: r.created_at,
  notAfter: r.not_after,
  retiredAt: r.retired_at,
});

const toIssuer = (r: Row<'trusted_issuers'>): TrustedIssuer => ({
  issuer: r.issuer,
  audiences: parse(r.audiences),
  jwks: r.jwks,
  jwksUri: r.jwks_uri,
  subjectMapping: parse(r.subject_mapping),
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toRoleDefinition = (r: Row<'role_definitions'>): RoleDefinition => ({
  id: r.id,
  name: r.name,
  description: r.description,
  permissions: parse(r.permissions),
  assignableScopes: parse(r.assignable_scopes),
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toDenyAssignment = (r: Row<'deny_assignments'>): DenyAssignment => ({
  id: r.id,
  name: r.name,
  scope: r.scope,
  principalArns: parse(r.principal_arns),
  excludedPrincipalArns: parse(r.excluded_principal_arns),
  permissions: parse(r.permissions),
  createdAt: r.created_at,
});

const toResourcePolicy = (r: Row<'resource_policies'>): ResourcePolicy => ({
  resourceArn: r.resource_arn,
  document: r.document,
  version: r.version,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
});

const toAudit = (r: Row<'audit_records'>): AuditRecord => ({
  id: r.id,
  time: r.time,
  requestId: r.request_id,
  principal: r.principal,
  action: r.action,
  resource: r.resource,
  decision: r.decision,
  matchedStatements: parse(r.matched_statements),
  sourceIp: r.source_ip,
  userAgent: r.user_agent,
  errorCode: r.error_code,
  extra: parse(r.extra),
});

/**
 * Every read and write of the store, bound to one connection. Inside `store.transaction(fn)`
 * `fn` receives one of these; the `Store` itself exposes the same methods, each run in its own
 * transaction. The data plane and the ML registry live in the classes it extends
 * (data-plane-operations.ts, ml-registry-operations.ts). Method names tell reads from writes: reads start with get, list, find, query or
 * load; everything else mutates.
 */
export class StoreOperations extends ScimResourceOperations {
  readonly #db: Db;
  readonly #ctx: OperationsContext;

  constructor(db: Db, ctx: OperationsContext) {
    super(db, ctx);
    this.#db = db;
    this.#ctx = ctx;
  }

  /** The 12-digit account id of this installation. */
  getAccountId(): string {
    return this.#ctx.accountId;
  }

  /** The store-wide revision: bumped by every committed change of access data. */
  async getRevision(): Promise<number> {
    const row = await this.#db
      .selectFrom('aiam_meta')
      .select('revision')
      .where('id', '=', 1)
      .executeTakeFirstOrThrow();
    return Number(row.revision);
  }

  #write(kind: string | null): number {
    return beginMutation(this.#ctx, kind);
  }

  /** A user's session-revocation time is that user's own data (StoreChange.changedUsers). */
  #writeSetting(key: string): number {
    const user = revokedUserOf(key);
    return user === undefined ? this.#write('setting') : beginUserChange(this.#ctx, 'setting', user);
  }

  /** After an update matched no row: NotFound if the row is gone, else the version was stale. */
  async #stale(what: string, current: { version: number } | undefined, expected: number): Promise<never> {
    if (!current) throw new NotFoundError(`${what} does not exist`);
    throw new PreconditionFailedError(
      `${what} has changed (version ${current.version}, you sent ${expected}); read it again and retry`,
    );
  }

  async #unique<T>(what: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      if (isUniqueViolation(error)) throw new ConflictError(`${what} already exists`, { cause: error });
      throw error;
    }
  }

  // ---- settings -------------------------------------------------------------------------

  /** One setting, or undefined. */
  async getSetting(key: string): Promise<Setting | undefined> {
    const r = await this.#db.selectFrom('settings').selectAll().where('key', '=', key).executeTakeFirst();
    return r && { key: r.key, value: r.value, version: r.version, updatedAt: r.updated_at };
  }

  /** All settings. */
  async listSettings(): Promise<Setting[]> {
    const rows = await this.#db.selectFrom('settings').selectAll().orderBy('key').execute();
    return rows.map((r) => ({ key: r.key, value: r.value, version: r.version, updatedAt: r.updated_at }));
  }

  /**
   * Creates or replaces a setting. `expectedVersion` null means "must not exist yet";
   * a number means "must be at this version".
   */
  async putSetting(key: string, value: string, expectedVersion: number | null): Promise<Setting> {
    const now = this.#writeSetting(key);
    if (key === 'account_id')
      throw new InputError('the account id is fixed at first start and cannot be changed');
    if (expectedVersion === null) {
      await this.#unique(`setting "${key}"`, () =>
        this.#db.insertInto('settings').values({ key, value, version: 1, updated_at: now }).execute(),
      );
      return { key, value, version: 1, updatedAt: now };
    }
    const r = await this.#db
      .updateTable('settings')
      .set({ value, version: expectedVersion + 1, updated_at: now })
      .where('key', '=', key)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0)
      await this.#stale(`setting "${key}"`, await this.getSetting(key), expectedVersion);
    return { key, value, version: expectedVersion + 1, updatedAt: now };
  }

  /** Deletes a setting at the expected version. */
  async deleteSetting(key: string, expectedVersion: number): Promise<void> {
    this.#writeSetting(key);
    if (key === 'account_id') throw new InputError('the account id cannot be deleted');
    const r = await this.#db
      .deleteFrom('settings')
      .where('key', '=', key)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0)
      await this.#stale(`setting "${key}"`, await this.getSetting(key), expectedVersion);
  }

  // ---- encrypted columns (master-key rotation) --------------------------------------------

  /**
   * Up to `limit` stored ciphertexts of one kind, ordered by id, after `after` (exclusive; null
   * starts at the beginning). Settings are included only when their value is a keyring
   * ciphertext (`v1.mk…`).
   */
  async listEncryptedRecords(
    kind: EncryptedRecordKind,
    after: string | null,
    limit: number,
  ): Promise<EncryptedRecord[]> {
    if (!Number.isInteger(limit) || limit < 1) throw new InputError('limit must be a positive integer');
    const text = (b: Uint8Array) => Buffer.from(b).toString('utf8');
    switch (kind) {
      case 'access-key':
      case 'session': {
        const table = kind === 'access-key' ? 'access_keys' : 'sessions';
        let q = this.#db
          .selectFrom(table)
          .select(['access_key_id', 'secret_ciphertext'])
          .orderBy('access_key_id')
          .limit(limit);
        if (after !== null) q = q.where('access_key_id', '>', after);
        return (await q.execute()).map((r) => ({
          kind,
          id: r.access_key_id,
          ciphertext: text(r.secret_ciphertext),
        }));
      }
      case 'signing-key': {
        let q = this.#db
          .selectFrom('signing_keys')
          .select(['kid', 'private_jwk_ciphertext'])
          .orderBy('kid')
          .limit(limit);
        if (after !== null) q = q.where('kid', '>', after);
        return (await q.execute()).map((r) => ({
          kind,
          id: r.kid,
          ciphertext: text(r.private_jwk_ciphertext),
        }));
      }
      case 'setting': {
        let q = this.#db
          .selectFrom('settings')
          .select(['key', 'value'])
          .where('value', 'like', 'v1.mk%')
          .orderBy('key')
          .limit(limit);
        if (after !== null) q = q.where('key', '>', after);
        return (await q.execute()).map((r) => ({ kind, id: r.key, ciphertext: r.value }));
      }
      default:
        throw new InputError(`unknown encrypted record kind ${JSON.stringify(kind)}`);
    }
  }

  /**
   * Replaces one stored ciphertext if it still equals `previous` (compare-and-set, so a record
   * changed meanwhile is left alone); true when replaced. A setting keeps its version: the
   * pepper's id is its version, and re-encryption does not change the secret.
   */
  async replaceCiphertext(
    kind: EncryptedRecordKind,
    id: string,
    previous: string,
    next: string,
  ): Promise<boolean> {
    if (next === '') throw new InputError('the new ciphertext is empty');
    const prev = Buffer.from(previous, 'utf8');
    const value = Buffer.from(next, 'utf8');
    let updated: bigint;
    switch (kind) {
      case 'access-key':
      case 'session': {
        this.#write(kind);
        const table = kind === 'access-key' ? 'access_keys' : 'sessions';
        const r = await this.#db
          .updateTable(table)
          .set({ secret_ciphertext: value })
          .where('access_key_id', '=', id)
          .where('secret_ciphertext', '=', prev)
          .executeTakeFirst();
        updated = r.numUpdatedRows;
        break;
      }
      case 'signing-key': {
        this.#write('signing-key');
        const r = await this.#db
          .updateTable('signing_keys')
          .set({ private_jwk_ciphertext: value })
          .where('kid', '=', id)
          .where('private_jwk_ciphertext', '=', prev)
          .executeTakeFirst();
        updated = r.numUpdatedRows;
        break;
      }
      case 'setting': {
        const now = this.#write('setting');
        const r = await this.#db
          .updateTable('settings')
          .set({ value: next, updated_at: now })
          .where('key', '=', id)
          .where('value', '=', previous)
          .executeTakeFirst();
        updated = r.numUpdatedRows;
        break;
      }
      default:
        throw new InputError(`unknown encrypted record kind ${JSON.stringify(kind)}`);
    }
    return Number(updated) > 0;
  }

  // ---- principals (shared) --------------------------------------------------------------

  /** The kind of principal an ARN names, if it exists in this store. */
  async findPrincipalKind(arn: string): Promise<'user' | 'group' | 'role' | 'managed-identity' | undefined> {
    const [u, g, r, m] = await Promise.all([
      this.#db.selectFrom('users').select('id').where('arn', '=', arn).executeTakeFirst(),
      this.#db.selectFrom('groups').select('id').where('arn', '=', arn).executeTakeFirst(),
      this.#db.selectFrom('roles').select('id').where('arn', '=', arn).executeTakeFirst(),
      this.#db.selectFrom('managed_identities').select('id').where('arn', '=', arn).executeTakeFirst(),
    ]);
    return u ? 'user' : g ? 'group' : r ? 'role' : m ? 'managed-identity' : undefined;
  }

  async #requirePrincipal(arn: string): Promise<void> {
    if (!(await this.findPrincipalKind(arn))) {
      throw new NotFoundError(
        `principal ${arn} does not exist (users, groups, roles and managed identities can hold policies)`,
      );
    }
  }

  async #dependents(arn: string): Promise<string[]> {
    const [att, inl, ra] = await Promise.all([
      this.#db
        .selectFrom('policy_attachments')
        .select('policy_arn')
        .where('principal_arn', '=', arn)
        .execute(),
      this.#db.selectFrom('inline_policies').select('name').where('principal_arn', '=', arn).execute(),
      this.#db.selectFrom('role_assignments').select('id').where('principal_arn', '=', arn).execute(),
    ]);
    const out: string[] = [];
    if (att.length) out.push(`${att.length} attached managed policies`);
    if (inl.length) out.push(`${inl.length} inline policies`);
    if (ra.length) out.push(`${ra.length} role assignments`);
    return out;
  }

  /** Removes everything hanging off a principal's ARN (policies, assignments, bearer keys, sessions). */
  async #purgePrincipal(arn: string, now: number): Promise<void> {
    await this.#db.deleteFrom('policy_attachments').where('principal_arn', '=', arn).execute();
    await this.#db.deleteFrom('inline_policies').where('principal_arn', '=', arn).execute();
    await this.#db.deleteFrom('role_assignments').where('principal_arn', '=', arn).execute();
    await this.#db.deleteFrom('bearer_keys').where('owner_arn', '=', arn).execute();
    await this.#db
      .updateTable('sessions')
      .set({ revoked_at: now })
      .where('revoked_at', 'is', null)
      .where((eb) => eb.or([eb('principal_arn', '=', arn), eb('role_arn', '=', arn)]))
      .execute();
  }

  /** Re-points ARN-keyed references after a rename. */
  async #renameArn(oldArn: string, newArn: string): Promise<void> {
    if (oldArn === newArn) return;
    await this.#db
      .updateTable('policy_attachments')
      .set({ principal_arn: newArn })
      .where('principal_arn', '=', oldArn)
      .execute();
    await this.#db
      .updateTable('inline_policies')
      .set({ principal_arn: newArn })
      .where('principal_arn', '=', oldArn)
      .execute();
    await this.#db
      .updateTable('role_assignments')
      .set({ principal_arn: newArn })
      .where('principal_arn', '=', oldArn)
      .execute();
    await this.#db
      .updateTable('bearer_keys')
      .set({ owner_arn: newArn })
      .where('owner_arn', '=', oldArn)
      .execute();
  }

  // ---- users ----------------------------------------------------------------------------

  /** Creates a user; a name already taken (case-insensitively, as in AWS) is a ConflictError. */
  async createUser(input: NewUser): Promise<User> {
    checkName('user', input.name, NAME_64);
    const path = input.path ?? '/';
    checkPath(path);
    const arn = iamArn(this.#ctx.accountId, 'user', input.name, path);
    // A user with no boundary and no policy stored under its ARN grants nothing new: access
    // views may add it without a reload (StoreChange.changedUsers).
    const now =
      input.permissionsBoundaryArn || (await this.#policiesStoredFor(arn))
        ? this.#write('user')
        : beginUserChange(this.#ctx, 'user', arn);
    const tags = input.tags ?? {};
    checkTags(tags);
    const status = input.status ?? 'active';
    checkStatus('user status', status, ['active', 'disabled']);
    const source = input.source ?? 'api';
    checkStatus('user source', source, ['api', 'scim', 'config']);
    const row: Row<'users'> = {
      id: uniqueId('AIDA'),
      name: input.name,
      name_key: input.name.toLowerCase(),
      path,
      arn,
      tags: json(tags),
      status,
      source,
      external_id: input.externalId ?? null,
      permissions_boundary_arn: input.permissionsBoundaryArn ?? null,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    if (row.permissions_boundary_arn) await this.#requirePolicy(row.permissions_boundary_arn);
    await this.#unique(`user "${input.name}" (or its external id)`, () =>
      this.#db.insertInto('users').values(row).execute(),
    );
    return toUser(row);
  }

  /** Whether an attachment or an inline policy is stored under `principalArn` (say, left over). */
  async #policiesStoredFor(principalArn: string): Promise<boolean> {
    for (const table of ['policy_attachments', 'inline_policies'] as const) {
      const row = await this.#db
        .selectFrom(table)
        .select('principal_arn')
        .where('principal_arn', '=', principalArn)
        .limit(1)
        .executeTakeFirst();
      if (row) return true;
    }
    return false;
  }

  /** A user by name (case-insensitive), or undefined. */
  async getUser(name: string): Promise<User | undefined> {
    const r = await this.#db
      .selectFrom('users')
      .selectAll()
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst();
    return r && toUser(r);
  }

  /** A user by unique id, ARN or SCIM external id. */
  async findUser(by: { id?: string; arn?: string; externalId?: string }): Promise<User | undefined> {
    let q = this.#db.selectFrom('users').selectAll();
    if (by.id !== undefined) q = q.where('id', '=', by.id);
    else if (by.arn !== undefined) q = q.where('arn', '=', by.arn);
    else if (by.externalId !== undefined) q = q.where('external_id', '=', by.externalId);
    else throw new InputError('findUser needs an id, an arn or an externalId');
    const r = await q.executeTakeFirst();
    return r && toUser(r);
  }

  /** Users, by name, optionally under a path prefix. */
  async listUsers(options: { pathPrefix?: string } = {}): Promise<User[]> {
    const rows = await this.#db.selectFrom('users').selectAll().orderBy('name_key').execute();
    // Filtered here rather than with LIKE: paths may contain '_' and '%', which LIKE treats as wildcards.
    return rows.map(toUser).filter((u) => !options.pathPrefix || u.path.startsWith(options.pathPrefix));
  }

  async #requireUser(name: string): Promise<User> {
    const u = await this.getUser(name);
    if (!u) throw new NotFoundError(`user "${name}" does not exist`);
    return u;
  }

  /** Changes a user at `expectedVersion`. A rename moves the user's ARN and what references it. */
  async updateUser(name: string, expectedVersion: number, patch: UserPatch): Promise<User> {
    this.#write(null);
    const current = await this.#requireUser(name);
    const newName = patch.name ?? current.name;
    const path = patch.path ?? current.path;
    if (patch.name !== undefined) checkName('user', newName, NAME_64);
    if (patch.path !== undefined) checkPath(path);
    if (patch.tags) checkTags(patch.tags);
    if (patch.status) checkStatus('user status', patch.status, ['active', 'disabled']);
    if (patch.permissionsBoundaryArn) await this.#requirePolicy(patch.permissionsBoundaryArn);
    const arn = iamArn(this.#ctx.accountId, 'user', newName, path);
    // Same ARN and boundary: only the user's own row changes (StoreChange.changedUsers). A new
    // ARN moves what is attached under it; a new boundary changes what the user may do.
    const now =
      arn === current.arn &&
      (patch.permissionsBoundaryArn === undefined ||
        patch.permissionsBoundaryArn === current.permissionsBoundaryArn)
        ? beginUserChange(this.#ctx, 'user', arn)
        : this.#write('user');
    const r = await this.#unique(`user "${newName}" (or its external id)`, () =>
      this.#db
        .updateTable('users')
        .set({
          name: newName,
          name_key: newName.toLowerCase(),
          path,
          arn,
          tags: patch.tags ? json(patch.tags) : json(current.tags),
          status: patch.status ?? current.status,
          external_id: patch.externalId === undefined ? current.externalId : patch.externalId,
          permissions_boundary_arn:
            patch.permissionsBoundaryArn === undefined
              ? current.permissionsBoundaryArn
              : patch.permissionsBoundaryArn,
          version: expectedVersion + 1,
          updated_at: now,
        })
        .where('id', '=', current.id)
        .where('version', '=', expectedVersion)
        .returningAll()
        .executeTakeFirst(),
    );
    if (!r) return this.#stale(`user "${name}"`, current, expectedVersion);
    await this.#renameArn(current.arn, arn);
    return toUser(r);
  }

  /**
   * Deletes a user at `expectedVersion`. As in AWS (DeleteConflict), a user that still has access
   * keys, group memberships or policies is refused unless `force`, which removes all of them and
   * revokes the user's sessions in the same transaction (SCIM deprovisioning).
   */
  async deleteUser(name: string, expectedVersion: number, options: { force?: boolean } = {}): Promise<void> {
    this.#write(null);
    const current = await this.#requireUser(name);
    // What goes with the user (its policies, role assignments, keys) was reachable only through
    // its ARN: an access view drops that principal (StoreChange.changedUsers).
    const now = beginUserChange(this.#ctx, 'user', current.arn);
    if (current.version !== expectedVersion) return this.#stale(`user "${name}"`, current, expectedVersion);
    if (!options.force) {
      const deps = await this.#dependents(current.arn);
      const keys = await this.#db
        .selectFrom('access_keys')
        .select('access_key_id')
        .where('user_id', '=', current.id)
        .execute();
      const groups = await this.#db
        .selectFrom('group_members')
        .select('group_id')
        .where('user_id', '=', current.id)
        .execute();
      if (keys.length) deps.push(`${keys.length} access keys`);
      if (groups.length) deps.push(`${groups.length} group memberships`);
      if (deps.length) {
        throw new ConflictError(
          `user "${name}" still has ${deps.join(', ')}; remove them first or delete with force`,
          {
            code: 'ERR_DELETE_CONFLICT',
          },
        );
      }
    }
    await this.#purgePrincipal(current.arn, now);
    await this.#db.deleteFrom('access_keys').where('user_id', '=', current.id).execute();
    const r = await this.#db
      .deleteFrom('users')
      .where('id', '=', current.id)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0)
      return this.#stale(`user "${name}"`, await this.getUser(name), expectedVersion);
  }

  // ---- groups ---------------------------------------------------------------------------

  /** Creates a group. */
  async createGroup(input: NewGroup): Promise<Group> {
    const now = this.#write('group');
    checkName('group', input.name, NAME_128);
    const path = input.path ?? '/';
    checkPath(path);
    const row: Row<'groups'> = {
      id: uniqueId('AGPA'),
      name: input.name,
      name_key: input.name.toLowerCase(),
      path,
      arn: iamArn(this.#ctx.accountId, 'group', input.name, path),
      external_id: input.externalId ?? null,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await this.#unique(`group "${input.name}"`, () => this.#db.insertInto('groups').values(row).execute());
    return toGroup(row);
  }

  /** A group by name, or undefined. */
  async getGroup(name: string): Promise<Group | undefined> {
    const r = await this.#db
      .selectFrom('groups')
      .selectAll()
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst();
    return r && toGroup(r);
  }

  /** A group by unique id, ARN or SCIM external id. */
  async findGroup(by: { id?: string; arn?: string; externalId?: string }): Promise<Group | undefined> {
    let q = this.#db.selectFrom('groups').selectAll();
    if (by.id !== undefined) q = q.where('id', '=', by.id);
    else if (by.arn !== undefined) q = q.where('arn', '=', by.arn);
    else if (by.externalId !== undefined) q = q.where('external_id', '=', by.externalId);
    else throw new InputError('findGroup needs an id, an arn or an externalId');
    const r = await q.executeTakeFirst();
    return r && toGroup(r);
  }

  /** Groups, by name. */
  async listGroups(): Promise<Group[]> {
    return (await this.#db.selectFrom('groups').selectAll().orderBy('name_key').execute()).map(toGroup);
  }

  async #requireGroup(name: string): Promise<Group> {
    const g = await this.getGroup(name);
    if (!g) throw new NotFoundError(`group "${name}" does not exist`);
    return g;
  }

  /** Renames or moves a group at `expectedVersion`. */
  async updateGroup(
    name: string,
    expectedVersion: number,
    patch: { name?: string; path?: string; externalId?: string | null },
  ): Promise<Group> {
    const now = this.#write('group');
    const current = await this.#requireGroup(name);
    const newName = patch.name ?? current.name;
    const path = patch.path ?? current.path;
    checkName('group', newName, NAME_128);
    checkPath(path);
    const arn = iamArn(this.#ctx.accountId, 'group', newName, path);
    const r = await this.#unique(`group "${newName}"`, () =>
      this.#db
        .updateTable('groups')
        .set({
          name: newName,
          name_key: newName.toLowerCase(),
          path,
          arn,
          external_id: patch.externalId === undefined ? current.externalId : patch.externalId,
          version: expectedVersion + 1,
          updated_at: now,
        })
        .where('id', '=', current.id)
        .where('version', '=', expectedVersion)
        .returningAll()
        .executeTakeFirst(),
    );
    if (!r) return this.#stale(`group "${name}"`, current, expectedVersion);
    await this.#renameArn(current.arn, arn);
    return toGroup(r);
  }

  /** Deletes a group; with members or policies it is refused unless `force` (AWS DeleteConflict). */
  async deleteGroup(name: string, expectedVersion: number, options: { force?: boolean } = {}): Promise<void> {
    const now = this.#write('group');
    const current = await this.#requireGroup(name);
    if (current.version !== expectedVersion) return this.#stale(`group "${name}"`, current, expectedVersion);
    if (!options.force) {
      const deps = await this.#dependents(current.arn);
      const members = await this.#db
        .selectFrom('group_members')
        .select('user_id')
        .where('group_id', '=', current.id)
        .execute();
      if (members.length) deps.push(`${members.length} members`);
      if (deps.length) {
        throw new ConflictError(
          `group "${name}" still has ${deps.join(', ')}; remove them first or delete with force`,
          {
            code: 'ERR_DELETE_CONFLICT',
          },
        );
      }
    }
    await this.#purgePrincipal(current.arn, now);
    await this.#db.deleteFrom('groups').where('id', '=', current.id).execute();
  }

  /** Adds a user to a group; adding a member again is a no-op (AWS AddUserToGroup). */
  async addUserToGroup(groupName: string, userName: string): Promise<void> {
    this.#write(null);
    const g = await this.#requireGroup(groupName);
    const u = await this.#requireUser(userName);
    const now = beginUserChange(this.#ctx, 'group', u.arn);
    await this.#db
      .insertInto('group_members')
      .values({ group_id: g.id, user_id: u.id, created_at: now })
      .onConflict((oc) => oc.columns(['group_id', 'user_id']).doNothing())
      .execute();
  }

  /** Removes a user from a group; NotFound if the user was not a member. */
  async removeUserFromGroup(groupName: string, userName: string): Promise<void> {
    this.#write(null);
    const g = await this.#requireGroup(groupName);
    const u = await this.#requireUser(userName);
    beginUserChange(this.#ctx, 'group', u.arn);
    const r = await this.#db
      .deleteFrom('group_members')
      .where('group_id', '=', g.id)
      .where('user_id', '=', u.id)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0)
      throw new NotFoundError(`user "${userName}" is not in group "${groupName}"`);
  }

  /** The ids and names of a group's members, in no order: a cheap read for syncing a large group. */
  async listGroupMemberIds(groupId: string): Promise<{ id: string; name: string }[]> {
    return this.#db
      .selectFrom('group_members')
      .innerJoin('users', 'users.id', 'group_members.user_id')
      .select(['users.id as id', 'users.name as name'])
      .where('group_members.group_id', '=', groupId)
      .execute();
  }

  /** Whether a user (by id) is a member of a group (by id); a read, hence the `find` name. */
  async findGroupMember(groupId: string, userId: string): Promise<boolean> {
    const row = await this.#db
      .selectFrom('group_members')
      .select('user_id')
      .where('group_id', '=', groupId)
      .where('user_id', '=', userId)
      .executeTakeFirst();
    return row !== undefined;
  }

  /** The members of a group. */
  async listGroupMembers(groupName: string): Promise<User[]> {
    const g = await this.#requireGroup(groupName);
    const rows = await this.#db
      .selectFrom('users')
      .innerJoin('group_members', 'group_members.user_id', 'users.id')
      .selectAll('users')
      .where('group_members.group_id', '=', g.id)
      .orderBy('users.name_key')
      .execute();
    return rows.map(toUser);
  }

  /** The groups a user belongs to. */
  async listGroupsForUser(userName: string): Promise<Group[]> {
    const u = await this.#requireUser(userName);
    const rows = await this.#db
      .selectFrom('groups')
      .innerJoin('group_members', 'group_members.group_id', 'groups.id')
      .selectAll('groups')
      .where('group_members.user_id', '=', u.id)
      .orderBy('groups.name_key')
      .execute();
    return rows.map(toGroup);
  }

  // ---- roles ----------------------------------------------------------------------------

  #checkSessionDuration(seconds: number): void {
    if (
      !Number.isInteger(seconds) ||
      seconds < STORE_LIMITS.minSessionDuration ||
      seconds > STORE_LIMITS.maxSessionDuration
    ) {
      throw new InputError(
        `maxSessionDuration must be a whole number of seconds from 3600 (1 hour) to 43200 (12 hours), not ${seconds}`,
      );
    }
  }

  /** Creates a role. The trust policy is stored as given (validated by the caller). */
  async createRole(input: NewRole): Promise<Role> {
    const now = this.#write('role');
    checkName('role', input.name, NAME_64);
    const path = input.path ?? '/';
    checkPath(path);
    const tags = input.tags ?? {};
    checkTags(tags);
    const maxSessionDuration = input.maxSessionDuration ?? 3600;
    this.#checkSessionDuration(maxSessionDuration);
    if (typeof input.trustPolicy !== 'string' || !input.trustPolicy) {
      throw new InputError('a role needs a trust policy document');
    }
    if (input.permissionsBoundaryArn) await this.#requirePolicy(input.permissionsBoundaryArn);
    const row: Row<'roles'> = {
      id: uniqueId('AROA'),
      name: input.name,
      name_key: input.name.toLowerCase(),
      path,
      arn: iamArn(this.#ctx.accountId, 'role', input.name, path),
      trust_policy: input.trustPolicy,
      max_session_duration: maxSessionDuration,
      description: input.description ?? '',
      tags: json(tags),
      permissions_boundary_arn: input.permissionsBoundaryArn ?? null,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await this.#unique(`role "${input.name}"`, () => this.#db.insertInto('roles').values(row).execute());
    return toRole(row);
  }

  /** A role by name, or undefined. */
  async getRole(name: string): Promise<Role | undefined> {
    const r = await this.#db
      .selectFrom('roles')
      .selectAll()
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst();
    return r && toRole(r);
  }

  /** A role by ARN, or undefined. */
  async findRoleByArn(arn: string): Promise<Role | undefined> {
    const r = await this.#db.selectFrom('roles').selectAll().where('arn', '=', arn).executeTakeFirst();
    return r && toRole(r);
  }

  /** Roles, by name. */
  async listRoles(): Promise<Role[]> {
    return (await this.#db.selectFrom('roles').selectAll().orderBy('name_key').execute()).map(toRole);
  }

  /** Changes a role at `expectedVersion`. */
  async updateRole(name: string, expectedVersion: number, patch: RolePatch): Promise<Role> {
    const now = this.#write('role');
    const current = await this.getRole(name);
    if (!current) throw new NotFoundError(`role "${name}" does not exist`);
    if (patch.maxSessionDuration !== undefined) this.#checkSessionDuration(patch.maxSessionDuration);
    if (patch.tags) checkTags(patch.tags);
    if (patch.permissionsBoundaryArn) await this.#requirePolicy(patch.permissionsBoundaryArn);
    const r = await this.#db
      .updateTable('roles')
      .set({
        trust_policy: patch.trustPolicy ?? current.trustPolicy,
        max_session_duration: patch.maxSessionDuration ?? current.maxSessionDuration,
        description: patch.description ?? current.description,
        tags: json(patch.tags ?? current.tags),
        permissions_boundary_arn:
          patch.permissionsBoundaryArn === undefined
            ? current.permissionsBoundaryArn
            : patch.permissionsBoundaryArn,
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('id', '=', current.id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return this.#stale(`role "${name}"`, current, expectedVersion);
    return toRole(r);
  }

  /** Deletes a role (refused while it has policies unless `force`) and revokes its sessions. */
  async deleteRole(name: string, expectedVersion: number, options: { force?: boolean } = {}): Promise<void> {
    const now = this.#write('role');
    const current = await this.getRole(name);
    if (!current) throw new NotFoundError(`role "${name}" does not exist`);
    if (current.version !== expectedVersion) return this.#stale(`role "${name}"`, current, expectedVersion);
    if (!options.force) {
      const deps = await this.#dependents(current.arn);
      if (deps.length) {
        throw new ConflictError(
          `role "${name}" still has ${deps.join(', ')}; remove them first or delete with force`,
          {
            code: 'ERR_DELETE_CONFLICT',
          },
        );
      }
    }
    await this.#purgePrincipal(current.arn, now);
    await this.#db.deleteFrom('roles').where('id', '=', current.id).execute();
  }

  // ---- managed identities ---------------------------------------------------------------

  /** Creates a managed identity; a system-assigned one names the resource it belongs to. */
  async createManagedIdentity(input: NewManagedIdentity): Promise<ManagedIdentity> {
    const now = this.#write('managed-identity');
    if (typeof input.name !== 'string' || !IDENTITY_NAME.test(input.name)) {
      throw new InputError(
        `managed identity name "${input.name}" is invalid: letters, digits, +=,.@_-/ only`,
      );
    }
    checkStatus('identity kind', input.kind, ['system', 'user']);
    if (input.kind === 'system' && !input.ownerArn) {
      throw new InputError('a system-assigned identity needs the ARN of the resource that owns it');
    }
    if (input.kind === 'user' && input.ownerArn) {
      throw new InputError('a user-assigned identity stands alone and has no owner resource');
    }
    const status = input.status ?? 'active';
    checkStatus('identity status', status, ['active', 'disabled']);
    const tags = input.tags ?? {};
    checkTags(tags);
    const row: Row<'managed_identities'> = {
      id: randomUUID(),
      name: input.name,
      name_key: input.name.toLowerCase(),
      arn: managedIdentityArn(this.#ctx.accountId, input.name),
      kind: input.kind,
      owner_arn: input.ownerArn ?? null,
      status,
      tags: json(tags),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await this.#unique(`managed identity "${input.name}" (or one for that owner)`, () =>
      this.#db.insertInto('managed_identities').values(row).execute(),
    );
    return toIdentity(row);
  }

  /** A managed identity by name or by owner resource ARN. */
  async getManagedIdentity(by: string | { ownerArn: string }): Promise<ManagedIdentity | undefined> {
    const q = this.#db.selectFrom('managed_identities').selectAll();
    const r = await (typeof by === 'string'
      ? q.where('name_key', '=', by.toLowerCase())
      : q.where('owner_arn', '=', by.ownerArn)
    ).executeTakeFirst();
    return r && toIdentity(r);
  }

  /** Managed identities, by name. */
  async listManagedIdentities(): Promise<ManagedIdentity[]> {
    return (await this.#db.selectFrom('managed_identities').selectAll().orderBy('name_key').execute()).map(
      toIdentity,
    );
  }

  /** Changes an identity's status or tags at `expectedVersion`. */
  async updateManagedIdentity(
    name: string,
    expectedVersion: number,
    patch: { status?: ManagedIdentity['status']; tags?: Tags },
  ): Promise<ManagedIdentity> {
    const now = this.#write('managed-identity');
    const current = await this.getManagedIdentity(name);
    if (!current) throw new NotFoundError(`managed identity "${name}" does not exist`);
    if (patch.status) checkStatus('identity status', patch.status, ['active', 'disabled']);
    if (patch.tags) checkTags(patch.tags);
    const r = await this.#db
      .updateTable('managed_identities')
      .set({
        status: patch.status ?? current.status,
        tags: json(patch.tags ?? current.tags),
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('id', '=', current.id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return this.#stale(`managed identity "${name}"`, current, expectedVersion);
    return toIdentity(r);
  }

  /** Deletes an identity with its policies, assignments and sessions (it dies with its resource). */
  async deleteManagedIdentity(name: string, expectedVersion: number): Promise<void> {
    const now = this.#write('managed-identity');
    const current = await this.getManagedIdentity(name);
    if (!current) throw new NotFoundError(`managed identity "${name}" does not exist`);
    if (current.version !== expectedVersion)
      return this.#stale(`managed identity "${name}"`, current, expectedVersion);
    await this.#purgePrincipal(current.arn, now);
    await this.#db.deleteFrom('managed_identities').where('id', '=', current.id).execute();
  }

  // ---- managed policies -----------------------------------------------------------------

  async #policyRow(arn: string): Promise<Row<'policies'> | undefined> {
    return this.#db.selectFrom('policies').selectAll().where('arn', '=', arn).executeTakeFirst();
  }

  async #requirePolicy(arn: string): Promise<Row<'policies'>> {
    const r = await this.#policyRow(arn);
    if (!r) throw new NotFoundError(`managed policy ${arn} does not exist`);
    return r;
  }

  async #attachmentCount(arn: string): Promise<number> {
    const r = await this.#db
      .selectFrom('policy_attachments')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('policy_arn', '=', arn)
      .executeTakeFirstOrThrow();
    return Number(r.n);
  }

  /** Creates a managed policy with its document as version v1, the default. */
  async createPolicy(input: NewManagedPolicy): Promise<ManagedPolicy> {
    const now = this.#write('policy');
    checkName('policy', input.name, NAME_128);
    const path = input.path ?? '/';
    checkPath(path);
    const tags = input.tags ?? {};
    checkTags(tags);
    if (typeof input.document !== 'string' || !input.document)
      throw new InputError('a policy needs a document');
    const row: Row<'policies'> = {
      id: uniqueId('ANPA'),
      name: input.name,
      name_key: input.name.toLowerCase(),
      path,
      arn: iamArn(this.#ctx.accountId, 'policy', input.name, path),
      description: input.description ?? '',
      default_version_id: 'v1',
      next_version: 2,
      tags: json(tags),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await this.#unique(`policy "${input.name}"`, () => this.#db.insertInto('policies').values(row).execute());
    await this.#db
      .insertInto('policy_versions')
      .values({ policy_id: row.id, version_id: 'v1', document: input.document, created_at: now })
      .execute();
    return toPolicy(row, 0);
  }

  /** A managed policy by ARN, or undefined. */
  async getPolicy(arn: string): Promise<ManagedPolicy | undefined> {
    const r = await this.#policyRow(arn);
    return r && toPolicy(r, await this.#attachmentCount(arn));
  }

  /** A managed policy by name (names are unique per account), or undefined. */
  async findPolicyByName(name: string): Promise<ManagedPolicy | undefined> {
    const r = await this.#db
      .selectFrom('policies')
      .selectAll()
      .where('name_key', '=', name.toLowerCase())
      .executeTakeFirst();
    return r && toPolicy(r, await this.#attachmentCount(r.arn));
  }

  /** Managed policies, by name. */
  async listPolicies(): Promise<ManagedPolicy[]> {
    const rows = await this.#db.selectFrom('policies').selectAll().orderBy('name_key').execute();
    const counts = await this.#db
      .selectFrom('policy_attachments')
      .select(['policy_arn', (eb) => eb.fn.countAll<number>().as('n')])
      .groupBy('policy_arn')
      .execute();
    const byArn = new Map(counts.map((c) => [c.policy_arn, Number(c.n)]));
    return rows.map((r) => toPolicy(r, byArn.get(r.arn) ?? 0));
  }

  /** Changes a policy's description or tags at `expectedVersion`. */
  async updatePolicy(
    arn: string,
    expectedVersion: number,
    patch: { description?: string; tags?: Tags },
  ): Promise<ManagedPolicy> {
    const now = this.#write('policy');
    const current = await this.#requirePolicy(arn);
    if (patch.tags) checkTags(patch.tags);
    const r = await this.#db
      .updateTable('policies')
      .set({
        description: patch.description ?? current.description,
        tags: patch.tags ? json(patch.tags) : current.tags,
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('id', '=', current.id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return this.#stale(`policy ${arn}`, current, expectedVersion);
    return toPolicy(r, await this.#attachmentCount(arn));
  }

  /**
   * Deletes a managed policy with all its versions. Refused while it is attached or used as a
   * permissions boundary (AWS DeleteConflict).
   */
  async deletePolicy(arn: string, expectedVersion: number): Promise<void> {
    this.#write('policy');
    const current = await this.#requirePolicy(arn);
    if (current.version !== expectedVersion) return this.#stale(`policy ${arn}`, current, expectedVersion);
    const attached = await this.#attachmentCount(arn);
    const boundaryUsers = await this.#db
      .selectFrom('users')
      .select('name')
      .where('permissions_boundary_arn', '=', arn)
      .execute();
    const boundaryRoles = await this.#db
      .selectFrom('roles')
      .select('name')
      .where('permissions_boundary_arn', '=', arn)
      .execute();
    if (attached || boundaryUsers.length || boundaryRoles.length) {
      throw new ConflictError(
        `policy ${arn} is attached to ${attached} principals and is the permissions boundary of ` +
          `${boundaryUsers.length + boundaryRoles.length}; detach it first`,
        { code: 'ERR_DELETE_CONFLICT' },
      );
    }
    await this.#db.deleteFrom('policy_versions').where('policy_id', '=', current.id).execute();
    await this.#db.deleteFrom('policies').where('id', '=', current.id).execute();
  }

  /**
   * Adds a version to a managed policy; at most five may exist (AWS: delete one first).
   * Version ids are never reused: v1, v2, … in order of creation.
   */
  async createPolicyVersion(
    arn: string,
    document: string,
    options: { setAsDefault?: boolean; expectedVersion?: number } = {},
  ): Promise<PolicyVersion> {
    const now = this.#write('policy');
    const p = await this.#requirePolicy(arn);
    if (typeof document !== 'string' || !document) throw new InputError('a policy version needs a document');
    const count = await this.#db
      .selectFrom('policy_versions')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where('policy_id', '=', p.id)
      .executeTakeFirstOrThrow();
    if (Number(count.n) >= STORE_LIMITS.versionsPerPolicy) {
      throw new LimitExceededError(
        `policy ${arn} already has ${STORE_LIMITS.versionsPerPolicy} versions, the most AWS allows; delete a non-default version first`,
      );
    }
    const versionId = `v${p.next_version}`;
    const expected = options.expectedVersion ?? p.version;
    // Bumping the policy row serializes concurrent version creations (and honours the caller's ETag).
    const r = await this.#db
      .updateTable('policies')
      .set({
        next_version: p.next_version + 1,
        default_version_id: options.setAsDefault ? versionId : p.default_version_id,
        version: expected + 1,
        updated_at: now,
      })
      .where('id', '=', p.id)
      .where('version', '=', expected)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0)
      return this.#stale(`policy ${arn}`, await this.#policyRow(arn), expected);
    await this.#db
      .insertInto('policy_versions')
      .values({ policy_id: p.id, version_id: versionId, document, created_at: now })
      .execute();
    return { policyArn: arn, versionId, document, isDefault: Boolean(options.setAsDefault), createdAt: now };
  }

  /** One version of a policy. */
  async getPolicyVersion(arn: string, versionId: string): Promise<PolicyVersion | undefined> {
    const p = await this.#policyRow(arn);
    if (!p) return undefined;
    const v = await this.#db
      .selectFrom('policy_versions')
      .selectAll()
      .where('policy_id', '=', p.id)
      .where('version_id', '=', versionId)
      .executeTakeFirst();
    return (
      v && {
        policyArn: arn,
        versionId: v.version_id,
        document: v.document,
        isDefault: v.version_id === p.default_version_id,
        createdAt: v.created_at,
      }
    );
  }

  /** All versions of a policy, oldest first. */
  async listPolicyVersions(arn: string): Promise<PolicyVersion[]> {
    const p = await this.#requirePolicy(arn);
    const rows = await this.#db
      .selectFrom('policy_versions')
      .selectAll()
      .where('policy_id', '=', p.id)
      .execute();
    return rows
      .map((v) => ({
        policyArn: arn,
        versionId: v.version_id,
        document: v.document,
        isDefault: v.version_id === p.default_version_id,
        createdAt: v.created_at,
      }))
      .sort((a, b) => Number(a.versionId.slice(1)) - Number(b.versionId.slice(1)));
  }

  /** Makes `versionId` the default version, at the policy's `expectedVersion`. */
  async setDefaultPolicyVersion(
    arn: string,
    versionId: string,
    expectedVersion: number,
  ): Promise<ManagedPolicy> {
    const now = this.#write('policy');
    const p = await this.#requirePolicy(arn);
    if (!(await this.getPolicyVersion(arn, versionId))) {
      throw new NotFoundError(`policy ${arn} has no version ${versionId}`);
    }
    const r = await this.#db
      .updateTable('policies')
      .set({ default_version_id: versionId, version: expectedVersion + 1, updated_at: now })
      .where('id', '=', p.id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return this.#stale(`policy ${arn}`, p, expectedVersion);
    return toPolicy(r, await this.#attachmentCount(arn));
  }

  /** Deletes a non-default version (AWS refuses deleting the default version). */
  async deletePolicyVersion(arn: string, versionId: string): Promise<void> {
    this.#write('policy');
    const p = await this.#requirePolicy(arn);
    if (p.default_version_id === versionId) {
      throw new ConflictError(
        `${versionId} is the default version of ${arn}; make another version the default first, or delete the policy`,
        { code: 'ERR_DELETE_CONFLICT' },
      );
    }
    const r = await this.#db
      .deleteFrom('policy_versions')
      .where('policy_id', '=', p.id)
      .where('version_id', '=', versionId)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`policy ${arn} has no version ${versionId}`);
  }

  // ---- inline policies and attachments --------------------------------------------------

  /**
   * Creates or replaces an inline policy (AWS PutUserPolicy/PutRolePolicy/PutGroupPolicy).
   * With `expectedVersion` the replace is conditional; null means "must not exist yet".
   */
  async putInlinePolicy(
    principalArn: string,
    name: string,
    document: string,
    expectedVersion?: number | null,
  ): Promise<InlinePolicy> {
    const now = this.#write('inline-policy');
    checkName('policy', name, NAME_128);
    if (typeof document !== 'string' || !document) throw new InputError('an inline policy needs a document');
    await this.#requirePrincipal(principalArn);
    const current = await this.getInlinePolicy(principalArn, name);
    const what = `inline policy "${name}" of ${principalArn}`;
    if (expectedVersion === null && current) throw new ConflictError(`${what} already exists`);
    if (typeof expectedVersion === 'number' && current?.version !== expectedVersion) {
      return this.#stale(what, current, expectedVersion);
    }
    if (!current) {
      const row = {
        principal_arn: principalArn,
        name,
        document,
        version: 1,
        created_at: now,
        updated_at: now,
      };
      await this.#unique(what, () => this.#db.insertInto('inline_policies').values(row).execute());
      return toInline(row);
    }
    const r = await this.#db
      .updateTable('inline_policies')
      .set({ document, version: current.version + 1, updated_at: now })
      .where('principal_arn', '=', principalArn)
      .where('name', '=', name)
      .where('version', '=', current.version)
      .returningAll()
      .executeTakeFirst();
    if (!r) return this.#stale(what, await this.getInlinePolicy(principalArn, name), current.version);
    return toInline(r);
  }

  /** One inline policy, or undefined. */
  async getInlinePolicy(principalArn: string, name: string): Promise<InlinePolicy | undefined> {
    const r = await this.#db
      .selectFrom('inline_policies')
      .selectAll()
      .where('principal_arn', '=', principalArn)
      .where('name', '=', name)
      .executeTakeFirst();
    return r && toInline(r);
  }

  /** The inline policies of a principal. */
  async listInlinePolicies(principalArn: string): Promise<InlinePolicy[]> {
    const rows = await this.#db
      .selectFrom('inline_policies')
      .selectAll()
      .where('principal_arn', '=', principalArn)
      .orderBy('name')
      .execute();
    return rows.map(toInline);
  }

  /** Deletes an inline policy. */
  async deleteInlinePolicy(principalArn: string, name: string): Promise<void> {
    this.#write('inline-policy');
    const r = await this.#db
      .deleteFrom('inline_policies')
      .where('principal_arn', '=', principalArn)
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0)
      throw new NotFoundError(`${principalArn} has no inline policy "${name}"`);
  }

  /** Attaches a managed policy to a principal; attaching twice is a no-op (AWS AttachUserPolicy). */
  async attachPolicy(principalArn: string, policyArn: string): Promise<void> {
    const now = this.#write('attachment');
    await this.#requirePrincipal(principalArn);
    await this.#requirePolicy(policyArn);
    const existing = await this.listAttachedPolicies(principalArn);
    if (existing.some((a) => a.policyArn === policyArn)) return;
    if (existing.length >= STORE_LIMITS.managedPoliciesPerPrincipal) {
      throw new LimitExceededError(
        `${principalArn} already has ${existing.length} managed policies attached, the most allowed; detach one first`,
      );
    }
    await this.#db
      .insertInto('policy_attachments')
      .values({ principal_arn: principalArn, policy_arn: policyArn, created_at: now })
      .onConflict((oc) => oc.columns(['principal_arn', 'policy_arn']).doNothing())
      .execute();
  }

  /** Detaches a managed policy; NotFound if it was not attached. */
  async detachPolicy(principalArn: string, policyArn: string): Promise<void> {
    this.#write('attachment');
    const r = await this.#db
      .deleteFrom('policy_attachments')
      .where('principal_arn', '=', principalArn)
      .where('policy_arn', '=', policyArn)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0)
      throw new NotFoundError(`policy ${policyArn} is not attached to ${principalArn}`);
  }

  /** The managed policies attached to a principal. */
  async listAttachedPolicies(principalArn: string): Promise<PolicyAttachment[]> {
    const rows = await this.#db
      .selectFrom('policy_attachments')
      .selectAll()
      .where('principal_arn', '=', principalArn)
      .orderBy('policy_arn')
      .execute();
    return rows.map(toAttachment);
  }

  /** The principals a managed policy is attached to (AWS ListEntitiesForPolicy). */
  async listPolicyAttachments(policyArn: string): Promise<PolicyAttachment[]> {
    const rows = await this.#db
      .selectFrom('policy_attachments')
      .selectAll()
      .where('policy_arn', '=', policyArn)
      .orderBy('principal_arn')
      .execute();
    return rows.map(toAttachment);
  }

  // ---- access keys ----------------------------------------------------------------------

  /** Stores a new access key for a user; a user holds at most two (AWS quota). */
  async createAccessKey(input: NewAccessKey): Promise<AccessKey> {
    const now = this.#write('access-key');
    const u = await this.#requireUser(input.userName);
    const status = input.status ?? 'Active';
    checkStatus('access key status', status, ['Active', 'Inactive']);
    if (!(input.secretCiphertext instanceof Uint8Array) || input.secretCiphertext.length === 0) {
      throw new InputError('an access key needs its encrypted secret');
    }
    // Lock the user row first so that two concurrent creations cannot both pass the count.
    await this.#db.updateTable('users').set({ updated_at: now }).where('id', '=', u.id).execute();
    const keys = await this.#db
      .selectFrom('access_keys')
      .select('access_key_id')
      .where('user_id', '=', u.id)
      .execute();
    if (keys.length >= STORE_LIMITS.accessKeysPerUser) {
      throw new LimitExceededError(
        `user "${u.name}" already has ${keys.length} access keys, the most AWS allows; delete one before creating another`,
      );
    }
    const row: Row<'access_keys'> = {
      access_key_id: input.accessKeyId,
      user_id: u.id,
      status,
      secret_ciphertext: input.secretCiphertext,
      version: 1,
      created_at: now,
      last_used_at: null,
      last_used_service: null,
    };
    await this.#unique(`access key ${input.accessKeyId}`, () =>
      this.#db.insertInto('access_keys').values(row).execute(),
    );
    return this.#toAccessKey(row, u);
  }

  #toAccessKey(r: Row<'access_keys'>, u: { name: string; arn: string }): AccessKey {
    return {
      accessKeyId: r.access_key_id,
      userName: u.name,
      userArn: u.arn,
      status: r.status as AccessKey['status'],
      secretCiphertext: r.secret_ciphertext,
      version: r.version,
      createdAt: r.created_at,
      lastUsedAt: r.last_used_at,
      lastUsedService: r.last_used_service,
    };
  }

  /** An access key with its owner, or undefined. */
  async getAccessKey(accessKeyId: string): Promise<AccessKey | undefined> {
    const r = await this.#db
      .selectFrom('access_keys')
      .innerJoin('users', 'users.id', 'access_keys.user_id')
      .selectAll('access_keys')
      .select(['users.name as user_name', 'users.arn as user_arn'])
      .where('access_key_id', '=', accessKeyId)
      .executeTakeFirst();
    return r && this.#toAccessKey(r, { name: r.user_name, arn: r.user_arn });
  }

  /** A user's access keys, oldest first. */
  async listAccessKeys(userName: string): Promise<AccessKey[]> {
    const u = await this.#requireUser(userName);
    const rows = await this.#db
      .selectFrom('access_keys')
      .selectAll()
      .where('user_id', '=', u.id)
      .orderBy('created_at')
      .orderBy('access_key_id')
      .execute();
    return rows.map((r) => this.#toAccessKey(r, u));
  }

  /** Activates or deactivates a key at `expectedVersion`. */
  async updateAccessKeyStatus(
    accessKeyId: string,
    status: AccessKey['status'],
    expectedVersion: number,
  ): Promise<AccessKey> {
    this.#write('access-key');
    checkStatus('access key status', status, ['Active', 'Inactive']);
    const r = await this.#db
      .updateTable('access_keys')
      .set({ status, version: expectedVersion + 1 })
      .where('access_key_id', '=', accessKeyId)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) {
      return this.#stale(`access key ${accessKeyId}`, await this.getAccessKey(accessKeyId), expectedVersion);
    }
    return (await this.getAccessKey(accessKeyId))!;
  }

  /** Deletes an access key. */
  async deleteAccessKey(accessKeyId: string): Promise<void> {
    this.#write('access-key');
    const r = await this.#db
      .deleteFrom('access_keys')
      .where('access_key_id', '=', accessKeyId)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`access key ${accessKeyId} does not exist`);
  }

  /**
   * Records a key's last use (AWS GetAccessKeyLastUsed). Telemetry: it does not bump the
   * revision, since no access decision depends on it.
   */
  async recordAccessKeyUse(accessKeyId: string, at: number, service: string): Promise<void> {
    this.#write(null);
    await this.#db
      .updateTable('access_keys')
      .set({ last_used_at: at, last_used_service: service })
      .where('access_key_id', '=', accessKeyId)
      .execute();
  }

  // ---- temporary sessions ---------------------------------------------------------------

  /** Stores temporary credentials issued by STS. */
  async createSession(input: NewTemporarySession): Promise<TemporarySession> {
    const now = this.#write('session');
    if (!(input.secretCiphertext instanceof Uint8Array) || input.secretCiphertext.length === 0) {
      throw new InputError('a session needs its encrypted secret');
    }
    if (!(input.expiresAt > now)) throw new InputError('a session must expire in the future');
    const row: Row<'sessions'> = {
      access_key_id: input.accessKeyId,
      secret_ciphertext: input.secretCiphertext,
      session_token_hash: input.sessionTokenHash,
      principal_arn: input.principalArn,
      role_arn: input.roleArn ?? null,
      role_session_name: input.roleSessionName ?? null,
      source_identity: input.sourceIdentity ?? null,
      session_policy: input.sessionPolicy ?? null,
      session_tags: json(input.sessionTags ?? {}),
      created_at: now,
      expires_at: input.expiresAt,
      revoked_at: null,
    };
    await this.#unique(`session ${input.accessKeyId}`, () =>
      this.#db.insertInto('sessions').values(row).execute(),
    );
    return toSession(row);
  }

  /** A session by its temporary access key id (expired and revoked ones included). */
  async getSession(accessKeyId: string): Promise<TemporarySession | undefined> {
    const r = await this.#db
      .selectFrom('sessions')
      .selectAll()
      .where('access_key_id', '=', accessKeyId)
      .executeTakeFirst();
    return r && toSession(r);
  }

  /** Sessions of a principal (the caller of AssumeRole) or of a role. */
  async listSessions(by: { principalArn?: string; roleArn?: string }): Promise<TemporarySession[]> {
    let q = this.#db.selectFrom('sessions').selectAll().orderBy('created_at');
    if (by.principalArn) q = q.where('principal_arn', '=', by.principalArn);
    if (by.roleArn) q = q.where('role_arn', '=', by.roleArn);
    return (await q.execute()).map(toSession);
  }

  /** Revokes one session. */
  async revokeSession(accessKeyId: string): Promise<void> {
    const now = this.#write('session');
    const r = await this.#db
      .updateTable('sessions')
      .set({ revoked_at: now })
      .where('access_key_id', '=', accessKeyId)
      .where('revoked_at', 'is', null)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0 && !(await this.getSession(accessKeyId))) {
      throw new NotFoundError(`session ${accessKeyId} does not exist`);
    }
  }

  /** Revokes every live session of a principal or role; returns how many. */
  async revokeSessions(by: { principalArn?: string; roleArn?: string }): Promise<number> {
    const now = this.#write('session');
    if (!by.principalArn && !by.roleArn)
      throw new InputError('revokeSessions needs a principalArn or a roleArn');
    let q = this.#db.updateTable('sessions').set({ revoked_at: now }).where('revoked_at', 'is', null);
    if (by.principalArn) q = q.where('principal_arn', '=', by.principalArn);
    if (by.roleArn) q = q.where('role_arn', '=', by.roleArn);
    return Number((await q.executeTakeFirst()).numUpdatedRows);
  }

  /** Deletes sessions that expired before `before`; returns how many. */
  async deleteExpiredSessions(before: number): Promise<number> {
    this.#write(null);
    const r = await this.#db.deleteFrom('sessions').where('expires_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  // ---- bearer keys ----------------------------------------------------------------------

  /** Stores a bearer key by its hash. */
  async createBearerKey(input: NewBearerKey): Promise<BearerKey> {
    const now = this.#write('bearer-key');
    const status = input.status ?? 'Active';
    checkStatus('bearer key status', status, ['Active', 'Inactive']);
    if (!input.hash) throw new InputError('a bearer key needs its hash');
    const row: Row<'bearer_keys'> = {
      id: input.id,
      hash: input.hash,
      owner_arn: input.ownerArn,
      purpose: input.purpose,
      status,
      version: 1,
      created_at: now,
    };
    await this.#unique(`bearer key ${input.id}`, () =>
      this.#db.insertInto('bearer_keys').values(row).execute(),
    );
    return toBearerKey(row);
  }

  /** A bearer key by id or by hash. */
  async getBearerKey(by: { id: string } | { hash: string }): Promise<BearerKey | undefined> {
    const q = this.#db.selectFrom('bearer_keys').selectAll();
    const r = await ('id' in by
      ? q.where('id', '=', by.id)
      : q.where('hash', '=', by.hash)
    ).executeTakeFirst();
    return r && toBearerKey(r);
  }

  /** Bearer keys of an owner, optionally of one purpose. */
  async listBearerKeys(by: { ownerArn?: string; purpose?: string } = {}): Promise<BearerKey[]> {
    let q = this.#db.selectFrom('bearer_keys').selectAll().orderBy('created_at').orderBy('id');
    if (by.ownerArn) q = q.where('owner_arn', '=', by.ownerArn);
    if (by.purpose) q = q.where('purpose', '=', by.purpose);
    return (await q.execute()).map(toBearerKey);
  }

  /** Activates or deactivates a bearer key at `expectedVersion`. */
  async updateBearerKeyStatus(
    id: string,
    status: BearerKey['status'],
    expectedVersion: number,
  ): Promise<BearerKey> {
    this.#write('bearer-key');
    checkStatus('bearer key status', status, ['Active', 'Inactive']);
    const r = await this.#db
      .updateTable('bearer_keys')
      .set({ status, version: expectedVersion + 1 })
      .where('id', '=', id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return this.#stale(`bearer key ${id}`, await this.getBearerKey({ id }), expectedVersion);
    return toBearerKey(r);
  }

  /** Deletes a bearer key. */
  async deleteBearerKey(id: string): Promise<void> {
    this.#write('bearer-key');
    const r = await this.#db.deleteFrom('bearer_keys').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`bearer key ${id} does not exist`);
  }

  // ---- OIDC signing keys and trusted issuers --------------------------------------------

  /** Stores a new signing key of aiam's OIDC issuer. */
  async createSigningKey(input: NewSigningKey): Promise<SigningKey> {
    const now = this.#write('signing-key');
    const row: Row<'signing_keys'> = {
      kid: input.kid,
      alg: input.alg,
      private_jwk_ciphertext: input.privateJwkCiphertext,
      public_jwk: input.publicJwk,
      created_at: now,
      not_after: input.notAfter ?? null,
      retired_at: null,
    };
    await this.#unique(`signing key ${input.kid}`, () =>
      this.#db.insertInto('signing_keys').values(row).execute(),
    );
    return toSigningKey(row);
  }

  /** Signing keys, newest first (retired ones included: they stay published until their tokens expire). */
  async listSigningKeys(): Promise<SigningKey[]> {
    const rows = await this.#db
      .selectFrom('signing_keys')
      .selectAll()
      .orderBy('created_at', 'desc')
      .orderBy('kid')
      .execute();
    return rows.map(toSigningKey);
  }

  /** Withdraws a key from signing at `at`. */
  async retireSigningKey(kid: string, at: number): Promise<void> {
    this.#write('signing-key');
    const r = await this.#db
      .updateTable('signing_keys')
      .set({ retired_at: at })
      .where('kid', '=', kid)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 0) throw new NotFoundError(`signing key ${kid} does not exist`);
  }

  /** Deletes a signing key (after its last token expired). */
  async deleteSigningKey(kid: string): Promise<void> {
    this.#write('signing-key');
    const r = await this.#db.deleteFrom('signing_keys').where('kid', '=', kid).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`signing key ${kid} does not exist`);
  }

  /** Trusts an external OIDC issuer. */
  async createTrustedIssuer(input: NewTrustedIssuer): Promise<TrustedIssuer> {
    const now = this.#write('trusted-issuer');
    if (!/^https?:\/\/\S+$/.test(input.issuer))
      throw new InputError(`issuer "${input.issuer}" must be an http(s) URL`);
    if (!input.jwks && !input.jwksUri)
      throw new InputError('a trusted issuer needs its keys: jwks or jwksUri');
    const row: Row<'trusted_issuers'> = {
      issuer: input.issuer,
      audiences: json(input.audiences ?? []),
      jwks: input.jwks ?? null,
      jwks_uri: input.jwksUri ?? null,
      subject_mapping: json(input.subjectMapping ?? {}),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await this.#unique(`trusted issuer ${input.issuer}`, () =>
      this.#db.insertInto('trusted_issuers').values(row).execute(),
    );
    return toIssuer(row);
  }

  /** A trusted issuer by its URL. */
  async getTrustedIssuer(issuer: string): Promise<TrustedIssuer | undefined> {
    const r = await this.#db
      .selectFrom('trusted_issuers')
      .selectAll()
      .where('issuer', '=', issuer)
      .executeTakeFirst();
    return r && toIssuer(r);
  }

  /** All trusted issuers. */
  async listTrustedIssuers(): Promise<TrustedIssuer[]> {
    return (await this.#db.selectFrom('trusted_issuers').selectAll().orderBy('issuer').execute()).map(
      toIssuer,
    );
  }

  /** Changes a trusted issuer at `expectedVersion`. */
  async updateTrustedIssuer(
    issuer: string,
    expectedVersion: number,
    patch: Partial<Omit<NewTrustedIssuer, 'issuer'>>,
  ): Promise<TrustedIssuer> {
    const now = this.#write('trusted-issuer');
    const current = await this.getTrustedIssuer(issuer);
    if (!current) throw new NotFoundError(`trusted issuer ${issuer} does not exist`);
    const r = await this.#db
      .updateTable('trusted_issuers')
      .set({
        audiences: json(patch.audiences ?? current.audiences),
        jwks: patch.jwks === undefined ? current.jwks : patch.jwks,
        jwks_uri: patch.jwksUri === undefined ? current.jwksUri : patch.jwksUri,
        subject_mapping: json(
          patch.subjectMapping === undefined ? current.subjectMapping : patch.subjectMapping,
        ),
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('issuer', '=', issuer)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return this.#stale(`trusted issuer ${issuer}`, current, expectedVersion);
    return toIssuer(r);
  }

  /** Stops trusting an issuer. */
  async deleteTrustedIssuer(issuer: string, expectedVersion: number): Promise<void> {
    this.#write('trusted-issuer');
    const r = await this.#db
      .deleteFrom('trusted_issuers')
      .where('issuer', '=', issuer)
      .where('version', '=', expectedVersion)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) {
      return this.#stale(`trusted issuer ${issuer}`, await this.getTrustedIssuer(issuer), expectedVersion);
    }
  }

  // ---- role definitions, role and deny assignments --------------------------------------

  /** Creates a custom role definition. */
  async createRoleDefinition(input: NewRoleDefinition): Promise<RoleDefinition> {
    const now = this.#write('role-definition');
    checkName('role definition', input.name, NAME_128);
    const row: Row<'role_definitions'> = {
      id: input.id ?? randomUUID(),
      name: input.name,
      name_key: input.name.toLowerCase(),
      description: input.description ?? '',
      permissions: json(permissions(input.permissions)),
      assignable_scopes: json(input.assignableScopes ?? ['*']),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await this.#unique(`role definition "${input.name}"`, () =>
      this.#db.insertInto('role_definitions').values(row).execute(),
    );
    return toRoleDefinition(row);
  }

  /** A role definition by name or id. */
  async getRoleDefinition(nameOrId: string): Promise<RoleDefinition | undefined> {
    const r = await this.#db
      .selectFrom('role_definitions')
      .selectAll()
      .where((eb) => eb.or([eb('name_key', '=', nameOrId.toLowerCase()), eb('id', '=', nameOrId)]))
      .executeTakeFirst();
    return r && toRoleDefinition(r);
  }

  /** Role definitions, by name. */
  async listRoleDefinitions(): Promise<RoleDefinition[]> {
    return (await this.#db.selectFrom('role_definitions').selectAll().orderBy('name_key').execute()).map(
      toRoleDefinition,
    );
  }

  /** Changes a role definition at `expectedVersion`. */
  async updateRoleDefinition(
    nameOrId: string,
    expectedVersion: number,
    patch: { description?: string; permissions?: Partial<RolePermissions>; assignableScopes?: string[] },
  ): Promise<RoleDefinition> {
    const now = this.#write('role-definition');
    const current = await this.getRoleDefinition(nameOrId);
    if (!current) throw new NotFoundError(`role definition "${nameOrId}" does not exist`);
    const r = await this.#db
      .updateTable('role_definitions')
      .set({
        description: patch.description ?? current.description,
        permissions: json(patch.permissions ? permissions(patch.permissions) : current.permissions),
        assignable_scopes: json(patch.assignableScopes ?? current.assignableScopes),
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('id', '=', current.id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return this.#stale(`role definition "${nameOrId}"`, current, expectedVersion);
    return toRoleDefinition(r);
  }

  /** Deletes a role definition; refused while it is assigned. */
  async deleteRoleDefinition(nameOrId: string, expectedVersion: number): Promise<void> {
    this.#write('role-definition');
    const current = await this.getRoleDefinition(nameOrId);
    if (!current) throw new NotFoundError(`role definition "${nameOrId}" does not exist`);
    if (current.version !== expectedVersion)
      return this.#stale(`role definition "${nameOrId}"`, current, expectedVersion);
    const used = await this.#db
      .selectFrom('role_assignments')
      .select('id')
      .where('role_definition_id', '=', current.id)
      .execute();
    if (used.length) {
      throw new ConflictError(
        `role definition "${current.name}" is used by ${used.length} role assignments; delete them first`,
        {
          code: 'ERR_DELETE_CONFLICT',
        },
      );
    }
    await this.#db.deleteFrom('role_definitions').where('id', '=', current.id).execute();
  }

  /** Assigns a role definition to a principal at a scope; the same triple twice is a ConflictError. */
  async createRoleAssignment(input: NewRoleAssignment): Promise<RoleAssignment> {
    const now = this.#write('role-assignment');
    const def = await this.getRoleDefinition(input.roleDefinition);
    if (!def) throw new NotFoundError(`role definition "${input.roleDefinition}" does not exist`);
    if (!input.scope) throw new InputError('a role assignment needs a scope');
    const row: Row<'role_assignments'> = {
      id: input.id ?? randomUUID(),
      principal_arn: input.principalArn,
      role_definition_id: def.id,
      scope: input.scope,
      condition: input.condition ?? null,
      created_at: now,
    };
    await this.#unique(`an assignment of "${def.name}" to ${input.principalArn} at ${input.scope}`, () =>
      this.#db.insertInto('role_assignments').values(row).execute(),
    );
    return this.#toAssignment(row, def.name);
  }

  #toAssignment(r: Row<'role_assignments'>, roleDefinitionName: string): RoleAssignment {
    return {
      id: r.id,
      principalArn: r.principal_arn,
      roleDefinitionId: r.role_definition_id,
      roleDefinitionName,
      scope: r.scope,
      condition: r.condition,
      createdAt: r.created_at,
    };
  }

  /** Role assignments, optionally of one principal or at one scope. */
  async listRoleAssignments(by: { principalArn?: string; scope?: string } = {}): Promise<RoleAssignment[]> {
    let q = this.#db
      .selectFrom('role_assignments')
      .innerJoin('role_definitions', 'role_definitions.id', 'role_assignments.role_definition_id')
      .selectAll('role_assignments')
      .select('role_definitions.name as role_name')
      .orderBy('role_assignments.created_at')
      .orderBy('role_assignments.id');
    if (by.principalArn) q = q.where('role_assignments.principal_arn', '=', by.principalArn);
    if (by.scope) q = q.where('role_assignments.scope', '=', by.scope);
    return (await q.execute()).map((r) => this.#toAssignment(r, r.role_name));
  }

  /** Deletes a role assignment by id. */
  async deleteRoleAssignment(id: string): Promise<void> {
    this.#write('role-assignment');
    const r = await this.#db.deleteFrom('role_assignments').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`role assignment ${id} does not exist`);
  }

  /** Creates a deny assignment. */
  async createDenyAssignment(input: NewDenyAssignment): Promise<DenyAssignment> {
    const now = this.#write('deny-assignment');
    if (!input.scope) throw new InputError('a deny assignment needs a scope');
    if (!input.principalArns?.length)
      throw new InputError('a deny assignment needs at least one principal (or "*")');
    const row: Row<'deny_assignments'> = {
      id: input.id ?? randomUUID(),
      name: input.name,
      scope: input.scope,
      principal_arns: json(input.principalArns),
      excluded_principal_arns: json(input.excludedPrincipalArns ?? []),
      permissions: json(permissions(input.permissions)),
      created_at: now,
    };
    await this.#unique(`deny assignment ${row.id}`, () =>
      this.#db.insertInto('deny_assignments').values(row).execute(),
    );
    return toDenyAssignment(row);
  }

  /** Deny assignments, optionally at one scope. */
  async listDenyAssignments(by: { scope?: string } = {}): Promise<DenyAssignment[]> {
    let q = this.#db.selectFrom('deny_assignments').selectAll().orderBy('created_at').orderBy('id');
    if (by.scope) q = q.where('scope', '=', by.scope);
    return (await q.execute()).map(toDenyAssignment);
  }

  /** Deletes a deny assignment by id. */
  async deleteDenyAssignment(id: string): Promise<void> {
    this.#write('deny-assignment');
    const r = await this.#db.deleteFrom('deny_assignments').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`deny assignment ${id} does not exist`);
  }

  // ---- resource policies ----------------------------------------------------------------

  /**
   * Creates or replaces the policy of a resource (a bucket policy). `expectedVersion` null means
   * "must not exist yet"; a number makes the replace conditional; undefined replaces whatever is there.
   */
  async putResourcePolicy(
    resourceArn: string,
    document: string,
    expectedVersion?: number | null,
  ): Promise<ResourcePolicy> {
    const now = this.#write('resource-policy');
    if (!resourceArn.startsWith('arn:')) throw new InputError(`"${resourceArn}" is not an ARN`);
    if (typeof document !== 'string' || !document) throw new InputError('a resource policy needs a document');
    const current = await this.getResourcePolicy(resourceArn);
    const what = `the policy of ${resourceArn}`;
    if (expectedVersion === null && current) throw new ConflictError(`${what} already exists`);
    if (typeof expectedVersion === 'number' && current?.version !== expectedVersion) {
      return this.#stale(what, current, expectedVersion);
    }
    if (!current) {
      const row = { resource_arn: resourceArn, document, version: 1, created_at: now, updated_at: now };
      await this.#unique(what, () => this.#db.insertInto('resource_policies').values(row).execute());
      return toResourcePolicy(row);
    }
    const r = await this.#db
      .updateTable('resource_policies')
      .set({ document, version: current.version + 1, updated_at: now })
      .where('resource_arn', '=', resourceArn)
      .where('version', '=', current.version)
      .returningAll()
      .executeTakeFirst();
    if (!r) return this.#stale(what, await this.getResourcePolicy(resourceArn), current.version);
    return toResourcePolicy(r);
  }

  /** The policy of a resource, or undefined. */
  async getResourcePolicy(resourceArn: string): Promise<ResourcePolicy | undefined> {
    const r = await this.#db
      .selectFrom('resource_policies')
      .selectAll()
      .where('resource_arn', '=', resourceArn)
      .executeTakeFirst();
    return r && toResourcePolicy(r);
  }

  /** All resource policies. */
  async listResourcePolicies(): Promise<ResourcePolicy[]> {
    return (await this.#db.selectFrom('resource_policies').selectAll().orderBy('resource_arn').execute()).map(
      toResourcePolicy,
    );
  }

  /** Deletes the policy of a resource. */
  async deleteResourcePolicy(resourceArn: string, expectedVersion?: number): Promise<void> {
    this.#write('resource-policy');
    let q = this.#db.deleteFrom('resource_policies').where('resource_arn', '=', resourceArn);
    if (expectedVersion !== undefined) q = q.where('version', '=', expectedVersion);
    const r = await q.executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) {
      const current = await this.getResourcePolicy(resourceArn);
      if (!current) throw new NotFoundError(`${resourceArn} has no resource policy`);
      return this.#stale(`the policy of ${resourceArn}`, current, expectedVersion!);
    }
  }

  // ---- audit ----------------------------------------------------------------------------

  /**
   * Appends audit records in one transaction. Telemetry: it does not bump the revision, so that
   * the audit stream never invalidates the cached access snapshot.
   */
  async appendAudit(records: readonly NewAuditRecord[]): Promise<string[]> {
    this.#write(null);
    if (records.length === 0) return [];
    const rows: Row<'audit_records'>[] = records.map((r) => ({
      id: r.id ?? timeOrderedId(r.time),
      time: r.time,
      request_id: r.requestId ?? null,
      principal: r.principal ?? null,
      action: r.action ?? null,
      resource: r.resource ?? null,
      decision: r.decision ?? null,
      matched_statements: r.matchedStatements === undefined ? null : json(r.matchedStatements),
      source_ip: r.sourceIp ?? null,
      user_agent: r.userAgent ?? null,
      error_code: r.errorCode ?? null,
      extra: r.extra === undefined ? null : json(r.extra),
    }));
    const insert = this.#ctx.insertAuditRows;
    if (insert) {
      insert(rows);
      return rows.map((r) => r.id);
    }
    // One multi-row INSERT per chunk (a VALUES list; a JSON parameter expanded by json_each
    // measured slower on SQLite), chunked to stay under PostgreSQL's bound-parameter limit (65535).
    for (let i = 0; i < rows.length; i += 500) {
      await this.#db
        .insertInto('audit_records')
        .values(rows.slice(i, i + 500))
        .execute();
    }
    return rows.map((r) => r.id);
  }

  /**
   * One audit record by id, or undefined. Decision ids are audit ids (the pipeline, the
   * gateway and the S3 API record each decision under its id), so this finds a decision made
   * on any node, before any restart.
   */
  async getAuditRecord(id: string): Promise<AuditRecord | undefined> {
    const row = await this.#db
      .selectFrom('audit_records')
      .selectAll()
      .where('id', '=', id)
      .executeTakeFirst();
    return row ? toAudit(row) : undefined;
  }

  /** Audit records matching the filters, newest first, one page at a time. */
  async queryAudit(query: AuditQuery = {}): Promise<AuditPage> {
    const limit = Math.min(Math.max(Math.trunc(query.limit ?? 100), 1), 1000);
    let q = this.#db.selectFrom('audit_records').selectAll();
    if (query.from !== undefined) q = q.where('time', '>=', query.from);
    if (query.to !== undefined) q = q.where('time', '<', query.to);
    if (query.principal !== undefined) q = q.where('principal', '=', query.principal);
    if (query.action !== undefined) q = q.where('action', '=', query.action);
    if (query.decision !== undefined) q = q.where('decision', '=', query.decision);
    if (query.cursor) {
      const { time, id } = decodeCursor(query.cursor);
      q = q.where((eb) => eb.or([eb('time', '<', time), eb.and([eb('time', '=', time), eb('id', '<', id)])]));
    }
    const rows = await q
      .orderBy('time', 'desc')
      .orderBy('id', 'desc')
      .limit(limit + 1)
      .execute();
    const records = rows.slice(0, limit).map(toAudit);
    const last = records.at(-1);
    return rows.length > limit && last
      ? { records, nextCursor: encodeCursor(last.time, last.id) }
      : { records };
  }

  // ---- snapshot -------------------------------------------------------------------------

  /**
   * What an access view holds of these users (by ARN), read at the store's revision: their rows
   * (a user that is gone has none), their group memberships and their session-revocation times.
   * One query when the users exist and belong to no group (a new user), up to four otherwise;
   * call it inside a read transaction, like the snapshot.
   */
  async loadUsersOfAccessView(arns: readonly string[]): Promise<AccessViewUsers> {
    if (arns.length === 0)
      return { revision: await this.getRevision(), users: [], memberships: [], revocations: [] };
    const prefix = SESSION_REVOCATION_PREFIX;
    const rows = await this.#db
      .selectFrom('users')
      .selectAll('users')
      .select((eb) => [
        eb.selectFrom('aiam_meta').select('revision').where('id', '=', 1).as('aiam_revision'),
        eb
          .exists(
            eb
              .selectFrom('group_members')
              .select('user_id')
              .whereRef('group_members.user_id', '=', 'users.id'),
          )
          .as('in_groups'),
        eb
          .selectFrom('settings')
          .select('value')
          .where('key', '=', sql<string>`${prefix} || users.arn`)
          .as('revoked_before'),
      ])
      .where('arn', 'in', arns)
      .execute();
    const revision = rows.length > 0 ? Number(rows[0]!.aiam_revision) : await this.getRevision();
    const revocations = rows.flatMap((r) =>
      r.revoked_before === null ? [] : [{ arn: r.arn, value: r.revoked_before }],
    );
    const found = new Set(rows.map((r) => r.arn));
    const gone = arns.filter((a) => !found.has(a));
    if (gone.length > 0) {
      // A deleted user keeps its revocation time (its sessions must not revive).
      const settings = await this.#db
        .selectFrom('settings')
        .select(['key', 'value'])
        .where(
          'key',
          'in',
          gone.map((a) => prefix + a),
        )
        .execute();
      for (const r of settings) revocations.push({ arn: r.key.slice(prefix.length), value: r.value });
    }
    const grouped = rows.filter((r) => Boolean(r.in_groups)).map((r) => r.id);
    const memberships =
      grouped.length === 0
        ? []
        : await this.#db
            .selectFrom('group_members')
            .innerJoin('groups', 'groups.id', 'group_members.group_id')
            .innerJoin('users', 'users.id', 'group_members.user_id')
            .select(['groups.arn as group_arn', 'users.arn as user_arn'])
            .where('group_members.user_id', 'in', grouped)
            .execute();
    return {
      revision,
      users: rows.map(({ aiam_revision: _r, in_groups: _g, revoked_before: _v, ...row }) => toUser(row)),
      memberships: memberships.map((m) => ({ groupArn: m.group_arn, userArn: m.user_arn })),
      revocations,
    };
  }

  /**
   * Everything the policy engine reads. Call it inside a read transaction (Store does) so that
   * the rows and the revision come from one consistent snapshot.
   */
  async loadAccessSnapshot(): Promise<AccessSnapshot> {
    const revision = await this.getRevision();
    const users = (await this.#db.selectFrom('users').selectAll().orderBy('name_key').execute()).map(toUser);
    const groups = await this.listGroups();
    const memberships = await this.#db
      .selectFrom('group_members')
      .innerJoin('groups', 'groups.id', 'group_members.group_id')
      .innerJoin('users', 'users.id', 'group_members.user_id')
      .select(['groups.arn as group_arn', 'users.arn as user_arn'])
      .orderBy('groups.arn')
      .orderBy('users.arn')
      .execute();
    const policies = await this.listPolicies();
    const defaults = await this.#db
      .selectFrom('policy_versions')
      .innerJoin('policies', (j) =>
        j
          .onRef('policies.id', '=', 'policy_versions.policy_id')
          .onRef('policies.default_version_id', '=', 'policy_versions.version_id'),
      )
      .select(['policies.arn as arn', 'policy_versions.document as document'])
      .execute();
    const docs = new Map(defaults.map((d) => [d.arn, d.document]));
    const attachments = (
      await this.#db.selectFrom('policy_attachments').selectAll().orderBy('principal_arn').execute()
    ).map(toAttachment);
    const inlinePolicies = (
      await this.#db
        .selectFrom('inline_policies')
        .selectAll()
        .orderBy('principal_arn')
        .orderBy('name')
        .execute()
    ).map(toInline);
    return {
      revision,
      accountId: this.#ctx.accountId,
      users,
      groups,
      memberships: memberships.map((m) => ({ groupArn: m.group_arn, userArn: m.user_arn })),
      roles: await this.listRoles(),
      managedIdentities: await this.listManagedIdentities(),
      policies: policies.map((p) => ({ ...p, document: docs.get(p.arn) ?? '' })),
      attachments,
      inlinePolicies,
      roleDefinitions: await this.listRoleDefinitions(),
      roleAssignments: await this.listRoleAssignments(),
      denyAssignments: await this.listDenyAssignments(),
      resourcePolicies: await this.listResourcePolicies(),
    };
  }
}

function encodeCursor(time: number, id: string): string {
  return Buffer.from(JSON.stringify([time, id])).toString('base64url');
}

function decodeCursor(cursor: string): { time: number; id: string } {
  try {
    const [time, id] = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as [unknown, unknown];
    if (typeof time === 'number' && typeof id === 'string') return { time, id };
  } catch {
    // fall through to the typed error
  }
  throw new InputError(
    'the audit cursor is malformed; pass back the nextCursor of the previous page unchanged',
  );
}
