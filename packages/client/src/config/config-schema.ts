/**
 * The access-as-code file: its TypeScript types (what `defineConfig` takes and what a YAML or
 * JSON file decodes to) and a schema that the loader checks it against. Maps are keyed by
 * name, references are by name, and policy documents use the IAM JSON grammar verbatim.
 * docs/access-as-code.md describes every key.
 */

/** An IAM JSON policy document, verbatim (`Version`, `Statement`, ...). */
export type PolicyDocumentConfig = { readonly [key: string]: unknown };

/** Tags as AWS keeps them: string keys to string values. */
export type TagsConfig = { readonly [key: string]: string };

/** An S3 bucket of aiam's data API, with its bucket policy. */
export interface BucketConfig {
  readonly policy?: PolicyDocumentConfig;
  readonly tags?: TagsConfig;
}

/** A customer-managed (versioned) policy; attach it by name. */
export interface PolicyConfig {
  readonly description?: string;
  /** IAM path, `/` by default. */
  readonly path?: string;
  readonly document: PolicyDocumentConfig;
  readonly tags?: TagsConfig;
}

/** A named long-term access key; `status: Inactive` turns it off without deleting it. */
export type AccessKeyConfig = string | { readonly name: string; readonly status?: 'Active' | 'Inactive' };

/**
 * An IAM user. Group membership is declared here, on the user (`groups`), and only here: a
 * group has no member list, so one person's access reads from one place.
 */
export interface UserConfig {
  readonly path?: string;
  readonly tags?: TagsConfig;
  /** Managed policies attached, by name. */
  readonly policies?: readonly string[];
  readonly inlinePolicies?: { readonly [name: string]: PolicyDocumentConfig };
  /** Groups the user belongs to, by name. */
  readonly groups?: readonly string[];
  /** A managed policy (by name) that caps the user's identity-based permissions. */
  readonly permissionsBoundary?: string;
  readonly accessKeys?: readonly AccessKeyConfig[];
}

/** An IAM group; members are declared on users. */
export interface GroupConfig {
  readonly path?: string;
  readonly policies?: readonly string[];
  readonly inlinePolicies?: { readonly [name: string]: PolicyDocumentConfig };
}

/** An IAM role that principals (people, workflows, federated workloads) assume. */
export interface RoleConfig {
  readonly path?: string;
  readonly description?: string;
  /** The trust (assume-role) policy document. */
  readonly trust: PolicyDocumentConfig;
  readonly policies?: readonly string[];
  readonly inlinePolicies?: { readonly [name: string]: PolicyDocumentConfig };
  /** Seconds, 3600 to 43200 (AWS MaxSessionDuration); default 3600. */
  readonly maxSessionDuration?: number;
  readonly permissionsBoundary?: string;
  readonly tags?: TagsConfig;
}

/** A user-assigned managed identity: a workload identity with no stored secret. */
export interface IdentityConfig {
  readonly tags?: TagsConfig;
  readonly policies?: readonly string[];
  readonly inlinePolicies?: { readonly [name: string]: PolicyDocumentConfig };
}

/** A custom Azure-style role definition. */
export interface RoleDefinitionConfig {
  readonly description?: string;
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  readonly dataActions?: readonly string[];
  readonly notDataActions?: readonly string[];
  /** Scopes (paths or ARNs) at or below which the role may be assigned; default anywhere. */
  readonly assignableScopes?: readonly string[];
}

/** A role (built-in or custom) granted to a principal at a scope (paths or ARNs). */
export interface RoleAssignmentConfig {
  readonly principal: string;
  readonly role: string;
  readonly scope: string;
}

/** Actions denied at a scope to principals, whatever any allow says. */
export interface DenyAssignmentConfig {
  readonly description?: string;
  /** Principals (paths or ARNs); `*` is everyone. */
  readonly principals: readonly string[];
  readonly excludePrincipals?: readonly string[];
  readonly scope: string;
  readonly actions?: readonly string[];
  readonly notActions?: readonly string[];
  readonly dataActions?: readonly string[];
  readonly notDataActions?: readonly string[];
}

