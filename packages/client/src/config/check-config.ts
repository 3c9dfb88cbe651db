import {
  catalog,
  type Finding,
  findBuiltInRole,
  InvalidResourceNameError,
  matchActions,
  type PolicyKind,
  parseArn,
  parseCidr,
  resolveResourcePath,
  scopeContains,
  type ValidatePolicyType,
  validatePolicy,
} from '@aiam/policy';
import { type ConfigPathElement, didYouMean } from './config-schema.js';
import { canonicalResourceName, roleAssignmentKey } from './normalized-config.js';

/** A problem found by `checkConfigReferences`; `at: 'key'` points at a map key. */
export interface ReferenceIssue {
  readonly severity: 'error' | 'warning';
  readonly path: readonly ConfigPathElement[];
  readonly message: string;
  readonly at: 'key' | 'value';
}

type Rec = Record<string, unknown>;

function rec(value: unknown): Rec {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Rec) : {};
}

function list(value: unknown): unknown[] {
  return Array.isArray(value) ? value : [];
}

function strings(value: unknown): [string, number][] {
  return list(value).flatMap((v, i) => (typeof v === 'string' ? [[v, i] as [string, number]] : []));
}

const PLACEHOLDER_ACCOUNT = '000000000000';

/**
 * Checks what the schema cannot: that every reference by name names something the file
 * declares (with a did-you-mean), that principals and scopes are paths or ARNs aiam can
 * place, that every policy document passes `validatePolicy`, and the rules between fields
 * (traffic sums, unique endpoint names, assignable scopes, CIDRs). It tolerates values of the
 * wrong type (the schema check reports those), so one run reports every problem.
 */
