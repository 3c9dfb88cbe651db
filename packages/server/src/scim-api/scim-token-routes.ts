import { z } from 'zod';
import { API_PREFIX, type ApiRoute, apiRoute, toProtectedRoute } from '../api/api-route.js';
import type { AppContext } from '../app/start-server.js';
import type { AuthorizedRequest, ProtectedRoute } from '../http/route-table.js';
import type { ScimTokenService } from './scim-token-service.js';

/** Where the SCIM token administration lives in the control-plane API. */
export const SCIM_TOKENS_PATH = `${API_PREFIX}/scim-tokens`;

/** A SCIM token as listed: never its secret. */
export const ScimTokenOut = z.object({
  id: z.string(),
  description: z.string(),
  status: z.enum(['Active', 'Inactive']),
  createdAt: z.string().describe('ISO 8601.'),
});
/** A new SCIM token: `token` is in this answer only. */
export const CreatedScimTokenOut = ScimTokenOut.extend({
  token: z.string().describe('The bearer token for the identity provider; shown this once.'),
});

const CreateScimTokenIn = z.strictObject({
  description: z.string().max(256).optional().describe('Where the token is used, e.g. "Entra ID".'),
});
const TokenId = z.strictObject({ id: z.string().min(1).max(64) });

/**
 * The SCIM token operations, declared (the source of the routes and the OpenAPI document):
 * `POST /api/v1/scim-tokens` (aiam:CreateScimToken; the token is in this response only),
 * `GET /api/v1/scim-tokens` (aiam:ListScimTokens), `DELETE /api/v1/scim-tokens/{id}`
 * (aiam:DeleteScimToken). `tokens` is used only when a request comes.
 */
export function scimTokenApi(accountId: () => string, tokens: () => ScimTokenService): ApiRoute[] {
  const arn = (id: string) => `arn:aws:aiam::${accountId()}:scim-token/${id}`;
  const path = SCIM_TOKENS_PATH.slice(API_PREFIX.length);
  return [
    apiRoute({
      operationId: 'createScimToken',
      method: 'POST',
      path,
      tag: 'scim',
      summary: 'Create a SCIM provisioning token (the secret is in this answer only).',
      action: 'aiam:CreateScimToken',
      body: CreateScimTokenIn,
      response: CreatedScimTokenOut,
      status: 201,
      maxBodyBytes: 16 * 1024,
      resource: () => arn('*'),
      handle: async ({ body }) => ({ status: 201, body: await tokens().create(body) }),
    }),
    apiRoute({
      operationId: 'listScimTokens',
      method: 'GET',
      path,
      tag: 'scim',
      summary: 'List SCIM tokens, oldest first (never their secrets).',
      action: 'aiam:ListScimTokens',
      response: z.object({ tokens: z.array(ScimTokenOut) }),
      resource: () => arn('*'),
      handle: async () => ({ body: { tokens: await tokens().list() } }),
    }),
    apiRoute({
      operationId: 'deleteScimToken',
      method: 'DELETE',
      path: `${path}/{id}`,
      tag: 'scim',
      summary: 'Revoke a SCIM token: its next request is refused.',
      action: 'aiam:DeleteScimToken',
      params: TokenId,
      resource: ({ params }) => arn(params.id ?? ''),
      handle: async ({ params }) => {
        await tokens().revoke(params.id);
        return {};
      },
    }),
  ];
}

/** The SCIM token routes for the server's fail-closed route table; answers are never cached. */
export function scimTokenRoutes(app: AppContext, tokens: ScimTokenService): ProtectedRoute[] {
  return scimTokenApi(
    () => app.store.accountId,
    () => tokens,
  ).map((api) => {
    const route = toProtectedRoute(api);
    return {
      ...route,
      handle: async (req: AuthorizedRequest) => {
        const res = await route.handle(req);
        return { ...res, headers: { ...res.headers, 'cache-control': 'no-store' } };
      },
    };
  });
}