/**
 * The managed identities of a workspace or endpoint: `SystemAssigned` (created and deleted
 * with it), `None`, a list of user-assigned identity names, or both in the object form.
 */
export type IdentitySettingConfig =
  | 'SystemAssigned'
  | 'None'
  | readonly string[]
  | { readonly systemAssigned?: boolean; readonly userAssigned?: readonly string[] };

/** One version of a model: where its artifact is, and free-form metadata. */
export interface ModelVersionConfig {
  /** `s3://BUCKET/PREFIX` in aiam's data API. */
  readonly artifact: string;
  readonly description?: string;
  readonly metadata?: { readonly [key: string]: string };
  readonly tags?: TagsConfig;
}

/** A model in a workspace, with its versions keyed by version (`"1"`, `"2"`). */
export interface ModelConfig {
  readonly description?: string;
  readonly tags?: TagsConfig;
  readonly versions?: { readonly [version: string]: ModelVersionConfig };
}

/** A deployment behind an endpoint: an upstream server serving one model version. */
export interface DeploymentConfig {
  /** Base URL of the model server. */
  readonly upstream: string;
  /** `MODEL:VERSION` of a model in the same workspace. */
  readonly model: string;
  /** Percent of the endpoint's traffic, 0 to 100; the deployments of an endpoint sum to 100. */
  readonly traffic?: number;
}

/** Per-caller limits of an endpoint, enforced by the gateway. */
export interface EndpointLimitsConfig {
  readonly requestsPerSecond?: number;
  readonly burst?: number;
  readonly maxConcurrent?: number;
}

/** An online inference endpoint; its name is unique on the server. */
export interface EndpointConfig {
  readonly description?: string;
  /** `key` (primary/secondary keys) or `token` (aiam JWT or SigV4); default `token`. */
  readonly authMode?: 'key' | 'token';
  readonly identity?: IdentitySettingConfig;
  /** Route OpenAI-style requests by the model they name. */
  readonly openai?: boolean;
  readonly deployments?: { readonly [name: string]: DeploymentConfig };
  readonly limits?: EndpointLimitsConfig;
  readonly tags?: TagsConfig;
}

/** A workspace holding models and endpoints. */
export interface WorkspaceConfig {
  readonly description?: string;
  readonly identity?: IdentitySettingConfig;
  readonly tags?: TagsConfig;
  readonly models?: { readonly [name: string]: ModelConfig };
  readonly endpoints?: { readonly [name: string]: EndpointConfig };
}

/** What every user profile of a domain gets unless it says otherwise. */
export interface DomainUserSettingsConfig {
  /** The role (by name, or an ARN) user profiles assume, each with its own source identity. */
  readonly executionRole: string;
  /** Source networks (CIDR) allowed for everything done in the domain; default anywhere. */
  readonly allowedNetworks?: readonly string[];
}

/** A person's profile in a domain. */
export interface UserProfileConfig {
  /** The user (by name, or an ARN) the profile belongs to. */
  readonly user: string;
  readonly executionRole?: string;
  readonly tags?: TagsConfig;
}

/** A domain (a team studio, as SageMaker's) with its user profiles. */
export interface DomainConfig {
  /** `IAM` (aiam credentials) or `SSO` (the identity provider); default `IAM`. */
  readonly authMode?: 'IAM' | 'SSO';
  readonly defaultUserSettings: DomainUserSettingsConfig;
  readonly tags?: TagsConfig;
  readonly userProfiles?: { readonly [name: string]: UserProfileConfig };
}

/** One grant to the members of an identity-provider group. */
export interface ScimGrantConfig {
  readonly role: string;
  readonly scope: string;
}

/** An external OIDC issuer trusted for federation (CI systems, Kubernetes). */
export interface TrustedIssuerConfig {
  /** The issuer URL (`iss`), https. */
  readonly issuer: string;
  /** Accepted `aud` values. */
  readonly audiences: readonly string[];
  /** Where its keys are, when not at the discovery document's `jwks_uri`. */
  readonly jwksUri?: string;
}

