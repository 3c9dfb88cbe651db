import {
  AccessModel,
  type AccessModelGroup,
  type AccessModelPrincipal,
  type CompiledPolicy,
  catalog,
  compilePolicy,
  createRequestContext,
  type DenyAssignment,
  findAction,
  iamArn,
  isDataAction,
  managedIdentityArn,
  matchActions,
  type PolicyKind,
  parsePolicy,
  type RequestPrincipal,
  type ResourcePolicyAttachment,
  type RoleAssignment,
  type RoleDefinition,
  resolveResourcePath,
} from '@aiam/policy';
import type { PolicyDocumentConfig } from './config-schema.js';
import {
  canonicalResourceName,
  type NormalizedPermissions,
  type NormalizedState,
} from './normalized-config.js';

/**
 * The access diff: which principal gains or loses which action on which resource when the
 * current state becomes the desired one, decided by the policy engine itself (`AccessModel`)
 * on both states.
 *
 * It is exact for the questions it asks and an approximation in which questions it asks. The
 * questions are a finite set of (principal, action, resource) triples taken from the two
 * states:
 * - principals: every user, role, user-assigned and system-assigned identity, and for every
 *   group (including SCIM-mapped IdP groups) a stand-in member of only that group;
 * - actions: every catalog action that an Action pattern, role definition or deny assignment
 *   of either state matches (wildcards expanded against the catalog; `NotAction` stands for
 *   every catalog action it does not exclude);
 * - resources: every bucket (and a stand-in object `bucket/*`), every ML resource declared,
 *   every scope, every role, and every literal ARN a policy names; a `${aws:username}` in a
 *   policy resource is instantiated once per user, so per-user prefixes show per user.
 * An action is only asked about resources of the types the catalog says it applies to. A
 * request carries `aws:username`, `aws:PrincipalArn` and `aws:SourceIdentity` (for users);
 * grants whose conditions need anything else (source network, time, tags) are reported as
 * `conditional` rather than guessed. An ARN pattern that names nothing known is not expanded.
 */

/** How much access a triple has: allowed, allowed only under conditions the diff cannot know, or not. */
export type AccessLevel = 'allowed' | 'conditional' | 'denied';

/** One change of access. */
export interface AccessChange {
  /** The principal in the file's spelling: `user/alice`, `members of group/ml`, `workspace/ws/endpoint/e`. */
  readonly principal: string;
  readonly action: string;
  /** The resource in the file's spelling (`workspace/ws/model/m/version/1`, `arn:aws:s3:::data/*`). */
  readonly resource: string;
  readonly before: AccessLevel;
  readonly after: AccessLevel;
  readonly change: 'gain' | 'loss';
}

/** The result of `diffAccess`. */
export interface AccessDiff {
  readonly changes: readonly AccessChange[];
  /** How many triples were decided (on each state). */
  readonly checked: number;
  /** True when `maxChecks` stopped the diff early; `changes` is then incomplete. */
  readonly truncated: boolean;
  /** Things the diff skipped, for the reader (a policy the engine refused, a principal it could not place). */
  readonly notes: readonly string[];
}

/** Options of `diffAccess`. */
export interface AccessDiffOptions {
  /** The server's account id; default `000000000000` (the same for both states, so names line up). */
  readonly accountId?: string;
  /** Most triples to decide, per state; default 200,000. */
  readonly maxChecks?: number;
}

interface Subject {
  readonly label: string;
  readonly principal: RequestPrincipal;
  readonly userName?: string;
}

interface BuiltModel {
  readonly model: AccessModel;
  readonly subjects: Map<string, Subject>;
  readonly resources: Set<string>;
  readonly patterns: Set<string>;
  readonly notActions: boolean;
  readonly userNames: Set<string>;
}

const RANK: Record<AccessLevel, number> = { denied: 0, conditional: 1, allowed: 2 };

