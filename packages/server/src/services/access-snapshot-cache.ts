import {
  AccessModel,
  type AccessModelGroup,
  type AccessModelPrincipal,
  type CompiledPolicy,
  catalog,
  compilePolicy,
  type DenyAssignment as EngineDenyAssignment,
  type RoleAssignment as EngineRoleAssignment,
  type RoleDefinition as EngineRoleDefinition,
  isDataAction,
  type PolicyKind,
  parsePolicyOrThrow,
  type ResourcePolicyAttachment,
} from '@aiam/policy';
import type { Store } from '../store/store.js';
import {
  type AccessSnapshot,
  type AccessViewUsers,
  type Group,
  type ManagedIdentity,
  type ManagedPolicy,
  type Role,
  SESSION_REVOCATION_PREFIX,
  type Setting,
  type StoreChange,
  type User,
} from '../store/store-types.js';

export { SESSION_REVOCATION_PREFIX };

/** A document that could not be compiled while building the model (it grants nothing). */
export interface SnapshotProblem {
  readonly policyId: string;
  readonly message: string;
}

/**
 * One immutable, consistent view of the access data at one store revision: the engine's model
 * and the lookups the resolvers and services need (principals by ARN, compiled managed policies
 * for session `PolicyArns`, session-revocation times). Never mutated after it is built.
 */
export interface AccessView {
  readonly revision: number;
  readonly accountId: string;
  readonly model: AccessModel;
  readonly usersByArn: ReadonlyMap<string, User>;
  readonly usersById: ReadonlyMap<string, User>;
  readonly groupsByArn: ReadonlyMap<string, Group>;
  /** Group ARNs of each user ARN. */
  readonly groupsOfUser: ReadonlyMap<string, readonly string[]>;
  readonly rolesByArn: ReadonlyMap<string, Role>;
  readonly identitiesByArn: ReadonlyMap<string, ManagedIdentity>;
  /** Managed policies by ARN, with their default version's document. */
  readonly policiesByArn: ReadonlyMap<string, ManagedPolicy & { document: string }>;
  /** A managed policy's default version compiled as a session policy (for `PolicyArns`). */
  sessionPolicy(policyArn: string): CompiledPolicy | undefined;
  /** Sessions of this principal issued before this time (ms) are revoked. */
  readonly sessionsRevokedBefore: ReadonlyMap<string, number>;
  /** Stored documents that failed to compile; each was left out of the model. */
  readonly problems: readonly SnapshotProblem[];
  /** How long building this view took, in milliseconds. */
  readonly buildMs: number;
}

/** Options of {@link AccessSnapshotCache}. */
export interface AccessSnapshotCacheOptions {
  /** Called when a stored document cannot be compiled (it is then left out). */
  readonly onProblem?: (problem: SnapshotProblem) => void;
}

/** The policy id of an inline policy in the model and in decisions. */
export function inlinePolicyId(principalArn: string, name: string): string {
  return `${principalArn}#inline/${name}`;
}

/** The policy id of a managed policy used as a permissions boundary. */
export function boundaryPolicyId(policyArn: string): string {
  return `${policyArn}#boundary`;
}

/** The policy id of a role's trust policy. */
export function trustPolicyId(roleArn: string): string {
  return `${roleArn}#trust`;
}

/** The policy id of a resource policy (a bucket policy). */
export function resourcePolicyId(resourceArn: string): string {
  return `${resourceArn}#resource-policy`;
}

/** The built-in role definitions of the catalog, as the engine takes them (id = name). */
export function builtInRoleDefinitions(): EngineRoleDefinition[] {
  return catalog.roleDefinitions.map((r) => ({
    id: r.name,
    name: r.name,
    actions: r.actions,
    notActions: r.notActions,
    dataActions: r.dataActions,
    notDataActions: r.notDataActions,
  }));
}

const dataActionPredicate = (actionLower: string): boolean => isDataAction(actionLower);

