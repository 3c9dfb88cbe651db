import type { NormalizedState } from './normalized-config.js';
import { type FlatResource, flattenState, type Plan, type ResourceKind } from './plan.js';

/** Where a top-level kind lives in a state. */
const SECTION: Partial<Record<ResourceKind, keyof NormalizedState>> = {
  trustedIssuer: 'trustedIssuers',
  bucket: 'buckets',
  policy: 'policies',
  roleDefinition: 'roleDefinitions',
  identity: 'identities',
  group: 'groups',
  role: 'roles',
  user: 'users',
  workspace: 'workspaces',
  domain: 'domains',
  roleAssignment: 'roleAssignments',
  denyAssignment: 'denyAssignments',
  scimGroupMapping: 'scimGroupMappings',
};

/** A nested kind: the map of its parent that holds it. */
const CHILDREN: Partial<Record<ResourceKind, string>> = {
  accessKey: 'accessKeys',
  model: 'models',
  endpoint: 'endpoints',
  modelVersion: 'versions',
  deployment: 'deployments',
  userProfile: 'userProfiles',
};

/** The maps a kind holds its children in (flattened separately, so they start empty). */
const HOLDS: Partial<Record<ResourceKind, readonly string[]>> = {
  user: ['accessKeys'],
  workspace: ['models', 'endpoints'],
  model: ['versions'],
  endpoint: ['deployments'],
  domain: ['userProfiles'],
};

type Mutable = Record<string, Record<string, unknown>>;

/**
 * The state the server will be in once `plan` is applied: the file's resources plus those the
 * plan leaves alone (`plan.unmanaged`: the bootstrap administrator, users that arrived by SCIM,
 * anything made through the API). The access diff must compare this with the current state:
 * comparing the file alone would report every unmanaged grant as lost although nothing is
 * deleted.
 */
export function plannedState(
  desired: NormalizedState,
  current: NormalizedState,
  plan: Plan,
): NormalizedState {
  const out = structuredClone(desired) as unknown as Mutable;
  const have = flattenState(current);
  // The map a resource lives in, found through its parents (names may contain dots, so the
  // address is not split).
  const container = (r: FlatResource): Record<string, unknown> | undefined => {
    const section = SECTION[r.kind];
    if (section) return out[section];
    const key = CHILDREN[r.kind];
    const parent = r.parent === undefined ? undefined : have.get(r.parent);
    if (!key || !parent) return undefined;
    const holder = container(parent)?.[parent.name] as Record<string, Record<string, unknown>> | undefined;
    return holder?.[key];
  };
  // Parents come before their children in `unmanaged` (dependency order), so a child finds its
  // parent already placed.
  for (const u of plan.unmanaged) {
    const r = have.get(u.address);
    const into = r && container(r);
    if (!r || !into || Object.hasOwn(into, r.name)) continue;
    const value: Record<string, unknown> = { ...r.fields, ...(r.source ? { source: r.source } : {}) };
    for (const k of HOLDS[r.kind] ?? []) value[k] = {};
    into[r.name] = value;
  }
  return out as unknown as NormalizedState;
}
