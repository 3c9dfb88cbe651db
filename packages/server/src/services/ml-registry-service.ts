import { hasSystemIdentity } from '../store/ml-registry-operations.js';
import type {
  Deployment,
  DeploymentPatch,
  EndpointLimits,
  EndpointPatch,
  Model,
  ModelVersion,
  NewDeployment,
  NewEndpoint,
  NewModel,
  NewModelVersion,
  NewWorkspace,
  OnlineEndpoint,
  ResourceIdentity,
  Workspace,
} from '../store/ml-registry-types.js';
import type { Store, StoreTransaction } from '../store/store.js';
import type { ManagedIdentity, Tags } from '../store/store-types.js';
import { identityNameFor } from './iam-service.js';

/** Options of {@link MlRegistryService}. */
export interface MlRegistryServiceOptions {
  readonly store: Store;
}

/** A deployment as the gateway routes it (`GatewayDeployment` plus what authorization needs). */
export interface ResolvedDeployment {
  readonly name: string;
  /** `…:workspace/W/endpoint/E/deployment/D`. */
  readonly arn: string;
  readonly upstreamUrl: string;
  readonly trafficWeight: number;
  /** The model name OpenAI-style clients send (`model` in the body); undefined when it serves no registered model. */
  readonly model: string | undefined;
  /** "name:version". */
  readonly modelRef: string | undefined;
  /** `arn:aiam:ml::ACCT:workspace/W/model/M/version/V`: authorize ml:InvokeEndpoint on it too. */
  readonly modelVersionArn: string | undefined;
  readonly healthProbePath: string | undefined;
}

/** Everything `EndpointGateway` needs about an endpoint, resolved from the registry. */
export interface ResolvedEndpoint {
  readonly name: string;
  readonly workspace: string;
  /** `arn:aiam:ml::ACCT:workspace/W/endpoint/E`: the gateway's `resourceName`. */
  readonly arn: string;
  readonly authMode: 'key' | 'token';
  readonly api: 'openai' | 'http';
  readonly limits: EndpointLimits | undefined;
  /** The endpoint's system-assigned managed identity, when it has one. */
  readonly identityArn: string | undefined;
  readonly userAssignedIdentities: readonly string[];
  readonly deployments: readonly ResolvedDeployment[];
  /** The store revision this was read at: re-resolve when the store's revision moves past it. */
  readonly revision: number;
}

/** Its name is the resource part of the owner's ARN (`workspace/W/endpoint/E`), as IamService names it. */
async function createSystemIdentity(tx: StoreTransaction, ownerArn: string): Promise<ManagedIdentity> {
  return tx.createManagedIdentity({ name: identityNameFor(ownerArn), kind: 'system', ownerArn });
}

async function deleteSystemIdentity(tx: StoreTransaction, ownerArn: string): Promise<void> {
  const identity = await tx.getManagedIdentity({ ownerArn });
  if (identity) await tx.deleteManagedIdentity(identity.name, identity.version);
}

/**
 * The model registry: workspaces, models and versions, online endpoints and deployments. A
 * workspace or endpoint with a system-assigned identity gets its managed identity in the same
 * transaction that creates it, and loses it in the one that deletes it (Azure semantics: the
 * identity lives and dies with its resource). `resolveEndpoint` is what the gateway wiring calls.
 */
export class MlRegistryService {
  readonly #store: Store;

  constructor(options: MlRegistryServiceOptions) {
    this.#store = options.store;
  }

  // ---- workspaces -----------------------------------------------------------------------

