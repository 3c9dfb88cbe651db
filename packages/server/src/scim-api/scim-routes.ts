import type { AppContext } from '../app/start-server.js';
import { isAiamError } from '@aiam/policy';
import { NotAllowedError } from '../errors.js';
import type {
  AuthorizedRequest,
  RenderedError,
  RouteDefinition,
  RouteResponse,
} from '../http/route-table.js';
import type { HttpMethod } from '../http/router.js';
import { toScimErrorResponse } from '../scim/scim-errors.js';
import { ScimService } from '../scim/scim-service.js';
import type { ScimTokenService } from './scim-token-service.js';
import { StoreScimRepository } from './store-scim-repository.js';

/** Where the SCIM service provider lives (RFC 7644 §3.13: versioned base URL). */
export const SCIM_BASE_PATH = '/scim/v2';
/** RFC 7644 §3.1: SCIM messages are `application/scim+json`. */
export const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
// Entra ID and Okta send single resources and PATCH operations; 1 MiB is generous for either.
const MAX_SCIM_BODY = 1024 * 1024;

/** Renders any error of the SCIM surface as a SCIM error (RFC 7644 §3.12), authentication included. */
export function renderScimError(error: unknown, _requestId: string): RenderedError {
  const { status, body } = toScimErrorResponse(error);
  const code = isAiamError(error) ? error.code : 'ERR_INTERNAL';
  return {
    status,
    code,
    unexpected: status >= 500 && !isAiamError(error),
    response: { status, text: JSON.stringify(body), contentType: SCIM_CONTENT_TYPE },
  };
}

/**
 * The SCIM 2.0 routes under `/scim/v2`: Users, Groups, `.search`, and the discovery documents.
 * Each route is decided by the engine as a `scim:*` action, and accepts only SCIM provisioning
 * tokens (bearer keys of purpose `scim`): any other credential, even one whose policies allow
 * `scim:*`, is refused with a SCIM 403, so an administrator's key cannot act as an IdP.
 */
export function scimRoutes(app: AppContext, tokens: ScimTokenService): RouteDefinition[] {
  let service: ScimService | undefined;
  const scim = (): ScimService => {
    // The base URL is known once the server listens; routes only run after that.
    service ??= new ScimService({
      repository: new StoreScimRepository({ store: app.store, clock: app.clock }),
      clock: app.clock,
      baseUrl: (process.env.AIAM_PUBLIC_URL ?? app.baseUrl()) + SCIM_BASE_PATH,
    });
    return service;
  };

  const handle = async (req: AuthorizedRequest): Promise<RouteResponse> => {
    if (!(await tokens.isScimToken(req.caller.credentialId))) {
      throw new NotAllowedError(
        'only SCIM provisioning tokens may call the SCIM API (aiam scim-token create)',
      );
    }
    const header = (name: string): string | undefined => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(', ') : v;
    };
    const response = await scim().handle({
      method: req.method,
      path: req.path.slice(SCIM_BASE_PATH.length) || '/',
      query: req.query,
      headers: { ifMatch: header('if-match'), ifNoneMatch: header('if-none-match') },
      body: req.json(),
    });
    const { 'content-type': _ct, ...headers } = response.headers;
    if (response.body === undefined) return { status: response.status, headers };
    return {
      status: response.status,
      headers,
      text: JSON.stringify(response.body),
      contentType: SCIM_CONTENT_TYPE,
    };
  };

  const route = (method: HttpMethod, path: string, action: string): RouteDefinition => ({
    method,
    path: SCIM_BASE_PATH + path,
    // SigV4 is authenticated too, only so that such a caller gets a SCIM 403 that says what to
    // use instead of a bare 401; the handler admits SCIM tokens alone, whatever the grants.
    auth: ['bearer', 'sigv4'],
    action,
    // SCIM actions are not scoped to resources: the provisioner may provision any user or group.
    resource: () => '*',
    maxBodyBytes: MAX_SCIM_BODY,
    name: `SCIM ${method} ${path}`,
    renderError: renderScimError,
    handle,
  });

  const resources = (type: 'Users' | 'Groups', singular: 'User' | 'Group'): RouteDefinition[] => [
    route('GET', `/${type}`, `scim:List${type}`),
    route('POST', `/${type}`, `scim:Create${singular}`),
    route('POST', `/${type}/.search`, `scim:List${type}`),
    route('GET', `/${type}/{id}`, `scim:Get${singular}`),
    route('PUT', `/${type}/{id}`, `scim:Replace${singular}`),
    route('PATCH', `/${type}/{id}`, `scim:Patch${singular}`),
    route('DELETE', `/${type}/{id}`, `scim:Delete${singular}`),
  ];

  return [
    ...resources('Users', 'User'),
    ...resources('Groups', 'Group'),
    route('POST', '/.search', 'scim:SearchResources'),
    route('GET', '/ServiceProviderConfig', 'scim:DescribeServiceProvider'),
    route('GET', '/ResourceTypes', 'scim:DescribeServiceProvider'),
    route('GET', '/ResourceTypes/{id}', 'scim:DescribeServiceProvider'),
    route('GET', '/Schemas', 'scim:DescribeServiceProvider'),
    route('GET', '/Schemas/{id}', 'scim:DescribeServiceProvider'),
    // Anything else below /scim/v2 is still answered in SCIM's error shape (a SCIM 404), by a
    // route that authenticates like the others, so unauthenticated callers learn nothing.
    ...(['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const).map((m) =>
      route(m, '/{rest+}', 'scim:DescribeServiceProvider'),
    ),
  ];
}
