import { canonicalRoleName, type NormalizedState, type ResourceSource } from './normalized-config.js';

/** The kinds of resource a plan creates, changes or deletes, in the order they are applied. */
export const RESOURCE_KINDS = [
  'trustedIssuer',
  'bucket',
  'policy',
  'roleDefinition',
  'identity',
  'group',
  'role',
  'user',
  'accessKey',
  'workspace',
  'model',
  'modelVersion',
  'endpoint',
  'deployment',
  'domain',
  'userProfile',
  'roleAssignment',
  'denyAssignment',
  'scimGroupMapping',
] as const;

/** One kind of resource. */
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** A resource of a normalized state, flattened: workspaces' models and endpoints become their own entries. */
export interface FlatResource {
  readonly kind: ResourceKind;
  /** Where it is in the file: `users.aiUser`, `workspaces.ws.models.m.versions.1`, `roleAssignments["…"]`. */
  readonly address: string;
  /** Its name (for a role assignment, its key). */
  readonly name: string;
  readonly fields: Readonly<Record<string, unknown>>;
  readonly source: ResourceSource | undefined;
  /** The resource it lives in (a model's workspace); deleted with it. */
  readonly parent: string | undefined;
  /** Addresses it refers to, which must exist first. */
  readonly dependsOn: readonly string[];
}

/** A changed field: `before` is absent for a create, `after` for a delete. */
export interface FieldChange {
  readonly field: string;
  readonly before?: unknown;
  readonly after?: unknown;
}

/** What the plan does to a resource. `replace` deletes and recreates (an immutable field changed). */
export type ChangeAction = 'create' | 'update' | 'replace' | 'delete';

/** One resource change of a plan. */
export interface ResourceChange {
  readonly action: ChangeAction;
  readonly kind: ResourceKind;
  readonly address: string;
  readonly name: string;
  readonly fields: readonly FieldChange[];
  /** Who owns it now, for an update or delete of a resource that exists. */
  readonly source?: ResourceSource;
  /**
   * A new access key: the server returns its secret once, in the apply response; the CLI
   * writes it only to `--secrets-out`. Plans never contain secrets.
   */
  readonly returnsSecret?: boolean;
  /** Why, when it is not obvious (a cascade, a replace). */
  readonly reason?: string;
}

/** A resource that exists, is not in the file, and is left alone because the file does not own it. */
export interface UnmanagedResource {
  readonly kind: ResourceKind;
  readonly address: string;
  readonly source: ResourceSource | undefined;
}

/** The resource diff between a desired and a current state. */
export interface Plan {
  /** In the order to apply them: creates and updates dependencies first, then deletes dependents first. */
  readonly changes: readonly ResourceChange[];
  readonly summary: Readonly<Record<ChangeAction, number>> & { readonly unchanged: number };
  readonly unmanaged: readonly UnmanagedResource[];
}

/** Options of `planChanges`. */
export interface PlanOptions {
  /**
   * Also delete resources not in the file that were created through the API (source `api`
   * or unknown). Resources that arrived by SCIM are never deleted unless the file claims them.
   * Default false: only resources created by config are deleted.
   */
  readonly deleteUnowned?: boolean;
}

// Fields that cannot change in place: the server replaces the resource. An IAM role's or
// managed policy's path is part of its ARN and has no update call (AWS UpdateRole and
// CreatePolicyVersion take none); a model version, as in Azure ML, is immutable once registered.
const IMMUTABLE: Partial<Record<ResourceKind, readonly string[]>> = {
  role: ['path'],
  policy: ['path'],
  modelVersion: ['artifact'],
};

const KIND_RANK = new Map<ResourceKind, number>(RESOURCE_KINDS.map((k, i) => [k, i]));

/** `roleAssignments["user/a -> Reader @ workspace/ws"]`-style address for a key with spaces. */
function keyed(section: string, key: string): string {
  return `${section}[${JSON.stringify(key)}]`;
}

function omit<T extends object>(value: T, ...keys: string[]): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) if (!keys.includes(k)) out[k] = v;
  return out;
}

