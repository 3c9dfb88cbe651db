import { findBuiltInRole, resolveResourcePath } from '@aiam/policy';
import type {
  AccessConfig,
  AccessKeyConfig,
  IdentitySettingConfig,
  PolicyDocumentConfig,
  ScimGrantConfig,
  TagsConfig,
} from './config-schema.js';

/**
 * The normalized form of access as code: every default filled in, every list sorted, every
 * principal and scope in one canonical spelling. A loaded file and the server's current state
 * (as the CLI reads it) both take this form, so the planner compares like with like, and
 * `export` is its inverse.
 */

/** Who created a resource: an access-as-code apply, SCIM provisioning, or a direct API call. */
export type ResourceSource = 'config' | 'scim' | 'api';

/** Fields every normalized resource may carry; `source` is absent in a loaded file. */
export interface Owned {
  readonly source?: ResourceSource;
}

type Tags = Readonly<Record<string, string>>;
type Documents = Readonly<Record<string, PolicyDocumentConfig>>;

export interface NormalizedBucket extends Owned {
  readonly policy: PolicyDocumentConfig | null;
  readonly tags: Tags;
}
export interface NormalizedPolicy extends Owned {
  readonly description: string;
  readonly path: string;
  readonly document: PolicyDocumentConfig;
  readonly tags: Tags;
}
export interface NormalizedAccessKey {
  readonly status: 'Active' | 'Inactive';
}
export interface NormalizedUser extends Owned {
  readonly path: string;
  readonly tags: Tags;
  readonly policies: readonly string[];
  readonly inlinePolicies: Documents;
  readonly groups: readonly string[];
  readonly permissionsBoundary: string | null;
  readonly accessKeys: Readonly<Record<string, NormalizedAccessKey>>;
}
export interface NormalizedGroup extends Owned {
  readonly path: string;
  readonly policies: readonly string[];
  readonly inlinePolicies: Documents;
}
export interface NormalizedRole extends Owned {
  readonly path: string;
  readonly description: string;
  readonly trust: PolicyDocumentConfig;
  readonly policies: readonly string[];
  readonly inlinePolicies: Documents;
  readonly maxSessionDuration: number;
  readonly permissionsBoundary: string | null;
  readonly tags: Tags;
}
export interface NormalizedIdentity extends Owned {
  readonly tags: Tags;
  readonly policies: readonly string[];
  readonly inlinePolicies: Documents;
}
export interface NormalizedPermissions {
  readonly actions: readonly string[];
  readonly notActions: readonly string[];
  readonly dataActions: readonly string[];
  readonly notDataActions: readonly string[];
}
export interface NormalizedRoleDefinition extends Owned, NormalizedPermissions {
  readonly description: string;
  readonly assignableScopes: readonly string[];
}
export interface NormalizedRoleAssignment extends Owned {
  readonly principal: string;
  readonly role: string;
  readonly scope: string;
}
export interface NormalizedDenyAssignment extends Owned, NormalizedPermissions {
  readonly description: string;
  readonly principals: readonly string[];
  readonly excludePrincipals: readonly string[];
  readonly scope: string;
}
export interface NormalizedIdentitySetting {
  readonly systemAssigned: boolean;
  readonly userAssigned: readonly string[];
}
export interface NormalizedModelVersion extends Owned {
  readonly artifact: string;
  readonly description: string;
  readonly metadata: Tags;
  readonly tags: Tags;
}
export interface NormalizedModel extends Owned {
  readonly description: string;
  readonly tags: Tags;
  readonly versions: Readonly<Record<string, NormalizedModelVersion>>;
}
export interface NormalizedDeployment extends Owned {
  readonly upstream: string;
  readonly model: string;
  readonly traffic: number;
}
export interface NormalizedEndpointLimits {
  readonly requestsPerSecond?: number;
  readonly burst?: number;
  readonly maxConcurrent?: number;
}
export interface NormalizedEndpoint extends Owned {
  readonly description: string;
  readonly authMode: 'key' | 'token';
  readonly identity: NormalizedIdentitySetting;
  readonly openai: boolean;
  readonly deployments: Readonly<Record<string, NormalizedDeployment>>;
  readonly limits: NormalizedEndpointLimits;
  readonly tags: Tags;
}
export interface NormalizedWorkspace extends Owned {
  readonly description: string;
  readonly identity: NormalizedIdentitySetting;
  readonly tags: Tags;
  readonly models: Readonly<Record<string, NormalizedModel>>;
  readonly endpoints: Readonly<Record<string, NormalizedEndpoint>>;
}
export interface NormalizedUserProfile extends Owned {
  readonly user: string;
  readonly executionRole: string | null;
  readonly tags: Tags;
}
export interface NormalizedDomain extends Owned {
  readonly authMode: 'IAM' | 'SSO';
  readonly defaultUserSettings: {
    readonly executionRole: string;
    readonly allowedNetworks: readonly string[];
  };
  readonly tags: Tags;
  readonly userProfiles: Readonly<Record<string, NormalizedUserProfile>>;
}
export interface NormalizedScimGroupMapping extends Owned {
  readonly grants: readonly ScimGrantConfig[];
}
export interface NormalizedTrustedIssuer extends Owned {
  readonly issuer: string;
  readonly audiences: readonly string[];
  readonly jwksUri: string | null;
}