/**
 * Builds the engine's `AccessModel` from `store.loadAccessSnapshot()` and keeps it current.
 *
 * Freshness: the cache listens to the store's committed changes (in-process ones are delivered
 * before the mutating call returns, other nodes' through PostgreSQL LISTEN/NOTIFY) and only
 * remembers the newest revision it heard of; the next `view()` rebuilds when the model is older.
 * So a mutation is visible to the very next authorization on this node (read-your-writes, no
 * sleep), and on other nodes within the notification delay. Concurrent callers share one
 * rebuild. Compiled documents are reused across rebuilds (keyed by kind, id and text), so a
 * rebuild after one change compiles only what changed.
 *
 * A change that only changed some users (`StoreChange.changedUsers`: created with nothing
 * attached, updated, deleted, added to or removed from groups, sessions revoked; what SCIM
 * provisioning does, user after user) does not reload everything: the next view is the current
 * one with those users read again, their lookups replaced and, when their groups changed or they
 * went, their entries in the model derived anew (`AccessModel.withPrincipals`). A reload after
 * each of them made provisioning quadratic. Such a view is exact: it is used only when every
 * change between the current view and the store's revision at the read was one of those.
 *
 * @example
 * const cache = await AccessSnapshotCache.open(store);
 * const { model } = await cache.view();
 */
export class AccessSnapshotCache {
  readonly #store: Store;
  readonly #onProblem: ((p: SnapshotProblem) => void) | undefined;
  #view: AccessView | undefined;
  /** The newest revision heard of whose change needs a reload. */
  #known = -1;
  /** The newest revision heard of. */
  #newest = -1;
  /** Changes that only changed users (`StoreChange.changedUsers`), not yet in a view. */
  #userChanges: { readonly revision: number; readonly users: readonly string[] }[] = [];
  /** Set by a lost notification channel or `invalidate()`: reload whatever the revision says. */
  #reload = false;
  #building: Promise<AccessView> | undefined;
  /** Called on every change heard, while a re-read waits to have heard all up to its revision. */
  #onHeard: (() => void) | undefined;
  #compiled = new Map<string, CompiledPolicy | Error>();
  #unsubscribe: (() => Promise<void>) | undefined;
  readonly #listeners = new Set<(view: AccessView) => void>();

  private constructor(store: Store, options: AccessSnapshotCacheOptions) {
    this.#store = store;
    this.#onProblem = options.onProblem;
  }

  /** Subscribes to the store's changes and builds the first view. */
  static async open(store: Store, options: AccessSnapshotCacheOptions = {}): Promise<AccessSnapshotCache> {
    const cache = new AccessSnapshotCache(store, options);
    cache.#unsubscribe = await store.subscribeChanges((change) => cache.#heard(change));
    await cache.view();
    return cache;
  }

  #heard(change: StoreChange): void {
    // '*' follows a lost notification channel: whatever happened, rebuild.
    if (change.kinds.includes('*')) this.#reload = true;
    if (change.revision > this.#newest) this.#newest = change.revision;
    if (change.changedUsers !== undefined && !this.#reload) {
      // Already in the view when a build read past it before the notice came.
      if (change.revision > (this.#view?.revision ?? -1)) {
        this.#userChanges.push({ revision: change.revision, users: change.changedUsers });
      }
    } else if (change.revision > this.#known) {
      this.#known = change.revision;
    }
    this.#onHeard?.();
  }

  /** The view the last build produced, without checking freshness (undefined before the first). */
  get latest(): AccessView | undefined {
    return this.#view;
  }

  /** The current model, for synchronous callers (`AccessModelSource`); may lag one change. */
  current(): AccessModel | undefined {
    return this.#view?.model;
  }

  /** True when a committed change is newer than the current view. */
  get stale(): boolean {
    return this.#needsReload || (this.#view as AccessView).revision < this.#newest;
  }

  /** True when the next view must be read whole (not only with some users read again). */
  get #needsReload(): boolean {
    return this.#view === undefined || this.#reload || this.#view.revision < this.#known;
  }

