import { z } from 'zod';
import { AiamApiError, AiamResponseError } from './api-errors.js';
import { type CredentialSources, resolveCredentials } from './credentials.js';
import { type AwsCredentials, signRequest } from './sigv4-signer.js';

const W = '/api/v1/workspaces/{workspace}';
const E = `${W}/endpoints/{endpoint}`;

/** The model registry's operations (as in the server's route declarations). */
export const ML_OPERATIONS = {
  createWorkspace: { method: 'POST', path: '/api/v1/workspaces' },
  listWorkspaces: { method: 'GET', path: '/api/v1/workspaces' },
  getWorkspace: { method: 'GET', path: W },
  deleteWorkspace: { method: 'DELETE', path: W },
  updateWorkspace: { method: 'PATCH', path: W },
  createModel: { method: 'POST', path: `${W}/models` },
  listModels: { method: 'GET', path: `${W}/models` },
  getModel: { method: 'GET', path: `${W}/models/{model}` },
  deleteModel: { method: 'DELETE', path: `${W}/models/{model}` },
  createModelVersion: { method: 'POST', path: `${W}/models/{model}/versions` },
  listModelVersions: { method: 'GET', path: `${W}/models/{model}/versions` },
  getModelVersion: { method: 'GET', path: `${W}/models/{model}/versions/{version}` },
  deleteModelVersion: { method: 'DELETE', path: `${W}/models/{model}/versions/{version}` },
  createEndpoint: { method: 'POST', path: `${W}/endpoints` },
  listEndpoints: { method: 'GET', path: `${W}/endpoints` },
  getEndpoint: { method: 'GET', path: E },
  deleteEndpoint: { method: 'DELETE', path: E },
  updateEndpoint: { method: 'PATCH', path: E },
  listEndpointKeys: { method: 'GET', path: `${E}/keys` },
  regenerateEndpointKey: { method: 'POST', path: `${E}/keys/{slot}/regenerate` },
  createDeployment: { method: 'POST', path: `${E}/deployments` },
  listDeployments: { method: 'GET', path: `${E}/deployments` },
  deleteDeployment: { method: 'DELETE', path: `${E}/deployments/{deployment}` },
  updateDeployment: { method: 'PATCH', path: `${E}/deployments/{deployment}` },
} as const;

/** An operation name of {@link MlClient}. */
export type MlOperationId = keyof typeof ML_OPERATIONS;

const Identity = z.object({ type: z.string(), userAssigned: z.array(z.string()) });
const ManagedIdentity = z.object({ name: z.string(), arn: z.string(), kind: z.string() });
/** A workspace. */
export const WorkspaceSchema = z.object({
  name: z.string(),
  arn: z.string(),
  description: z.string(),
  tags: z.record(z.string(), z.string()),
  identity: Identity,
  version: z.number(),
});
/** A model. */
export const ModelSchema = z.object({ workspace: z.string(), name: z.string(), arn: z.string() });
/** A model version. */
export const ModelVersionSchema = z.object({
  workspace: z.string(),
  model: z.string(),
  label: z.string(),
  arn: z.string(),
  artifactLocation: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  tags: z.record(z.string(), z.string()),
});
/** An online endpoint. */
export const EndpointSchema = z.object({
  workspace: z.string(),
  name: z.string(),
  arn: z.string(),
  authMode: z.enum(['key', 'token']),
  api: z.enum(['openai', 'http']),
  identity: Identity,
  version: z.number(),
});
/** A deployment. */
export const DeploymentSchema = z.object({
  endpoint: z.string(),
  name: z.string(),
  arn: z.string(),
  upstreamUrl: z.string(),
  modelRef: z.string().nullable(),
  modelVersionArn: z.string().nullable(),
  trafficWeight: z.number(),
});
const KeySlot = z.enum(['primary', 'secondary']);
const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().optional() });
const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string().optional(),
    decisionId: z.string().optional(),
  }),
});

/** Options of {@link MlClient}: as `AiamClient`'s. */
export interface MlClientOptions {
  readonly endpoint?: string;
  readonly credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
  readonly credentialSources?: CredentialSources;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly region?: string;
  readonly fetch?: typeof fetch;
}

type Query = Record<string, string | number | boolean | undefined>;

/**
 * Typed client of the model registry (`/api/v1/workspaces/…`): workspaces, models, versions,
 * endpoints with their keys, deployments. Signs with SigV4 like `AiamClient`, from the same
 * credential sources (`AWS_ACCESS_KEY_ID`…, shared credentials file, profile).
 *
 * @example
 * const ml = new MlClient({ endpoint: 'http://127.0.0.1:7477' });
 * const { endpoint, keys } = await ml.createEndpoint('ws', { name: 'chat', authMode: 'key' });
 */
export class MlClient {
  readonly endpoint: string;
  readonly #fetch: typeof fetch;
  readonly #region: string;
  readonly #credentials: () => Promise<AwsCredentials>;