/** Everything declared (or present), normalized. Role assignments are keyed by `roleAssignmentKey`. */
export interface NormalizedState {
  readonly buckets: Readonly<Record<string, NormalizedBucket>>;
  readonly policies: Readonly<Record<string, NormalizedPolicy>>;
  readonly users: Readonly<Record<string, NormalizedUser>>;
  readonly groups: Readonly<Record<string, NormalizedGroup>>;
  readonly roles: Readonly<Record<string, NormalizedRole>>;
  readonly identities: Readonly<Record<string, NormalizedIdentity>>;
  readonly roleDefinitions: Readonly<Record<string, NormalizedRoleDefinition>>;
  readonly roleAssignments: Readonly<Record<string, NormalizedRoleAssignment>>;
  readonly denyAssignments: Readonly<Record<string, NormalizedDenyAssignment>>;
  readonly workspaces: Readonly<Record<string, NormalizedWorkspace>>;
  readonly domains: Readonly<Record<string, NormalizedDomain>>;
  readonly scimGroupMappings: Readonly<Record<string, NormalizedScimGroupMapping>>;
  readonly trustedIssuers: Readonly<Record<string, NormalizedTrustedIssuer>>;
}

/** A loaded file: the same shape as the state it is planned against. */
export type NormalizedConfig = NormalizedState;

/** The state with nothing in it. */
export function emptyState(): NormalizedState {
  return {
    buckets: {},
    policies: {},
    users: {},
    groups: {},
    roles: {},
    identities: {},
    roleDefinitions: {},
    roleAssignments: {},
    denyAssignments: {},
    workspaces: {},
    domains: {},
    scimGroupMappings: {},
    trustedIssuers: {},
  };
}

/** Options of `normalizeConfig` and `canonicalResourceName`. */
export interface NormalizeOptions {
  /**
   * The server's account id. When known, ARNs of this account are written in their short path
   * form (`user/alice`), so a file that spells a principal either way plans the same.
   */
  readonly accountId?: string;
}

const IAM_KINDS = new Set(['user', 'group', 'role']);

/**
 * One spelling for a principal or scope written as a path or an ARN: S3 resources as ARNs
 * (`arn:aws:s3:::bucket/prefix`, AWS's form); the account's IAM principals as `user/NAME`
 * (the IAM path dropped: names are unique whatever the path); managed identities as
 * `managed-identity/NAME`, or the owning resource's path for a system-assigned one
 * (`workspace/ws/endpoint/e`); ML resources as paths (`workspace/ws/model/m/version/1`);
 * anything else (another account's ARN) as written. Throws `InvalidResourceNameError` for text
 * that is neither a path nor an ARN.
 */
export function canonicalResourceName(value: string, options: NormalizeOptions = {}): string {
  if (value === '*') return value;
  const account = options.accountId;
  // Resolve with a placeholder account to validate the path; the ARN form is only kept for S3.
  const arn = resolveResourcePath(account ?? '000000000000', value);
  if (!value.startsWith('arn:')) {
    const path = value.replace(/^\/+/, '').replace(/\/+$/, '');
    const [root] = path.split('/', 1);
    if (root === 'bucket') return arn;
    if (IAM_KINDS.has(root!)) return `${root}/${path.slice(path.lastIndexOf('/') + 1)}`;
    return path;
  }
  if (account === undefined) return arn;
  const m = /^arn:(aws|aiam):(iam|ml)::(\d*):(.+)$/.exec(arn);
  if (!m || m[3] !== account) return arn;
  const [, partition, service, , resource] = m as unknown as [string, string, string, string, string];
  if (partition === 'aiam' && service === 'ml') return resource;
  if (partition === 'aiam' && service === 'iam' && resource.startsWith('managed-identity/')) {
    const name = resource.slice('managed-identity/'.length);
    return name.includes('/') ? name : resource;
  }
  if (partition === 'aws' && service === 'iam') {
    const slash = resource.indexOf('/');
    const kind = resource.slice(0, slash);
    if (slash > 0 && IAM_KINDS.has(kind)) return `${kind}/${resource.slice(resource.lastIndexOf('/') + 1)}`;
  }
  return arn;
}

