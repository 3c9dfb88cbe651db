import { findBuiltInRole } from '@aiam/policy';
import type { StoreTransaction } from '../store/store.js';

/**
 * The server's current state in the access-as-code file format (names and paths where the file
 * writes them, ARNs where it does not), with who created each resource. The CLI normalizes it
 * with the same code that normalizes a file, so a plan compares like with like and `aiam export`
 * writes it back out unchanged.
 */
export interface ConfigState {
  /** The store revision the state was read at; `apply` must name it (optimistic concurrency). */
  readonly revision: number;
  readonly accountId: string;
  /** Every resource, keyed and shaped as in a config file. */
  readonly config: Record<string, unknown>;
  /** `address` (as the planner writes it: `users.alice`) → `config`, `scim` or `api`. */
  readonly sources: Record<string, 'config' | 'scim' | 'api'>;
}

/** Settings keys under which apply records what the store has no column for. */
export const MARKER = {
  /** `config:source:ADDRESS` = `config`: this resource was created by an apply. */
  source: (address: string) => `config:source:${address}`,
  /** `config:access-key:USER/NAME` = the access key id of the named key. */
  accessKey: (user: string, name: string) => `config:access-key:${user}/${name}`,
  /** `config:profile-user:DOMAIN/PROFILE` = the user a domain's user profile belongs to. */
  profileUser: (domain: string, profile: string) => `config:profile-user:${domain}/${profile}`,
} as const;

/** `arn:aws:iam::123:role/path/Name` → `Name` for this account's IAM entities; anything else as is. */
export function shortIamName(arn: string, accountId: string, kind: 'role' | 'policy' | 'user'): string {
  const prefix = `arn:aws:iam::${accountId}:${kind}/`;
  return arn.startsWith(prefix) ? arn.slice(arn.lastIndexOf('/') + 1) : arn;
}

