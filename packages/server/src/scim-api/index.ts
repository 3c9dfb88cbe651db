// SCIM 2.0 wired into the server: the store-backed repository, the /scim/v2 routes (SCIM tokens
// only) and the /api/v1/scim-tokens administration. `scimSurfaces(app)` gives startServer both.
import type { AppContext } from '../app/start-server.js';
import type { RouteDefinition } from '../http/route-table.js';
import { scimRoutes } from './scim-routes.js';
import { scimTokenRoutes } from './scim-token-routes.js';
import { ScimTokenService } from './scim-token-service.js';

export { renderScimError, SCIM_BASE_PATH, SCIM_CONTENT_TYPE, scimRoutes } from './scim-routes.js';
export { SCIM_TOKENS_PATH, scimTokenRoutes } from './scim-token-routes.js';
export {
  type CreatedScimToken,
  SCIM_PROVISIONER_NAME,
  SCIM_TOKEN_PREFIX,
  SCIM_TOKEN_PURPOSE,
  type ScimTokenInfo,
  ScimTokenService,
} from './scim-token-service.js';
export {
  principalNameFor,
  StoreScimRepository,
  type StoreScimRepositoryOptions,
} from './store-scim-repository.js';

/** Every route of the SCIM surface: /scim/v2 and /api/v1/scim-tokens. */
export function scimSurfaceRoutes(app: AppContext): RouteDefinition[] {
  const tokens = new ScimTokenService({ store: app.store, hasher: app.hasher });
  return [...scimRoutes(app, tokens), ...scimTokenRoutes(app, tokens)];
}