/** The whole file. Every key is optional. */
export interface AccessConfig {
  readonly buckets?: { readonly [name: string]: BucketConfig };
  readonly policies?: { readonly [name: string]: PolicyConfig };
  readonly users?: { readonly [name: string]: UserConfig };
  readonly groups?: { readonly [name: string]: GroupConfig };
  readonly roles?: { readonly [name: string]: RoleConfig };
  readonly identities?: { readonly [name: string]: IdentityConfig };
  readonly roleDefinitions?: { readonly [name: string]: RoleDefinitionConfig };
  readonly roleAssignments?: readonly RoleAssignmentConfig[];
  readonly denyAssignments?: { readonly [name: string]: DenyAssignmentConfig };
  readonly workspaces?: { readonly [name: string]: WorkspaceConfig };
  readonly domains?: { readonly [name: string]: DomainConfig };
  /** IdP group display name -> what its members get, kept true by SCIM. */
  readonly scimGroupMappings?: { readonly [idpGroup: string]: ScimGrantConfig | readonly ScimGrantConfig[] };
  readonly trustedIssuers?: { readonly [name: string]: TrustedIssuerConfig };
}

// ---------------------------------------------------------------------------------------------
// The schema the loader checks a decoded file against.

/** A step of a key path inside the file: a map key or a list index. */
export type ConfigPathElement = string | number;

/** The shape of one value in the file. */
export type ConfigSchema =
  | {
      readonly type: 'string';
      readonly enum?: readonly string[];
      readonly pattern?: RegExp;
      readonly hint?: string;
    }
  | { readonly type: 'integer'; readonly min?: number; readonly max?: number }
  | { readonly type: 'number'; readonly positive?: boolean }
  | { readonly type: 'boolean' }
  | {
      readonly type: 'object';
      readonly fields: { readonly [key: string]: ConfigSchema };
      readonly required?: readonly string[];
      /** Extra advice for a key that is not allowed here (e.g. `members` on a group). */
      readonly misplaced?: { readonly [key: string]: string };
    }
  | {
      readonly type: 'map';
      readonly values: ConfigSchema;
      readonly keyPattern?: RegExp;
      readonly keyHint?: string;
      readonly maxKeyLength?: number;
    }
  | {
      readonly type: 'list';
      readonly items: ConfigSchema;
      readonly unique?: boolean;
      readonly maxItems?: number;
    }
  | { readonly type: 'document' }
  | { readonly type: 'oneOf'; readonly options: readonly ConfigSchema[]; readonly describe: string };

/** A problem found by `checkConfigShape`, at a key path (`at: 'key'` points at the key itself). */
export interface ShapeIssue {
  readonly path: readonly ConfigPathElement[];
  readonly message: string;
  readonly at: 'key' | 'value';
}

const IAM_NAME = /^[\w+=,.@-]+$/;
const IAM_NAME_HINT = 'letters, digits and + = , . @ _ -';
/** Names of workspaces, models, endpoints, deployments, domains, profiles: one path segment. */
const ML_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]*$/;
const ML_NAME_HINT = 'a letter or digit, then letters, digits, _ . -';
const IAM_PATH = /^\/(?:[\x21-\x7E]*\/)?$/;

