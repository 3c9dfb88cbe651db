import { randomUUID } from 'node:crypto';
import { mlArn, parseCidr } from '@aiam/policy';
import type { Selectable } from 'kysely';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import type { DatabaseSchema } from './database-schema.js';
import { DataPlaneOperations } from './data-plane-operations.js';
import type {
  Deployment,
  DeploymentPatch,
  Domain,
  DomainUserSettings,
  EndpointLimits,
  EndpointPatch,
  IdentityType,
  Model,
  ModelVersion,
  NewDeployment,
  NewDomain,
  NewEndpoint,
  NewModel,
  NewModelVersion,
  NewScimGroupMapping,
  NewUserProfile,
  NewWorkspace,
  OnlineEndpoint,
  ResourceIdentity,
  ScimGroupMapping,
  UserProfile,
  Workspace,
} from './ml-registry-types.js';
import {
  beginMutation,
  checkOneOf,
  checkTagSet,
  fromJson,
  insertUnique,
  staleOrMissing,
  toJson,
} from './operations-core.js';
import type { Tags } from './store-types.js';

type Row<T extends keyof DatabaseSchema> = Selectable<DatabaseSchema[T]>;

// Names of workspaces, models, endpoints, deployments, domains and profiles: they become ARN
// path segments and the gateway's URL path, so no '/', ':' or spaces (Azure ML and SageMaker
// names are all within this grammar).
const ML_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;
const IDENTITY_TYPES: readonly IdentityType[] = [
  'None',
  'SystemAssigned',
  'UserAssigned',
  'SystemAssigned,UserAssigned',
];
const IAM_ROLE_ARN = /^arn:aws:iam::\d{12}:role\/(?:[\x21-\x7e]*\/)?[\w+=,.@-]{1,64}$/;

/** The ML kinds a change touches: caches of resolved endpoints listen for these. */
export const ML_CHANGE_KINDS = [
  'workspace',
  'model',
  'endpoint',
  'deployment',
  'domain',
  'scim-group-mapping',
];

function checkName(kind: string, name: string, grammar = ML_NAME): void {
  if (typeof name !== 'string' || !grammar.test(name)) {
    throw new InputError(
      `${kind} name "${String(name).slice(0, 80)}" is invalid: start with a letter or digit, then letters, digits, ".", "_" or "-" (${grammar === ML_NAME ? 64 : 255} at most)`,
    );
  }
}

function identityOf(input: Partial<ResourceIdentity> | undefined): ResourceIdentity {
  const userAssigned = [...new Set(input?.userAssigned ?? [])];
  const type = input?.type ?? (userAssigned.length > 0 ? 'UserAssigned' : 'None');
  checkOneOf('identity type', type, IDENTITY_TYPES);
  if (type.includes('UserAssigned') !== userAssigned.length > 0) {
    throw new InputError(
      type.includes('UserAssigned')
        ? `identity type ${type} needs at least one user-assigned identity name`
        : `identity type ${type} takes no user-assigned identities; use UserAssigned`,
    );
  }
  return { type, userAssigned };
}

/** True when the identity includes a system-assigned one (created and deleted with its resource). */
export function hasSystemIdentity(identity: ResourceIdentity): boolean {
  return identity.type.startsWith('SystemAssigned');
}

function checkLimits(limits: EndpointLimits): void {
  if (limits === null || typeof limits !== 'object' || Array.isArray(limits))
    throw new InputError('endpoint limits must be an object');
  for (const [k, v] of Object.entries(limits)) {
    if (!['requestsPerSecond', 'burst', 'maxConcurrent'].includes(k))
      throw new InputError(`unknown endpoint limit "${k}": use requestsPerSecond, burst or maxConcurrent`);
    const whole = k !== 'requestsPerSecond';
    if (typeof v !== 'number' || !Number.isFinite(v) || v <= 0 || (whole && !Number.isInteger(v)))
      throw new InputError(`endpoint limit ${k} must be a positive ${whole ? 'whole ' : ''}number`);
  }
}

function checkUpstream(url: string): void {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new InputError(`upstream "${String(url).slice(0, 200)}" is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new InputError('an upstream URL must be http or https');
  // The store holds no secrets in clear: credentials for an upstream do not belong in its URL.
  if (parsed.username || parsed.password) throw new InputError('an upstream URL must not carry credentials');
}

function checkWeight(weight: number): void {
  if (!Number.isInteger(weight) || weight < 0 || weight > 100)
    throw new InputError('a traffic weight is a whole number 0..100');
}

function checkProbePath(path: string | null | undefined): void {
  if (path != null && (typeof path !== 'string' || !path.startsWith('/') || path.length > 1024))
    throw new InputError('a health probe path starts with "/"');
}

function checkRoleArn(arn: string | null | undefined, what: string): void {
  if (arn != null && !IAM_ROLE_ARN.test(arn)) throw new InputError(`${what} "${arn}" is not an IAM role ARN`);
}

function checkUserSettings(s: DomainUserSettings): void {
  if (s === null || typeof s !== 'object' || Array.isArray(s))
    throw new InputError('default user settings must be an object');
  for (const k of Object.keys(s)) {
    if (k !== 'executionRoleArn' && k !== 'allowedNetworks')
      throw new InputError(`unknown user setting "${k}": use executionRoleArn or allowedNetworks`);
  }
  checkRoleArn(s.executionRoleArn, 'execution role');
  if (s.allowedNetworks !== undefined) {
    if (!Array.isArray(s.allowedNetworks))
      throw new InputError('allowedNetworks must be a list of CIDR blocks');
    for (const n of s.allowedNetworks)
      if (typeof n !== 'string' || !parseCidr(n))
        throw new InputError(
          `allowed network "${String(n)}" is not a CIDR block (e.g. 10.0.0.0/8, 2001:db8::/32)`,
        );
  }
}

function checkArtifactLocation(location: string | null | undefined): void {
  if (location == null) return;
  // s3://bucket[/prefix]: the data plane's bucket grammar.
  if (typeof location !== 'string' || !/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(location))
    throw new InputError(
      `artifact location "${String(location).slice(0, 200)}" must look like s3://bucket/prefix`,
    );
}

