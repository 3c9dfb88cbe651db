import { mlArn } from '@aiam/policy';
import { z } from 'zod';
import {
  API_PREFIX,
  type ApiRoute,
  apiRoute,
  paginate,
  pageQuery,
  type RawInput,
  rawString,
  toProtectedRoute,
} from '../api/api-route.js';
import { IdentityOut, pageOf, Tags } from '../api/api-schemas.js';
import { requestTagConditions } from '../api/principal-routes.js';
import type { AppContext } from '../app/start-server.js';
import { NotFoundError } from '../errors.js';
import type { RouteDefinition } from '../http/route-table.js';
import { EndpointKeyService } from '../services/endpoint-key-service.js';
import { MlRegistryService } from '../services/ml-registry-service.js';

// Names as Azure ML allows them for workspaces, models, endpoints and deployments.
const MlName = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, "." "_" "-", starting with a letter or digit');
const VersionLabel = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'use letters, digits, "." "_" "-"');
const IdentityIn = z.strictObject({
  type: z.enum(['None', 'SystemAssigned', 'UserAssigned', 'SystemAssigned,UserAssigned']),
  userAssigned: z.array(z.string().min(1).max(512)).max(20).optional(),
});
const Limits = z.strictObject({
  requestsPerSecond: z.number().positive().max(1_000_000).optional(),
  burst: z.number().int().positive().max(1_000_000).optional(),
  maxConcurrent: z.number().int().positive().max(1_000_000).optional(),
});
const ResourceIdentityOut = z.object({ type: z.string(), userAssigned: z.array(z.string()) });

/** A workspace as the API shows it. */
export const WorkspaceOut = z.object({
  name: z.string(),
  arn: z.string(),
  description: z.string(),
  tags: z.record(z.string(), z.string()),
  identity: ResourceIdentityOut,
  version: z.number().int(),
  createdAt: z.number(),
  updatedAt: z.number(),
});
/** A model. */
export const ModelOut = z.object({
  workspace: z.string(),
  name: z.string(),
  arn: z.string(),
  description: z.string(),
  tags: z.record(z.string(), z.string()),
  version: z.number().int(),
  createdAt: z.number(),
});
/** A model version. */
export const ModelVersionOut = z.object({
  workspace: z.string(),
  model: z.string(),
  label: z.string(),
  arn: z.string(),
  artifactLocation: z.string().nullable(),
  metadata: z.record(z.string(), z.unknown()),
  tags: z.record(z.string(), z.string()),
  version: z.number().int(),
  createdAt: z.number(),
});
/** An online endpoint. */
export const EndpointOut = z.object({
  workspace: z.string(),
  name: z.string(),
  arn: z.string(),
  description: z.string(),
  authMode: z.enum(['key', 'token']),
  api: z.enum(['openai', 'http']),
  limits: z.object({
    requestsPerSecond: z.number().optional(),
    burst: z.number().optional(),
    maxConcurrent: z.number().optional(),
  }),
  identity: ResourceIdentityOut,
  tags: z.record(z.string(), z.string()),
  version: z.number().int(),
  createdAt: z.number(),
});
/** A deployment. */
export const DeploymentOut = z.object({
  endpoint: z.string(),
  name: z.string(),
  arn: z.string(),
  upstreamUrl: z.string(),
  modelRef: z.string().nullable(),
  modelVersionArn: z.string().nullable(),
  trafficWeight: z.number().int(),
  healthProbePath: z.string().nullable(),
  version: z.number().int(),
});
/** Endpoint keys, shown once (on creation or regeneration). */
const KeysOut = z.object({ primary: z.string().optional(), secondary: z.string().optional() });

const Ws = z.strictObject({ workspace: MlName });
const WsModel = z.strictObject({ workspace: MlName, model: MlName });
const WsModelVersion = z.strictObject({ workspace: MlName, model: MlName, version: VersionLabel });
const WsEndpoint = z.strictObject({ workspace: MlName, endpoint: MlName });
const WsEndpointDeployment = z.strictObject({ workspace: MlName, endpoint: MlName, deployment: MlName });

/**
 * The model registry's control-plane operations under `/api/v1/workspaces/…`: workspaces (with
 * system-assigned identities), models, versions, online endpoints (keys shown once), endpoint
 * keys (regenerated one slot at a time) and deployments. Each is one catalogued `ml:` action on
 * the resource's ARN (`workspace/W/model/M/version/V`, `workspace/W/endpoint/E/deployment/D`).
 */
