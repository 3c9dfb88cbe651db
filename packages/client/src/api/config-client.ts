import { z } from 'zod';
import type { AccessConfig } from '../config/config-schema.js';
import {
  type NormalizedState,
  normalizeConfig,
  type ResourceSource,
  roleAssignmentKey,
} from '../config/normalized-config.js';
import { type FlatResource, flattenState, type Plan, type ResourceKind } from '../config/plan.js';
import { AiamApiError, AiamResponseError } from './api-errors.js';
import { type CredentialSources, resolveCredentials } from './credentials.js';
import { type AwsCredentials, signRequest } from './sigv4-signer.js';

/** The kinds the server's apply manages; a plan touching others is refused before it is sent. */
export const APPLIED_KINDS: readonly ResourceKind[] = [
  'bucket',
  'policy',
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
  'roleDefinition',
  'roleAssignment',
  'scimGroupMapping',
];

const Source = z.enum(['config', 'scim', 'api']);
const StateSchema = z.object({
  revision: z.number().int().min(0),
  accountId: z.string().regex(/^\d{12}$/),
  config: z.record(z.string(), z.unknown()),
  sources: z.record(z.string(), Source),
});
const SecretSchema = z.object({
  address: z.string(),
  path: z.array(z.string()),
  value: z.record(z.string(), z.string()),
});
const ApplyResultSchema = z.object({
  revision: z.number().int(),
  applied: z.number().int(),
  secrets: z.array(SecretSchema),
});
const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string().optional(),
    decisionId: z.string().optional(),
  }),
});

/** The server's state as the planner sees it. */
export interface ServerState {
  /** The store revision it was read at; pass it to {@link ConfigClient.apply}. */
  readonly revision: number;
  readonly accountId: string;
  /** Normalized like a loaded file, each resource tagged with its source. */
  readonly state: NormalizedState;
}

/** One change as the server applies it. */
export interface ApplyChange {
  readonly action: 'create' | 'update' | 'replace' | 'delete';
  readonly kind: ResourceKind;
  readonly address: string;
  readonly names: readonly string[];
  readonly value: Readonly<Record<string, unknown>>;
}

/** A secret made by an apply (an access key, endpoint keys), keyed by its address in the file. */
export type CreatedSecret = z.infer<typeof SecretSchema>;
/** What an apply answers. */
export type ApplyResult = z.infer<typeof ApplyResultSchema>;

/** Options of {@link ConfigClient}. */
export interface ConfigClientOptions {
  readonly endpoint?: string;
  readonly credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
  readonly region?: string;
  readonly fetch?: typeof fetch;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly credentialSources?: CredentialSources;
}

/**
 * The server's state normalized like a file: the same `normalizeConfig` runs on both, so a file
 * and the server agree on spelling (principals, scopes, defaults), and each resource carries
 * its source (`config`, `scim`, `api`) for the planner's ownership rules.
 */
export function normalizeServerState(
  config: Readonly<Record<string, unknown>>,
  sources: Readonly<Record<string, ResourceSource>>,
  accountId: string,
): NormalizedState {
  const assignments = Array.isArray(config.roleAssignments)
    ? (config.roleAssignments as {
        principal: string;
        role: string;
        scope: string;
        source?: ResourceSource;
      }[])
    : [];
  const plain = {
    ...config,
    roleAssignments: assignments.map((a) => ({ principal: a.principal, role: a.role, scope: a.scope })),
  } as unknown as AccessConfig;
  const state = normalizeConfig(plain, { accountId });
  const byKey = new Map<string, ResourceSource>();
  for (const a of assignments) {
    const n = normalizeConfig({ roleAssignments: [a] } as AccessConfig, { accountId }).roleAssignments;
    for (const key of Object.keys(n)) byKey.set(key, a.source ?? 'api');
  }
  const stamp = (value: object, source: ResourceSource | undefined) => {
    if (source) (value as { source?: ResourceSource }).source = source;
  };
  const walk = (
    prefix: string,
    record: Readonly<Record<string, object>>,
    children: [string, ...string[]][] = [],
  ) => {
    for (const [name, value] of Object.entries(record)) {
      const address = `${prefix}.${name}`;
      stamp(value, sources[address]);
      for (const [field, ...rest] of children) {
        const nested = (value as Record<string, unknown>)[field] as Record<string, object> | undefined;
        if (nested) walk(`${address}.${field}`, nested, rest.length ? [rest as [string, ...string[]]] : []);
      }
    }
  };
  for (const section of ['buckets', 'policies', 'groups', 'roles', 'identities', 'roleDefinitions'] as const)
    walk(section, state[section]);
  for (const [group, m] of Object.entries(state.scimGroupMappings))
    stamp(m, sources[`scimGroupMappings[${JSON.stringify(group)}]`]);
  walk('users', state.users, [['accessKeys']]);
  walk('workspaces', state.workspaces, [
    ['models', 'versions'],
    ['endpoints', 'deployments'],
  ]);
  walk('domains', state.domains, [['userProfiles']]);
  for (const a of Object.values(state.roleAssignments)) stamp(a, byKey.get(roleAssignmentKey(a)));
  return state;
}

function namesOf(resources: Map<string, FlatResource>, r: FlatResource): string[] {
  const out = [r.name];
  let parent = r.parent ? resources.get(r.parent) : undefined;
  while (parent) {
    out.unshift(parent.name);
    parent = parent.parent ? resources.get(parent.parent) : undefined;
  }
  return out;
}

