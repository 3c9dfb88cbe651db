import { stringify } from 'yaml';
import type { AccessConfig } from './config-schema.js';
import type {
  NormalizedEndpoint,
  NormalizedIdentitySetting,
  NormalizedPermissions,
  NormalizedState,
} from './normalized-config.js';

type Out = Record<string, unknown>;

/** Sets `key` only when the value is not the default (empty, null, false, the given default). */
function put(out: Out, key: string, value: unknown, defaultValue?: unknown): void {
  if (value === undefined || value === null || value === defaultValue) return;
  if (Array.isArray(value) && value.length === 0) return;
  if (typeof value === 'object' && !Array.isArray(value) && Object.keys(value as object).length === 0) return;
  out[key] = value;
}

function each<T>(record: Readonly<Record<string, T>>, f: (value: T) => Out): Out | undefined {
  const keys = Object.keys(record).sort();
  if (keys.length === 0) return undefined;
  const out: Out = {};
  for (const k of keys) out[k] = f(record[k]!);
  return out;
}

function identity(setting: NormalizedIdentitySetting): unknown {
  if (setting.systemAssigned && setting.userAssigned.length === 0) return 'SystemAssigned';
  if (!setting.systemAssigned && setting.userAssigned.length > 0) return [...setting.userAssigned];
  if (setting.systemAssigned) return { systemAssigned: true, userAssigned: [...setting.userAssigned] };
  return undefined;
}

function permissions(out: Out, p: NormalizedPermissions): Out {
  put(out, 'actions', p.actions);
  put(out, 'notActions', p.notActions);
  put(out, 'dataActions', p.dataActions);
  put(out, 'notDataActions', p.notDataActions);
  return out;
}

function endpoint(e: NormalizedEndpoint): Out {
  const out: Out = {};
  put(out, 'description', e.description, '');
  put(out, 'authMode', e.authMode, 'token');
  put(out, 'identity', identity(e.identity));
  put(out, 'openai', e.openai, false);
  put(
    out,
    'deployments',
    each(e.deployments, (d) => ({ upstream: d.upstream, model: d.model, traffic: d.traffic })),
  );
  put(out, 'limits', { ...e.limits });
  put(out, 'tags', e.tags);
  return out;
}

/**
 * The state as an access-as-code value, in the file's own shape with defaults left out: the
 * inverse of loading (loading it gives back the same normalized state, so planning it against
 * the state it came from is empty). Holds no secrets: access keys appear by name only.
 */