function statementsOf(doc: PolicyDocumentConfig): Record<string, unknown>[] {
  const s = (doc as { Statement?: unknown }).Statement;
  const list = Array.isArray(s) ? s : s === undefined ? [] : [s];
  return list.filter((x): x is Record<string, unknown> => typeof x === 'object' && x !== null);
}

function stringsOf(value: unknown): string[] {
  if (typeof value === 'string') return [value];
  return Array.isArray(value) ? value.filter((v): v is string => typeof v === 'string') : [];
}

function build(state: NormalizedState, account: string, notes: string[]): BuiltModel {
  const policies: CompiledPolicy[] = [];
  const patterns = new Set<string>();
  const resources = new Set<string>();
  let notActions = false;
  const compile = (id: string, doc: PolicyDocumentConfig | null, kind: PolicyKind): string | undefined => {
    if (!doc) return undefined;
    const { policy } = parsePolicy(doc, { kind });
    if (!policy) {
      notes.push(`${id}: the engine refuses this document, so it grants nothing here.`);
      return undefined;
    }
    for (const st of statementsOf(doc)) {
      for (const a of stringsOf(st.Action)) patterns.add(a);
      if (st.NotAction !== undefined) notActions = true;
      for (const r of stringsOf(st.Resource)) if (r !== '*') resources.add(r);
    }
    policies.push(compilePolicy(policy, { id, kind }));
    return id;
  };
  const attach = (
    owner: string,
    e: { policies: readonly string[]; inlinePolicies: Readonly<Record<string, PolicyDocumentConfig>> },
  ) => [
    ...e.policies.filter((p) => state.policies[p]).map((p) => `policy/${p}`),
    ...Object.entries(e.inlinePolicies)
      .map(([name, doc]) => compile(`${owner}/inline/${name}`, doc, 'identity'))
      .filter((id): id is string => id !== undefined),
  ];
  for (const [name, p] of Object.entries(state.policies)) compile(`policy/${name}`, p.document, 'identity');

  const userArn = (name: string) => iamArn(account, 'user', name, state.users[name]?.path ?? '/');
  const roleArn = (name: string) => iamArn(account, 'role', name, state.roles[name]?.path ?? '/');
  const groupArn = (name: string) => iamArn(account, 'group', name, state.groups[name]?.path ?? '/');
  /** ARN of a principal in canonical form; paths keep the IAM path of a known entity. */
  const principalArn = (canonical: string): string => {
    if (canonical === '*' || canonical.startsWith('arn:')) return canonical;
    const [root, name] = canonical.split('/');
    if (root === 'user') return userArn(name!);
    if (root === 'role') return roleArn(name!);
    if (root === 'group') return groupArn(name!);
    if (root === 'workspace') return managedIdentityArn(account, canonical);
    return resolveResourcePath(account, canonical);
  };
  const scopeArn = (canonical: string) =>
    canonical.startsWith('user/') || canonical.startsWith('role/') || canonical.startsWith('group/')
      ? principalArn(canonical)
      : resolveResourcePath(account, canonical);

  const subjects = new Map<string, Subject>();
  const principals: AccessModelPrincipal[] = [];
  const groups: AccessModelGroup[] = [];
  const resourcePolicies: ResourcePolicyAttachment[] = [];
  const userNames = new Set(Object.keys(state.users));

  for (const [name, g] of Object.entries(state.groups)) {
    groups.push({ arn: groupArn(name), policies: attach(`group/${name}`, g) });
  }
  const memberOf = (group: string, arn: string) =>
    subjects.set(`members of group/${group}`, {
      label: `members of group/${group}`,
      // A stand-in member: its ARN names no user, so only the group's grants apply to it.
      principal: { arn: `${iamArn(account, 'user', `member-of-${group}`)}`, account, groupArns: [arn] },
    });
  for (const name of Object.keys(state.groups)) memberOf(name, groupArn(name));
  for (const name of Object.keys(state.scimGroupMappings))
    if (!state.groups[name]) memberOf(name, iamArn(account, 'group', name));

  for (const [name, u] of Object.entries(state.users)) {
    const arn = userArn(name);
    const boundary =
      u.permissionsBoundary && state.policies[u.permissionsBoundary]
        ? `policy/${u.permissionsBoundary}`
        : undefined;
    principals.push({
      arn,
      groups: u.groups.map(groupArn),
      policies: attach(`user/${name}`, u),
      ...(boundary ? { permissionsBoundary: boundary } : {}),
    });
    subjects.set(`user/${name}`, { label: `user/${name}`, principal: { arn, account }, userName: name });
  }
  for (const [name, r] of Object.entries(state.roles)) {
    const arn = roleArn(name);
    const boundary =
      r.permissionsBoundary && state.policies[r.permissionsBoundary]
        ? `policy/${r.permissionsBoundary}`
        : undefined;
    principals.push({
      arn,
      policies: attach(`role/${name}`, r),
      ...(boundary ? { permissionsBoundary: boundary } : {}),
    });
    subjects.set(`role/${name}`, { label: `role/${name}`, principal: { arn, account } });
    const trust = compile(`role/${name}/trust`, r.trust, 'trust');
    if (trust) resourcePolicies.push({ resource: arn, policy: trust });
    resources.add(arn);
  }
  for (const [name, i] of Object.entries(state.identities)) {
    const arn = managedIdentityArn(account, name);
    principals.push({ arn, policies: attach(`managed-identity/${name}`, i) });
    subjects.set(`managed-identity/${name}`, {
      label: `managed-identity/${name}`,
      principal: { arn, account },
    });
  }
  for (const [name, b] of Object.entries(state.buckets)) {
    resources.add(`arn:aws:s3:::${name}`).add(`arn:aws:s3:::${name}/*`);
    const id = compile(`bucket/${name}/policy`, b.policy, 'resource');
    if (id) resourcePolicies.push({ resource: `arn:aws:s3:::${name}`, policy: id });
  }
  for (const [wsName, ws] of Object.entries(state.workspaces)) {
    const wsPath = `workspace/${wsName}`;
    resources.add(resolveResourcePath(account, wsPath));
    if (ws.identity.systemAssigned)
      subjects.set(wsPath, {
        label: wsPath,
        principal: { arn: managedIdentityArn(account, wsPath), account },
      });
    for (const [m, model] of Object.entries(ws.models)) {
      resources.add(resolveResourcePath(account, `${wsPath}/model/${m}`));
      for (const v of Object.keys(model.versions))
        resources.add(resolveResourcePath(account, `${wsPath}/model/${m}/version/${v}`));
    }
    for (const [e, ep] of Object.entries(ws.endpoints)) {
      const epPath = `${wsPath}/endpoint/${e}`;
      resources.add(resolveResourcePath(account, epPath));
      for (const d of Object.keys(ep.deployments))
        resources.add(resolveResourcePath(account, `${epPath}/deployment/${d}`));
      if (ep.identity.systemAssigned)
        subjects.set(epPath, {
          label: epPath,
          principal: { arn: managedIdentityArn(account, epPath), account },
        });
    }
  }
  for (const [d, domain] of Object.entries(state.domains)) {
    resources.add(resolveResourcePath(account, `domain/${d}`));
    for (const p of Object.keys(domain.userProfiles))
      resources.add(resolveResourcePath(account, `domain/${d}/user-profile/${p}`));
  }

  const addPatterns = (p: NormalizedPermissions) => {
    for (const a of [...p.actions, ...p.dataActions]) patterns.add(a);
  };
  const roleDefinitions: RoleDefinition[] = catalog.roleDefinitions.map((r) => ({
    id: r.name,
    actions: r.actions,
    notActions: r.notActions,
    dataActions: r.dataActions,
    notDataActions: r.notDataActions,
  }));
  for (const [name, d] of Object.entries(state.roleDefinitions)) {
    roleDefinitions.push({
      id: name,
      actions: d.actions,
      notActions: d.notActions,
      dataActions: d.dataActions,
      notDataActions: d.notDataActions,
      ...(d.assignableScopes.length ? { assignableScopes: d.assignableScopes.map(scopeArn) } : {}),
    });
  }
  const defined = new Map(roleDefinitions.map((r) => [r.id, r]));
  const roleAssignments: RoleAssignment[] = [];
  const assign = (id: string, principalArn: string, role: string, scope: string) => {
    const def = defined.get(role);
    if (!def) {
      notes.push(`${id}: role "${role}" is not defined, so it grants nothing here.`);
      return;
    }
    addPatterns({
      actions: def.actions ?? [],
      dataActions: def.dataActions ?? [],
      notActions: [],
      notDataActions: [],
    });
    const scopeResource = scopeArn(scope);
    if (scopeResource !== '*') resources.add(scopeResource);
    roleAssignments.push({ id, principalArn, roleDefinition: role, scope: scopeResource });
  };
  for (const [key, a] of Object.entries(state.roleAssignments))
    assign(key, principalArn(a.principal), a.role, a.scope);
  for (const [group, m] of Object.entries(state.scimGroupMappings)) {
    const arn = state.groups[group] ? groupArn(group) : iamArn(account, 'group', group);
    for (const g of m.grants) assign(`scim ${group}: ${g.role} @ ${g.scope}`, arn, g.role, g.scope);
  }
  const denyAssignments: DenyAssignment[] = Object.entries(state.denyAssignments).map(([name, d]) => {
    addPatterns(d);
    const scope = scopeArn(d.scope);
    if (scope !== '*') resources.add(scope);
    return {
      id: name,
      principals: d.principals.map(principalArn),
      excludePrincipals: d.excludePrincipals.map(principalArn),
      scope,
      actions: d.actions,
      notActions: d.notActions,
      dataActions: d.dataActions,
      notDataActions: d.notDataActions,
    };
  });

  let model: AccessModel;
  try {
    model = AccessModel.build({
      policies,
      principals,
      groups,
      resourcePolicies,
      roleDefinitions,
      roleAssignments,
      denyAssignments,
      isDataAction: (a) => isDataAction(a),
    });
  } catch (err) {
    notes.push(
      `The state cannot be modelled (${(err as Error).message}); it is treated as granting nothing.`,
    );
    model = AccessModel.build({});
  }
  return { model, subjects, resources, patterns, notActions, userNames };
}