export function mlApi(app: AppContext): ApiRoute[] {
  const registry = new MlRegistryService({ store: app.store });
  const keys = new EndpointKeyService({ store: app.store, hasher: app.hasher });
  const arn = (path: string) => mlArn(app.store.accountId, path);
  const p = (input: RawInput, k: string) => input.params[k] ?? '';
  const wsArn = (i: RawInput) => arn(`workspace/${p(i, 'workspace')}`);
  const modelArn = (i: RawInput) => `${wsArn(i)}/model/${p(i, 'model')}`;
  const versionArn = (i: RawInput) => `${modelArn(i)}/version/${p(i, 'version')}`;
  const endpointArn = (i: RawInput) => `${wsArn(i)}/endpoint/${p(i, 'endpoint')}`;
  const deploymentArn = (i: RawInput) => `${endpointArn(i)}/deployment/${p(i, 'deployment')}`;
  const found = <T>(value: T | undefined, what: string): T => {
    if (value === undefined) throw new NotFoundError(`${what} does not exist`);
    return value;
  };
  /** Endpoint names are unique per server; the path's workspace must be the endpoint's own. */
  const endpointIn = async (workspace: string, name: string) => {
    const e = await registry.getEndpoint(name);
    if (!e || e.workspace !== workspace)
      throw new NotFoundError(`endpoint "${name}" does not exist in workspace "${workspace}"`);
    return e;
  };

  const W = '/workspaces/{workspace}';
  const M = `${W}/models/{model}`;
  const V = `${M}/versions/{version}`;
  const E = `${W}/endpoints/{endpoint}`;
  const D = `${E}/deployments/{deployment}`;
  return [
    apiRoute({
      operationId: 'createWorkspace',
      method: 'POST',
      path: '/workspaces',
      tag: 'ml',
      summary: 'Create a workspace (with its system-assigned identity when asked for).',
      action: 'ml:CreateWorkspace',
      body: z.strictObject({
        name: MlName,
        description: z.string().max(1024).optional(),
        tags: Tags.optional(),
        identity: IdentityIn.optional(),
      }),
      response: z.object({ workspace: WorkspaceOut, identity: IdentityOut.optional() }),
      status: 201,
      resource: ({ body }) => arn(`workspace/${rawString(body, 'name') ?? ''}`),
      conditions: (i) => ({ ...requestTagConditions(i), 'ml:WorkspaceName': rawString(i.body, 'name') }),
      handle: async ({ body }) => {
        const { workspace, identity } = await registry.createWorkspace(body);
        return { body: { workspace, ...(identity ? { identity } : {}) }, version: workspace.version };
      },
    }),
    apiRoute({
      operationId: 'listWorkspaces',
      method: 'GET',
      path: '/workspaces',
      tag: 'ml',
      summary: 'List workspaces.',
      action: 'ml:ListWorkspaces',
      paginated: true,
      query: z.strictObject(pageQuery),
      response: pageOf(WorkspaceOut),
      resource: () => '*',
      handle: async ({ query }) => ({
        body: paginate(await registry.listWorkspaces(), (w) => w.name, query),
      }),
    }),
    apiRoute({
      operationId: 'getWorkspace',
      method: 'GET',
      path: W,
      tag: 'ml',
      summary: 'Read a workspace.',
      action: 'ml:GetWorkspace',
      params: Ws,
      response: WorkspaceOut,
      resource: wsArn,
      handle: async ({ params }) => {
        const w = found(await registry.getWorkspace(params.workspace), `workspace "${params.workspace}"`);
        return { body: w, version: w.version };
      },
    }),
    apiRoute({
      operationId: 'updateWorkspace',
      method: 'PATCH',
      path: W,
      tag: 'ml',
      summary: 'Change a workspace (turning SystemAssigned on or off creates or deletes its identity).',
      action: 'ml:UpdateWorkspace',
      conditional: true,
      params: Ws,
      body: z.strictObject({
        description: z.string().max(1024).optional(),
        tags: Tags.optional(),
        identity: IdentityIn.optional(),
      }),
      response: WorkspaceOut,
      resource: wsArn,
      handle: async ({ params, body, ifMatch }) => {
        const at =
          ifMatch ??
          found(await registry.getWorkspace(params.workspace), `workspace "${params.workspace}"`).version;
        const w = await registry.updateWorkspace(params.workspace, at, body);
        return { body: w, version: w.version };
      },
    }),
    apiRoute({
      operationId: 'deleteWorkspace',
      method: 'DELETE',
      path: W,
      tag: 'ml',
      summary: 'Delete a workspace and its system-assigned identity (force: its models and endpoints too).',
      action: 'ml:DeleteWorkspace',
      params: Ws,
      query: z.strictObject({ force: z.enum(['true', 'false']).optional() }),
      resource: wsArn,
      handle: async ({ params, query }) => {
        await registry.deleteWorkspace(params.workspace, { force: query.force === 'true' });
        return {};
      },
    }),
    // ---- models and versions -------------------------------------------------------------
    apiRoute({
      operationId: 'createModel',
      method: 'POST',
      path: `${W}/models`,
      tag: 'ml',
      summary: 'Register a model in a workspace.',
      action: 'ml:CreateModel',
      params: Ws,
      body: z.strictObject({
        name: MlName,
        description: z.string().max(1024).optional(),
        tags: Tags.optional(),
      }),
      response: ModelOut,
      status: 201,
      resource: (i) => `${wsArn(i)}/model/${rawString(i.body, 'name') ?? ''}`,
      conditions: requestTagConditions,
      handle: async ({ params, body }) => {
        const m = await registry.createModel({ workspace: params.workspace, ...body });
        return { body: m, version: m.version };
      },
    }),
    apiRoute({
      operationId: 'listModels',
      method: 'GET',
      path: `${W}/models`,
      tag: 'ml',
      summary: 'List the models of a workspace.',
      action: 'ml:ListModels',
      paginated: true,
      params: Ws,
      query: z.strictObject(pageQuery),
      response: pageOf(ModelOut),
      resource: wsArn,
      handle: async ({ params, query }) => ({
        body: paginate(await registry.listModels(params.workspace), (m) => m.name, query),
      }),
    }),
    apiRoute({
      operationId: 'getModel',
      method: 'GET',
      path: M,
      tag: 'ml',
      summary: 'Read a model.',
      action: 'ml:GetModel',
      params: WsModel,
      response: ModelOut,
      resource: modelArn,
      handle: async ({ params }) => {
        const m = found(await registry.getModel(params.workspace, params.model), `model "${params.model}"`);
        return { body: m, version: m.version };
      },
    }),
    apiRoute({
      operationId: 'deleteModel',
      method: 'DELETE',
      path: M,
      tag: 'ml',
      summary: 'Delete a model and its versions (refused while a deployment serves one).',
      action: 'ml:DeleteModel',
      params: WsModel,
      resource: modelArn,
      handle: async ({ params }) => {
        await registry.deleteModel(params.workspace, params.model);
        return {};
      },
    }),
    apiRoute({
      operationId: 'createModelVersion',
      method: 'POST',
      path: `${M}/versions`,
      tag: 'ml',
      summary: 'Register a model version (artifacts at s3://bucket/prefix).',
      action: 'ml:CreateModelVersion',
      params: WsModel,
      body: z.strictObject({
        version: VersionLabel,
        artifactLocation: z.string().max(2048).nullable().optional(),
        metadata: z.record(z.string(), z.unknown()).optional(),
        tags: Tags.optional(),
      }),
      response: ModelVersionOut,
      status: 201,
      resource: (i) => `${modelArn(i)}/version/${rawString(i.body, 'version') ?? ''}`,
      conditions: requestTagConditions,
      handle: async ({ params, body }) => {
        const { version, ...rest } = body;
        const v = await registry.createModelVersion({
          workspace: params.workspace,
          model: params.model,
          label: version,
          ...rest,
        });
        return { body: v, version: v.version };
      },
    }),
    apiRoute({
      operationId: 'listModelVersions',
      method: 'GET',
      path: `${M}/versions`,
      tag: 'ml',
      summary: 'List the versions of a model.',
      action: 'ml:ListModelVersions',
      paginated: true,
      params: WsModel,
      query: z.strictObject(pageQuery),
      response: pageOf(ModelVersionOut),
      resource: modelArn,
      handle: async ({ params, query }) => ({
        body: paginate(
          await registry.listModelVersions(params.workspace, params.model),
          (v) => v.label,
          query,
        ),
      }),
    }),
    apiRoute({
      operationId: 'getModelVersion',
      method: 'GET',
      path: V,
      tag: 'ml',
      summary: 'Read a model version (artifact location, metadata, tags).',
      action: 'ml:GetModelVersion',
      params: WsModelVersion,
      response: ModelVersionOut,
      resource: versionArn,
      handle: async ({ params }) => {
        const v = found(
          await registry.getModelVersion(params.workspace, params.model, params.version),
          `version "${params.version}" of model "${params.model}"`,
        );
        return { body: v, version: v.version };
      },
    }),
    apiRoute({
      operationId: 'deleteModelVersion',
      method: 'DELETE',
      path: V,
      tag: 'ml',
      summary: 'Delete a model version (refused while a deployment serves it).',
      action: 'ml:DeleteModelVersion',
      params: WsModelVersion,
      resource: versionArn,
      handle: async ({ params }) => {
        await registry.deleteModelVersion(params.workspace, params.model, params.version);
        return {};
      },
    }),
    // ---- endpoints, keys, deployments ----------------------------------------------------
    apiRoute({
      operationId: 'createEndpoint',
      method: 'POST',
      path: `${W}/endpoints`,
      tag: 'ml',
      summary:
        'Create an online endpoint; with authMode key, its primary and secondary keys are returned once.',
      action: 'ml:CreateEndpoint',
      params: Ws,
      body: z.strictObject({
        name: MlName,
        description: z.string().max(1024).optional(),
        authMode: z.enum(['key', 'token']).optional(),
        api: z.enum(['openai', 'http']).optional(),
        limits: Limits.optional(),
        identity: IdentityIn.optional(),
        tags: Tags.optional(),
      }),
      response: z.object({
        endpoint: EndpointOut,
        identity: IdentityOut.optional(),
        keys: KeysOut.optional(),
      }),
      status: 201,
      resource: (i) => `${wsArn(i)}/endpoint/${rawString(i.body, 'name') ?? ''}`,
      conditions: (i) => ({
        ...requestTagConditions(i),
        'ml:EndpointName': rawString(i.body, 'name'),
        'ml:EndpointAuthMode': rawString(i.body, 'authMode') ?? 'key',
      }),
      handle: async ({ params, body }) => {
        const { endpoint, identity } = await registry.createEndpoint({
          workspace: params.workspace,
          ...body,
        });
        const created = endpoint.authMode === 'key' ? await keys.ensureKeys(endpoint.name) : undefined;
        return {
          body: { endpoint, ...(identity ? { identity } : {}), ...(created ? { keys: created } : {}) },
          version: endpoint.version,
        };
      },
    }),
    apiRoute({
      operationId: 'listEndpoints',
      method: 'GET',
      path: `${W}/endpoints`,
      tag: 'ml',
      summary: 'List the online endpoints of a workspace.',
      action: 'ml:ListEndpoints',
      paginated: true,
      params: Ws,
      query: z.strictObject(pageQuery),
      response: pageOf(EndpointOut),
      resource: wsArn,
      handle: async ({ params, query }) => ({
        body: paginate(await registry.listEndpoints(params.workspace), (e) => e.name, query),
      }),
    }),
    apiRoute({
      operationId: 'getEndpoint',
      method: 'GET',
      path: E,
      tag: 'ml',
      summary: 'Read an online endpoint.',
      action: 'ml:GetEndpoint',
      params: WsEndpoint,
      response: EndpointOut,
      resource: endpointArn,
      handle: async ({ params }) => {
        const e = await endpointIn(params.workspace, params.endpoint);
        return { body: e, version: e.version };
      },
    }),
    apiRoute({
      operationId: 'updateEndpoint',
      method: 'PATCH',
      path: E,
      tag: 'ml',
      summary: "Change an endpoint's auth mode, API kind, limits, description or tags.",
      action: 'ml:UpdateEndpoint',
      conditional: true,
      params: WsEndpoint,
      body: z.strictObject({
        description: z.string().max(1024).optional(),
        authMode: z.enum(['key', 'token']).optional(),
        api: z.enum(['openai', 'http']).optional(),
        limits: Limits.optional(),
        tags: Tags.optional(),
      }),
      response: EndpointOut,
      resource: endpointArn,
      handle: async ({ params, body, ifMatch }) => {
        const e = await endpointIn(params.workspace, params.endpoint);
        const updated = await registry.updateEndpoint(e.name, ifMatch ?? e.version, body);
        if (updated.authMode === 'key') await keys.ensureKeys(updated.name);
        return { body: updated, version: updated.version };
      },
    }),
    apiRoute({
      operationId: 'deleteEndpoint',
      method: 'DELETE',
      path: E,
      tag: 'ml',
      summary: 'Delete an endpoint with its deployments, keys and system-assigned identity.',
      action: 'ml:DeleteEndpoint',
      params: WsEndpoint,
      resource: endpointArn,
      handle: async ({ params }) => {
        await endpointIn(params.workspace, params.endpoint);
        await registry.deleteEndpoint(params.endpoint);
        return {};
      },
    }),
    apiRoute({
      operationId: 'listEndpointKeys',
      method: 'GET',
      path: `${E}/keys`,
      tag: 'ml',
      summary: "List an endpoint's key slots (never the keys).",
      action: 'ml:ListEndpointKeys',
      params: WsEndpoint,
      response: z.object({
        items: z.array(
          z.object({ slot: z.enum(['primary', 'secondary']), id: z.string(), createdAt: z.number() }),
        ),
      }),
      resource: endpointArn,
      handle: async ({ params }) => {
        await endpointIn(params.workspace, params.endpoint);
        return { body: { items: await keys.listKeys(params.endpoint) } };
      },
    }),
    apiRoute({
      operationId: 'regenerateEndpointKey',
      method: 'POST',
      path: `${E}/keys/{slot}/regenerate`,
      tag: 'ml',
      summary: "Replace one key slot's key (the other keeps working); the new key is shown once.",
      action: 'ml:RegenerateEndpointKey',
      params: z.strictObject({ workspace: MlName, endpoint: MlName, slot: z.enum(['primary', 'secondary']) }),
      response: z.object({ slot: z.enum(['primary', 'secondary']), key: z.string() }),
      resource: endpointArn,
      handle: async ({ params }) => {
        await endpointIn(params.workspace, params.endpoint);
        return { body: { slot: params.slot, key: await keys.regenerateKey(params.endpoint, params.slot) } };
      },
    }),
    apiRoute({
      operationId: 'createDeployment',
      method: 'POST',
      path: `${E}/deployments`,
      tag: 'ml',
      summary:
        'Add a deployment: an upstream serving a model version ("name:version") with a traffic weight.',
      action: 'ml:CreateDeployment',
      params: WsEndpoint,
      body: z.strictObject({
        name: MlName,
        upstreamUrl: z.string().url().max(2048),
        model: z.string().max(200).nullable().optional(),
        trafficWeight: z.number().int().min(0).max(100).optional(),
        healthProbePath: z.string().max(512).nullable().optional(),
      }),
      response: DeploymentOut,
      status: 201,
      resource: (i) => `${endpointArn(i)}/deployment/${rawString(i.body, 'name') ?? ''}`,
      handle: async ({ params, body }) => {
        await endpointIn(params.workspace, params.endpoint);
        const { model, ...rest } = body;
        const d = await registry.createDeployment({
          endpoint: params.endpoint,
          ...rest,
          ...(model !== undefined ? { modelRef: model } : {}),
        });
        return { body: d, version: d.version };
      },
    }),
    apiRoute({
      operationId: 'listDeployments',
      method: 'GET',
      path: `${E}/deployments`,
      tag: 'ml',
      summary: 'List the deployments of an endpoint.',
      action: 'ml:ListDeployments',
      params: WsEndpoint,
      response: z.object({ items: z.array(DeploymentOut) }),
      resource: endpointArn,
      handle: async ({ params }) => {
        await endpointIn(params.workspace, params.endpoint);
        return { body: { items: await registry.listDeployments(params.endpoint) } };
      },
    }),
    apiRoute({
      operationId: 'updateDeployment',
      method: 'PATCH',
      path: D,
      tag: 'ml',
      summary: "Change a deployment's upstream, model, traffic weight or health probe.",
      action: 'ml:UpdateDeployment',
      conditional: true,
      params: WsEndpointDeployment,
      body: z.strictObject({
        upstreamUrl: z.string().url().max(2048).optional(),
        model: z.string().max(200).nullable().optional(),
        trafficWeight: z.number().int().min(0).max(100).optional(),
        healthProbePath: z.string().max(512).nullable().optional(),
      }),
      response: DeploymentOut,
      resource: deploymentArn,
      handle: async ({ params, body, ifMatch }) => {
        await endpointIn(params.workspace, params.endpoint);
        const current = found(
          (await registry.listDeployments(params.endpoint)).find((d) => d.name === params.deployment),
          `deployment "${params.deployment}"`,
        );
        const { model, ...rest } = body;
        const d = await registry.updateDeployment(
          params.endpoint,
          params.deployment,
          ifMatch ?? current.version,
          {
            ...rest,
            ...(model !== undefined ? { modelRef: model } : {}),
          },
        );
        return { body: d, version: d.version };
      },
    }),
    apiRoute({
      operationId: 'deleteDeployment',
      method: 'DELETE',
      path: D,
      tag: 'ml',
      summary: 'Remove a deployment.',
      action: 'ml:DeleteDeployment',
      params: WsEndpointDeployment,
      resource: deploymentArn,
      handle: async ({ params }) => {
        await endpointIn(params.workspace, params.endpoint);
        await registry.deleteDeployment(params.endpoint, params.deployment);
        return {};
      },
    }),
  ];
}

/** The model registry's routes for the server's fail-closed route table (under {@link API_PREFIX}). */
export function mlApiRoutes(app: AppContext): RouteDefinition[] {
  return mlApi(app).map(toProtectedRoute);
}