/**
 * The address of the resource a principal or scope (canonical form) names, when it is one the
 * state can hold: `user/alice` -> `users.alice`, `workspace/ws/model/m` -> `workspaces.ws.models.m`.
 */
export function addressOfResourceName(name: string): string | undefined {
  if (name.startsWith('arn:aws:s3:::')) {
    const bucket = name.slice('arn:aws:s3:::'.length).split('/', 1)[0];
    return bucket ? `buckets.${bucket}` : undefined;
  }
  if (name.startsWith('arn:')) return undefined;
  const parts = name.split('/');
  const [root, a, kind, b, child, c] = parts;
  switch (root) {
    case 'user':
      return `users.${a}`;
    case 'group':
      return `groups.${a}`;
    case 'role':
      return `roles.${a}`;
    case 'managed-identity':
      return `identities.${a}`;
    case 'domain':
      return kind === 'user-profile' ? `domains.${a}.userProfiles.${b}` : `domains.${a}`;
    case 'workspace': {
      if (kind === undefined) return `workspaces.${a}`;
      const section = kind === 'model' ? 'models' : 'endpoints';
      const sub = kind === 'model' ? 'versions' : 'deployments';
      return child === undefined
        ? `workspaces.${a}.${section}.${b}`
        : `workspaces.${a}.${section}.${b}.${sub}.${c}`;
    }
    default:
      return undefined;
  }
}

/** Flattens a normalized state into its resources, each with its address and dependencies. */
export function flattenState(state: NormalizedState): Map<string, FlatResource> {
  const out = new Map<string, FlatResource>();
  const add = (
    kind: ResourceKind,
    address: string,
    name: string,
    value: object & { source?: ResourceSource },
    dependsOn: (string | undefined)[],
    parent?: string,
    drop: string[] = [],
  ) => {
    const deps = dependsOn.filter((d): d is string => d !== undefined && d !== address);
    if (parent) deps.push(parent);
    out.set(address, {
      kind,
      address,
      name,
      fields: omit(value, 'source', ...drop),
      source: value.source,
      parent,
      dependsOn: [...new Set(deps)],
    });
  };
  const policyDeps = (e: { policies: readonly string[]; permissionsBoundary?: string | null }) => [
    ...e.policies.map((p) => `policies.${p}`),
    e.permissionsBoundary ? `policies.${e.permissionsBoundary}` : undefined,
  ];
  const roleDep = (role: string) => {
    const name = canonicalRoleName(role);
    return Object.hasOwn(state.roleDefinitions, name) ? `roleDefinitions.${name}` : undefined;
  };
  const identityDeps = (setting: { userAssigned: readonly string[] }) =>
    setting.userAssigned.map((i) => `identities.${i}`);

  for (const [name, t] of Object.entries(state.trustedIssuers))
    add('trustedIssuer', `trustedIssuers.${name}`, name, t, []);
  for (const [name, b] of Object.entries(state.buckets)) add('bucket', `buckets.${name}`, name, b, []);
  for (const [name, p] of Object.entries(state.policies)) add('policy', `policies.${name}`, name, p, []);
  for (const [name, d] of Object.entries(state.roleDefinitions))
    add('roleDefinition', `roleDefinitions.${name}`, name, d, []);
  for (const [name, i] of Object.entries(state.identities))
    add('identity', `identities.${name}`, name, i, policyDeps(i));
  for (const [name, g] of Object.entries(state.groups))
    add('group', `groups.${name}`, name, g, policyDeps(g));
  for (const [name, r] of Object.entries(state.roles)) add('role', `roles.${name}`, name, r, policyDeps(r));
  for (const [name, u] of Object.entries(state.users)) {
    const address = `users.${name}`;
    add('user', address, name, u, [...policyDeps(u), ...u.groups.map((g) => `groups.${g}`)], undefined, [
      'accessKeys',
    ]);
    for (const [key, k] of Object.entries(u.accessKeys))
      add('accessKey', `${address}.accessKeys.${key}`, key, k, [], address);
  }
  for (const [wsName, ws] of Object.entries(state.workspaces)) {
    const wsAddress = `workspaces.${wsName}`;
    add('workspace', wsAddress, wsName, ws, identityDeps(ws.identity), undefined, ['models', 'endpoints']);
    for (const [modelName, m] of Object.entries(ws.models)) {
      const modelAddress = `${wsAddress}.models.${modelName}`;
      add('model', modelAddress, modelName, m, [], wsAddress, ['versions']);
      for (const [version, v] of Object.entries(m.versions)) {
        const bucket = /^s3:\/\/([^/]+)/.exec(v.artifact)?.[1];
        add(
          'modelVersion',
          `${modelAddress}.versions.${version}`,
          version,
          v,
          [bucket && `buckets.${bucket}`],
          modelAddress,
        );
      }
    }
    for (const [epName, e] of Object.entries(ws.endpoints)) {
      const epAddress = `${wsAddress}.endpoints.${epName}`;
      add('endpoint', epAddress, epName, e, identityDeps(e.identity), wsAddress, ['deployments']);
      for (const [depName, d] of Object.entries(e.deployments)) {
        const [model, version] = d.model.split(':');
        add(
          'deployment',
          `${epAddress}.deployments.${depName}`,
          depName,
          d,
          [`${wsAddress}.models.${model}.versions.${version}`],
          epAddress,
        );
      }
    }
  }
  for (const [name, d] of Object.entries(state.domains)) {
    const address = `domains.${name}`;
    const role = (r: string | null) => (r && !r.startsWith('arn:') ? `roles.${r}` : undefined);
    add('domain', address, name, d, [role(d.defaultUserSettings.executionRole)], undefined, ['userProfiles']);
    for (const [profile, p] of Object.entries(d.userProfiles)) {
      const user = p.user.startsWith('arn:') ? undefined : `users.${p.user}`;
      add(
        'userProfile',
        `${address}.userProfiles.${profile}`,
        profile,
        p,
        [user, role(p.executionRole)],
        address,
      );
    }
  }
  for (const [key, a] of Object.entries(state.roleAssignments)) {
    add('roleAssignment', keyed('roleAssignments', key), key, a, [
      addressOfResourceName(a.principal),
      roleDep(a.role),
      addressOfResourceName(a.scope),
    ]);
  }
  for (const [name, d] of Object.entries(state.denyAssignments)) {
    add('denyAssignment', `denyAssignments.${name}`, name, d, [
      ...[...d.principals, ...d.excludePrincipals].map(addressOfResourceName),
      addressOfResourceName(d.scope),
    ]);
  }
  for (const [group, m] of Object.entries(state.scimGroupMappings)) {
    add('scimGroupMapping', keyed('scimGroupMappings', group), group, m, [
      ...m.grants.map((g) => roleDep(g.role)),
      ...m.grants.map((g) => addressOfResourceName(g.scope)),
    ]);
  }
  return out;
}