/** The catalog resource type of an ARN (`bucket`, `object`, `model-version`, ...), or undefined. */
function resourceTypeOf(arn: string): string | undefined {
  if (arn.startsWith('arn:aws:s3:::')) return arn.includes('/') ? 'object' : 'bucket';
  const ml = /^arn:aiam:ml::[^:]*:(.+)$/.exec(arn);
  if (ml) {
    const parts = ml[1]!.split('/');
    const kinds: Record<number, string> = parts[0] === 'domain' ? { 2: 'domain', 4: 'user-profile' } : {};
    if (parts[0] === 'workspace') {
      kinds[2] = 'workspace';
      if (parts[2] === 'model') Object.assign(kinds, { 4: 'model', 6: 'model-version' });
      if (parts[2] === 'endpoint') Object.assign(kinds, { 4: 'endpoint', 6: 'deployment' });
    }
    return kinds[parts.length];
  }
  const iam = /^arn:(?:aws|aiam):iam::[^:]*:([a-z-]+)\//.exec(arn);
  return iam?.[1];
}

/**
 * Computes the access diff between two normalized states; see the module comment for exactly
 * which questions it asks. Pure and deterministic: changes are sorted by principal, resource,
 * action.
 */
export function diffAccess(
  desired: NormalizedState,
  current: NormalizedState,
  options: AccessDiffOptions = {},
): AccessDiff {
  const account = options.accountId ?? '000000000000';
  const maxChecks = options.maxChecks ?? 200_000;
  const notes: string[] = [];
  const after = build(desired, account, notes);
  const before = build(current, account, notes);

  const actions = new Set<string>();
  const expand = (pattern: string) => {
    for (const a of matchActions(pattern)) actions.add(a.name);
  };
  for (const p of [...after.patterns, ...before.patterns]) expand(p);
  if (after.notActions || before.notActions) expand('*');

  const userNames = new Set([...after.userNames, ...before.userNames]);
  const resources = new Set<string>();
  const perUser = new Map<string, Set<string>>();
  for (const r of [...after.resources, ...before.resources]) {
    if (!r.includes('${')) {
      if (!/[*?]/.test(r) || r.startsWith('arn:aws:s3:::')) resources.add(r);
      continue;
    }
    // A per-user resource: instantiate it for each user, asked only of that user.
    if (!/^[^$]*(\$\{aws:username\}[^$]*)+$/i.test(r) && !/\$\{aws:SourceIdentity\}/i.test(r)) continue;
    for (const name of userNames) {
      const concrete = r.replace(/\$\{aws:(username|SourceIdentity)\}/gi, name);
      const set = perUser.get(name) ?? new Set<string>();
      set.add(concrete);
      perUser.set(name, set);
    }
  }
  const byType = new Map<string, string[]>();
  const typed = (list: Iterable<string>) => {
    const m = new Map<string, string[]>();
    for (const r of list) {
      const t = resourceTypeOf(r) ?? '';
      m.set(t, [...(m.get(t) ?? []), r]);
    }
    return m;
  };
  for (const [t, list] of typed(resources)) byType.set(t, list.sort());

  const subjects = new Map([...before.subjects, ...after.subjects]);
  const changes: AccessChange[] = [];
  let checked = 0;
  let truncated = false;
  const level = (built: BuiltModel, subject: Subject, action: string, resource: string): AccessLevel => {
    if (!built.subjects.has(subject.label)) return 'denied';
    const context = createRequestContext({
      'aws:PrincipalArn': subject.principal.arn,
      'aws:PrincipalAccount': account,
      ...(subject.userName
        ? { 'aws:username': subject.userName, 'aws:SourceIdentity': subject.userName }
        : {}),
    });
    const d = built.model.authorize({ principal: subject.principal, action, resource, context });
    // A statement (Allow or Deny) read a key the diff cannot know (source network, time, tags):
    // the outcome depends on the request. A negated operator on a missing key matches, so a
    // network-restricting Deny would otherwise read as "denied always".
    if (d.missingContextValues.length > 0) return 'conditional';
    return d.decision === 'allowed' ? 'allowed' : 'denied';
  };
  const sortedActions = [...actions].sort();
  outer: for (const label of [...subjects.keys()].sort()) {
    const subject = subjects.get(label)!;
    const own = subject.userName ? typed(perUser.get(subject.userName) ?? []) : new Map<string, string[]>();
    for (const action of sortedActions) {
      const types = findAction(action)?.resourceTypes ?? [];
      const targets =
        types.length === 0 ? ['*'] : types.flatMap((t) => [...(byType.get(t) ?? []), ...(own.get(t) ?? [])]);
      for (const resource of targets) {
        if (++checked > maxChecks) {
          truncated = true;
          checked--;
          break outer;
        }
        const was = level(before, subject, action, resource);
        const now = level(after, subject, action, resource);
        if (was === now) continue;
        changes.push({
          principal: label,
          action,
          resource: resource === '*' ? '*' : canonicalResourceName(resource, { accountId: account }),
          before: was,
          after: now,
          change: RANK[now] > RANK[was] ? 'gain' : 'loss',
        });
      }
    }
  }
  changes.sort(
    (a, b) =>
      a.principal.localeCompare(b.principal) ||
      a.resource.localeCompare(b.resource) ||
      a.action.localeCompare(b.action),
  );
  return { changes, checked, truncated, notes: [...new Set(notes)] };
}
