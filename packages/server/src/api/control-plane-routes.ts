import type { AppContext } from '../app/start-server.js';
import type { RouteDefinition } from '../http/route-table.js';
import { mlApi } from '../ml-api/ml-api-routes.js';
import { scimTokenApi } from '../scim-api/scim-token-routes.js';
import { type ApiContext, createApiContext } from './api-context.js';
import { API_PREFIX, type ApiRoute, toProtectedRoute } from './api-route.js';
import { assignmentRoutes, issuerRoutes } from './assignment-routes.js';
import { auditRoutes } from './audit-routes.js';
import { buildOpenApiDocument } from './openapi-document.js';
import { accessKeyRoutes, managedPolicyRoutes, principalPolicyRoutes } from './policy-routes.js';
import { groupRoutes, identityRoutes, roleRoutes, userRoutes } from './principal-routes.js';

/** Every control-plane operation, declared (the source of the routes and the OpenAPI document). */
export function controlPlaneApi(ctx: ApiContext): ApiRoute[] {
  return [
    ...userRoutes(ctx),
    ...groupRoutes(ctx),
    ...roleRoutes(ctx),
    ...identityRoutes(ctx),
    ...managedPolicyRoutes(ctx),
    ...principalPolicyRoutes(ctx),
    ...accessKeyRoutes(ctx),
    ...assignmentRoutes(ctx),
    ...issuerRoutes(ctx),
    ...auditRoutes(ctx),
  ];
}

/**
 * The OpenAPI document of the control plane — the IAM operations, the model registry
 * (`/api/v1/workspaces/…`) and the SCIM token administration — built without a server (the
 * routes' declarations do not touch the context until a request comes). Used by
 * `npm run generate:openapi` and served at `GET /api/v1/openapi.json`.
 */
export function controlPlaneOpenApi(): Record<string, unknown> {
  const unused = () => {
    throw new Error('the OpenAPI document is built from declarations only');
  };
  // Route modules destructure `iam` and `app` when declared but use them only in handlers.
  const ctx = {
    app: {} as ApiContext['app'],
    iam: {} as ApiContext['iam'],
    accountId: unused,
    arnOf: unused,
    identityArn: unused,
    auditLogArn: unused,
  } as ApiContext;
  // The model registry's declarations build their services from the store, used by handlers only.
  const app = { store: {}, hasher: {} } as unknown as ApiContext['app'];
  return buildOpenApiDocument([...controlPlaneApi(ctx), ...mlApi(app), ...scimTokenApi(unused, unused)]);
}

/**
 * The control-plane routes under `/api/v1` for the server's route table: every IAM resource,
 * the audit trail, decision explanations, the simulator, and `GET /api/v1/openapi.json`.
 */
export function controlPlaneRoutes(app: AppContext): RouteDefinition[] {
  const api = controlPlaneApi(createApiContext(app));
  const document = JSON.stringify(controlPlaneOpenApi());
  return [
    ...api.map(toProtectedRoute),
    {
      method: 'GET',
      path: `${API_PREFIX}/openapi.json`,
      auth: 'none-public',
      publicReason: 'the API description is public, like any published OpenAPI document; it holds no data',
      name: 'getOpenApiDocument',
      handle: () => ({ status: 200, text: document, contentType: 'application/json; charset=utf-8' }),
    },
  ];
}