/** The key of a role assignment in `NormalizedState.roleAssignments`. */
export function roleAssignmentKey(a: { principal: string; role: string; scope: string }): string {
  return `${a.principal} -> ${a.role} @ ${a.scope}`;
}

/** Built-in role names in their catalog spelling; custom names as written. */
export function canonicalRoleName(role: string): string {
  return findBuiltInRole(role)?.name ?? role;
}

function sorted(list: readonly string[] | null | undefined): string[] {
  return [...new Set(list ?? [])].sort();
}

function tagsOf(tags: TagsConfig | null | undefined): Tags {
  const out: Record<string, string> = {};
  for (const key of Object.keys(tags ?? {}).sort()) out[key] = tags![key]!;
  return out;
}

function documents(docs: Readonly<Record<string, PolicyDocumentConfig>> | null | undefined): Documents {
  const out: Record<string, PolicyDocumentConfig> = {};
  for (const key of Object.keys(docs ?? {}).sort()) out[key] = docs![key]!;
  return out;
}

function mapOf<T, U>(
  record: Readonly<Record<string, T>> | null | undefined,
  f: (v: T, k: string) => U,
): Record<string, U> {
  const out: Record<string, U> = {};
  for (const key of Object.keys(record ?? {}).sort()) out[key] = f(record![key] ?? ({} as T), key);
  return out;
}

/** The normalized form of a workspace's or endpoint's `identity`. */
export function normalizeIdentitySetting(
  setting: IdentitySettingConfig | null | undefined,
): NormalizedIdentitySetting {
  if (setting === undefined || setting === null || setting === 'None')
    return { systemAssigned: false, userAssigned: [] };
  if (setting === 'SystemAssigned') return { systemAssigned: true, userAssigned: [] };
  if (Array.isArray(setting)) return { systemAssigned: false, userAssigned: sorted(setting as string[]) };
  const object = setting as { systemAssigned?: boolean; userAssigned?: readonly string[] };
  return { systemAssigned: object.systemAssigned === true, userAssigned: sorted(object.userAssigned) };
}

function accessKeys(
  keys: readonly AccessKeyConfig[] | null | undefined,
): Record<string, NormalizedAccessKey> {
  const entries = (keys ?? []).map((k) =>
    typeof k === 'string'
      ? ([k, { status: 'Active' }] as const)
      : ([k.name, { status: k.status ?? 'Active' }] as const),
  );
  entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return Object.fromEntries(entries);
}

function permissions(p: {
  actions?: readonly string[];
  notActions?: readonly string[];
  dataActions?: readonly string[];
  notDataActions?: readonly string[];
}): NormalizedPermissions {
  return {
    actions: sorted(p.actions),
    notActions: sorted(p.notActions),
    dataActions: sorted(p.dataActions),
    notDataActions: sorted(p.notDataActions),
  };
}

function grantsOf(
  value: ScimGrantConfig | readonly ScimGrantConfig[] | null | undefined,
  options: NormalizeOptions,
) {
  const list =
    value === null || value === undefined ? [] : Array.isArray(value) ? value : [value as ScimGrantConfig];
  const seen = new Map<string, ScimGrantConfig>();
  for (const g of list) {
    const grant = { role: canonicalRoleName(g.role), scope: canonicalResourceName(g.scope, options) };
    seen.set(`${grant.role} @ ${grant.scope}`, grant);
  }
  return [...seen.entries()].sort((a, b) => (a[0] < b[0] ? -1 : 1)).map(([, g]) => g);
}

/**
 * Fills defaults, sorts, and canonicalizes names. The input must already have passed
 * `checkConfigShape` (the loader guarantees it); names that cannot be resolved throw
 * `InvalidResourceNameError`.
 */