const str: ConfigSchema = { type: 'string' };
const names: ConfigSchema = { type: 'list', items: str, unique: true };
const doc: ConfigSchema = { type: 'document' };
const iamPath: ConfigSchema = {
  type: 'string',
  pattern: IAM_PATH,
  hint: 'an IAM path starts and ends with "/", e.g. "/" or "/engineering/"',
};
const tags: ConfigSchema = {
  type: 'map',
  values: str,
  maxKeyLength: 128,
  keyPattern: /^[\p{L}\p{Z}\p{N}_.:/=+\-@]+$/u,
};
const inlinePolicies: ConfigSchema = {
  type: 'map',
  values: doc,
  keyPattern: IAM_NAME,
  keyHint: IAM_NAME_HINT,
  maxKeyLength: 128,
};
const actionList: ConfigSchema = { type: 'list', items: str };
const identitySetting: ConfigSchema = {
  type: 'oneOf',
  describe:
    '"SystemAssigned", "None", a list of user-assigned identity names, or { systemAssigned, userAssigned }',
  options: [
    { type: 'string', enum: ['SystemAssigned', 'None'] },
    names,
    { type: 'object', fields: { systemAssigned: { type: 'boolean' }, userAssigned: names } },
  ],
};
const scimGrant: ConfigSchema = {
  type: 'object',
  fields: { role: str, scope: str },
  required: ['role', 'scope'],
};
const memberAdvice =
  'membership is declared on the user: add the group to users.NAME.groups (one place per person)';

