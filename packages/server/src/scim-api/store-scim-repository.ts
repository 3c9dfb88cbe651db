import { createHash } from 'node:crypto';
import type { Clock } from '../clock.js';
import { ConflictError, InputError } from '../errors.js';
import type { ScimStoreQuery } from '../scim/scim-filter.js';
import type { ScimFindResult, ScimRepository, StoredScimResource } from '../scim/scim-repository.js';
import type { ScimResource, ScimResourceTypeName } from '../scim/scim-schema.js';
import { revokeSessionsIn } from '../services/iam-service.js';
import type { Store, StoreTransaction } from '../store/store.js';
import type { Group, ScimRecordQuery, ScimResourceRecord, User } from '../store/index.js';

/** Options of {@link StoreScimRepository}. */
export interface StoreScimRepositoryOptions {
  readonly store: Store;
  readonly clock: Clock;
}

// AWS IAM names: [\w+=,.@-], 64 characters for users, 128 for groups.
const NAME_CHAR = /[^\w+=,.@-]/;
const NAME_CHARS = /[^\w+=,.@-]/g;

/**
 * The aiam principal name for a SCIM userName or displayName: the name itself when IAM's grammar
 * allows it (so `${aws:username}` in a policy is the userName the IdP sent), otherwise a
 * sanitized form with a hash of the original, so two distinct SCIM names never collide.
 */
export function principalNameFor(scimName: string, max: 64 | 128): string {
  if (scimName.length <= max && !NAME_CHAR.test(scimName)) return scimName;
  const digest = createHash('sha256').update(scimName.toLowerCase()).digest('hex').slice(0, 10);
  const base = scimName.replace(NAME_CHARS, '_').slice(0, max - digest.length - 1);
  return `${base}-${digest}`;
}

function str(resource: ScimResource, key: string): string | undefined {
  const v = resource[key];
  return typeof v === 'string' ? v : undefined;
}

function required(resource: ScimResource, key: string): string {
  const v = str(resource, key);
  if (v === undefined || v.length === 0) throw new InputError(`${key} is required and must be a string`);
  return v;
}

// RFC 7643 §4.1.1: active defaults to true when absent.
function isActive(resource: ScimResource): boolean {
  return resource.active !== false;
}

function memberIds(resource: ScimResource): string[] {
  const members = resource.members;
  if (!Array.isArray(members)) return [];
  const ids: string[] = [];
  for (const m of members) {
    const v = (m as { value?: unknown } | null)?.value;
    if (typeof v === 'string') ids.push(v);
  }
  return [...new Set(ids)];
}

/** A member id as `findScimMembers` found it: a User (its aiam user, null when gone) or a Group. */
type ResolvedMember = { readonly userId: string | null; readonly userName: string | null } | 'group';

/**
 * The aiam user a member id stands for, or undefined for a Group (aiam groups do not nest: a
 * Group member is kept in the SCIM document only). An unknown id is the client's error.
 */
function requiredMember(
  id: string,
  member: ResolvedMember | undefined,
): { id: string; name: string } | undefined {
  if (member === undefined) throw new InputError(`member "${id}" is not a provisioned User`);
  if (member === 'group') return undefined;
  if (member.userId === null || member.userName === null)
    throw new Error(`the aiam user of a SCIM user (${id}) is gone`);
  return { id: member.userId, name: member.userName };
}

function toRecordQuery(q: ScimStoreQuery): ScimRecordQuery {
  switch (q.kind) {
    case 'all':
      return q;
    case 'and':
    case 'or':
      return { kind: q.kind, queries: q.queries.map(toRecordQuery) };
    case 'eq':
      return {
        kind: 'eq',
        attribute: q.attribute === 'userName' || q.attribute === 'displayName' ? 'name' : q.attribute,
        value: q.value,
        caseExact: q.caseExact,
      };
  }
}

function toStored(r: ScimResourceRecord): StoredScimResource {
  return {
    id: r.id,
    version: r.version,
    created: new Date(r.createdAt).toISOString(),
    lastModified: new Date(r.updatedAt).toISOString(),
    resource: JSON.parse(r.document) as ScimResource,
  };
}

