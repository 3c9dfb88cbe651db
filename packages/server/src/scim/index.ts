// SCIM 2.0 (RFC 7643 / RFC 7644) protocol core, free of the HTTP server and the store.
// Wiring, per request under /scim/v2:
//   1. authenticate the provisioning token (it may do nothing but provisioning);
//   2. parse the JSON body (application/scim+json or application/json);
//   3. `new ScimService({ repository, clock, baseUrl }).handle({ method, path, query, headers, body })`
//      -> { status, headers, body }: write them as they are (errors are already SCIM JSON);
//   4. implement `ScimRepository` over the store (contract: fixtures/scim-repository-contract.ts,
//      reference: fixtures/memory-scim-repository.ts) and replay fixtures/*.json through HTTP
//      with fixtures/scim-replay.ts.
export * from './scim-discovery.js';
export * from './scim-errors.js';
export * from './scim-etag.js';
export * from './scim-filter.js';
export * from './scim-list.js';
export * from './scim-patch.js';
export * from './scim-repository.js';
export * from './scim-resource.js';
export * from './scim-schema.js';
export * from './scim-service.js';