export function checkConfigReferences(config: unknown): ReferenceIssue[] {
  const issues: ReferenceIssue[] = [];
  const error = (path: ConfigPathElement[], message: string, at: 'key' | 'value' = 'value') =>
    issues.push({ severity: 'error', path, message, at });
  const warn = (path: ConfigPathElement[], message: string) =>
    issues.push({ severity: 'warning', path, message, at: 'value' });

  const root = rec(config);
  const section = (key: string) => rec(root[key]);
  const buckets = section('buckets');
  const policies = section('policies');
  const users = section('users');
  const groups = section('groups');
  const roles = section('roles');
  const identities = section('identities');
  const roleDefinitions = section('roleDefinitions');
  const workspaces = section('workspaces');
  const domains = section('domains');

  const refer = (path: ConfigPathElement[], value: unknown, pool: Rec, what: string, section: string) => {
    if (typeof value !== 'string' || Object.hasOwn(pool, value)) return;
    error(
      path,
      `${what} "${value}" is not defined in this file; declare it under ${section}.${didYouMean(value, Object.keys(pool))}`,
    );
  };
  const referOrArn = (
    path: ConfigPathElement[],
    value: unknown,
    pool: Rec,
    what: string,
    section: string,
  ) => {
    if (typeof value === 'string' && value.startsWith('arn:')) {
      if (!parseArn(value))
        error(path, `"${value}" is not a valid ARN (arn:PARTITION:SERVICE:REGION:ACCOUNT:RESOURCE).`);
      return;
    }
    if (typeof value === 'string' && !Object.hasOwn(pool, value)) {
      error(
        path,
        `${what} "${value}" is not defined in this file; declare it under ${section}, or write its ARN to refer to one managed elsewhere.${didYouMean(value, Object.keys(pool))}`,
      );
    }
  };

  const checkDocument = (
    path: ConfigPathElement[],
    document: unknown,
    what: string,
    type: ValidatePolicyType,
    kind?: PolicyKind,
  ) => {
    if (typeof document !== 'object' || document === null || Array.isArray(document)) return;
    const findings: Finding[] = validatePolicy(
      document,
      kind ? { policyType: type, kind } : { policyType: type },
    );
    for (const f of findings) {
      if (f.findingType === 'SUGGESTION') continue;
      const at = [...path, ...f.path.map((el) => ('index' in el ? el.index : el.value))];
      const text = `${what}: ${f.findingDetails} [${f.issueCode}]`;
      if (f.findingType === 'ERROR') error(at, text);
      else warn(at, `${f.findingType === 'SECURITY_WARNING' ? 'security warning' : 'warning'}: ${text}`);
    }
  };
  const checkPolicyRefs = (base: ConfigPathElement[], entity: Rec) => {
    for (const [name, i] of strings(entity.policies))
      refer([...base, 'policies', i], name, policies, 'Policy', 'policies');
    if (entity.permissionsBoundary !== undefined)
      refer([...base, 'permissionsBoundary'], entity.permissionsBoundary, policies, 'Policy', 'policies');
    for (const [name, doc] of Object.entries(rec(entity.inlinePolicies)))
      checkDocument([...base, 'inlinePolicies', name], doc, `inline policy "${name}"`, 'IDENTITY_POLICY');
  };

  // -- names of things that can be principals or scopes, for path checks
  const pathParts = (value: string) => value.replace(/^\/+/, '').replace(/\/+$/, '').split('/');
  const resolves = (path: ConfigPathElement[], value: string): boolean => {
    try {
      resolveResourcePath(PLACEHOLDER_ACCOUNT, value);
      if (value.startsWith('arn:') && !parseArn(value))
        throw new InvalidResourceNameError(`"${value}" is not a valid ARN.`);
      return true;
    } catch (err) {
      if (!(err instanceof InvalidResourceNameError)) throw err;
      error(path, err.message);
      return false;
    }
  };
  const hasSystemIdentity = (setting: unknown) =>
    setting === 'SystemAssigned' || rec(setting).systemAssigned === true;

  const checkNamedEntity = (path: ConfigPathElement[], parts: string[], value: string): boolean => {
    const [kind] = parts;
    const name = parts[parts.length - 1]!;
    const pools: Record<string, [Rec, string]> = {
      user: [users, 'users'],
      group: [groups, 'groups'],
      role: [roles, 'roles'],
      'managed-identity': [identities, 'identities'],
    };
    const entry = pools[kind!];
    if (!entry) return false;
    if (!Object.hasOwn(entry[0], name)) {
      error(
        path,
        `"${value}" names ${kind === 'managed-identity' ? 'an identity' : `a ${kind}`} not defined in this file; declare "${name}" under ${entry[1]}, or write the full ARN to refer to one managed elsewhere (e.g. provisioned by SCIM).${didYouMean(name, Object.keys(entry[0]))}`,
      );
    }
    return true;
  };

  const checkPrincipal = (path: ConfigPathElement[], value: unknown, allowStar = false) => {
    if (typeof value !== 'string') return;
    if (value === '*') {
      if (!allowStar)
        error(path, 'A role assignment cannot be made to "*"; name a user, group, role or identity.');
      return;
    }
    if (!resolves(path, value) || value.startsWith('arn:')) return;
    const parts = pathParts(value);
    if (checkNamedEntity(path, parts, value)) return;
    if (parts[0] === 'workspace' && (parts.length === 2 || (parts.length === 4 && parts[2] === 'endpoint'))) {
      const ws = rec(workspaces[parts[1]!]);
      if (!Object.hasOwn(workspaces, parts[1]!)) {
        error(
          path,
          `Workspace "${parts[1]}" is not defined in this file.${didYouMean(parts[1]!, Object.keys(workspaces))}`,
        );
        return;
      }
      if (parts.length === 2) {
        if (!hasSystemIdentity(ws.identity))
          error(
            path,
            `Workspace "${parts[1]}" has no system-assigned identity to act as; set identity: SystemAssigned on it.`,
          );
        return;
      }
      const endpoints = rec(ws.endpoints);
      if (!Object.hasOwn(endpoints, parts[3]!)) {
        error(
          path,
          `Endpoint "${parts[3]}" is not defined in workspace "${parts[1]}".${didYouMean(parts[3]!, Object.keys(endpoints))}`,
        );
      } else if (!hasSystemIdentity(rec(endpoints[parts[3]!]).identity)) {
        error(
          path,
          `Endpoint "${parts[3]}" has no system-assigned identity to act as; set identity: SystemAssigned on it.`,
        );
      }
      return;
    }
    error(
      path,
      `"${value}" is not a principal. Principals are user/NAME, group/NAME, role/NAME, managed-identity/NAME, a workspace or endpoint with a system-assigned identity (workspace/W, workspace/W/endpoint/E), or an ARN.`,
    );
  };

  const checkChild = (
    path: ConfigPathElement[],
    pool: Rec,
    name: string,
    what: string,
    where: string,
  ): Rec | undefined => {
    if (Object.hasOwn(pool, name)) return rec(pool[name]);
    error(path, `${what} "${name}" is not defined${where}.${didYouMean(name, Object.keys(pool))}`);
    return undefined;
  };

  const checkScope = (path: ConfigPathElement[], value: unknown) => {
    if (typeof value !== 'string' || value === '*') return;
    if (!resolves(path, value) || value.startsWith('arn:')) return;
    const parts = pathParts(value);
    if (checkNamedEntity(path, parts, value)) return;
    const [rootKind, name] = parts;
    if (rootKind === 'bucket') {
      checkChild(path, buckets, name!, 'Bucket', ' in this file (under buckets)');
      return;
    }
    if (rootKind === 'domain') {
      const domain = checkChild(path, domains, name!, 'Domain', ' in this file (under domains)');
      if (!domain || parts.length === 2) return;
      if (parts[2] !== 'user-profile' || parts.length !== 4) {
        error(path, `"${value}" is not a scope; below a domain, write domain/D/user-profile/U.`);
        return;
      }
      checkChild(path, rec(domain.userProfiles), parts[3]!, 'User profile', ` in domain "${name}"`);
      return;
    }
    // workspace/W[/model/M[/version/V]] or workspace/W/endpoint/E[/deployment/D]
    const ws = checkChild(path, workspaces, name!, 'Workspace', ' in this file (under workspaces)');
    if (!ws || parts.length === 2) return;
    const kind = parts[2];
    const childKind = kind === 'model' ? 'version' : kind === 'endpoint' ? 'deployment' : undefined;
    if (
      !childKind ||
      parts.length === 3 ||
      parts.length === 5 ||
      parts.length > 6 ||
      (parts.length === 6 && parts[4] !== childKind)
    ) {
      error(
        path,
        `"${value}" is not a scope. Below a workspace write workspace/W/model/M[/version/V] or workspace/W/endpoint/E[/deployment/D].`,
      );
      return;
    }
    const pool = rec(kind === 'model' ? ws.models : ws.endpoints);
    const child = checkChild(
      path,
      pool,
      parts[3]!,
      kind === 'model' ? 'Model' : 'Endpoint',
      ` in workspace "${name}"`,
    );
    if (!child || parts.length === 4) return;
    const grand = rec(kind === 'model' ? child.versions : child.deployments);
    checkChild(
      path,
      grand,
      parts[5]!,
      kind === 'model' ? 'Version' : 'Deployment',
      ` of ${kind} "${parts[3]}"`,
    );
  };

  const customRoles = Object.keys(roleDefinitions);
  const checkRole = (path: ConfigPathElement[], value: unknown): Rec | undefined => {
    if (typeof value !== 'string') return undefined;
    if (Object.hasOwn(roleDefinitions, value)) return rec(roleDefinitions[value]);
    if (findBuiltInRole(value)) return undefined;
    error(
      path,
      `Role "${value}" is neither a built-in role nor defined under roleDefinitions.${didYouMean(value, [...customRoles, ...catalog.roleDefinitions.map((r) => r.name)])}`,
    );
    return undefined;
  };
  const checkAssignable = (path: ConfigPathElement[], role: Rec | undefined, scope: unknown) => {
    if (!role || typeof scope !== 'string') return;
    const allowed = strings(role.assignableScopes).map(([s]) => s);
    if (allowed.length === 0) return;
    try {
      const arn = (s: string) => resolveResourcePath(PLACEHOLDER_ACCOUNT, canonicalResourceName(s));
      const target = arn(scope);
      if (!allowed.some((s) => scopeContains(arn(s), target)))
        error(
          path,
          `The role may only be assigned at or below ${allowed.join(', ')} (its assignableScopes).`,
        );
    } catch (err) {
      if (!(err instanceof InvalidResourceNameError)) throw err;
    }
  };

  // -- buckets and policies
  for (const [name, bucket] of Object.entries(buckets)) {
    checkDocument(
      ['buckets', name, 'policy'],
      rec(bucket).policy,
      `bucket policy of "${name}"`,
      'RESOURCE_POLICY',
    );
  }
  for (const [name, policy] of Object.entries(policies)) {
    checkDocument(
      ['policies', name, 'document'],
      rec(policy).document,
      `policy "${name}"`,
      'IDENTITY_POLICY',
    );
  }

  // -- users, groups, roles, identities
  for (const [name, u] of Object.entries(users)) {
    const user = rec(u);
    checkPolicyRefs(['users', name], user);
    for (const [group, i] of strings(user.groups))
      refer(['users', name, 'groups', i], group, groups, 'Group', 'groups');
    const keyNames = new Set<string>();
    list(user.accessKeys).forEach((k, i) => {
      const keyName = typeof k === 'string' ? k : rec(k).name;
      if (typeof keyName !== 'string') return;
      if (keyNames.has(keyName))
        error(['users', name, 'accessKeys', i], `Access key "${keyName}" is listed twice.`);
      keyNames.add(keyName);
    });
  }
  for (const [name, group] of Object.entries(groups)) checkPolicyRefs(['groups', name], rec(group));
  for (const [name, r] of Object.entries(roles)) {
    const role = rec(r);
    checkPolicyRefs(['roles', name], role);
    checkDocument(
      ['roles', name, 'trust'],
      role.trust,
      `trust policy of role "${name}"`,
      'RESOURCE_POLICY',
      'trust',
    );
  }
  for (const [name, identity] of Object.entries(identities))
    checkPolicyRefs(['identities', name], rec(identity));

  // -- role definitions, assignments, deny assignments
  for (const [name, d] of Object.entries(roleDefinitions)) {
    const builtIn = findBuiltInRole(name);
    if (builtIn)
      error(
        ['roleDefinitions', name],
        `"${name}" is the name of a built-in role; choose another name.`,
        'key',
      );
    const def = rec(d);
    for (const field of ['actions', 'notActions', 'dataActions', 'notDataActions']) {
      for (const [pattern, i] of strings(def[field])) {
        if (matchActions(pattern).length === 0)
          warn(
            ['roleDefinitions', name, field, i],
            `warning: "${pattern}" matches no action aiam knows (see docs/actions.md).`,
          );
      }
    }
    for (const [scope, i] of strings(def.assignableScopes))
      checkScope(['roleDefinitions', name, 'assignableScopes', i], scope);
  }
  const assignmentKeys = new Map<string, number>();
  list(root.roleAssignments).forEach((a, i) => {
    const assignment = rec(a);
    const base: ConfigPathElement[] = ['roleAssignments', i];
    checkPrincipal([...base, 'principal'], assignment.principal);
    const role = checkRole([...base, 'role'], assignment.role);
    const before = issues.length;
    checkScope([...base, 'scope'], assignment.scope);
    if (issues.length === before) checkAssignable([...base, 'scope'], role, assignment.scope);
    const { principal, role: roleName, scope } = assignment;
    if (typeof principal === 'string' && typeof roleName === 'string' && typeof scope === 'string') {
      try {
        const key = roleAssignmentKey({
          principal: canonicalResourceName(principal),
          role: findBuiltInRole(roleName)?.name ?? roleName,
          scope: canonicalResourceName(scope),
        });
        const first = assignmentKeys.get(key);
        if (first !== undefined) error(base, `This role assignment repeats roleAssignments[${first}].`);
        else assignmentKeys.set(key, i);
      } catch (err) {
        if (!(err instanceof InvalidResourceNameError)) throw err;
      }
    }
  });
  for (const [name, d] of Object.entries(section('denyAssignments'))) {
    const deny = rec(d);
    for (const [p, i] of strings(deny.principals))
      checkPrincipal(['denyAssignments', name, 'principals', i], p, true);
    for (const [p, i] of strings(deny.excludePrincipals))
      checkPrincipal(['denyAssignments', name, 'excludePrincipals', i], p);
    checkScope(['denyAssignments', name, 'scope'], deny.scope);
    if (['actions', 'dataActions'].every((f) => list(deny[f]).length === 0))
      error(['denyAssignments', name], 'A deny assignment must deny something: give actions or dataActions.');
  }

  // -- workspaces, models, endpoints
  const endpointOwners = new Map<string, string>();
  const checkIdentitySetting = (path: ConfigPathElement[], setting: unknown) => {
    const named = Array.isArray(setting) ? setting : list(rec(setting).userAssigned);
    const base = Array.isArray(setting) ? path : [...path, 'userAssigned'];
    named.forEach((n, i) => {
      refer([...base, i], n, identities, 'Identity', 'identities');
    });
  };
  for (const [wsName, w] of Object.entries(workspaces)) {
    const ws = rec(w);
    checkIdentitySetting(['workspaces', wsName, 'identity'], ws.identity);
    const models = rec(ws.models);
    for (const [modelName, m] of Object.entries(models)) {
      for (const [version, v] of Object.entries(rec(rec(m).versions))) {
        const artifact = rec(v).artifact;
        if (typeof artifact !== 'string') continue;
        const bucket = /^s3:\/\/([^/]+)/.exec(artifact)?.[1];
        if (bucket && !Object.hasOwn(buckets, bucket))
          warn(
            ['workspaces', wsName, 'models', modelName, 'versions', version, 'artifact'],
            `warning: bucket "${bucket}" is not declared under buckets in this file.`,
          );
      }
    }
    for (const [epName, e] of Object.entries(rec(ws.endpoints))) {
      const ep = rec(e);
      const base: ConfigPathElement[] = ['workspaces', wsName, 'endpoints', epName];
      const owner = endpointOwners.get(epName);
      if (owner !== undefined)
        error(
          base,
          `Endpoint names are unique on the server; "${epName}" is also an endpoint of workspace "${owner}".`,
          'key',
        );
      else endpointOwners.set(epName, wsName);
      checkIdentitySetting([...base, 'identity'], ep.identity);
      const deployments = Object.entries(rec(ep.deployments));
      let total = 0;
      let explicit = false;
      for (const [depName, d] of deployments) {
        const dep = rec(d);
        if (typeof dep.traffic === 'number') {
          total += dep.traffic;
          explicit = true;
        }
        if (typeof dep.model !== 'string') continue;
        const [model, version] = dep.model.split(':') as [string, string | undefined];
        if (version === undefined) continue; // the schema reports the missing ":VERSION"
        const path = [...base, 'deployments', depName, 'model'];
        if (!Object.hasOwn(models, model)) {
          error(
            path,
            `Model "${model}" is not defined in workspace "${wsName}".${didYouMean(model, Object.keys(models))}`,
          );
          continue;
        }
        const versions = rec(rec(models[model]).versions);
        if (!Object.hasOwn(versions, version))
          error(
            path,
            `Model "${model}" has no version "${version}".${didYouMean(version, Object.keys(versions))}`,
          );
      }
      const implied = deployments.length === 1 && !explicit ? 100 : total;
      if (deployments.length > 0 && implied !== 100 && implied !== 0)
        error(
          [...base, 'deployments'],
          `The traffic of an endpoint's deployments must add up to 100 (or 0 to pause it); here it adds up to ${implied}.`,
        );
    }
  }

  // -- domains
  for (const [name, d] of Object.entries(domains)) {
    const domain = rec(d);
    const settings = rec(domain.defaultUserSettings);
    referOrArn(
      ['domains', name, 'defaultUserSettings', 'executionRole'],
      settings.executionRole,
      roles,
      'Role',
      'roles',
    );
    for (const [cidr, i] of strings(settings.allowedNetworks)) {
      if (!parseCidr(cidr))
        error(
          ['domains', name, 'defaultUserSettings', 'allowedNetworks', i],
          `"${cidr}" is not an IP network; write a CIDR such as 10.0.0.0/16 or 2001:db8::/32.`,
        );
    }
    for (const [profileName, p] of Object.entries(rec(domain.userProfiles))) {
      const profile = rec(p);
      const base: ConfigPathElement[] = ['domains', name, 'userProfiles', profileName];
      referOrArn([...base, 'user'], profile.user, users, 'User', 'users');
      if (profile.executionRole !== undefined)
        referOrArn([...base, 'executionRole'], profile.executionRole, roles, 'Role', 'roles');
    }
  }

  // -- SCIM group mappings, trusted issuers
  for (const [group, value] of Object.entries(section('scimGroupMappings'))) {
    const grants = Array.isArray(value) ? value : [value];
    grants.forEach((g, i) => {
      const base: ConfigPathElement[] = Array.isArray(value)
        ? ['scimGroupMappings', group, i]
        : ['scimGroupMappings', group];
      const grant = rec(g);
      const role = checkRole([...base, 'role'], grant.role);
      const before = issues.length;
      checkScope([...base, 'scope'], grant.scope);
      if (issues.length === before) checkAssignable([...base, 'scope'], role, grant.scope);
    });
  }
  const issuers = new Map<string, string>();
  for (const [name, t] of Object.entries(section('trustedIssuers'))) {
    const trusted = rec(t);
    for (const field of ['issuer', 'jwksUri']) {
      const value = trusted[field];
      if (typeof value !== 'string') continue;
      let url: URL | undefined;
      try {
        url = new URL(value);
      } catch {
        url = undefined;
      }
      const local =
        url && (url.hostname === 'localhost' || url.hostname === '127.0.0.1' || url.hostname === '[::1]');
      // OpenID Connect Discovery 1.0 §3: the issuer is an https URL; plain http only for a local test issuer.
      if (!url || (url.protocol !== 'https:' && !(url.protocol === 'http:' && local)))
        error(['trustedIssuers', name, field], `"${value}" is not an https URL.`);
      else if (field === 'issuer' && (url.search || url.hash))
        error(
          ['trustedIssuers', name, field],
          'An issuer URL has no query or fragment (OpenID Connect Discovery §3).',
        );
    }
    if (typeof trusted.issuer === 'string') {
      const other = issuers.get(trusted.issuer);
      if (other !== undefined)
        error(
          ['trustedIssuers', name, 'issuer'],
          `Issuer "${trusted.issuer}" is also declared as "${other}".`,
        );
      else issuers.set(trusted.issuer, name);
    }
    if (Array.isArray(trusted.audiences) && trusted.audiences.length === 0)
      error(
        ['trustedIssuers', name, 'audiences'],
        'List at least one audience (the "aud" its tokens carry for aiam).',
      );
  }
  return issues;
}
