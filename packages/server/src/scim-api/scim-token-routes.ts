import type { AppContext } from '../app/start-server.js';
import { InputError } from '../errors.js';
import type { ProtectedRoute, RouteDefinition } from '../http/route-table.js';
import type { ScimTokenService } from './scim-token-service.js';

/** Where the SCIM token administration lives in the control-plane API. */
export const SCIM_TOKENS_PATH = '/api/v1/scim-tokens';

/**
 * `POST /api/v1/scim-tokens` (aiam:CreateScimToken; the token is in this response only),
 * `GET /api/v1/scim-tokens` (aiam:ListScimTokens), `DELETE /api/v1/scim-tokens/{id}`
 * (aiam:DeleteScimToken). Signed with SigV4 like the rest of the control plane.
 */
export function scimTokenRoutes(app: AppContext, tokens: ScimTokenService): RouteDefinition[] {
  const arn = (id: string) => `arn:aws:aiam::${app.store.accountId}:scim-token/${id}`;
  const routes: ProtectedRoute[] = [
    {
      method: 'POST',
      path: SCIM_TOKENS_PATH,
      auth: ['sigv4', 'bearer'],
      action: 'aiam:CreateScimToken',
      resource: () => arn('*'),
      maxBodyBytes: 16 * 1024,
      handle: async (req) => {
        const body = req.json() ?? {};
        if (body === null || typeof body !== 'object' || Array.isArray(body))
          throw new InputError('the body must be a JSON object: {"description": "..."}');
        const { description, ...rest } = body as Record<string, unknown>;
        const unknown = Object.keys(rest);
        if (unknown.length > 0) throw new InputError(`unknown field(s): ${unknown.join(', ')}`);
        if (description !== undefined && typeof description !== 'string')
          throw new InputError('description must be a string');
        const created = await tokens.create({ description });
        return { status: 201, headers: { 'cache-control': 'no-store' }, body: created };
      },
    },
    {
      method: 'GET',
      path: SCIM_TOKENS_PATH,
      auth: ['sigv4', 'bearer'],
      action: 'aiam:ListScimTokens',
      resource: () => arn('*'),
      handle: async () => ({ status: 200, body: { tokens: await tokens.list() } }),
    },
    {
      method: 'DELETE',
      path: `${SCIM_TOKENS_PATH}/{id}`,
      auth: ['sigv4', 'bearer'],
      action: 'aiam:DeleteScimToken',
      resource: (req) => arn(req.params.id ?? ''),
      handle: async (req) => {
        await tokens.revoke(req.params.id ?? '');
        return { status: 204 };
      },
    },
  ];
  return routes;
}