export function stateToConfig(state: NormalizedState): AccessConfig {
  const out: Out = {};
  put(
    out,
    'buckets',
    each(state.buckets, (b) => {
      const o: Out = {};
      put(o, 'policy', b.policy);
      put(o, 'tags', b.tags);
      return o;
    }),
  );
  put(
    out,
    'policies',
    each(state.policies, (p) => {
      const o: Out = {};
      put(o, 'description', p.description, '');
      put(o, 'path', p.path, '/');
      o.document = p.document;
      put(o, 'tags', p.tags);
      return o;
    }),
  );
  put(
    out,
    'users',
    each(state.users, (u) => {
      const o: Out = {};
      put(o, 'path', u.path, '/');
      put(o, 'tags', u.tags);
      put(o, 'policies', u.policies);
      put(o, 'inlinePolicies', u.inlinePolicies);
      put(o, 'groups', u.groups);
      put(o, 'permissionsBoundary', u.permissionsBoundary);
      put(
        o,
        'accessKeys',
        Object.keys(u.accessKeys)
          .sort()
          .map((name) =>
            u.accessKeys[name]!.status === 'Active' ? name : { name, status: u.accessKeys[name]!.status },
          ),
      );
      return o;
    }),
  );
  put(
    out,
    'groups',
    each(state.groups, (g) => {
      const o: Out = {};
      put(o, 'path', g.path, '/');
      put(o, 'policies', g.policies);
      put(o, 'inlinePolicies', g.inlinePolicies);
      return o;
    }),
  );
  put(
    out,
    'roles',
    each(state.roles, (r) => {
      const o: Out = {};
      put(o, 'path', r.path, '/');
      put(o, 'description', r.description, '');
      o.trust = r.trust;
      put(o, 'policies', r.policies);
      put(o, 'inlinePolicies', r.inlinePolicies);
      put(o, 'maxSessionDuration', r.maxSessionDuration, 3600);
      put(o, 'permissionsBoundary', r.permissionsBoundary);
      put(o, 'tags', r.tags);
      return o;
    }),
  );
  put(
    out,
    'identities',
    each(state.identities, (i) => {
      const o: Out = {};
      put(o, 'tags', i.tags);
      put(o, 'policies', i.policies);
      put(o, 'inlinePolicies', i.inlinePolicies);
      return o;
    }),
  );
  put(
    out,
    'roleDefinitions',
    each(state.roleDefinitions, (d) => {
      const o: Out = {};
      put(o, 'description', d.description, '');
      permissions(o, d);
      put(o, 'assignableScopes', d.assignableScopes);
      return o;
    }),
  );
  put(
    out,
    'roleAssignments',
    Object.keys(state.roleAssignments)
      .sort()
      .map((k) => {
        const a = state.roleAssignments[k]!;
        return { principal: a.principal, role: a.role, scope: a.scope };
      }),
  );
  put(
    out,
    'denyAssignments',
    each(state.denyAssignments, (d) => {
      const o: Out = {};
      put(o, 'description', d.description, '');
      o.principals = [...d.principals];
      put(o, 'excludePrincipals', d.excludePrincipals);
      o.scope = d.scope;
      return permissions(o, d);
    }),
  );
  put(
    out,
    'workspaces',
    each(state.workspaces, (w) => {
      const o: Out = {};
      put(o, 'description', w.description, '');
      put(o, 'identity', identity(w.identity));
      put(o, 'tags', w.tags);
      put(
        o,
        'models',
        each(w.models, (m) => {
          const mo: Out = {};
          put(mo, 'description', m.description, '');
          put(mo, 'tags', m.tags);
          put(
            mo,
            'versions',
            each(m.versions, (v) => {
              const vo: Out = { artifact: v.artifact };
              put(vo, 'description', v.description, '');
              put(vo, 'metadata', v.metadata);
              put(vo, 'tags', v.tags);
              return vo;
            }),
          );
          return mo;
        }),
      );
      put(o, 'endpoints', each(w.endpoints, endpoint));
      return o;
    }),
  );
  put(
    out,
    'domains',
    each(state.domains, (d) => {
      const o: Out = {};
      put(o, 'authMode', d.authMode, 'IAM');
      const settings: Out = { executionRole: d.defaultUserSettings.executionRole };
      put(settings, 'allowedNetworks', d.defaultUserSettings.allowedNetworks);
      o.defaultUserSettings = settings;
      put(o, 'tags', d.tags);
      put(
        o,
        'userProfiles',
        each(d.userProfiles, (p) => {
          const po: Out = { user: p.user };
          put(po, 'executionRole', p.executionRole);
          put(po, 'tags', p.tags);
          return po;
        }),
      );
      return o;
    }),
  );
  put(
    out,
    'scimGroupMappings',
    each(state.scimGroupMappings, (m) =>
      m.grants.length === 1 && m.grants[0]
        ? { ...m.grants[0] }
        : (m.grants.map((g) => ({ ...g })) as unknown as Out),
    ),
  );
  put(
    out,
    'trustedIssuers',
    each(state.trustedIssuers, (t) => {
      const o: Out = { issuer: t.issuer, audiences: [...t.audiences] };
      put(o, 'jwksUri', t.jwksUri);
      return o;
    }),
  );
  return out as AccessConfig;
}

/** Options of `exportConfig`. */
export interface ExportOptions {
  /** A comment for the top of the file (each line is prefixed with `# `). */
  readonly header?: string;
}

/**
 * The state as YAML in the access-as-code format, in a stable order (sections as in the
 * docs, names sorted), so two exports of the same state are byte-identical and diff cleanly.
 */
export function exportConfig(state: NormalizedState, options: ExportOptions = {}): string {
  const header =
    options.header ?? 'Exported by aiam. Secrets are never exported: access keys are listed by name.';
  const body = stringify(stateToConfig(state), {
    lineWidth: 0,
    aliasDuplicateObjects: false,
    // Quote what a YAML 1.1 reader (PyYAML, older tools) would take for a date, a boolean (yes/no) or octal.
    version: '1.1',
  });
  const comment = header
    .split('\n')
    .map((line) => `# ${line}`.trimEnd())
    .join('\n');
  return `${comment}\n${body === '{}\n' ? '' : body}`;
}