  /** Forces the next `view()` to reload (e.g. after an out-of-band restore). */
  invalidate(): void {
    this.#reload = true;
  }

  /** Calls `listener` with every newly built view. Returns the function that stops it. */
  onRebuild(listener: (view: AccessView) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** The view at the newest committed revision this node knows of, rebuilding when needed. */
  async view(): Promise<AccessView> {
    if (!this.stale) return this.#view as AccessView;
    if (this.#building) {
      const built = await this.#building;
      // A change committed while that build was reading may be newer than what it saw.
      if (!this.stale) return built;
      return this.view();
    }
    this.#building = (this.#needsReload ? this.#build() : this.#rereadUsers()).finally(() => {
      this.#building = undefined;
    });
    return this.#building;
  }

  /** Stops listening for changes. */
  async close(): Promise<void> {
    const stop = this.#unsubscribe;
    this.#unsubscribe = undefined;
    await stop?.();
  }

  async #build(): Promise<AccessView> {
    this.#reload = false;
    let read: { snapshot: AccessSnapshot; settings: Setting[] };
    try {
      read = await this.#store.readTransaction(async (tx) => ({
        snapshot: await tx.loadAccessSnapshot(),
        settings: await tx.listSettings(),
      }));
    } catch (error) {
      // Keep serving the last view; the next call tries again.
      this.#reload = true;
      throw error;
    }
    const { snapshot, settings } = read;
    const t0 = performance.now();
    const view = this.#assemble(snapshot, settings);
    const buildMs = performance.now() - t0;
    const done: AccessView = { ...view, buildMs };
    if (snapshot.revision > this.#known) this.#known = snapshot.revision;
    if (snapshot.revision > this.#newest) this.#newest = snapshot.revision;
    this.#userChanges = this.#userChanges.filter((a) => a.revision > snapshot.revision);
    return this.#publish(done);
  }

  /**
   * The current view with the users of the pending user changes read again. The read is used
   * only when it saw exactly the current view's revision plus user changes of the users it
   * read: a change that needs a reload, or one never heard of, would make it a mix of two
   * states. A change committed just before the read may be heard of a moment after it (this
   * process emits a commit's change once the commit returns; other nodes notify): that is
   * waited for, briefly.
   */
  async #rereadUsers(): Promise<AccessView> {
    const base = this.#view as AccessView;
    const changesUpTo = (revision: number) =>
      this.#userChanges.filter((c) => c.revision > base.revision && c.revision <= revision);
    for (let attempt = 0; attempt < REREAD_ATTEMPTS; attempt++) {
      const pending = this.#userChanges.filter((c) => c.revision > base.revision);
      const arns = new Set(pending.flatMap((c) => c.users));
      // Past this many, reading everything is about as cheap, and the queries' lists stay short.
      if (pending.length === 0 || arns.size > MAX_USERS_PER_REREAD) return this.#build();
      let read: { revision: number; users: UserRead[] };
      try {
        read = toUserReads(
          arns,
          await this.#store.readTransaction((tx) => tx.loadUsersOfAccessView([...arns])),
        );
      } catch (error) {
        this.#reload = true;
        throw error;
      }
      // Revisions are consecutive: every change up to the read's is heard once there are as many.
      const heardAll = () =>
        this.#needsReload || changesUpTo(read.revision).length === read.revision - base.revision;
      if (!(await this.#until(heardAll, HEARING_WAIT_MS)) || this.#needsReload) return this.#build();
      if (changesUpTo(read.revision).every((c) => c.users.every((a) => arns.has(a)))) {
        const t0 = performance.now();
        const view = withUsersRead(base, read.revision, read.users);
        this.#userChanges = this.#userChanges.filter((c) => c.revision > read.revision);
        return this.#publish({ ...view, buildMs: performance.now() - t0 });
      }
      // Changes heard since the read named other users too: read again, with them.
    }
    return this.#build();
  }

  /** Resolves true once `done()` holds (checked as changes are heard), false after `ms`. */
  #until(done: () => boolean, ms: number): Promise<boolean> {
    if (done()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.#onHeard = undefined;
        resolve(done());
      }, ms);
      this.#onHeard = () => {
        if (!done()) return;
        clearTimeout(timer);
        this.#onHeard = undefined;
        resolve(true);
      };
    });
  }

  #publish(done: AccessView): AccessView {
    if (this.#view === undefined || done.revision >= this.#view.revision) this.#view = done;
    for (const l of this.#listeners) {
      try {
        l(done);
      } catch {
        // A listener's failure must not break authorization.
      }
    }
    return this.#view;
  }

  #assemble(
    s: AccessSnapshot,
    settings: readonly { key: string; value: string }[],
  ): Omit<AccessView, 'buildMs'> {
    const problems: SnapshotProblem[] = [];
    const previous = this.#compiled;
    const next = new Map<string, CompiledPolicy | Error>();
    const compile = (id: string, kind: PolicyKind, document: string): CompiledPolicy | undefined => {
      const key = `${kind}\0${id}\0${document}`;
      let hit = previous.get(key) ?? next.get(key);
      if (hit === undefined) {
        try {
          hit = compilePolicy(parsePolicyOrThrow(document, { kind }), { id, kind });
        } catch (e) {
          hit = e instanceof Error ? e : new Error(String(e));
        }
      }
      next.set(key, hit);
      if (hit instanceof Error) {
        const problem = { policyId: id, message: hit.message };
        problems.push(problem);
        this.#onProblem?.(problem);
        return undefined;
      }
      return hit;
    };

    const policies: CompiledPolicy[] = [];
    const policyIds = new Set<string>();
    const add = (p: CompiledPolicy | undefined): string | undefined => {
      if (p === undefined) return undefined;
      if (!policyIds.has(p.id)) {
        policyIds.add(p.id);
        policies.push(p);
      }
      return p.id;
    };
    // A policy that cannot compile must not widen access: as an attachment it grants nothing,
    // as a boundary it caps everything (an empty boundary allows nothing).
    const emptyBoundary = (id: string): string =>
      add(
        compilePolicy(parsePolicyOrThrow({ Version: '2012-10-17', Statement: [] }, { kind: 'boundary' }), {
          id,
          kind: 'boundary',
        }),
      )!;

    const policiesByArn = new Map(s.policies.map((p) => [p.arn, p]));
    const attachedTo = new Map<string, string[]>();
    const push = (m: Map<string, string[]>, k: string, v: string) => {
      const list = m.get(k);
      if (list) list.push(v);
      else m.set(k, [v]);
    };
    for (const a of s.attachments) {
      const p = policiesByArn.get(a.policyArn);
      if (!p) continue;
      const id = add(compile(p.arn, 'identity', p.document));
      if (id) push(attachedTo, a.principalArn, id);
    }
    for (const i of s.inlinePolicies) {
      const id = add(compile(inlinePolicyId(i.principalArn, i.name), 'identity', i.document));
      if (id) push(attachedTo, i.principalArn, id);
    }
    const boundaryOf = (arn: string | null): string | undefined => {
      if (arn === null) return undefined;
      const p = policiesByArn.get(arn);
      const id = boundaryPolicyId(arn);
      const compiled = p ? compile(id, 'boundary', p.document) : undefined;
      return compiled ? add(compiled) : emptyBoundary(id);
    };

    const groupsOfUser = new Map<string, string[]>();
    for (const m of s.memberships) push(groupsOfUser, m.userArn, m.groupArn);

    const principals: AccessModelPrincipal[] = [];
    for (const u of s.users) {
      const boundary = boundaryOf(u.permissionsBoundaryArn);
      principals.push({
        arn: u.arn,
        groups: groupsOfUser.get(u.arn) ?? [],
        policies: attachedTo.get(u.arn) ?? [],
        ...(boundary ? { permissionsBoundary: boundary } : {}),
      });
    }
    for (const r of s.roles) {
      const boundary = boundaryOf(r.permissionsBoundaryArn);
      principals.push({
        arn: r.arn,
        policies: attachedTo.get(r.arn) ?? [],
        ...(boundary ? { permissionsBoundary: boundary } : {}),
      });
    }
    for (const m of s.managedIdentities)
      principals.push({ arn: m.arn, policies: attachedTo.get(m.arn) ?? [] });
    const groups: AccessModelGroup[] = s.groups.map((g) => ({
      arn: g.arn,
      policies: attachedTo.get(g.arn) ?? [],
    }));

    const resourcePolicies: ResourcePolicyAttachment[] = [];
    for (const r of s.roles) {
      const id = add(compile(trustPolicyId(r.arn), 'trust', r.trustPolicy));
      if (id) resourcePolicies.push({ resource: r.arn, policy: id });
    }
    for (const r of s.resourcePolicies) {
      const id = add(compile(resourcePolicyId(r.resourceArn), 'resource', r.document));
      if (id) resourcePolicies.push({ resource: r.resourceArn, policy: id });
    }

    // Built-ins come from the catalog (the stored row of a built-in only anchors assignments).
    const builtIns = builtInRoleDefinitions();
    const builtInIds = new Set(builtIns.map((b) => b.id));
    const roleDefinitions: EngineRoleDefinition[] = [...builtIns];
    for (const d of s.roleDefinitions) {
      if (builtInIds.has(d.id)) continue;
      roleDefinitions.push({
        id: d.id,
        name: d.name,
        actions: d.permissions.actions,
        notActions: d.permissions.notActions,
        dataActions: d.permissions.dataActions,
        notDataActions: d.permissions.notDataActions,
        ...(d.assignableScopes.length ? { assignableScopes: d.assignableScopes } : {}),
      });
    }
    const definedIds = new Set(roleDefinitions.map((d) => d.id));
    const roleAssignments: EngineRoleAssignment[] = [];
    for (const a of s.roleAssignments) {
      // Conditions on assignments are not evaluated by the engine; such an assignment grants
      // nothing rather than granting unconditionally.
      if (a.condition !== null || !definedIds.has(a.roleDefinitionId)) {
        problems.push({ policyId: a.id, message: 'role assignment skipped (condition or unknown role)' });
        continue;
      }
      roleAssignments.push({
        id: a.id,
        principalArn: a.principalArn,
        roleDefinition: a.roleDefinitionId,
        scope: a.scope,
      });
    }
    const denyAssignments: EngineDenyAssignment[] = s.denyAssignments.map((d) => ({
      id: d.id,
      principals: d.principalArns,
      excludePrincipals: d.excludedPrincipalArns,
      actions: d.permissions.actions,
      notActions: d.permissions.notActions,
      dataActions: d.permissions.dataActions,
      notDataActions: d.permissions.notDataActions,
      scope: d.scope,
    }));

    const model = AccessModel.build({
      policies,
      principals,
      groups,
      resourcePolicies,
      roleDefinitions,
      roleAssignments,
      denyAssignments,
      isDataAction: dataActionPredicate,
    });

    const sessionsRevokedBefore = new Map<string, number>();
    for (const setting of settings) {
      if (!setting.key.startsWith(SESSION_REVOCATION_PREFIX)) continue;
      const at = Number(setting.value);
      if (Number.isFinite(at))
        sessionsRevokedBefore.set(setting.key.slice(SESSION_REVOCATION_PREFIX.length), at);
    }

    // Session-policy compilations are made lazily and kept with this view.
    const sessionCompiled = new Map<string, CompiledPolicy | undefined>();
    const sessionPolicy = (policyArn: string): CompiledPolicy | undefined => {
      if (sessionCompiled.has(policyArn)) return sessionCompiled.get(policyArn);
      const p = policiesByArn.get(policyArn);
      const compiled = p ? compile(`${policyArn}#session`, 'session', p.document) : undefined;
      sessionCompiled.set(policyArn, compiled);
      return compiled;
    };

    this.#compiled = next;
    return {
      revision: s.revision,
      accountId: s.accountId,
      model,
      usersByArn: new Map(s.users.map((u) => [u.arn, u])),
      usersById: new Map(s.users.map((u) => [u.id, u])),
      groupsByArn: new Map(s.groups.map((g) => [g.arn, g])),
      groupsOfUser,
      rolesByArn: new Map(s.roles.map((r) => [r.arn, r])),
      identitiesByArn: new Map(s.managedIdentities.map((m) => [m.arn, m])),
      policiesByArn,
      sessionPolicy,
      sessionsRevokedBefore,
      problems,
    };
  }
}