  /** Creates a workspace, with its system-assigned identity when `identity.type` includes SystemAssigned. */
  createWorkspace(
    input: NewWorkspace,
  ): Promise<{ workspace: Workspace; identity: ManagedIdentity | undefined }> {
    return this.#store.transaction(async (tx) => {
      const workspace = await tx.createWorkspace(input);
      const identity = hasSystemIdentity(workspace.identity)
        ? await createSystemIdentity(tx, workspace.arn)
        : undefined;
      return { workspace, identity };
    });
  }

  /** A workspace, or undefined. */
  getWorkspace(name: string): Promise<Workspace | undefined> {
    return this.#store.getWorkspace(name);
  }

  /** Every workspace. */
  listWorkspaces(): Promise<Workspace[]> {
    return this.#store.listWorkspaces();
  }

  /** Updates a workspace; turning SystemAssigned on creates its identity, turning it off deletes it. */
  updateWorkspace(
    name: string,
    expectedVersion: number,
    patch: { description?: string; tags?: Tags; identity?: Partial<ResourceIdentity> },
  ): Promise<Workspace> {
    return this.#store.transaction(async (tx) => {
      const before = await tx.getWorkspace(name);
      const after = await tx.updateWorkspace(name, expectedVersion, patch);
      const had = before ? hasSystemIdentity(before.identity) : false;
      const has = hasSystemIdentity(after.identity);
      if (!had && has) await createSystemIdentity(tx, after.arn);
      if (had && !has) await deleteSystemIdentity(tx, after.arn);
      return after;
    });
  }

  /**
   * Deletes a workspace and its system-assigned identity. With `force`, its endpoints (with
   * their identities and keys) and models go too, in the same transaction; without, a
   * non-empty workspace is ConflictError ERR_DELETE_CONFLICT.
   */
  deleteWorkspace(name: string, options: { force?: boolean; expectedVersion?: number } = {}): Promise<void> {
    return this.#store.transaction(async (tx) => {
      if (options.force) {
        for (const e of await tx.listEndpoints(name)) await this.#deleteEndpoint(tx, e.name);
        for (const m of await tx.listModels(name)) await tx.deleteModel(name, m.name);
      }
      const ws = await tx.deleteWorkspace(name, options.expectedVersion);
      await deleteSystemIdentity(tx, ws.arn);
    });
  }

  // ---- models ---------------------------------------------------------------------------

  /** Creates a model in a workspace. */
  createModel(input: NewModel): Promise<Model> {
    return this.#store.createModel(input);
  }

  /** A model, or undefined. */
  getModel(workspace: string, name: string): Promise<Model | undefined> {
    return this.#store.getModel(workspace, name);
  }

  /** The models of a workspace. */
  listModels(workspace: string): Promise<Model[]> {
    return this.#store.listModels(workspace);
  }

  /** Updates a model's description or tags. */
  updateModel(
    workspace: string,
    name: string,
    expectedVersion: number,
    patch: { description?: string; tags?: Tags },
  ): Promise<Model> {
    return this.#store.updateModel(workspace, name, expectedVersion, patch);
  }

  /** Deletes a model and its versions (refused while a deployment serves one). */
  deleteModel(workspace: string, name: string): Promise<void> {
    return this.#store.deleteModel(workspace, name);
  }

  /** Registers a model version (artifacts at `s3://bucket/prefix`). */
  createModelVersion(input: NewModelVersion): Promise<ModelVersion> {
    return this.#store.createModelVersion(input);
  }

  /** A model version, or undefined. */
  getModelVersion(workspace: string, model: string, label: string): Promise<ModelVersion | undefined> {
    return this.#store.getModelVersion(workspace, model, label);
  }

  /** The versions of a model. */
  listModelVersions(workspace: string, model: string): Promise<ModelVersion[]> {
    return this.#store.listModelVersions(workspace, model);
  }

  /** Updates a version's artifact location, metadata or tags. */
  updateModelVersion(
    workspace: string,
    model: string,
    label: string,
    expectedVersion: number,
    patch: { artifactLocation?: string | null; metadata?: Record<string, unknown>; tags?: Tags },
  ): Promise<ModelVersion> {
    return this.#store.updateModelVersion(workspace, model, label, expectedVersion, patch);
  }

  /** Deletes a model version (refused while a deployment serves it). */
  deleteModelVersion(workspace: string, model: string, label: string): Promise<void> {
    return this.#store.deleteModelVersion(workspace, model, label);
  }

  // ---- endpoints and deployments --------------------------------------------------------

  /** Creates an online endpoint, with its system-assigned identity when asked for. Keys: EndpointKeyService. */
  createEndpoint(
    input: NewEndpoint,
  ): Promise<{ endpoint: OnlineEndpoint; identity: ManagedIdentity | undefined }> {
    return this.#store.transaction(async (tx) => {
      const endpoint = await tx.createEndpoint(input);
      const identity = hasSystemIdentity(endpoint.identity)
        ? await createSystemIdentity(tx, endpoint.arn)
        : undefined;
      return { endpoint, identity };
    });
  }

  /** An endpoint by name, or undefined. */
  getEndpoint(name: string): Promise<OnlineEndpoint | undefined> {
    return this.#store.getEndpoint(name);
  }

  /** Endpoints of a workspace, or all. */
  listEndpoints(workspace?: string): Promise<OnlineEndpoint[]> {
    return this.#store.listEndpoints(workspace);
  }

  /** Updates an endpoint's auth mode, API kind, limits, description or tags. */
  updateEndpoint(name: string, expectedVersion: number, patch: EndpointPatch): Promise<OnlineEndpoint> {
    return this.#store.updateEndpoint(name, expectedVersion, patch);
  }

  /** Deletes an endpoint with its deployments, keys and system-assigned identity, in one transaction. */
  deleteEndpoint(name: string): Promise<void> {
    return this.#store.transaction((tx) => this.#deleteEndpoint(tx, name));
  }

  async #deleteEndpoint(tx: StoreTransaction, name: string): Promise<void> {
    const endpoint = await tx.deleteEndpoint(name);
    await deleteSystemIdentity(tx, endpoint.arn);
  }

  /** Adds a deployment (its model "name:version" must exist in the endpoint's workspace). */
  createDeployment(input: NewDeployment): Promise<Deployment> {
    return this.#store.createDeployment(input);
  }

  /** The deployments of an endpoint. */
  listDeployments(endpoint: string): Promise<Deployment[]> {
    return this.#store.listDeployments(endpoint);
  }

  /** Changes a deployment's upstream, model, traffic weight or probe. */
  updateDeployment(
    endpoint: string,
    name: string,
    expectedVersion: number,
    patch: DeploymentPatch,
  ): Promise<Deployment> {
    return this.#store.updateDeployment(endpoint, name, expectedVersion, patch);
  }

  /** Removes a deployment. */
  deleteDeployment(endpoint: string, name: string): Promise<void> {
    return this.#store.deleteDeployment(endpoint, name);
  }

  /**
   * What the gateway needs to serve `/endpoints/{name}/…`: the endpoint's ARN, auth mode, API
   * kind, limits and identity, and its deployments with upstreams, weights and the model
   * versions they serve. Undefined for an unknown endpoint. Read in one consistent snapshot.
   */
  resolveEndpoint(name: string): Promise<ResolvedEndpoint | undefined> {
    return this.#store.readTransaction(async (tx) => {
      const endpoint = await tx.getEndpoint(name);
      if (!endpoint) return undefined;
      const deployments = await tx.listDeployments(endpoint.name);
      const identity = hasSystemIdentity(endpoint.identity)
        ? await tx.getManagedIdentity({ ownerArn: endpoint.arn })
        : undefined;
      return {
        name: endpoint.name,
        workspace: endpoint.workspace,
        arn: endpoint.arn,
        authMode: endpoint.authMode,
        api: endpoint.api,
        limits: Object.keys(endpoint.limits).length > 0 ? endpoint.limits : undefined,
        identityArn: identity?.arn,
        userAssignedIdentities: endpoint.identity.userAssigned,
        deployments: deployments.map((d) => ({
          name: d.name,
          arn: d.arn,
          upstreamUrl: d.upstreamUrl,
          trafficWeight: d.trafficWeight,
          model: d.modelRef ? d.modelRef.slice(0, d.modelRef.lastIndexOf(':')) : undefined,
          modelRef: d.modelRef ?? undefined,
          modelVersionArn: d.modelVersionArn ?? undefined,
          healthProbePath: d.healthProbePath ?? undefined,
        })),
        revision: await tx.getRevision(),
      };
    });
  }
}