function parseDocument(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

/**
 * Reads the current state inside `tx` (a read transaction: one consistent snapshot). Kinds the
 * file format has but apply does not manage yet (deny assignments, trusted issuers) are left
 * out, so they never show as drift.
 */
export async function readConfigState(tx: StoreTransaction, accountId: string): Promise<ConfigState> {
  const revision = await tx.getRevision();
  const settings = new Map((await tx.listSettings()).map((s) => [s.key, s.value] as const));
  const sources: Record<string, 'config' | 'scim' | 'api'> = {};
  const mark = (address: string, fallback: 'scim' | 'api' = 'api') => {
    sources[address] = settings.get(MARKER.source(address)) === 'config' ? 'config' : fallback;
  };
  const config: Record<string, Record<string, unknown>> = {};
  const section = (name: string) => {
    config[name] ??= {};
    return config[name];
  };
  const policyName = (arn: string) => shortIamName(arn, accountId, 'policy');

  const policies = await tx.listPolicies();
  for (const p of policies) {
    const version = await tx.getPolicyVersion(p.arn, p.defaultVersionId);
    section('policies')[p.name] = {
      description: p.description,
      path: p.path,
      document: parseDocument(version?.document ?? '{}'),
      tags: p.tags,
    };
    mark(`policies.${p.name}`);
  }

  const resourcePolicies = new Map((await tx.listResourcePolicies()).map((r) => [r.resourceArn, r] as const));
  for (const b of await tx.listBuckets()) {
    const policy = resourcePolicies.get(`arn:aws:s3:::${b.name}`);
    section('buckets')[b.name] = {
      tags: b.tags,
      ...(policy ? { policy: parseDocument(policy.document) } : {}),
    };
    mark(`buckets.${b.name}`);
  }

  const principalPolicies = async (arn: string) => {
    const attached = (await tx.listAttachedPolicies(arn)).map((a) => policyName(a.policyArn));
    const inline: Record<string, unknown> = {};
    for (const i of await tx.listInlinePolicies(arn)) inline[i.name] = parseDocument(i.document);
    return { policies: attached, inlinePolicies: inline };
  };

  const keyNames = new Map<string, string>();
  for (const [key, value] of settings) {
    if (key.startsWith('config:access-key:')) keyNames.set(value, key.slice('config:access-key:'.length));
  }
  for (const u of await tx.listUsers()) {
    const keys: { name: string; status: string }[] = [];
    for (const k of await tx.listAccessKeys(u.name)) {
      const named = keyNames.get(k.accessKeyId);
      // A key made outside config has no name in the file; it is listed under its id.
      const name = named?.startsWith(`${u.name}/`) ? named.slice(u.name.length + 1) : k.accessKeyId;
      keys.push({ name, status: k.status });
      const address = `users.${u.name}.accessKeys.${name}`;
      sources[address] = named ? 'config' : 'api';
    }
    section('users')[u.name] = {
      path: u.path,
      tags: u.tags,
      ...(await principalPolicies(u.arn)),
      groups: (await tx.listGroupsForUser(u.name)).map((g) => g.name),
      permissionsBoundary: u.permissionsBoundaryArn ? policyName(u.permissionsBoundaryArn) : null,
      accessKeys: keys,
    };
    sources[`users.${u.name}`] = u.source;
  }
  for (const g of await tx.listGroups()) {
    section('groups')[g.name] = { path: g.path, ...(await principalPolicies(g.arn)) };
    mark(`groups.${g.name}`, g.externalId ? 'scim' : 'api');
  }
  for (const r of await tx.listRoles()) {
    section('roles')[r.name] = {
      path: r.path,
      description: r.description,
      trust: parseDocument(r.trustPolicy),
      ...(await principalPolicies(r.arn)),
      maxSessionDuration: r.maxSessionDuration,
      permissionsBoundary: r.permissionsBoundaryArn ? policyName(r.permissionsBoundaryArn) : null,
      tags: r.tags,
    };
    mark(`roles.${r.name}`);
  }
  const identities = await tx.listManagedIdentities();
  for (const i of identities) {
    if (i.kind !== 'user') continue;
    section('identities')[i.name] = { tags: i.tags, ...(await principalPolicies(i.arn)) };
    mark(`identities.${i.name}`);
  }
  for (const d of await tx.listRoleDefinitions()) {
    // Built-in roles are stored on first use; they are the catalog's, not the file's.
    if (findBuiltInRole(d.name)?.name === d.name) continue;
    section('roleDefinitions')[d.name] = {
      description: d.description,
      ...d.permissions,
      assignableScopes: d.assignableScopes,
    };
    mark(`roleDefinitions.${d.name}`);
  }

  // A system-assigned identity is written as the resource that owns it.
  const owners = new Map(identities.filter((i) => i.ownerArn).map((i) => [i.arn, i.ownerArn!] as const));
  const assignments: Record<string, unknown>[] = [];
  for (const a of await tx.listRoleAssignments()) {
    const principal = owners.get(a.principalArn) ?? a.principalArn;
    assignments.push({ principal, role: a.roleDefinitionName, scope: a.scope, id: a.id });
  }
  (config as Record<string, unknown>).roleAssignments = assignments;

  const systemIdentity = new Set(identities.filter((i) => i.ownerArn).map((i) => i.ownerArn!));
  for (const w of await tx.listWorkspaces()) {
    const address = `workspaces.${w.name}`;
    mark(address);
    const models: Record<string, unknown> = {};
    for (const m of await tx.listModels(w.name)) {
      const versions: Record<string, unknown> = {};
      for (const v of await tx.listModelVersions(w.name, m.name)) {
        versions[v.label] = {
          artifact: v.artifactLocation ?? '',
          description: typeof v.metadata.description === 'string' ? v.metadata.description : '',
          metadata: Object.fromEntries(
            Object.entries(v.metadata).filter(([k, x]) => k !== 'description' && typeof x === 'string'),
          ),
          tags: v.tags,
        };
        mark(`${address}.models.${m.name}.versions.${v.label}`);
      }
      models[m.name] = { description: m.description, tags: m.tags, versions };
      mark(`${address}.models.${m.name}`);
    }
    const endpoints: Record<string, unknown> = {};
    for (const e of await tx.listEndpoints(w.name)) {
      const deployments: Record<string, unknown> = {};
      for (const d of await tx.listDeployments(e.name)) {
        deployments[d.name] = { upstream: d.upstreamUrl, model: d.modelRef ?? '', traffic: d.trafficWeight };
        mark(`${address}.endpoints.${e.name}.deployments.${d.name}`);
      }
      endpoints[e.name] = {
        description: e.description,
        authMode: e.authMode,
        identity: { systemAssigned: systemIdentity.has(e.arn), userAssigned: e.identity.userAssigned ?? [] },
        openai: e.api === 'openai',
        deployments,
        limits: e.limits,
        tags: e.tags,
      };
      mark(`${address}.endpoints.${e.name}`);
    }
    section('workspaces')[w.name] = {
      description: w.description,
      identity: { systemAssigned: systemIdentity.has(w.arn), userAssigned: w.identity.userAssigned ?? [] },
      tags: w.tags,
      models,
      endpoints,
    };
  }

  const definitions = new Map((await tx.listRoleDefinitions()).map((d) => [d.id, d.name] as const));
  const mappings: Record<string, { role: string; scope: string }[]> = {};
  for (const m of await tx.listScimGroupMappings()) {
    const grants = mappings[m.groupName] ?? [];
    mappings[m.groupName] = grants;
    grants.push({ role: definitions.get(m.roleDefinition) ?? m.roleDefinition, scope: m.scope });
  }
  for (const [group, grants] of Object.entries(mappings)) {
    section('scimGroupMappings')[group] = grants;
    mark(`scimGroupMappings[${JSON.stringify(group)}]`);
  }

  for (const d of await tx.listDomains()) {
    const address = `domains.${d.name}`;
    const profiles: Record<string, unknown> = {};
    for (const p of await tx.listUserProfiles(d.name)) {
      profiles[p.name] = {
        user: settings.get(MARKER.profileUser(d.name, p.name)) ?? p.name,
        ...(p.executionRoleArn ? { executionRole: shortIamName(p.executionRoleArn, accountId, 'role') } : {}),
        tags: p.tags,
      };
      mark(`${address}.userProfiles.${p.name}`);
    }
    const role = d.defaultUserSettings.executionRoleArn;
    section('domains')[d.name] = {
      authMode: d.authMode,
      defaultUserSettings: {
        executionRole: role ? shortIamName(role, accountId, 'role') : '',
        allowedNetworks: d.defaultUserSettings.allowedNetworks ?? [],
      },
      tags: d.tags,
      userProfiles: profiles,
    };
    mark(address);
  }
  return { revision, accountId, config, sources };
}
