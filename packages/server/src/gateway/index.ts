// The inference gateway's forwarding core, free of the HTTP pipeline, store and identity
// (it takes IncomingMessage/ServerResponse, a resolved endpoint and callbacks). The wiring,
// per request to /endpoints/{name}/…:
//   1. authenticate (identity), look the endpoint up (registry) -> GatewayEndpoint
//      (api 'openai' | 'http', a DeploymentSelector over its deployments, limits)
//   2. EndpointGateway.handle(endpoint, { req, res, path, principal, authorize, callerStatement })
//      which runs: GatewayLimiter (429) -> readAndResolveOpenAiModel (400/404/413/415)
//      -> DeploymentSelector.select (pin or weight, among deployments serving the model)
//      -> authorize(...) (403) -> ReverseProxy.forward (502/504) -> passive health
//   3. audit from the returned GatewayOutcome.
// The pieces are exported for routes that need only some of them. Operator docs: docs/gateway.md.
export * from './bounded-body.js';
export * from './deployment-selector.js';
export * from './endpoint-gateway.js';
export * from './gateway-errors.js';
export * from './header-hygiene.js';
export * from './limits.js';
export * from './multipart-form.js';
export * from './openai-model-resolver.js';
export * from './reverse-proxy.js';
export * from './strict-json.js';