/** One user as a re-read found it: null when it is gone. */
interface UserRead {
  readonly arn: string;
  readonly user: User | null;
  /** Its groups' ARNs, sorted. */
  readonly groups: readonly string[];
  readonly revokedBefore: number | undefined;
}

function toUserReads(
  arns: ReadonlySet<string>,
  found: AccessViewUsers,
): { revision: number; users: UserRead[] } {
  const rows = new Map(found.users.map((u) => [u.arn, u]));
  const groups = new Map<string, string[]>();
  for (const m of found.memberships) {
    const list = groups.get(m.userArn);
    if (list) list.push(m.groupArn);
    else groups.set(m.userArn, [m.groupArn]);
  }
  const revoked = new Map(found.revocations.map((r) => [r.arn, Number(r.value)]));
  return {
    revision: found.revision,
    users: [...arns].map((arn) => ({
      arn,
      user: rows.get(arn) ?? null,
      groups: (groups.get(arn) ?? []).sort(),
      revokedBefore: revoked.get(arn),
    })),
  };
}

/**
 * `base` at `revision` with these users as read: their lookups replaced or dropped, and their
 * model entries derived anew where their groups changed or they went (a principal with nothing
 * attached is decided as an unknown one, so a new user without groups needs no entry).
 */
function withUsersRead(
  base: AccessView,
  revision: number,
  reads: readonly UserRead[],
): Omit<AccessView, 'buildMs'> {
  const byArn = new Changes<string, User>();
  const byId = new Changes<string, User>();
  const groupsOf = new Changes<string, readonly string[]>();
  const revoked = new Changes<string, number>();
  const remove: string[] = [];
  const set: AccessModelPrincipal[] = [];
  for (const r of reads) {
    const old = base.usersByArn.get(r.arn);
    const same = old !== undefined && r.user !== null && old.id === r.user.id;
    if (old !== undefined && !same) {
      // Gone, or gone and made again under the same ARN: nothing of the old one carries over.
      byArn.remove(r.arn);
      byId.remove(old.id);
      groupsOf.remove(r.arn);
      remove.push(r.arn);
    }
    if (r.revokedBefore === undefined || !Number.isFinite(r.revokedBefore)) revoked.remove(r.arn);
    else revoked.set(r.arn, r.revokedBefore);
    if (r.user === null) continue;
    byArn.set(r.arn, r.user);
    byId.set(r.user.id, r.user);
    const before = same ? (base.groupsOfUser.get(r.arn) ?? []) : [];
    if (r.groups.length > 0) groupsOf.set(r.arn, r.groups);
    else groupsOf.remove(r.arn);
    if (!sameList(before, r.groups)) {
      const own = same ? base.model.principal(r.arn) : undefined;
      set.push({
        arn: r.arn,
        groups: r.groups,
        policies: own?.policies ?? [],
        ...(own?.permissionsBoundary !== undefined ? { permissionsBoundary: own.permissionsBoundary } : {}),
      });
    }
  }
  return {
    ...base,
    revision,
    model: remove.length + set.length > 0 ? base.model.withPrincipals({ remove, set }) : base.model,
    usersByArn: byArn.applyTo(base.usersByArn),
    usersById: byId.applyTo(base.usersById),
    groupsOfUser: groupsOf.applyTo(base.groupsOfUser),
    sessionsRevokedBefore: revoked.applyTo(base.sessionsRevokedBefore),
  };
}

