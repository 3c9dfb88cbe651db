import type { IncomingHttpHeaders } from 'node:http';
import { type ContextValue, type Decision, findAction, findService } from '@aiam/policy';
import type { AuthenticatedPrincipal, AuthScheme } from './authenticator.js';
import { type HttpMethod, Router } from './router.js';

/** A request as every handler sees it: parsed, bounded, identified. */
export interface RequestInfo {
  readonly method: string;
  /** The raw path, without the query. */
  readonly path: string;
  readonly rawQuery: string;
  readonly query: URLSearchParams;
  readonly headers: IncomingHttpHeaders;
  /** Path parameters, percent-decoded. */
  readonly params: Readonly<Record<string, string>>;
  readonly requestId: string;
  readonly sourceIp: string;
  readonly secureTransport: boolean;
  /** Arrival time, ms since the epoch (injected clock). */
  readonly receivedAt: number;
  /** The body, read and bounded before authentication (SigV4 signs it). */
  readonly body: Buffer;
  /** The body as JSON (`undefined` when empty); a 400 with line and column when malformed. */
  json(): unknown;
}

/** A request that passed authentication and authorization. */
export interface AuthorizedRequest extends RequestInfo {
  readonly caller: AuthenticatedPrincipal;
  readonly action: string;
  readonly resource: string;
  readonly decision: Decision;
  /** The id under which the decision is audited; callers quote it to ask for an explanation. */
  readonly decisionId: string;
}

/** What a handler answers. `body` is sent as JSON; `text` as is, with `contentType`. */
export interface RouteResponse {
  readonly status: number;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: unknown;
  readonly text?: string;
  readonly contentType?: string;
}

/** An error rendered for the wire by one protocol. */
export interface RenderedError {
  readonly status: number;
  /** The stable code, for the audit trail and logs. */
  readonly code: string;
  /** True for a fault the server did not expect: logged with its stack. */
  readonly unexpected: boolean;
  readonly response: RouteResponse;
}

/**
 * Renders any error thrown along the pipeline in a protocol's own format (REST JSON by default;
 * STS and S3 XML, SCIM JSON). It must keep the rules of `toRestError`: authentication failures
 * never say why, unexpected errors say nothing of their cause.
 */
export type ErrorRenderer = (error: unknown, requestId: string) => RenderedError;

/** A route that authenticates, authorizes `action` on `resource`, then acts. */
export interface ProtectedRoute {
  readonly method: HttpMethod;
  readonly path: string;
  /** The schemes the route accepts, tried in order of what the request carries. */
  readonly auth: AuthScheme | readonly AuthScheme[];
  /** The IAM action the engine decides, e.g. `iam:CreateUser`; must be in the catalog. */
  readonly action: string;
  /**
   * The ARN the action applies to, computed from the request (and the caller, for "self").
   * A promise only where the ARN must be read (a stored decision's own resource).
   */
  readonly resource: (req: RequestInfo, caller: AuthenticatedPrincipal) => string | Promise<string>;
  /** Service condition keys of the request (`iam:PolicyARN`, `aws:RequestTag/…`). */
  readonly conditions?: (
    req: RequestInfo,
    caller: AuthenticatedPrincipal,
  ) => Record<string, ContextValue | undefined>;
  readonly maxBodyBytes?: number;
  /** Short name for metrics and logs; default `METHOD path`. */
  readonly name?: string;
  /** The protocol's error format; default REST JSON. */
  readonly renderError?: ErrorRenderer;
  readonly handle: (req: AuthorizedRequest) => Promise<RouteResponse> | RouteResponse;
}

/**
 * A route anyone may call: health, readiness, JWKS, OIDC discovery. `publicReason` says why it
 * is safe without authentication; a test lists every public route for review.
 */
export interface PublicRoute {
  readonly method: HttpMethod;
  readonly path: string;
  readonly auth: 'none-public';
  readonly publicReason: string;
  readonly maxBodyBytes?: number;
  readonly name?: string;
  readonly renderError?: ErrorRenderer;
  readonly handle: (req: RequestInfo) => Promise<RouteResponse> | RouteResponse;
}