  constructor(options: MlClientOptions = {}) {
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
  }

  /** Creates a workspace; `identity: { type: 'SystemAssigned' }` gives it a managed identity. */
  createWorkspace(input: {
    name: string;
    description?: string;
    tags?: Record<string, string>;
    identity?: { type: string; userAssigned?: string[] };
  }) {
    return this.call(
      'createWorkspace',
      { body: input },
      z.object({ workspace: WorkspaceSchema, identity: ManagedIdentity.optional() }),
    );
  }
  /** One page of workspaces. */
  listWorkspaces(query: { limit?: number; cursor?: string } = {}) {
    return this.call('listWorkspaces', { query }, page(WorkspaceSchema));
  }
  /** A workspace. */
  getWorkspace(workspace: string) {
    return this.call('getWorkspace', { params: { workspace } }, WorkspaceSchema);
  }
  /** Deletes a workspace and its system-assigned identity (`force`: its models and endpoints too). */
  deleteWorkspace(workspace: string, options: { force?: boolean } = {}) {
    return this.call('deleteWorkspace', {
      params: { workspace },
      query: { force: options.force ? 'true' : undefined },
    });
  }
  /** Changes a workspace; turning `SystemAssigned` on or off creates or deletes its identity. */
  updateWorkspace(
    workspace: string,
    input: {
      description?: string;
      tags?: Record<string, string>;
      identity?: { type: string; userAssigned?: string[] };
    },
  ) {
    return this.call('updateWorkspace', { params: { workspace }, body: input }, WorkspaceSchema);
  }
  /** Registers a model. */
  createModel(
    workspace: string,
    input: { name: string; description?: string; tags?: Record<string, string> },
  ) {
    return this.call('createModel', { params: { workspace }, body: input }, ModelSchema);
  }
  /** One page of a workspace's models. */
  listModels(workspace: string) {
    return this.call('listModels', { params: { workspace } }, page(ModelSchema));
  }
  /** A model. */
  getModel(workspace: string, model: string) {
    return this.call('getModel', { params: { workspace, model } }, ModelSchema);
  }
  /** Deletes a model and its versions (refused while a deployment serves one). */
  deleteModel(workspace: string, model: string) {
    return this.call('deleteModel', { params: { workspace, model } });
  }
  /** Registers a model version. */
  createModelVersion(
    workspace: string,
    model: string,
    input: {
      version: string;
      artifactLocation?: string | null;
      metadata?: Record<string, unknown>;
      tags?: Record<string, string>;
    },
  ) {
    return this.call('createModelVersion', { params: { workspace, model }, body: input }, ModelVersionSchema);
  }
  /** One page of a model's versions. */
  listModelVersions(workspace: string, model: string) {
    return this.call('listModelVersions', { params: { workspace, model } }, page(ModelVersionSchema));
  }
  /** A model version. */
  getModelVersion(workspace: string, model: string, version: string) {
    return this.call('getModelVersion', { params: { workspace, model, version } }, ModelVersionSchema);
  }
  /** Deletes a model version (refused while a deployment serves it). */
  deleteModelVersion(workspace: string, model: string, version: string) {
    return this.call('deleteModelVersion', { params: { workspace, model, version } });
  }
  /** Creates an online endpoint; with `authMode: 'key'` the answer holds both keys, shown this once. */
  createEndpoint(
    workspace: string,
    input: {
      name: string;
      description?: string;
      authMode?: 'key' | 'token';
      api?: 'openai' | 'http';
      limits?: { requestsPerSecond?: number; burst?: number; maxConcurrent?: number };
      identity?: { type: string; userAssigned?: string[] };
      tags?: Record<string, string>;
    },
  ) {
    return this.call(
      'createEndpoint',
      { params: { workspace }, body: input },
      z.object({
        endpoint: EndpointSchema,
        identity: ManagedIdentity.optional(),
        keys: z.object({ primary: z.string().optional(), secondary: z.string().optional() }).optional(),
      }),
    );
  }
  /** One page of a workspace's endpoints. */
  listEndpoints(workspace: string) {
    return this.call('listEndpoints', { params: { workspace } }, page(EndpointSchema));
  }
  /** An endpoint. */
  getEndpoint(workspace: string, endpoint: string) {
    return this.call('getEndpoint', { params: { workspace, endpoint } }, EndpointSchema);
  }
  /** Deletes an endpoint with its deployments, keys and system-assigned identity. */
  deleteEndpoint(workspace: string, endpoint: string) {
    return this.call('deleteEndpoint', { params: { workspace, endpoint } });
  }
  /** Changes an endpoint's auth mode, API kind, limits, description or tags. */
  updateEndpoint(
    workspace: string,
    endpoint: string,
    input: {
      description?: string;
      authMode?: 'key' | 'token';
      api?: 'openai' | 'http';
      limits?: { requestsPerSecond?: number; burst?: number; maxConcurrent?: number };
      tags?: Record<string, string>;
    },
  ) {
    return this.call('updateEndpoint', { params: { workspace, endpoint }, body: input }, EndpointSchema);
  }
  /** The endpoint's key slots (never the keys). */
  listEndpointKeys(workspace: string, endpoint: string) {
    return this.call(
      'listEndpointKeys',
      { params: { workspace, endpoint } },
      z.object({ items: z.array(z.object({ slot: KeySlot, id: z.string(), createdAt: z.number() })) }),
    );
  }
  /** Replaces one slot's key; the other slot keeps working. The new key is shown this once. */
  regenerateEndpointKey(workspace: string, endpoint: string, slot: 'primary' | 'secondary') {
    return this.call(
      'regenerateEndpointKey',
      { params: { workspace, endpoint, slot } },
      z.object({ slot: KeySlot, key: z.string() }),
    );
  }
  /** Adds a deployment serving `model` ("name:version") from `upstreamUrl`. */
  createDeployment(
    workspace: string,
    endpoint: string,
    input: {
      name: string;
      upstreamUrl: string;
      model?: string | null;
      trafficWeight?: number;
      healthProbePath?: string | null;
    },
  ) {
    return this.call('createDeployment', { params: { workspace, endpoint }, body: input }, DeploymentSchema);
  }
  /** The deployments of an endpoint. */
  listDeployments(workspace: string, endpoint: string) {
    return this.call(
      'listDeployments',
      { params: { workspace, endpoint } },
      z.object({ items: z.array(DeploymentSchema) }),
    );
  }
  /** Changes a deployment's upstream, model, traffic weight or health probe. */
  updateDeployment(
    workspace: string,
    endpoint: string,
    deployment: string,
    input: {
      upstreamUrl?: string;
      model?: string | null;
      trafficWeight?: number;
      healthProbePath?: string | null;
    },
  ) {
    return this.call(
      'updateDeployment',
      { params: { workspace, endpoint, deployment }, body: input },
      DeploymentSchema,
    );
  }
  /** Removes a deployment. */
  deleteDeployment(workspace: string, endpoint: string, deployment: string) {
    return this.call('deleteDeployment', { params: { workspace, endpoint, deployment } });
  }

