// The control-plane API client of @aiam/client.
export {
  AiamClient,
  type AiamClientOptions,
  type IfMatch,
  type PageOptions,
  type PolicyDocumentInput,
  type PrincipalKind,
} from './aiam-client.js';
export { AiamApiError, AiamResponseError } from './api-errors.js';
export { OPERATIONS, type OperationId, type OperationRoute } from './api-operations.js';
export type {
  AccessKey,
  AuditRecord,
  CreatedAccessKey,
  DecisionTrace,
  DenyAssignment,
  Group,
  InlinePolicy,
  ManagedIdentity,
  ManagedPolicy,
  Page,
  PolicyAttachment,
  PolicyFinding,
  PolicyVersion,
  Role,
  RoleAssignment,
  RoleDefinition,
  TrustedIssuer,
  User,
} from './api-schemas.js';
export {
  type CredentialSources,
  CredentialsError,
  parseSharedCredentials,
  resolveCredentials,
} from './credentials.js';
export { type AwsCredentials, type SignInput, signRequest } from './sigv4-signer.js';
export {
  DeploymentSchema,
  EndpointSchema,
  ML_OPERATIONS,
  MlClient,
  type MlClientOptions,
  type MlOperationId,
  ModelSchema,
  ModelVersionSchema,
  WorkspaceSchema,
} from './ml-client.js';
export {
  type CreatedScimToken,
  CreatedScimTokenSchema,
  type ScimToken,
  ScimTokenClient,
  type ScimTokenClientOptions,
  ScimTokenSchema,
} from './scim-token-client.js';