/** Splits "name:version"; the version is after the last ':'. */
export function parseModelRef(ref: string): { model: string; label: string } {
  const at = typeof ref === 'string' ? ref.lastIndexOf(':') : -1;
  if (at <= 0 || at === ref.length - 1)
    throw new InputError(`model reference "${String(ref).slice(0, 200)}" must be "name:version"`);
  return { model: ref.slice(0, at), label: ref.slice(at + 1) };
}

const toWorkspace = (r: Row<'ml_workspaces'>): Workspace => ({
  id: r.id,
  name: r.name,
  arn: r.arn,
  description: r.description,
  tags: fromJson(r.tags),
  identity: fromJson(r.identity),
  version: r.version,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toModel = (r: Row<'ml_models'>, workspace: string): Model => ({
  id: r.id,
  workspace,
  name: r.name,
  arn: r.arn,
  description: r.description,
  tags: fromJson(r.tags),
  version: r.version,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toModelVersion = (r: Row<'ml_model_versions'>, workspace: string, model: string): ModelVersion => ({
  workspace,
  model,
  label: r.label,
  arn: r.arn,
  artifactLocation: r.artifact_location,
  metadata: fromJson(r.metadata),
  tags: fromJson(r.tags),
  version: r.version,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toEndpoint = (r: Row<'ml_endpoints'>, workspace: string): OnlineEndpoint => ({
  id: r.id,
  workspace,
  name: r.name,
  arn: r.arn,
  description: r.description,
  authMode: r.auth_mode as OnlineEndpoint['authMode'],
  api: r.api as OnlineEndpoint['api'],
  limits: fromJson(r.limits),
  identity: fromJson(r.identity),
  tags: fromJson(r.tags),
  version: r.version,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toDeployment = (r: Row<'ml_deployments'>, endpoint: string): Deployment => ({
  endpoint,
  name: r.name,
  arn: r.arn,
  upstreamUrl: r.upstream_url,
  modelRef: r.model_ref,
  modelVersionArn: r.model_version_arn,
  trafficWeight: r.traffic_weight,
  healthProbePath: r.health_probe_path,
  version: r.version,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toDomain = (r: Row<'ml_domains'>): Domain => ({
  id: r.id,
  name: r.name,
  arn: r.arn,
  authMode: r.auth_mode as Domain['authMode'],
  defaultUserSettings: fromJson(r.default_user_settings),
  tags: fromJson(r.tags),
  version: r.version,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toProfile = (r: Row<'ml_user_profiles'>, domain: string): UserProfile => ({
  domain,
  name: r.name,
  arn: r.arn,
  executionRoleArn: r.execution_role_arn,
  tags: fromJson(r.tags),
  version: r.version,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toMapping = (r: Row<'scim_group_mappings'>): ScimGroupMapping => ({
  id: r.id,
  groupName: r.group_name,
  roleDefinition: r.role_definition,
  scope: r.scope,
  createdAt: Number(r.created_at),
});

function deleteConflict(what: string, dependents: string[]): ConflictError {
  return new ConflictError(
    `${what} is still in use by ${dependents.slice(0, 5).join(', ')}; delete those first`,
    {
      code: 'ERR_DELETE_CONFLICT',
    },
  );
}

/**
 * The ML registry: workspaces, models and versions, online endpoints and their deployments,
 * domains and user profiles, SCIM group mappings. ARNs follow `mlArn` (resource-name.ts).
 * Managed identities are not created here: callers create a resource's system-assigned
 * identity with `createManagedIdentity` in the same transaction (see ml-registry-service.ts).
 */
export class MlRegistryOperations extends DataPlaneOperations {
  #arn(path: string): string {
    return mlArn(this.ctx.accountId, path);
  }

  async #checkUserAssigned(identity: ResourceIdentity): Promise<void> {
    for (const name of identity.userAssigned) {
      const r = await this.db
        .selectFrom('managed_identities')
        .select('kind')
        .where('name_key', '=', name.toLowerCase())
        .executeTakeFirst();
      if (r?.kind !== 'user')
        throw new NotFoundError(`user-assigned managed identity "${name}" does not exist`);
    }
  }

  // ---- workspaces -----------------------------------------------------------------------

  /** Creates a workspace. Its system-assigned identity (if asked for) is the caller's to create. */
  async createWorkspace(input: NewWorkspace): Promise<Workspace> {
    const now = beginMutation(this.ctx, 'workspace');
    checkName('workspace', input.name);
    const tags = input.tags ?? {};
    checkTagSet(tags);
    const identity = identityOf(input.identity);
    await this.#checkUserAssigned(identity);
    const row: Row<'ml_workspaces'> = {
      id: randomUUID(),
      name: input.name,
      name_key: input.name.toLowerCase(),
      arn: this.#arn(`workspace/${input.name}`),
      description: input.description ?? '',
      tags: toJson(tags),
      identity: toJson(identity),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await insertUnique(`workspace "${input.name}"`, () =>
      this.db.insertInto('ml_workspaces').values(row).execute(),
    );
    return toWorkspace(row);
  }

  /** A workspace by name (case-insensitive), or undefined. */
  async getWorkspace(name: string): Promise<Workspace | undefined> {
    const r = await this.db
      .selectFrom('ml_workspaces')
      .selectAll()
      .where('name_key', '=', String(name).toLowerCase())
      .executeTakeFirst();
    return r && toWorkspace(r);
  }

  /** Every workspace, by name. */
  async listWorkspaces(): Promise<Workspace[]> {
    return (await this.db.selectFrom('ml_workspaces').selectAll().orderBy('name_key').execute()).map(
      toWorkspace,
    );
  }

  async #requireWorkspace(name: string): Promise<Workspace> {
    const w = await this.getWorkspace(name);
    if (!w) throw new NotFoundError(`workspace "${name}" does not exist`);
    return w;
  }

  /** Changes a workspace's description, tags or identity at `expectedVersion`. */
  async updateWorkspace(
    name: string,
    expectedVersion: number,
    patch: { description?: string; tags?: Tags; identity?: Partial<ResourceIdentity> },
  ): Promise<Workspace> {
    const now = beginMutation(this.ctx, 'workspace');
    const current = await this.#requireWorkspace(name);
    if (patch.tags) checkTagSet(patch.tags);
    const identity = patch.identity ? identityOf(patch.identity) : current.identity;
    await this.#checkUserAssigned(identity);
    const r = await this.db
      .updateTable('ml_workspaces')
      .set({
        description: patch.description ?? current.description,
        tags: toJson(patch.tags ?? current.tags),
        identity: toJson(identity),
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('id', '=', current.id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return staleOrMissing(`workspace "${name}"`, current, expectedVersion);
    return toWorkspace(r);
  }

  /** Deletes an empty workspace; models or endpoints left: ConflictError ERR_DELETE_CONFLICT. */
  async deleteWorkspace(name: string, expectedVersion?: number): Promise<Workspace> {
    beginMutation(this.ctx, 'workspace');
    const current = await this.#requireWorkspace(name);
    if (expectedVersion !== undefined && current.version !== expectedVersion)
      return staleOrMissing(`workspace "${name}"`, current, expectedVersion);
    const models = await this.db
      .selectFrom('ml_models')
      .select('name')
      .where('workspace_id', '=', current.id)
      .limit(5)
      .execute();
    const endpoints = await this.db
      .selectFrom('ml_endpoints')
      .select('name')
      .where('workspace_id', '=', current.id)
      .limit(5)
      .execute();
    if (models.length + endpoints.length > 0) {
      throw deleteConflict(`workspace "${name}"`, [
        ...models.map((m) => `model ${m.name}`),
        ...endpoints.map((e) => `endpoint ${e.name}`),
      ]);
    }
    await this.db.deleteFrom('ml_workspaces').where('id', '=', current.id).execute();
    return current;
  }

  // ---- models and versions --------------------------------------------------------------

  /** Creates a model in a workspace. */
  async createModel(input: NewModel): Promise<Model> {
    const now = beginMutation(this.ctx, 'model');
    const ws = await this.#requireWorkspace(input.workspace);
    checkName('model', input.name, MODEL_NAME);
    const tags = input.tags ?? {};
    checkTagSet(tags);
    const row: Row<'ml_models'> = {
      id: randomUUID(),
      workspace_id: ws.id,
      name: input.name,
      name_key: input.name.toLowerCase(),
      arn: this.#arn(`workspace/${ws.name}/model/${input.name}`),
      description: input.description ?? '',
      tags: toJson(tags),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await insertUnique(`model "${input.name}" in workspace "${ws.name}"`, () =>
      this.db.insertInto('ml_models').values(row).execute(),
    );
    return toModel(row, ws.name);
  }

  async #modelRow(
    workspace: string,
    name: string,
  ): Promise<{ ws: Workspace; row: Row<'ml_models'> | undefined }> {
    const ws = await this.#requireWorkspace(workspace);
    const row = await this.db
      .selectFrom('ml_models')
      .selectAll()
      .where('workspace_id', '=', ws.id)
      .where('name_key', '=', String(name).toLowerCase())
      .executeTakeFirst();
    return { ws, row };
  }

  /** A model, or undefined (unknown workspace: NotFoundError). */
  async getModel(workspace: string, name: string): Promise<Model | undefined> {
    const { ws, row } = await this.#modelRow(workspace, name);
    return row && toModel(row, ws.name);
  }

  /** The models of a workspace, by name. */
  async listModels(workspace: string): Promise<Model[]> {
    const ws = await this.#requireWorkspace(workspace);
    const rows = await this.db
      .selectFrom('ml_models')
      .selectAll()
      .where('workspace_id', '=', ws.id)
      .orderBy('name_key')
      .execute();
    return rows.map((r) => toModel(r, ws.name));
  }

  async #requireModel(workspace: string, name: string): Promise<{ ws: Workspace; row: Row<'ml_models'> }> {
    const { ws, row } = await this.#modelRow(workspace, name);
    if (!row) throw new NotFoundError(`model "${name}" does not exist in workspace "${ws.name}"`);
    return { ws, row };
  }

  /** Changes a model's description or tags at `expectedVersion`. */
  async updateModel(
    workspace: string,
    name: string,
    expectedVersion: number,
    patch: { description?: string; tags?: Tags },
  ): Promise<Model> {
    const now = beginMutation(this.ctx, 'model');
    const { ws, row } = await this.#requireModel(workspace, name);
    if (patch.tags) checkTagSet(patch.tags);
    const r = await this.db
      .updateTable('ml_models')
      .set({
        description: patch.description ?? row.description,
        tags: patch.tags ? toJson(patch.tags) : row.tags,
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('id', '=', row.id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return staleOrMissing(`model "${name}"`, row, expectedVersion);
    return toModel(r, ws.name);
  }

  /** Deletes a model with its versions; a version still deployed: ConflictError ERR_DELETE_CONFLICT. */
  async deleteModel(workspace: string, name: string): Promise<void> {
    beginMutation(this.ctx, 'model');
    const { row } = await this.#requireModel(workspace, name);
    const used = await this.db
      .selectFrom('ml_deployments')
      .innerJoin('ml_model_versions', 'ml_model_versions.arn', 'ml_deployments.model_version_arn')
      .select('ml_deployments.arn')
      .where('ml_model_versions.model_id', '=', row.id)
      .limit(5)
      .execute();
    if (used.length > 0)
      throw deleteConflict(
        `model "${name}"`,
        used.map((u) => u.arn),
      );
    await this.db.deleteFrom('ml_model_versions').where('model_id', '=', row.id).execute();
    await this.db.deleteFrom('ml_models').where('id', '=', row.id).execute();
  }

  /** Registers a version of a model. */
  async createModelVersion(input: NewModelVersion): Promise<ModelVersion> {
    const now = beginMutation(this.ctx, 'model');
    const { ws, row: model } = await this.#requireModel(input.workspace, input.model);
    checkName('model version', input.label);
    checkArtifactLocation(input.artifactLocation);
    const metadata = input.metadata ?? {};
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata))
      throw new InputError('model version metadata must be a JSON object');
    const tags = input.tags ?? {};
    checkTagSet(tags);
    const row: Row<'ml_model_versions'> = {
      model_id: model.id,
      label: input.label,
      arn: this.#arn(`workspace/${ws.name}/model/${model.name}/version/${input.label}`),
      artifact_location: input.artifactLocation ?? null,
      metadata: toJson(metadata),
      tags: toJson(tags),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await insertUnique(`version "${input.label}" of model "${model.name}"`, () =>
      this.db.insertInto('ml_model_versions').values(row).execute(),
    );
    return toModelVersion(row, ws.name, model.name);
  }

  /** A model version, or undefined (unknown workspace or model: NotFoundError). */
  async getModelVersion(workspace: string, model: string, label: string): Promise<ModelVersion | undefined> {
    const { ws, row: m } = await this.#requireModel(workspace, model);
    const r = await this.db
      .selectFrom('ml_model_versions')
      .selectAll()
      .where('model_id', '=', m.id)
      .where('label', '=', label)
      .executeTakeFirst();
    return r && toModelVersion(r, ws.name, m.name);
  }

  /** The versions of a model, oldest first. */
  async listModelVersions(workspace: string, model: string): Promise<ModelVersion[]> {
    const { ws, row: m } = await this.#requireModel(workspace, model);
    const rows = await this.db
      .selectFrom('ml_model_versions')
      .selectAll()
      .where('model_id', '=', m.id)
      .orderBy('created_at')
      .orderBy('label')
      .execute();
    return rows.map((r) => toModelVersion(r, ws.name, m.name));
  }

  /** Changes a version's artifact location, metadata or tags at `expectedVersion`. */
  async updateModelVersion(
    workspace: string,
    model: string,
    label: string,
    expectedVersion: number,
    patch: { artifactLocation?: string | null; metadata?: Record<string, unknown>; tags?: Tags },
  ): Promise<ModelVersion> {
    const now = beginMutation(this.ctx, 'model');
    const current = await this.getModelVersion(workspace, model, label);
    if (!current) throw new NotFoundError(`version "${label}" of model "${model}" does not exist`);
    if (patch.artifactLocation !== undefined) checkArtifactLocation(patch.artifactLocation);
    if (patch.tags) checkTagSet(patch.tags);
    const r = await this.db
      .updateTable('ml_model_versions')
      .set({
        artifact_location:
          patch.artifactLocation === undefined ? current.artifactLocation : patch.artifactLocation,
        metadata: toJson(patch.metadata ?? current.metadata),
        tags: toJson(patch.tags ?? current.tags),
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('arn', '=', current.arn)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return staleOrMissing(`version "${label}" of model "${model}"`, current, expectedVersion);
    return toModelVersion(r, current.workspace, current.model);
  }

  /** Deletes a model version; still deployed: ConflictError ERR_DELETE_CONFLICT. */
  async deleteModelVersion(workspace: string, model: string, label: string): Promise<void> {
    beginMutation(this.ctx, 'model');
    const current = await this.getModelVersion(workspace, model, label);
    if (!current) throw new NotFoundError(`version "${label}" of model "${model}" does not exist`);
    const used = await this.db
      .selectFrom('ml_deployments')
      .select('arn')
      .where('model_version_arn', '=', current.arn)
      .limit(5)
      .execute();
    if (used.length > 0)
      throw deleteConflict(
        `model version ${model}:${label}`,
        used.map((u) => u.arn),
      );
    await this.db.deleteFrom('ml_model_versions').where('arn', '=', current.arn).execute();
  }

  // ---- online endpoints and deployments -------------------------------------------------

  /** Creates an online endpoint (name unique per server). Its system-assigned identity is the caller's to create. */
  async createEndpoint(input: NewEndpoint): Promise<OnlineEndpoint> {
    const now = beginMutation(this.ctx, 'endpoint');
    const ws = await this.#requireWorkspace(input.workspace);
    checkName('endpoint', input.name);
    const authMode = input.authMode ?? 'key';
    checkOneOf('authMode', authMode, ['key', 'token']);
    const api = input.api ?? 'http';
    checkOneOf('api', api, ['openai', 'http']);
    const limits = input.limits ?? {};
    checkLimits(limits);
    const identity = identityOf(input.identity);
    await this.#checkUserAssigned(identity);
    const tags = input.tags ?? {};
    checkTagSet(tags);
    const row: Row<'ml_endpoints'> = {
      id: randomUUID(),
      workspace_id: ws.id,
      name: input.name,
      name_key: input.name.toLowerCase(),
      arn: this.#arn(`workspace/${ws.name}/endpoint/${input.name}`),
      description: input.description ?? '',
      auth_mode: authMode,
      api,
      limits: toJson(limits),
      identity: toJson(identity),
      tags: toJson(tags),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await insertUnique(`endpoint "${input.name}" (endpoint names are unique per server)`, () =>
      this.db.insertInto('ml_endpoints').values(row).execute(),
    );
    return toEndpoint(row, ws.name);
  }

  async #endpointRow(name: string): Promise<{ row: Row<'ml_endpoints'>; workspace: string } | undefined> {
    const r = await this.db
      .selectFrom('ml_endpoints')
      .innerJoin('ml_workspaces', 'ml_workspaces.id', 'ml_endpoints.workspace_id')
      .selectAll('ml_endpoints')
      .select('ml_workspaces.name as workspace_name')
      .where('ml_endpoints.name_key', '=', String(name).toLowerCase())
      .executeTakeFirst();
    if (!r) return undefined;
    const { workspace_name, ...row } = r;
    return { row, workspace: workspace_name };
  }

  /** An endpoint by its (server-unique) name, or undefined. */
  async getEndpoint(name: string): Promise<OnlineEndpoint | undefined> {
    const found = await this.#endpointRow(name);
    return found && toEndpoint(found.row, found.workspace);
  }

  /** Endpoints, of one workspace or all, by name. */
  async listEndpoints(workspace?: string): Promise<OnlineEndpoint[]> {
    let q = this.db
      .selectFrom('ml_endpoints')
      .innerJoin('ml_workspaces', 'ml_workspaces.id', 'ml_endpoints.workspace_id')
      .selectAll('ml_endpoints')
      .select('ml_workspaces.name as workspace_name');
    if (workspace !== undefined)
      q = q.where('ml_workspaces.id', '=', (await this.#requireWorkspace(workspace)).id);
    const rows = await q.orderBy('ml_endpoints.name_key').execute();
    return rows.map(({ workspace_name, ...row }) => toEndpoint(row, workspace_name));
  }

  async #requireEndpoint(name: string): Promise<{ row: Row<'ml_endpoints'>; workspace: string }> {
    const found = await this.#endpointRow(name);
    if (!found) throw new NotFoundError(`endpoint "${name}" does not exist`);
    return found;
  }

  /** Changes an endpoint's description, auth mode, API kind, limits or tags at `expectedVersion`. */
  async updateEndpoint(name: string, expectedVersion: number, patch: EndpointPatch): Promise<OnlineEndpoint> {
    const now = beginMutation(this.ctx, 'endpoint');
    const { row, workspace } = await this.#requireEndpoint(name);
    if (patch.authMode) checkOneOf('authMode', patch.authMode, ['key', 'token']);
    if (patch.api) checkOneOf('api', patch.api, ['openai', 'http']);
    if (patch.limits) checkLimits(patch.limits);
    if (patch.tags) checkTagSet(patch.tags);
    const identity = patch.identity ? identityOf(patch.identity) : null;
    if (identity) await this.#checkUserAssigned(identity);
    const r = await this.db
      .updateTable('ml_endpoints')
      .set({
        description: patch.description ?? row.description,
        identity: identity ? toJson(identity) : row.identity,
        auth_mode: patch.authMode ?? row.auth_mode,
        api: patch.api ?? row.api,
        limits: patch.limits ? toJson(patch.limits) : row.limits,
        tags: patch.tags ? toJson(patch.tags) : row.tags,
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('id', '=', row.id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return staleOrMissing(`endpoint "${name}"`, row, expectedVersion);
    return toEndpoint(r, workspace);
  }

  /** Deletes an endpoint with its deployments and its endpoint keys (bearer keys it owns). */
  async deleteEndpoint(name: string, expectedVersion?: number): Promise<OnlineEndpoint> {
    beginMutation(this.ctx, 'endpoint');
    const { row, workspace } = await this.#requireEndpoint(name);
    if (expectedVersion !== undefined && row.version !== expectedVersion)
      return staleOrMissing(`endpoint "${name}"`, row, expectedVersion);
    const keys = await this.db.deleteFrom('bearer_keys').where('owner_arn', '=', row.arn).executeTakeFirst();
    if (Number(keys.numDeletedRows) > 0) this.ctx.touched.add('bearer-key');
    await this.db.deleteFrom('ml_deployments').where('endpoint_id', '=', row.id).execute();
    await this.db.deleteFrom('ml_endpoints').where('id', '=', row.id).execute();
    return toEndpoint(row, workspace);
  }

  async #resolveModelRef(workspace: string, ref: string | null | undefined): Promise<string | null> {
    if (ref == null) return null;
    const { model, label } = parseModelRef(ref);
    const v = await this.getModelVersion(workspace, model, label);
    if (!v) throw new NotFoundError(`model version "${ref}" does not exist in workspace "${workspace}"`);
    return v.arn;
  }

  /** Adds a deployment to an endpoint; its model reference must name a version in the endpoint's workspace. */
  async createDeployment(input: NewDeployment): Promise<Deployment> {
    const now = beginMutation(this.ctx, 'deployment');
    const { row: ep, workspace } = await this.#requireEndpoint(input.endpoint);
    checkName('deployment', input.name);
    checkUpstream(input.upstreamUrl);
    const weight = input.trafficWeight ?? 0;
    checkWeight(weight);
    checkProbePath(input.healthProbePath);
    const row: Row<'ml_deployments'> = {
      endpoint_id: ep.id,
      name: input.name,
      arn: `${ep.arn}/deployment/${input.name}`,
      upstream_url: input.upstreamUrl,
      model_ref: input.modelRef ?? null,
      model_version_arn: await this.#resolveModelRef(workspace, input.modelRef),
      traffic_weight: weight,
      health_probe_path: input.healthProbePath ?? null,
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await insertUnique(`deployment "${input.name}" of endpoint "${ep.name}"`, () =>
      this.db.insertInto('ml_deployments').values(row).execute(),
    );
    return toDeployment(row, ep.name);
  }

  /** The deployments of an endpoint, by name. */
  async listDeployments(endpoint: string): Promise<Deployment[]> {
    const { row: ep } = await this.#requireEndpoint(endpoint);
    const rows = await this.db
      .selectFrom('ml_deployments')
      .selectAll()
      .where('endpoint_id', '=', ep.id)
      .orderBy('name')
      .execute();
    return rows.map((r) => toDeployment(r, ep.name));
  }

  /** One deployment, or undefined (unknown endpoint: NotFoundError). */
  async getDeployment(endpoint: string, name: string): Promise<Deployment | undefined> {
    const { row: ep } = await this.#requireEndpoint(endpoint);
    const r = await this.db
      .selectFrom('ml_deployments')
      .selectAll()
      .where('endpoint_id', '=', ep.id)
      .where('name', '=', name)
      .executeTakeFirst();
    return r && toDeployment(r, ep.name);
  }

  /** Changes a deployment's upstream, model, weight or probe at `expectedVersion`. */
  async updateDeployment(
    endpoint: string,
    name: string,
    expectedVersion: number,
    patch: DeploymentPatch,
  ): Promise<Deployment> {
    const now = beginMutation(this.ctx, 'deployment');
    const { row: ep, workspace } = await this.#requireEndpoint(endpoint);
    const current = await this.getDeployment(endpoint, name);
    if (!current) throw new NotFoundError(`deployment "${name}" of endpoint "${endpoint}" does not exist`);
    if (patch.upstreamUrl !== undefined) checkUpstream(patch.upstreamUrl);
    if (patch.trafficWeight !== undefined) checkWeight(patch.trafficWeight);
    if (patch.healthProbePath !== undefined) checkProbePath(patch.healthProbePath);
    const modelRef = patch.modelRef === undefined ? current.modelRef : patch.modelRef;
    const r = await this.db
      .updateTable('ml_deployments')
      .set({
        upstream_url: patch.upstreamUrl ?? current.upstreamUrl,
        model_ref: modelRef,
        model_version_arn:
          patch.modelRef === undefined
            ? current.modelVersionArn
            : await this.#resolveModelRef(workspace, modelRef),
        traffic_weight: patch.trafficWeight ?? current.trafficWeight,
        health_probe_path:
          patch.healthProbePath === undefined ? current.healthProbePath : patch.healthProbePath,
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('endpoint_id', '=', ep.id)
      .where('name', '=', name)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return staleOrMissing(`deployment "${name}"`, current, expectedVersion);
    return toDeployment(r, ep.name);
  }

  /** Removes a deployment from an endpoint. */
  async deleteDeployment(endpoint: string, name: string): Promise<void> {
    beginMutation(this.ctx, 'deployment');
    const { row: ep } = await this.#requireEndpoint(endpoint);
    const r = await this.db
      .deleteFrom('ml_deployments')
      .where('endpoint_id', '=', ep.id)
      .where('name', '=', name)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0)
      throw new NotFoundError(`deployment "${name}" of endpoint "${endpoint}" does not exist`);
  }

  // ---- domains and user profiles --------------------------------------------------------

  /** Creates a domain. */
  async createDomain(input: NewDomain): Promise<Domain> {
    const now = beginMutation(this.ctx, 'domain');
    checkName('domain', input.name);
    const authMode = input.authMode ?? 'IAM';
    checkOneOf('authMode', authMode, ['IAM', 'SSO']);
    const settings = input.defaultUserSettings ?? {};
    checkUserSettings(settings);
    const tags = input.tags ?? {};
    checkTagSet(tags);
    const row: Row<'ml_domains'> = {
      id: randomUUID(),
      name: input.name,
      name_key: input.name.toLowerCase(),
      arn: this.#arn(`domain/${input.name}`),
      auth_mode: authMode,
      default_user_settings: toJson(settings),
      tags: toJson(tags),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await insertUnique(`domain "${input.name}"`, () =>
      this.db.insertInto('ml_domains').values(row).execute(),
    );
    return toDomain(row);
  }

  /** A domain by name, or undefined. */
  async getDomain(name: string): Promise<Domain | undefined> {
    const r = await this.db
      .selectFrom('ml_domains')
      .selectAll()
      .where('name_key', '=', String(name).toLowerCase())
      .executeTakeFirst();
    return r && toDomain(r);
  }

  /** Every domain, by name. */
  async listDomains(): Promise<Domain[]> {
    return (await this.db.selectFrom('ml_domains').selectAll().orderBy('name_key').execute()).map(toDomain);
  }

  async #requireDomain(name: string): Promise<Domain> {
    const d = await this.getDomain(name);
    if (!d) throw new NotFoundError(`domain "${name}" does not exist`);
    return d;
  }

  /** Changes a domain's auth mode, default user settings or tags at `expectedVersion`. */
  async updateDomain(
    name: string,
    expectedVersion: number,
    patch: { authMode?: Domain['authMode']; defaultUserSettings?: DomainUserSettings; tags?: Tags },
  ): Promise<Domain> {
    const now = beginMutation(this.ctx, 'domain');
    const current = await this.#requireDomain(name);
    if (patch.authMode) checkOneOf('authMode', patch.authMode, ['IAM', 'SSO']);
    if (patch.defaultUserSettings) checkUserSettings(patch.defaultUserSettings);
    if (patch.tags) checkTagSet(patch.tags);
    const r = await this.db
      .updateTable('ml_domains')
      .set({
        auth_mode: patch.authMode ?? current.authMode,
        default_user_settings: toJson(patch.defaultUserSettings ?? current.defaultUserSettings),
        tags: toJson(patch.tags ?? current.tags),
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('id', '=', current.id)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return staleOrMissing(`domain "${name}"`, current, expectedVersion);
    return toDomain(r);
  }

  /** Deletes a domain; user profiles left: ConflictError ERR_DELETE_CONFLICT. */
  async deleteDomain(name: string, expectedVersion?: number): Promise<void> {
    beginMutation(this.ctx, 'domain');
    const current = await this.#requireDomain(name);
    if (expectedVersion !== undefined && current.version !== expectedVersion)
      return staleOrMissing(`domain "${name}"`, current, expectedVersion);
    const profiles = await this.db
      .selectFrom('ml_user_profiles')
      .select('name')
      .where('domain_id', '=', current.id)
      .limit(5)
      .execute();
    if (profiles.length > 0)
      throw deleteConflict(
        `domain "${name}"`,
        profiles.map((p) => `user profile ${p.name}`),
      );
    await this.db.deleteFrom('ml_domains').where('id', '=', current.id).execute();
  }

  /** Creates a user profile in a domain. */
  async createUserProfile(input: NewUserProfile): Promise<UserProfile> {
    const now = beginMutation(this.ctx, 'domain');
    const domain = await this.#requireDomain(input.domain);
    checkName('user profile', input.name);
    checkRoleArn(input.executionRoleArn, 'execution role');
    const tags = input.tags ?? {};
    checkTagSet(tags);
    const row: Row<'ml_user_profiles'> = {
      domain_id: domain.id,
      name: input.name,
      name_key: input.name.toLowerCase(),
      arn: this.#arn(`domain/${domain.name}/user-profile/${input.name}`),
      execution_role_arn: input.executionRoleArn ?? null,
      tags: toJson(tags),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await insertUnique(`user profile "${input.name}" in domain "${domain.name}"`, () =>
      this.db.insertInto('ml_user_profiles').values(row).execute(),
    );
    return toProfile(row, domain.name);
  }

  /** A user profile, or undefined (unknown domain: NotFoundError). */
  async getUserProfile(domain: string, name: string): Promise<UserProfile | undefined> {
    const d = await this.#requireDomain(domain);
    const r = await this.db
      .selectFrom('ml_user_profiles')
      .selectAll()
      .where('domain_id', '=', d.id)
      .where('name_key', '=', String(name).toLowerCase())
      .executeTakeFirst();
    return r && toProfile(r, d.name);
  }

  /** The user profiles of a domain, by name. */
  async listUserProfiles(domain: string): Promise<UserProfile[]> {
    const d = await this.#requireDomain(domain);
    const rows = await this.db
      .selectFrom('ml_user_profiles')
      .selectAll()
      .where('domain_id', '=', d.id)
      .orderBy('name_key')
      .execute();
    return rows.map((r) => toProfile(r, d.name));
  }

  /** Changes a profile's execution role override or tags at `expectedVersion`. */
  async updateUserProfile(
    domain: string,
    name: string,
    expectedVersion: number,
    patch: { executionRoleArn?: string | null; tags?: Tags },
  ): Promise<UserProfile> {
    const now = beginMutation(this.ctx, 'domain');
    const current = await this.getUserProfile(domain, name);
    if (!current) throw new NotFoundError(`user profile "${name}" does not exist in domain "${domain}"`);
    if (patch.executionRoleArn !== undefined) checkRoleArn(patch.executionRoleArn, 'execution role');
    if (patch.tags) checkTagSet(patch.tags);
    const r = await this.db
      .updateTable('ml_user_profiles')
      .set({
        execution_role_arn:
          patch.executionRoleArn === undefined ? current.executionRoleArn : patch.executionRoleArn,
        tags: toJson(patch.tags ?? current.tags),
        version: expectedVersion + 1,
        updated_at: now,
      })
      .where('arn', '=', current.arn)
      .where('version', '=', expectedVersion)
      .returningAll()
      .executeTakeFirst();
    if (!r) return staleOrMissing(`user profile "${name}"`, current, expectedVersion);
    return toProfile(r, current.domain);
  }

  /** Deletes a user profile. */
  async deleteUserProfile(domain: string, name: string): Promise<void> {
    beginMutation(this.ctx, 'domain');
    const current = await this.getUserProfile(domain, name);
    if (!current) throw new NotFoundError(`user profile "${name}" does not exist in domain "${domain}"`);
    await this.db.deleteFrom('ml_user_profiles').where('arn', '=', current.arn).execute();
  }

  // ---- SCIM group mappings --------------------------------------------------------------

  /** Maps an IdP group (by display name) to a role assignment spec. */
  async createScimGroupMapping(input: NewScimGroupMapping): Promise<ScimGroupMapping> {
    const now = beginMutation(this.ctx, 'scim-group-mapping');
    if (typeof input.groupName !== 'string' || input.groupName.length < 1 || input.groupName.length > 256)
      throw new InputError('an IdP group name is 1..256 characters');
    if (typeof input.roleDefinition !== 'string' || !input.roleDefinition)
      throw new InputError('a group mapping names a role definition');
    if (typeof input.scope !== 'string' || (input.scope !== '*' && !input.scope.startsWith('arn:')))
      throw new InputError(`scope "${String(input.scope)}" must be an ARN or "*"`);
    const row: Row<'scim_group_mappings'> = {
      id: randomUUID(),
      group_name: input.groupName,
      group_name_key: input.groupName.toLowerCase(),
      role_definition: input.roleDefinition,
      scope: input.scope,
      created_at: now,
    };
    await insertUnique(
      `mapping of group "${input.groupName}" to ${input.roleDefinition} at ${input.scope}`,
      () => this.db.insertInto('scim_group_mappings').values(row).execute(),
    );
    return toMapping(row);
  }

  /** Group mappings, of one IdP group (case-insensitive) or all. */
  async listScimGroupMappings(by: { groupName?: string } = {}): Promise<ScimGroupMapping[]> {
    let q = this.db.selectFrom('scim_group_mappings').selectAll().orderBy('group_name_key').orderBy('id');
    if (by.groupName !== undefined) q = q.where('group_name_key', '=', by.groupName.toLowerCase());
    return (await q.execute()).map(toMapping);
  }

  /** Deletes a group mapping. */
  async deleteScimGroupMapping(id: string): Promise<void> {
    beginMutation(this.ctx, 'scim-group-mapping');
    const r = await this.db.deleteFrom('scim_group_mappings').where('id', '=', id).executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`group mapping ${id} does not exist`);
  }
}
