// SCIM 2.0 (RFC 7643 / RFC 7644) protocol core, free of the HTTP server and the store.
// Wiring, per request under /scim/v2:
//   1. authenticate the provisioning token (it may do nothing but provisioning);
//   2. parse the JSON body (application/scim+json or application/json);
//   3. `new ScimService({ repository, clock, baseUrl }).handle({ method, path, query, headers, body })`
//      -> { status, headers, body }: write them as they are (errors are already SCIM JSON);
//   4. implement `ScimRepository` over the store (contract: fixtures/scim-repository-contract.ts,
//      reference: fixtures/memory-scim-repository.ts) and replay fixtures/*.json through HTTP
//      with fixtures/scim-replay.ts.
export {
  allSchemas,
  resourceTypeDocument,
  resourceTypesList,
  schemaDocument,
  schemasList,
  serviceProviderConfig,
} from './scim-discovery.js';
export {
  SCIM_ERROR_SCHEMA,
  SCIM_TYPES,
  ScimError,
  type ScimErrorBody,
  type ScimErrorResponse,
  type ScimType,
  isScimError,
  toScimErrorResponse,
} from './scim-errors.js';
export {
  type ConditionalHeaders,
  type PreconditionOutcome,
  checkPreconditions,
  etagForVersion,
  parseEtagList,
} from './scim-etag.js';
export {
  type CompareOp,
  type CompareValue,
  type CompiledFilter,
  type FilterNode,
  type IndexedAttribute,
  SCIM_FILTER_LIMITS,
  type ScimStoreQuery,
  compileScimFilter,
  matchesStoreQuery,
  parseScimFilter,
  toStoreQuery,
} from './scim-filter.js';
export {
  type ListParams,
  SCIM_LIST_LIMITS,
  SCIM_LIST_RESPONSE_SCHEMA,
  type ScimListResponse,
  buildListResponse,
  paginate,
  parseListParams,
  parseSearchRequest,
  sortResources,
} from './scim-list.js';
export {
  type PatchOperation,
  type PatchResult,
  SCIM_PATCH_LIMITS,
  SCIM_PATCH_OP_SCHEMA,
  applyScimPatch,
  parsePatchRequest,
} from './scim-patch.js';
export type { ScimFindResult, ScimRepository, StoredScimResource } from './scim-repository.js';
export { type Projection, parseAttributeList, projectResource, validateResource } from './scim-resource.js';
export {
  ENTERPRISE_USER_SCHEMA,
  GROUP_SCHEMA,
  type NormalizeOptions,
  SCIM_ENTERPRISE_USER_SCHEMA,
  SCIM_GROUP_SCHEMA,
  SCIM_RESOURCE_TYPES,
  SCIM_USER_SCHEMA,
  SCIM_VALUE_LIMITS,
  type ScimAttribute,
  type ScimResource,
  type ScimResourceType,
  type ScimResourceTypeName,
  type ScimSchema,
  USER_SCHEMA,
  resolveAttributePath,
} from './scim-schema.js';
export { type ScimRequest, type ScimResponse, ScimService, type ScimServiceOptions } from './scim-service.js';