export function normalizeConfig(config: AccessConfig, options: NormalizeOptions = {}): NormalizedConfig {
  const name = (v: string) => canonicalResourceName(v, options);
  const roleAssignments: Record<string, NormalizedRoleAssignment> = {};
  for (const a of config.roleAssignments ?? []) {
    const n = { principal: name(a.principal), role: canonicalRoleName(a.role), scope: name(a.scope) };
    roleAssignments[roleAssignmentKey(n)] = n;
  }
  return {
    buckets: mapOf(config.buckets, (b) => ({ policy: b.policy ?? null, tags: tagsOf(b.tags) })),
    policies: mapOf(config.policies, (p) => ({
      description: p.description ?? '',
      path: p.path ?? '/',
      document: p.document,
      tags: tagsOf(p.tags),
    })),
    users: mapOf(config.users, (u) => ({
      path: u.path ?? '/',
      tags: tagsOf(u.tags),
      policies: sorted(u.policies),
      inlinePolicies: documents(u.inlinePolicies),
      groups: sorted(u.groups),
      permissionsBoundary: u.permissionsBoundary ?? null,
      accessKeys: accessKeys(u.accessKeys),
    })),
    groups: mapOf(config.groups, (g) => ({
      path: g.path ?? '/',
      policies: sorted(g.policies),
      inlinePolicies: documents(g.inlinePolicies),
    })),
    roles: mapOf(config.roles, (r) => ({
      path: r.path ?? '/',
      description: r.description ?? '',
      trust: r.trust,
      policies: sorted(r.policies),
      inlinePolicies: documents(r.inlinePolicies),
      maxSessionDuration: r.maxSessionDuration ?? 3600,
      permissionsBoundary: r.permissionsBoundary ?? null,
      tags: tagsOf(r.tags),
    })),
    identities: mapOf(config.identities, (i) => ({
      tags: tagsOf(i.tags),
      policies: sorted(i.policies),
      inlinePolicies: documents(i.inlinePolicies),
    })),
    roleDefinitions: mapOf(config.roleDefinitions, (d) => ({
      description: d.description ?? '',
      ...permissions(d),
      assignableScopes: sorted((d.assignableScopes ?? []).map(name)),
    })),
    roleAssignments: Object.fromEntries(
      Object.entries(roleAssignments).sort((a, b) => (a[0] < b[0] ? -1 : 1)),
    ),
    denyAssignments: mapOf(config.denyAssignments, (d) => ({
      description: d.description ?? '',
      principals: sorted(d.principals.map(name)),
      excludePrincipals: sorted((d.excludePrincipals ?? []).map(name)),
      scope: name(d.scope),
      ...permissions(d),
    })),
    workspaces: mapOf(config.workspaces, (w) => ({
      description: w.description ?? '',
      identity: normalizeIdentitySetting(w.identity),
      tags: tagsOf(w.tags),
      models: mapOf(w.models, (m) => ({
        description: m.description ?? '',
        tags: tagsOf(m.tags),
        versions: mapOf(m.versions, (v) => ({
          artifact: v.artifact,
          description: v.description ?? '',
          metadata: tagsOf(v.metadata),
          tags: tagsOf(v.tags),
        })),
      })),
      endpoints: mapOf(w.endpoints, (e) => {
        const limits: { requestsPerSecond?: number; burst?: number; maxConcurrent?: number } = {};
        if (e.limits?.requestsPerSecond !== undefined) limits.requestsPerSecond = e.limits.requestsPerSecond;
        if (e.limits?.burst !== undefined) limits.burst = e.limits.burst;
        if (e.limits?.maxConcurrent !== undefined) limits.maxConcurrent = e.limits.maxConcurrent;
        const deployments = mapOf(e.deployments, (d) => ({
          upstream: d.upstream,
          model: d.model,
          traffic: d.traffic ?? 0,
        }));
        // One deployment with no traffic given takes all of it, as Azure does for the first deployment.
        const only = Object.values(deployments);
        const declared = Object.values(e.deployments ?? {});
        if (only.length === 1 && declared[0]?.traffic === undefined)
          (only[0] as { traffic: number }).traffic = 100;
        return {
          description: e.description ?? '',
          authMode: e.authMode ?? 'token',
          identity: normalizeIdentitySetting(e.identity),
          openai: e.openai ?? false,
          deployments,
          limits,
          tags: tagsOf(e.tags),
        };
      }),
    })),
    domains: mapOf(config.domains, (d) => ({
      authMode: d.authMode ?? 'IAM',
      defaultUserSettings: {
        executionRole: d.defaultUserSettings.executionRole,
        allowedNetworks: sorted(d.defaultUserSettings.allowedNetworks),
      },
      tags: tagsOf(d.tags),
      userProfiles: mapOf(d.userProfiles, (p) => ({
        user: p.user,
        executionRole: p.executionRole ?? null,
        tags: tagsOf(p.tags),
      })),
    })),
    scimGroupMappings: mapOf(config.scimGroupMappings, (g) => ({ grants: grantsOf(g, options) })),
    trustedIssuers: mapOf(config.trustedIssuers, (t) => ({
      issuer: t.issuer,
      audiences: sorted(t.audiences),
      jwksUri: t.jwksUri ?? null,
    })),
  };
}