function millis(at: string): number {
  const t = Date.parse(at);
  if (Number.isNaN(t)) throw new InputError(`"${at}" is not an ISO 8601 instant`);
  return t;
}

/**
 * The SCIM repository over the aiam store. A SCIM User is an aiam user (`source: 'scim'`,
 * userName as its name, externalId, `active` as its status) plus its SCIM document; a SCIM Group
 * is an aiam group whose members are the aiam users its `members` name. Every write is one store
 * transaction, so when it returns the change is already in force for the next request
 * (the access snapshot cache reloads on the revision the commit bumped).
 *
 * Deprovisioning (`active` turning false, or DELETE) revokes in that same transaction every access
 * key, bearer key, temporary credential and aiam-issued token of the user. A group whose
 * displayName has SCIM group mappings holds those role assignments on its own ARN, so its
 * membership alone decides who has them.
 */
export class StoreScimRepository implements ScimRepository {
  readonly #store: Store;
  readonly #clock: Clock;

  constructor(options: StoreScimRepositoryOptions) {
    this.#store = options.store;
    this.#clock = options.clock;
  }

  async get(type: ScimResourceTypeName, id: string): Promise<StoredScimResource | undefined> {
    const r = await this.#store.getScimResource(type, id);
    return r && toStored(r);
  }