/** The schema of the whole file; the loader and docs/access-as-code.md follow it. */
export const ACCESS_CONFIG_SCHEMA: ConfigSchema = {
  type: 'object',
  fields: {
    buckets: {
      type: 'map',
      keyPattern: /^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/,
      keyHint: 'S3 bucket names are 3-63 characters: lowercase letters, digits, "." and "-"',
      values: { type: 'object', fields: { policy: doc, tags } },
    },
    policies: {
      type: 'map',
      keyPattern: IAM_NAME,
      keyHint: IAM_NAME_HINT,
      maxKeyLength: 128,
      values: {
        type: 'object',
        fields: { description: str, path: iamPath, document: doc, tags },
        required: ['document'],
      },
    },
    users: {
      type: 'map',
      keyPattern: IAM_NAME,
      keyHint: IAM_NAME_HINT,
      maxKeyLength: 64,
      values: {
        type: 'object',
        fields: {
          path: iamPath,
          tags,
          policies: names,
          inlinePolicies,
          groups: names,
          permissionsBoundary: str,
          accessKeys: {
            type: 'list',
            // AWS allows two access keys per user, so a key can be rotated without downtime.
            maxItems: 2,
            items: {
              type: 'oneOf',
              describe: 'a key name, or { name, status }',
              options: [
                { type: 'string', pattern: IAM_NAME, hint: IAM_NAME_HINT },
                {
                  type: 'object',
                  fields: {
                    name: { type: 'string', pattern: IAM_NAME, hint: IAM_NAME_HINT },
                    status: { type: 'string', enum: ['Active', 'Inactive'] },
                  },
                  required: ['name'],
                },
              ],
            },
          },
        },
      },
    },
    groups: {
      type: 'map',
      keyPattern: IAM_NAME,
      keyHint: IAM_NAME_HINT,
      maxKeyLength: 128,
      values: {
        type: 'object',
        fields: { path: iamPath, policies: names, inlinePolicies },
        misplaced: { members: memberAdvice, users: memberAdvice },
      },
    },
    roles: {
      type: 'map',
      keyPattern: IAM_NAME,
      keyHint: IAM_NAME_HINT,
      maxKeyLength: 64,
      values: {
        type: 'object',
        fields: {
          path: iamPath,
          description: str,
          trust: doc,
          policies: names,
          inlinePolicies,
          maxSessionDuration: { type: 'integer', min: 3600, max: 43200 },
          permissionsBoundary: str,
          tags,
        },
        required: ['trust'],
        misplaced: { assumeRolePolicy: 'the trust policy is written under "trust"' },
      },
    },
    identities: {
      type: 'map',
      keyPattern: IAM_NAME,
      keyHint: IAM_NAME_HINT,
      maxKeyLength: 128,
      values: { type: 'object', fields: { tags, policies: names, inlinePolicies } },
    },
    roleDefinitions: {
      type: 'map',
      keyPattern: /^[A-Za-z0-9][\w .-]*$/,
      keyHint: 'a letter or digit, then letters, digits, spaces, _ . -',
      maxKeyLength: 128,
      values: {
        type: 'object',
        fields: {
          description: str,
          actions: actionList,
          notActions: actionList,
          dataActions: actionList,
          notDataActions: actionList,
          assignableScopes: names,
        },
      },
    },
    roleAssignments: {
      type: 'list',
      items: {
        type: 'object',
        fields: { principal: str, role: str, scope: str },
        required: ['principal', 'role', 'scope'],
      },
    },
    denyAssignments: {
      type: 'map',
      keyPattern: /^[A-Za-z0-9][\w .-]*$/,
      keyHint: 'a letter or digit, then letters, digits, spaces, _ . -',
      values: {
        type: 'object',
        fields: {
          description: str,
          principals: names,
          excludePrincipals: names,
          scope: str,
          actions: actionList,
          notActions: actionList,
          dataActions: actionList,
          notDataActions: actionList,
        },
        required: ['principals', 'scope'],
      },
    },
    workspaces: {
      type: 'map',
      keyPattern: ML_NAME,
      keyHint: ML_NAME_HINT,
      maxKeyLength: 64,
      values: {
        type: 'object',
        fields: {
          description: str,
          identity: identitySetting,
          tags,
          models: {
            type: 'map',
            keyPattern: ML_NAME,
            keyHint: ML_NAME_HINT,
            maxKeyLength: 64,
            values: {
              type: 'object',
              fields: {
                description: str,
                tags,
                versions: {
                  type: 'map',
                  keyPattern: ML_NAME,
                  keyHint: ML_NAME_HINT,
                  maxKeyLength: 64,
                  values: {
                    type: 'object',
                    fields: {
                      artifact: {
                        type: 'string',
                        pattern: /^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](?:\/.*)?$/,
                        hint: 'an artifact location is s3://BUCKET/PREFIX',
                      },
                      description: str,
                      metadata: { type: 'map', values: str },
                      tags,
                    },
                    required: ['artifact'],
                  },
                },
              },
            },
          },
          endpoints: {
            type: 'map',
            keyPattern: ML_NAME,
            keyHint: ML_NAME_HINT,
            maxKeyLength: 64,
            values: {
              type: 'object',
              fields: {
                description: str,
                authMode: { type: 'string', enum: ['key', 'token'] },
                identity: identitySetting,
                openai: { type: 'boolean' },
                deployments: {
                  type: 'map',
                  keyPattern: ML_NAME,
                  keyHint: ML_NAME_HINT,
                  maxKeyLength: 64,
                  values: {
                    type: 'object',
                    fields: {
                      upstream: {
                        type: 'string',
                        pattern: /^https?:\/\/[^\s/]+(?:\/\S*)?$/,
                        hint: 'an upstream is an http:// or https:// URL',
                      },
                      model: {
                        type: 'string',
                        pattern: /^[A-Za-z0-9][A-Za-z0-9_.-]*:[A-Za-z0-9][A-Za-z0-9_.-]*$/,
                        hint: 'a deployment serves MODEL:VERSION, e.g. "myModel:1"',
                      },
                      traffic: { type: 'integer', min: 0, max: 100 },
                    },
                    required: ['upstream', 'model'],
                  },
                },
                limits: {
                  type: 'object',
                  fields: {
                    requestsPerSecond: { type: 'number', positive: true },
                    burst: { type: 'integer', min: 1 },
                    maxConcurrent: { type: 'integer', min: 1 },
                  },
                },
                tags,
              },
            },
          },
        },
      },
    },
    domains: {
      type: 'map',
      keyPattern: ML_NAME,
      keyHint: ML_NAME_HINT,
      maxKeyLength: 64,
      values: {
        type: 'object',
        fields: {
          authMode: { type: 'string', enum: ['IAM', 'SSO'] },
          defaultUserSettings: {
            type: 'object',
            fields: { executionRole: str, allowedNetworks: names },
            required: ['executionRole'],
            misplaced: {
              securityGroups:
                'aiam has no security groups: list the source networks allowed as CIDRs in allowedNetworks',
            },
          },
          tags,
          userProfiles: {
            type: 'map',
            keyPattern: ML_NAME,
            keyHint: ML_NAME_HINT,
            maxKeyLength: 64,
            values: {
              type: 'object',
              fields: { user: str, executionRole: str, tags },
              required: ['user'],
            },
          },
        },
        required: ['defaultUserSettings'],
      },
    },
    scimGroupMappings: {
      type: 'map',
      maxKeyLength: 256,
      values: {
        type: 'oneOf',
        describe: '{ role, scope } or a list of them',
        options: [scimGrant, { type: 'list', items: scimGrant }],
      },
    },
    trustedIssuers: {
      type: 'map',
      keyPattern: ML_NAME,
      keyHint: ML_NAME_HINT,
      values: {
        type: 'object',
        fields: {
          issuer: str,
          audiences: { type: 'list', items: str, unique: true },
          jwksUri: str,
        },
        required: ['issuer', 'audiences'],
      },
    },
  },
};