  /** Calls one operation, signed; non-2xx answers throw `AiamApiError`, odd answers `AiamResponseError`. */
  async call<S extends z.ZodType = z.ZodUndefined>(
    operationId: MlOperationId,
    input: { params?: Record<string, string>; query?: Query; body?: unknown },
    schema?: S,
  ): Promise<z.output<S>> {
    const op = ML_OPERATIONS[operationId];
    const path = op.path.replace(/\{(\w+)\}/g, (_, name: string) => {
      const value = input.params?.[name];
      if (value === undefined) throw new TypeError(`${operationId}: path parameter ${name} is missing`);
      return encodeURIComponent(value);
    });
    const url = new URL(this.endpoint + path);
    for (const [k, v] of Object.entries(input.query ?? {}))
      if (v !== undefined) url.searchParams.set(k, String(v));
    const body = input.body === undefined ? '' : JSON.stringify(input.body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (input.body !== undefined) headers['content-type'] = 'application/json';
    const signed = signRequest({
      method: op.method,
      url,
      headers,
      body,
      credentials: await this.#credentials(),
      region: this.#region,
      service: 'aiam',
      now: Date.now(),
    });
    const { host: _host, ...sendHeaders } = signed;
    let res: Response;
    try {
      res = await this.#fetch(url, { method: op.method, headers: sendHeaders, ...(body ? { body } : {}) });
    } catch (err) {
      throw new AiamResponseError(
        `cannot reach aiam at ${this.endpoint} (${(err as Error).message}); check AIAM_ENDPOINT`,
        {
          cause: err,
        },
      );
    }
    const text = await res.text();
    if (!res.ok) {
      let parsed: z.infer<typeof ErrorBody> | undefined;
      try {
        parsed = ErrorBody.parse(JSON.parse(text));
      } catch {
        parsed = undefined;
      }
      throw new AiamApiError(
        parsed?.error.code ?? `HTTP_${res.status}`,
        parsed?.error.message ?? `HTTP ${res.status} from ${op.method} ${path}`,
        {
          status: res.status,
          requestId: parsed?.error.requestId ?? res.headers.get('x-request-id') ?? undefined,
          decisionId: parsed?.error.decisionId,
        },
      );
    }
    if (!schema) return undefined as z.output<S>;
    const checked = schema.safeParse(JSON.parse(text));
    if (!checked.success)
      throw new AiamResponseError(
        `${operationId}: the answer does not match the API's schema; is the server a different version?`,
      );
    return checked.data;
  }
}