/** Structural equality of JSON-like values; key order of maps does not matter. */
export function sameValue(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => sameValue(v, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every(
    (k) =>
      Object.hasOwn(b, k) && sameValue((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]),
  );
}

function fieldChanges(before: FlatResource | undefined, after: FlatResource | undefined): FieldChange[] {
  const keys = new Set([...Object.keys(before?.fields ?? {}), ...Object.keys(after?.fields ?? {})]);
  const out: FieldChange[] = [];
  for (const field of keys) {
    const b = before?.fields[field];
    const a = after?.fields[field];
    if (before && after && sameValue(a, b)) continue;
    out.push({
      field,
      ...(before && b !== undefined ? { before: b } : {}),
      ...(after && a !== undefined ? { after: a } : {}),
    });
  }
  return out;
}

function compareResources(a: FlatResource, b: FlatResource): number {
  return (
    KIND_RANK.get(a.kind)! - KIND_RANK.get(b.kind)! ||
    (a.address < b.address ? -1 : a.address > b.address ? 1 : 0)
  );
}

/** Dependencies first (depth-first, ties in kind order then address); cycles cannot hang it. */
function dependencyOrder(resources: Map<string, FlatResource>): string[] {
  const order: string[] = [];
  const state = new Map<string, 'visiting' | 'done'>();
  const visit = (address: string) => {
    if (state.has(address)) return;
    const r = resources.get(address);
    if (!r) return;
    state.set(address, 'visiting');
    const deps = r.dependsOn.map((d) => resources.get(d)).filter((d): d is FlatResource => d !== undefined);
    for (const dep of deps.sort(compareResources)) visit(dep.address);
    state.set(address, 'done');
    order.push(address);
  };
  for (const r of [...resources.values()].sort(compareResources)) visit(r.address);
  return order;
}

/**
 * The resource diff: what to create, update, replace and delete so that `current` becomes
 * `desired`, in an order that applies cleanly (a policy before the user it is attached to, a
 * group before its members, a role definition before its assignments; deletes in reverse).
 * Pure: the same inputs give the same plan. Ownership: a resource missing from `desired` is
 * deleted only when config created it (`source: 'config'`), or when it lives inside something
 * that is deleted or that the file declares (a user's access keys, a workspace's models);
 * resources from SCIM are never deleted unless the file claims them.
 */
export function planChanges(
  desired: NormalizedState,
  current: NormalizedState,
  options: PlanOptions = {},
): Plan {
  const want = flattenState(desired);
  const have = flattenState(current);
  const changes = new Map<string, ResourceChange>();
  const unmanaged: UnmanagedResource[] = [];
  let unchanged = 0;

  for (const address of dependencyOrder(want)) {
    const after = want.get(address)!;
    const before = have.get(address);
    if (!before) {
      changes.set(address, {
        action: 'create',
        kind: after.kind,
        address,
        name: after.name,
        fields: fieldChanges(undefined, after),
        ...(after.kind === 'accessKey' ? { returnsSecret: true } : {}),
      });
      continue;
    }
    const fields = fieldChanges(before, after);
    if (fields.length === 0) {
      unchanged++;
      continue;
    }
    const immutable = fields.filter((f) => IMMUTABLE[after.kind]?.includes(f.field));
    changes.set(address, {
      action: immutable.length ? 'replace' : 'update',
      kind: after.kind,
      address,
      name: after.name,
      fields,
      ...(before.source ? { source: before.source } : {}),
      ...(immutable.length
        ? { reason: `${immutable.map((f) => f.field).join(', ')} cannot change in place` }
        : {}),
    });
  }

  // Deletes: dependents first. A child goes with a parent that goes; a child of a parent the
  // file declares follows the file unless something other than config created it.
  const deleted = new Set<string>();
  const owns = (r: FlatResource): boolean => {
    if (r.source === 'config') return true;
    if (r.source === 'scim') return false;
    // The file declares the parent, so it lists all of the parent's parts that nobody else made.
    if (r.source === undefined && r.parent !== undefined && want.has(r.parent)) return true;
    return options.deleteUnowned === true;
  };
  const order = dependencyOrder(have);
  // Decide parents before children so a cascade is known, then emit in reverse order.
  for (const address of order) {
    if (want.has(address)) continue;
    const r = have.get(address)!;
    const cascade = r.parent !== undefined && deleted.has(r.parent);
    if (cascade || owns(r)) deleted.add(address);
    else unmanaged.push({ kind: r.kind, address, source: r.source });
  }
  const deletes: ResourceChange[] = [];
  for (const address of [...order].reverse()) {
    if (!deleted.has(address)) continue;
    const r = have.get(address)!;
    const cascade = r.parent !== undefined && deleted.has(r.parent) && !want.has(r.parent);
    deletes.push({
      action: 'delete',
      kind: r.kind,
      address,
      name: r.name,
      fields: fieldChanges(r, undefined),
      ...(r.source ? { source: r.source } : {}),
      ...(cascade ? { reason: `deleted with ${r.parent}` } : {}),
    });
  }

  const list = [...changes.values(), ...deletes];
  const count = (action: ChangeAction) => list.filter((c) => c.action === action).length;
  return {
    changes: list,
    summary: {
      create: count('create'),
      update: count('update'),
      replace: count('replace'),
      delete: count('delete'),
      unchanged,
    },
    unmanaged,
  };
}

/** True when applying the plan would change nothing. */
export function isEmptyPlan(plan: Plan): boolean {
  return plan.changes.length === 0;
}