  async find(
    type: ScimResourceTypeName,
    query: ScimStoreQuery,
    page: { offset: number; limit: number },
  ): Promise<ScimFindResult> {
    const { records, total } = await this.#store.readTransaction((tx) =>
      tx.findScimResources(type, toRecordQuery(query), page),
    );
    return { resources: records.map(toStored), total };
  }

  async create(
    type: ScimResourceTypeName,
    id: string,
    resource: ScimResource,
    at: string,
  ): Promise<StoredScimResource> {
    const createdAt = millis(at);
    return this.#store.transaction(async (tx) => {
      const name = required(resource, type === 'User' ? 'userName' : 'displayName');
      // Checked before the aiam principal is made, so the conflict names the SCIM attribute.
      const taken = await tx.findScimResources(
        type,
        { kind: 'eq', attribute: 'name', value: name, caseExact: false },
        { offset: 0, limit: 0 },
      );
      if (taken.total > 0)
        throw new ConflictError(`${type === 'User' ? 'userName' : 'displayName'} "${name}" is already taken`);
      if (type === 'User') {
        const userName = name;
        const user = await tx.createUser({
          name: principalNameFor(userName, 64),
          source: 'scim',
          externalId: null,
          status: isActive(resource) ? 'active' : 'disabled',
        });
        return toStored(
          await tx.createScimResource({
            resourceType: 'User',
            id,
            principalId: user.id,
            name: userName,
            externalId: str(resource, 'externalId') ?? null,
            document: JSON.stringify(resource),
            createdAt,
          }),
        );
      }
      const displayName = name;
      const group = await tx.createGroup({ name: principalNameFor(displayName, 128) });
      const record = await tx.createScimResource({
        resourceType: 'Group',
        id,
        principalId: group.id,
        name: displayName,
        externalId: str(resource, 'externalId') ?? null,
        document: JSON.stringify(resource),
        createdAt,
      });
      await this.#syncMembers(tx, group, resource);
      await this.#syncMappings(tx, group, undefined, displayName);
      return toStored(record);
    });
  }

  async replace(
    type: ScimResourceTypeName,
    id: string,
    resource: ScimResource,
    expectedVersion: number,
    at: string,
    options: { readonly patch?: boolean } = {},
  ): Promise<StoredScimResource> {
    const updatedAt = millis(at);
    return this.#store.transaction(async (tx) => {
      const name = required(resource, type === 'User' ? 'userName' : 'displayName');
      const before = await tx.getScimResource(type, id);
      const record = await tx.updateScimResource(type, id, expectedVersion, {
        name,
        externalId: str(resource, 'externalId') ?? null,
        document: JSON.stringify(resource),
        updatedAt,
      });
      if (type === 'User') {
        const user = await this.#user(tx, record.principalId);
        const status = isActive(resource) ? 'active' : 'disabled';
        const newName = principalNameFor(name, 64);
        if (user.name !== newName || user.status !== status) {
          await tx.updateUser(user.name, user.version, { name: newName, status });
        }
        if (status === 'disabled') await this.#revokeCredentials(tx, user);
      } else {
        let group = await this.#group(tx, record.principalId);
        const newName = principalNameFor(name, 128);
        if (group.name !== newName)
          group = await tx.updateGroup(group.name, group.version, { name: newName });
        // A PATCH applies the members it added or removed: adding one member to a group of
        // thousands costs that member, not the group. A PUT makes the members exactly its own.
        if (options.patch && before) {
          await this.#applyMemberChanges(tx, group, JSON.parse(before.document) as ScimResource, resource);
        } else {
          await this.#syncMembers(tx, group, resource);
        }
        await this.#syncMappings(tx, group, before?.name, name);
      }
      return toStored(record);
    });
  }

  async delete(type: ScimResourceTypeName, id: string, expectedVersion?: number): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const current = await tx.getScimResource(type, id);
      if (current && expectedVersion !== undefined && current.version !== expectedVersion) {
        // Reuse the store's stale/missing message and error.
        await tx.updateScimResource(type, id, expectedVersion, current);
      }
      await tx.deleteScimResource(type, id);
      if (type === 'User') {
        const user = await this.#user(tx, current!.principalId);
        await this.#revokeCredentials(tx, user);
        await this.#dropFromGroups(tx, user, id);
        await tx.deleteUser(user.name, (await this.#user(tx, user.id)).version, { force: true });
      } else {
        const group = await this.#group(tx, current!.principalId);
        await tx.deleteGroup(group.name, group.version, { force: true });
      }
    });
  }

  async groupsOf(userId: string): Promise<{ id: string; displayName: string }[]> {
    return this.#store.readTransaction(async (tx) => {
      const record = await tx.getScimResource('User', userId);
      if (!record) return [];
      const user = await tx.findUser({ id: record.principalId });
      if (!user) return [];
      const groups = await tx.listGroupsForUser(user.name);
      const records = await tx.findScimResourcesByPrincipal(groups.map((g) => g.id));
      return records
        .filter((r) => r.resourceType === 'Group')
        .map((r) => ({ id: r.id, displayName: r.name }));
    });
  }

  async #user(tx: StoreTransaction, principalId: string): Promise<User> {
    const user = await tx.findUser({ id: principalId });
    if (!user) throw new Error(`the aiam user of a SCIM user (${principalId}) is gone`);
    return user;
  }

  async #group(tx: StoreTransaction, principalId: string): Promise<Group> {
    const group = await tx.findGroup({ id: principalId });
    if (!group) throw new Error(`the aiam group of a SCIM group (${principalId}) is gone`);
    return group;
  }

  /** Every credential of the user stops working when this transaction commits. */
  async #revokeCredentials(tx: StoreTransaction, user: User): Promise<void> {
    for (const key of await tx.listAccessKeys(user.name)) {
      if (key.status === 'Active') await tx.updateAccessKeyStatus(key.accessKeyId, 'Inactive', key.version);
    }
    for (const key of await tx.listBearerKeys({ ownerArn: user.arn })) {
      if (key.status === 'Active') await tx.updateBearerKeyStatus(key.id, 'Inactive', key.version);
    }
    // Temporary credentials (STS sessions) and aiam-issued JWTs are refused when issued before
    // the principal's revocation instant; stored sessions are also marked revoked.
    await tx.revokeSessions({ principalArn: user.arn });
    await revokeSessionsIn(tx, user.arn, this.#clock.now());
  }

  /** Makes the aiam group's members exactly the SCIM users its `members` name. */
  async #syncMembers(tx: StoreTransaction, group: Group, resource: ScimResource): Promise<void> {
    const ids = memberIds(resource);
    const members = await this.#resolveMembers(tx, ids);
    const wanted = new Map<string, string>();
    for (const id of ids) {
      const user = requiredMember(id, members.get(id));
      if (user) wanted.set(user.id, user.name);
    }
    const current = await tx.listGroupMemberIds(group.id);
    for (const u of current) {
      if (!wanted.has(u.id)) await tx.removeUserFromGroup(group.name, u.name);
    }
    const have = new Set(current.map((u) => u.id));
    for (const [uid, name] of wanted) if (!have.has(uid)) await tx.addUserToGroup(group.name, name);
  }

  /** Applies to the aiam group the members `after` adds to `before` and those it drops. */
  async #applyMemberChanges(
    tx: StoreTransaction,
    group: Group,
    before: ScimResource,
    after: ScimResource,
  ): Promise<void> {
    const was = new Set(memberIds(before));
    const now = memberIds(after);
    const is = new Set(now);
    const added = now.filter((id) => !was.has(id));
    const dropped = [...was].filter((id) => !is.has(id));
    if (added.length + dropped.length === 0) return;
    const members = await this.#resolveMembers(tx, [...added, ...dropped]);
    for (const id of dropped) {
      const found = members.get(id);
      // A member since deleted is gone from the group already.
      if (found === undefined || found === 'group' || found.userId === null || found.userName === null)
        continue;
      if (await tx.findGroupMember(group.id, found.userId))
        await tx.removeUserFromGroup(group.name, found.userName);
    }
    for (const id of added) {
      const user = requiredMember(id, members.get(id));
      if (user) await tx.addUserToGroup(group.name, user.name);
    }
  }

  /** What each SCIM member id stands for, in a few queries (see `findScimMembers`). */
  async #resolveMembers(tx: StoreTransaction, ids: readonly string[]): Promise<Map<string, ResolvedMember>> {
    const found = new Map<string, ResolvedMember>();
    for (const m of await tx.findScimMembers(ids)) {
      // An id of both a User and a Group (never made by this service) counts as the User.
      if (m.resourceType === 'User') found.set(m.id, m);
      else if (!found.has(m.id)) found.set(m.id, 'group');
    }
    return found;
  }

  /** Removes a user being deleted from every SCIM group document that lists it. */
  async #dropFromGroups(tx: StoreTransaction, user: User, scimId: string): Promise<void> {
    const groups = await tx.listGroupsForUser(user.name);
    const at = this.#clock.now();
    for (const r of await tx.findScimResourcesByPrincipal(groups.map((g) => g.id))) {
      if (r.resourceType !== 'Group') continue;
      const doc = JSON.parse(r.document) as ScimResource;
      const members = (Array.isArray(doc.members) ? doc.members : []) as { value?: unknown }[];
      const rest = members.filter((m) => m?.value !== scimId);
      if (rest.length > 0) doc.members = rest;
      else delete doc.members;
      await tx.updateScimResource('Group', r.id, r.version, {
        name: r.name,
        externalId: r.externalId,
        document: JSON.stringify(doc),
        updatedAt: at,
      });
    }
  }

  /**
   * Keeps the role assignments of the group's SCIM group mappings on the group's ARN: those of
   * its former displayName go, those of its current one are made (unknown role definitions are
   * skipped: the mapping grants nothing until the role exists). Other assignments are untouched.
   */
  async #syncMappings(
    tx: StoreTransaction,
    group: Group,
    before: string | undefined,
    after: string,
  ): Promise<void> {
    const key = (role: string, scope: string) => `${role.toLowerCase()}\n${scope}`;
    const wanted = new Map<string, { roleDefinition: string; scope: string }>();
    for (const m of await tx.listScimGroupMappings({ groupName: after })) {
      const def = await tx.getRoleDefinition(m.roleDefinition);
      if (def) wanted.set(key(def.name, m.scope), { roleDefinition: def.name, scope: m.scope });
    }
    const existing = await tx.listRoleAssignments({ principalArn: group.arn });
    const has = new Set(existing.map((a) => key(a.roleDefinitionName, a.scope)));
    if (before !== undefined && before.toLowerCase() !== after.toLowerCase()) {
      const stale = new Set<string>();
      for (const m of await tx.listScimGroupMappings({ groupName: before })) {
        const def = await tx.getRoleDefinition(m.roleDefinition);
        if (def) stale.add(key(def.name, m.scope));
      }
      for (const a of existing) {
        const k = key(a.roleDefinitionName, a.scope);
        if (stale.has(k) && !wanted.has(k)) await tx.deleteRoleAssignment(a.id);
      }
    }
    for (const [k, spec] of wanted) {
      if (!has.has(k)) await tx.createRoleAssignment({ principalArn: group.arn, ...spec });
    }
  }
}