function editDistance(a: string, b: string): number {
  const prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    let diag = prev[0]!;
    prev[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const up = prev[j]!;
      prev[j] = Math.min(prev[j]! + 1, prev[j - 1]! + 1, diag + (a[i - 1] === b[j - 1] ? 0 : 1));
      diag = up;
    }
  }
  return prev[b.length]!;
}

/** The candidate closest to `word` (case-insensitive edit distance), when it is close enough. */
export function closestName(word: string, candidates: Iterable<string>): string | undefined {
  let best: string | undefined;
  let bestDistance = Number.POSITIVE_INFINITY;
  const lower = word.toLowerCase();
  for (const c of candidates) {
    const d = editDistance(lower, c.toLowerCase());
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  const limit = Math.max(2, Math.floor(word.length / 3));
  return bestDistance <= limit ? best : undefined;
}

/** ` Did you mean "x"?` or nothing. */
export function didYouMean(word: string, candidates: Iterable<string>): string {
  const best = closestName(word, candidates);
  return best === undefined ? '' : ` Did you mean "${best}"?`;
}

function describeValue(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a map';
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}…` : value)}`;
  return `the ${typeof value} ${String(value)}`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function matchesBaseType(schema: ConfigSchema, value: unknown): boolean {
  switch (schema.type) {
    case 'string':
      return typeof value === 'string';
    case 'integer':
    case 'number':
      return typeof value === 'number';
    case 'boolean':
      return typeof value === 'boolean';
    case 'list':
      return Array.isArray(value);
    case 'object':
    case 'map':
    case 'document':
      return isRecord(value);
    case 'oneOf':
      return schema.options.some((o) => matchesBaseType(o, value));
  }
}

const EXPECTED: Record<ConfigSchema['type'], string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a map',
  map: 'a map',
  list: 'a list',
  document: 'a policy document (a map with Version and Statement)',
  oneOf: 'one of several forms',
};

/**
 * Checks a decoded file against `ACCESS_CONFIG_SCHEMA` (or a part of it), collecting every
 * problem rather than stopping at the first. Unknown keys get a did-you-mean.
 */