/**
 * The plan's changes as the server applies them: each with the names from the outermost
 * resource in, and the resource's full fields (the file's for creates and updates, the
 * current ones for deletes). Throws a TypeError naming the first change of a kind the server
 * does not apply.
 */
export function toApplyChanges(
  plan: Plan,
  desired: NormalizedState,
  current: NormalizedState,
): ApplyChange[] {
  const want = flattenState(desired);
  const have = flattenState(current);
  return plan.changes.map((c) => {
    if (!APPLIED_KINDS.includes(c.kind))
      throw new TypeError(
        `${c.address}: apply does not manage ${c.kind} resources yet; remove them from the file or manage them through the API`,
      );
    const from = c.action === 'delete' ? have : want;
    const r = from.get(c.address);
    if (!r) throw new TypeError(`${c.address}: the plan names a resource the states do not hold`);
    return { action: c.action, kind: c.kind, address: c.address, names: namesOf(from, r), value: r.fields };
  });
}

/**
 * The access-as-code API: the server's current state (to plan against) and apply. Requests
 * are signed with SigV4 (service `aiam`) with credentials found as AWS tools find them.
 *
 * @example
 * const client = new ConfigClient();
 * const { revision, state } = await client.getState();
 * const plan = planChanges(desired, state);
 * const result = await client.apply(revision, toApplyChanges(plan, desired, state));
 */
export class ConfigClient {
  readonly endpoint: string;
  readonly #fetch: typeof fetch;
  readonly #region: string;
  readonly #credentials: () => Promise<AwsCredentials>;
  readonly #target: SignedTarget;

  constructor(options: ConfigClientOptions = {}) {
    const env = options.env ?? process.env;
    this.endpoint = (options.endpoint ?? env.AIAM_ENDPOINT ?? 'http://127.0.0.1:7477').replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
    const creds = options.credentials;
    this.#credentials =
      typeof creds === 'function'
        ? creds
        : creds
          ? async () => creds
          : () => resolveCredentials({ env, ...options.credentialSources });
    this.#target = {
      endpoint: this.endpoint,
      fetch: this.#fetch,
      region: this.#region,
      credentials: this.#credentials,
    };
  }

  /** The server's current state, normalized, with the revision it was read at. */
  async getState(): Promise<ServerState> {
    const raw = StateSchema.parse(await this.#send('GET', '/api/v1/config/state'));
    return {
      revision: raw.revision,
      accountId: raw.accountId,
      state: normalizeServerState(raw.config, raw.sources, raw.accountId),
    };
  }

  /**
   * Applies changes planned against `baseRevision`, all or nothing. A server changed since
   * then answers 409 (`ERR_STALE_PLAN`): plan again.
   */
  async apply(baseRevision: number, changes: readonly ApplyChange[]): Promise<ApplyResult> {
    return ApplyResultSchema.parse(
      await this.#send('POST', '/api/v1/config/apply', { baseRevision, changes }),
    );
  }

  #send(method: 'GET' | 'POST', path: string, payload?: unknown): Promise<unknown> {
    return sendSigned(this.#target, method, path, payload);
  }
}

/** Where and how {@link sendSigned} sends. */
export interface SignedTarget {
  readonly endpoint: string;
  readonly fetch: typeof fetch;
  readonly region: string;
  readonly credentials: () => Promise<AwsCredentials>;
}

/**
 * Sends one JSON request signed with SigV4 (service `aiam`) and returns the parsed answer;
 * non-2xx answers throw {@link AiamApiError} with the server's code, request and decision ids.
 */
export async function sendSigned(
  target: SignedTarget,
  method: 'GET' | 'POST' | 'DELETE',
  path: string,
  payload?: unknown,
): Promise<unknown> {
  const url = new URL(target.endpoint + path);
  const body = payload === undefined ? '' : JSON.stringify(payload);
  const headers: Record<string, string> = { accept: 'application/json' };
  if (payload !== undefined) headers['content-type'] = 'application/json';
  const signed = signRequest({
    method,
    url,
    headers,
    body,
    credentials: await target.credentials(),
    region: target.region,
    service: 'aiam',
    now: Date.now(),
  });
  const { host: _host, ...sendHeaders } = signed;
  let res: Response;
  try {
    res = await target.fetch(url, { method, headers: sendHeaders, ...(body ? { body } : {}) });
  } catch (err) {
    throw new AiamResponseError(
      `cannot reach aiam at ${target.endpoint} (${(err as Error).message}); check AIAM_ENDPOINT`,
      { cause: err },
    );
  }
  const text = await res.text();
  if (!res.ok) {
    const parsed = ErrorBody.safeParse(safeJson(text));
    throw new AiamApiError(
      parsed.success ? parsed.data.error.code : `HTTP_${res.status}`,
      parsed.success ? parsed.data.error.message : `HTTP ${res.status} from ${method} ${path}`,
      {
        status: res.status,
        requestId: parsed.success
          ? parsed.data.error.requestId
          : (res.headers.get('x-request-id') ?? undefined),
        decisionId: parsed.success ? parsed.data.error.decisionId : undefined,
      },
    );
  }
  if (res.status === 204) return undefined;
  const json = safeJson(text);
  if (json === undefined) throw new AiamResponseError(`${method} ${path}: the answer is not JSON`);
  return json;
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