function sameList(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

const MAX_LAYERS = 16;
const MAX_USERS_PER_REREAD = 500;
/** Reads of the users before a reload, when changes heard meanwhile name other users. */
const REREAD_ATTEMPTS = 3;
/** How long a re-read waits to hear of a change committed before it; then it reloads. */
const HEARING_WAIT_MS = 100;
const REMOVED: unique symbol = Symbol('removed');
type Slot<V> = V | typeof REMOVED;

/** Entries to set and keys to remove, applied to a map as one read-only layer over it. */
class Changes<K, V> {
  readonly #slots = new Map<K, Slot<V>>();

  set(key: K, value: V): void {
    this.#slots.set(key, value);
  }

  remove(key: K): void {
    this.#slots.set(key, REMOVED);
  }

  /**
   * `base` with these changes, without copying `base`: a read-only layer over it. Every few
   * layers the chain is flattened into one map, so a lookup walks a handful of maps at most.
   */
  applyTo(base: ReadonlyMap<K, V>): ReadonlyMap<K, V> {
    if (this.#slots.size === 0) return base;
    const depth = base instanceof LayeredMap ? base.depth + 1 : 1;
    const layered = new LayeredMap(base, this.#slots, depth);
    return depth > MAX_LAYERS ? layered.flatten() : layered;
  }
}

/** A read-only map: a base map under one layer of set or removed entries. */
class LayeredMap<K, V> implements ReadonlyMap<K, V> {
  readonly #base: ReadonlyMap<K, V>;
  readonly #slots: ReadonlyMap<K, Slot<V>>;
  readonly depth: number;
  readonly size: number;

  constructor(base: ReadonlyMap<K, V>, slots: ReadonlyMap<K, Slot<V>>, depth: number) {
    this.#base = base;
    this.#slots = slots;
    this.depth = depth;
    let size = base.size;
    for (const [k, v] of slots) {
      const had = base.has(k);
      if (v === REMOVED && had) size--;
      else if (v !== REMOVED && !had) size++;
    }
    this.size = size;
  }

  /** One plain map of every entry: the first map copied natively, then each layer in order. */
  flatten(): Map<K, V> {
    const layers: ReadonlyMap<K, Slot<V>>[] = [];
    let map: ReadonlyMap<K, V> = this;
    while (map instanceof LayeredMap) {
      layers.push(map.#slots);
      map = map.#base;
    }
    const flat = new Map(map);
    for (let i = layers.length - 1; i >= 0; i--) {
      for (const [k, v] of layers[i]!) {
        if (v === REMOVED) flat.delete(k);
        else flat.set(k, v);
      }
    }
    return flat;
  }

  get(key: K): V | undefined {
    // No value is undefined here (users, group lists, times): one lookup per layer.
    const v = this.#slots.get(key);
    if (v === undefined) return this.#base.get(key);
    return v === REMOVED ? undefined : v;
  }

  has(key: K): boolean {
    if (this.#slots.has(key)) return this.#slots.get(key) !== REMOVED;
    return this.#base.has(key);
  }

  entries(): MapIterator<[K, V]> {
    return this.flatten().entries();
  }

  keys(): MapIterator<K> {
    return this.flatten().keys();
  }

  values(): MapIterator<V> {
    return this.flatten().values();
  }

  [Symbol.iterator](): MapIterator<[K, V]> {
    return this.entries();
  }

  forEach(fn: (value: V, key: K, map: ReadonlyMap<K, V>) => void, thisArg?: unknown): void {
    for (const [k, v] of this.entries()) fn.call(thisArg, v, k, this);
  }
}