/** Any route of the table. */
export type RouteDefinition = ProtectedRoute | PublicRoute;

/** A route the table refuses: missing action or resource, unknown action, bad scheme. */
export class RouteDefinitionError extends Error {
  override readonly name = 'RouteDefinitionError';
}

const SCHEMES: readonly AuthScheme[] = ['sigv4', 'bearer'];
const ACTION = /^[a-z0-9-]+:[A-Za-z0-9]+$/;

/** A route with its compiled form: scheme list and display name. */
export type CompiledRoute =
  | (ProtectedRoute & { readonly schemes: readonly AuthScheme[]; readonly label: string })
  | (PublicRoute & { readonly schemes: readonly []; readonly label: string });

/** True for a route that needs no authentication. */
export function isPublicRoute(route: RouteDefinition): route is PublicRoute {
  return route.auth === 'none-public';
}

/**
 * The server's routes, validated as they are added so that "fail closed" holds by construction:
 * a route either names an authentication scheme, a catalogued action (`service:Action`, no
 * wildcard) and a resource function, or is explicitly public with a stated reason. Anything
 * else throws `RouteDefinitionError` at startup, before a single request is served.
 *
 * @example
 * table.add({ method: 'POST', path: '/iam/users', auth: 'sigv4', action: 'iam:CreateUser',
 *             resource: (req) => iamArn(account, 'user', name(req)), handle: createUser });
 */
export class RouteTable {
  readonly #router = new Router<CompiledRoute>();
  readonly #routes: CompiledRoute[] = [];

  /** Adds routes; throws `RouteDefinitionError` for one that could fail open. */
  add(...routes: RouteDefinition[]): this {
    for (const route of routes) this.#add(route);
    return this;
  }

  /** Every route, in the order added. */
  get routes(): readonly CompiledRoute[] {
    return this.#routes;
  }

  /** The router over the routes. */
  get router(): Router<CompiledRoute> {
    return this.#router;
  }

  #add(route: RouteDefinition): void {
    const where = `route ${String(route?.method)} ${String(route?.path)}`;
    if (typeof route?.handle !== 'function') throw new RouteDefinitionError(`${where} has no handler`);
    const label = route.name ?? `${route.method} ${route.path}`;
    let compiled: CompiledRoute;
    if (route.auth === 'none-public') {
      if (typeof route.publicReason !== 'string' || route.publicReason.trim().length < 10) {
        throw new RouteDefinitionError(`${where} is public but does not say why (publicReason)`);
      }
      compiled = { ...route, schemes: [], label };
    } else {
      const r = route as ProtectedRoute;
      const schemes = typeof r.auth === 'string' ? [r.auth] : [...(r.auth ?? [])];
      if (schemes.length === 0 || schemes.some((s) => !SCHEMES.includes(s))) {
        throw new RouteDefinitionError(
          `${where} must authenticate with ${SCHEMES.join(' or ')}, or be 'none-public'`,
        );
      }
      if (typeof r.action !== 'string' || !ACTION.test(r.action)) {
        throw new RouteDefinitionError(
          `${where} must declare the action it needs, as service:Action (no wildcards)`,
        );
      }
      const service = r.action.slice(0, r.action.indexOf(':'));
      if (findService(service) !== undefined && findAction(r.action) === undefined) {
        throw new RouteDefinitionError(
          `${where} declares ${r.action}, which the action catalog does not define`,
        );
      }
      if (findService(service) === undefined) {
        throw new RouteDefinitionError(
          `${where} declares ${r.action}, of a service the catalog does not define`,
        );
      }
      if (typeof r.resource !== 'function') {
        throw new RouteDefinitionError(`${where} must say how to compute its resource ARN`);
      }
      compiled = { ...r, schemes, label };
    }
    this.#router.add(route.method, route.path, compiled);
    this.#routes.push(compiled);
  }
}