export function checkConfigShape(
  value: unknown,
  schema: ConfigSchema = ACCESS_CONFIG_SCHEMA,
  path: ConfigPathElement[] = [],
  issues: ShapeIssue[] = [],
): ShapeIssue[] {
  const fail = (message: string, at: 'key' | 'value' = 'value', where = path) =>
    issues.push({ path: [...where], message, at });
  if (schema.type === 'oneOf') {
    const option = schema.options.find((o) => matchesBaseType(o, value));
    if (!option) fail(`Expected ${schema.describe}, found ${describeValue(value)}.`);
    else checkConfigShape(value, option, path, issues);
    return issues;
  }
  if (value === null && (schema.type === 'object' || schema.type === 'map' || schema.type === 'list')) {
    // `name:` with nothing after it is YAML's way to write an empty entry.
    if (schema.type === 'object' && schema.required?.length)
      fail(
        `${schema.required.map((k) => `"${k}"`).join(', ')} ${schema.required.length > 1 ? 'are' : 'is'} required here.`,
      );
    return issues;
  }
  if (!matchesBaseType(schema, value)) {
    const quote =
      schema.type === 'string' && (typeof value === 'number' || typeof value === 'boolean')
        ? ` Quote it: "${String(value)}".`
        : '';
    fail(`Expected ${EXPECTED[schema.type]}, found ${describeValue(value)}.${quote}`);
    return issues;
  }
  switch (schema.type) {
    case 'string': {
      const s = value as string;
      if (schema.enum && !schema.enum.includes(s)) {
        fail(
          `${JSON.stringify(s)} is not allowed here; use one of ${schema.enum.map((e) => JSON.stringify(e)).join(', ')}.${didYouMean(s, schema.enum)}`,
        );
      } else if (schema.pattern && !schema.pattern.test(s)) {
        fail(`${JSON.stringify(s)} is not valid: ${schema.hint ?? `it must match ${schema.pattern}`}.`);
      }
      return issues;
    }
    case 'integer':
    case 'number': {
      const n = value as number;
      if (!Number.isFinite(n)) fail(`Expected a finite number, found ${n}.`);
      else if (schema.type === 'integer' && !Number.isInteger(n))
        fail(`Expected a whole number, found ${n}.`);
      else if (schema.type === 'integer' && schema.min !== undefined && n < schema.min)
        fail(`${n} is below the minimum, ${schema.min}.`);
      else if (schema.type === 'integer' && schema.max !== undefined && n > schema.max)
        fail(`${n} is above the maximum, ${schema.max}.`);
      else if (schema.type === 'number' && schema.positive && n <= 0)
        fail(`Expected a number above 0, found ${n}.`);
      return issues;
    }
    case 'boolean':
    case 'document':
      // Documents are checked by the policy validator, which knows their grammar.
      return issues;
    case 'list': {
      const list = value as unknown[];
      if (schema.maxItems !== undefined && list.length > schema.maxItems)
        fail(`At most ${schema.maxItems} entries are allowed here; found ${list.length}.`);
      const seen = new Set<string>();
      list.forEach((item, i) => {
        checkConfigShape(item, schema.items, [...path, i], issues);
        if (schema.unique && typeof item === 'string') {
          if (seen.has(item)) fail(`${JSON.stringify(item)} is listed twice.`, 'value', [...path, i]);
          seen.add(item);
        }
      });
      return issues;
    }
    case 'map': {
      for (const [key, item] of Object.entries(value as Record<string, unknown>)) {
        const at = [...path, key];
        if (key.length === 0) fail('A name is empty.', 'key', at);
        else if (schema.maxKeyLength !== undefined && key.length > schema.maxKeyLength)
          fail(
            `The name ${JSON.stringify(key)} is longer than ${schema.maxKeyLength} characters.`,
            'key',
            at,
          );
        else if (schema.keyPattern && !schema.keyPattern.test(key))
          fail(
            `The name ${JSON.stringify(key)} is not valid: use ${schema.keyHint ?? 'a simpler name'}.`,
            'key',
            at,
          );
        checkConfigShape(item, schema.values, at, issues);
      }
      return issues;
    }
    case 'object': {
      const record = value as Record<string, unknown>;
      const allowed = Object.keys(schema.fields);
      for (const [key, item] of Object.entries(record)) {
        const field = schema.fields[key];
        if (field === undefined) {
          const advice = schema.misplaced?.[key];
          const where = path.length ? '' : ' at the top level';
          fail(
            advice
              ? `Unknown key "${key}": ${advice}.`
              : `Unknown key "${key}"${where}.${didYouMean(key, allowed)} Allowed keys: ${allowed.join(', ')}.`,
            'key',
            [...path, key],
          );
          continue;
        }
        checkConfigShape(item, field, [...path, key], issues);
      }
      for (const key of schema.required ?? []) {
        if (record[key] === undefined || record[key] === null) fail(`"${key}" is required here.`);
      }
      return issues;
    }
  }
}
