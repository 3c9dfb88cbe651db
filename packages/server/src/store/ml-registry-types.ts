import type { Tags } from './store-types.js';

/** Azure's managed-identity types of a resource (`identity.type`). */
export type IdentityType = 'None' | 'SystemAssigned' | 'UserAssigned' | 'SystemAssigned,UserAssigned';

/** Which identities a workspace or endpoint runs as. */
export interface ResourceIdentity {
  type: IdentityType;
  /** Names of user-assigned managed identities (each must exist). */
  userAssigned: string[];
}

/** An ML workspace: the scope that holds models and endpoints. */
export interface Workspace {
  id: string;
  name: string;
  arn: string;
  description: string;
  tags: Tags;
  identity: ResourceIdentity;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createWorkspace` takes. */
export interface NewWorkspace {
  name: string;
  description?: string;
  tags?: Tags;
  identity?: Partial<ResourceIdentity>;
}

/** A model in a workspace. */
export interface Model {
  id: string;
  workspace: string;
  name: string;
  arn: string;
  description: string;
  tags: Tags;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createModel` takes. */
export interface NewModel {
  workspace: string;
  name: string;
  description?: string;
  tags?: Tags;
}

/** A version of a model: its artifacts under `s3://bucket/prefix`, metadata, tags. */
export interface ModelVersion {
  workspace: string;
  model: string;
  /** The version string ("1", "2024-05-01", "v3"). */
  label: string;
  arn: string;
  artifactLocation: string | null;
  metadata: Record<string, unknown>;
  tags: Tags;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createModelVersion` takes. */
export interface NewModelVersion {
  workspace: string;
  model: string;
  label: string;
  artifactLocation?: string | null;
  metadata?: Record<string, unknown>;
  tags?: Tags;
}

/** Per (principal, endpoint) limits, as the gateway's `GatewayLimits`. */
export interface EndpointLimits {
  requestsPerSecond?: number;
  burst?: number;
  maxConcurrent?: number;
}

/** An online endpoint; its name is unique per server (it is the gateway path). */
export interface OnlineEndpoint {
  id: string;
  workspace: string;
  name: string;
  arn: string;
  description: string;
  authMode: 'key' | 'token';
  /** `openai` when the endpoint declares an OpenAI-compatible API. */
  api: 'openai' | 'http';
  limits: EndpointLimits;
  identity: ResourceIdentity;
  tags: Tags;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createEndpoint` takes. */
export interface NewEndpoint {
  workspace: string;
  name: string;
  description?: string;
  authMode?: OnlineEndpoint['authMode'];
  api?: OnlineEndpoint['api'];
  limits?: EndpointLimits;
  identity?: Partial<ResourceIdentity>;
  tags?: Tags;
}

/** What `updateEndpoint` may change. */
export type EndpointPatch = Partial<
  Pick<OnlineEndpoint, 'description' | 'authMode' | 'api' | 'limits' | 'tags'>
> & {
  /** Its system-assigned identity (if turned on or off) is the caller's to create or delete. */
  identity?: Partial<ResourceIdentity>;
};

/** A deployment behind an endpoint: an upstream serving one model version with a traffic weight. */
export interface Deployment {
  endpoint: string;
  name: string;
  arn: string;
  upstreamUrl: string;
  /** "model:version" in the endpoint's workspace, or null for a deployment serving no registered model. */
  modelRef: string | null;
  modelVersionArn: string | null;
  /** 0..100; weight 0 is reachable only when pinned. */
  trafficWeight: number;
  healthProbePath: string | null;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createDeployment` takes. */
export interface NewDeployment {
  endpoint: string;
  name: string;
  upstreamUrl: string;
  modelRef?: string | null;
  trafficWeight?: number;
  healthProbePath?: string | null;
}

/** What `updateDeployment` may change. */
export type DeploymentPatch = Partial<
  Pick<NewDeployment, 'upstreamUrl' | 'modelRef' | 'trafficWeight' | 'healthProbePath'>
>;

/** Settings every user profile of a domain inherits. */
export interface DomainUserSettings {
  /** The role user profiles assume (with their own source identity). */
  executionRoleArn?: string;
  /** CIDR blocks everything done in the domain must come from (empty: anywhere). */
  allowedNetworks?: string[];
}

/** A domain (as SageMaker's): a container of user profiles with default settings. */
export interface Domain {
  id: string;
  name: string;
  arn: string;
  authMode: 'IAM' | 'SSO';
  defaultUserSettings: DomainUserSettings;
  tags: Tags;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createDomain` takes. */
export interface NewDomain {
  name: string;
  authMode?: Domain['authMode'];
  defaultUserSettings?: DomainUserSettings;
  tags?: Tags;
}

/** A person's profile in a domain. */
export interface UserProfile {
  domain: string;
  name: string;
  arn: string;
  /** Overrides the domain's execution role. */
  executionRoleArn: string | null;
  tags: Tags;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createUserProfile` takes. */
export interface NewUserProfile {
  domain: string;
  name: string;
  executionRoleArn?: string | null;
  tags?: Tags;
}

/** "Members of IdP group G get role R at scope S", kept true by SCIM membership changes. */
export interface ScimGroupMapping {
  id: string;
  groupName: string;
  roleDefinition: string;
  scope: string;
  createdAt: number;
}

/** What `createScimGroupMapping` takes. */
export type NewScimGroupMapping = Pick<ScimGroupMapping, 'groupName' | 'roleDefinition' | 'scope'>;
