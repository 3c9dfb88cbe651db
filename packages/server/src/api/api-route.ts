import type { ContextValue } from '@aiam/policy';
import { z } from 'zod';
import { InputError, PreconditionFailedError } from '../errors.js';
import type { AuthenticatedPrincipal } from '../http/authenticator.js';
import type { AuthorizedRequest, ProtectedRoute, RequestInfo, RouteResponse } from '../http/route-table.js';
import type { HttpMethod } from '../http/router.js';

/** Where every control-plane route lives: the S3 API owns the root, STS `POST /`. */
export const API_PREFIX = '/api/v1';

/** The unvalidated input the resource and condition functions see. */
export interface RawInput {
  readonly params: Readonly<Record<string, string>>;
  readonly body: Readonly<Record<string, unknown>>;
}

/** A string field of a raw body, or undefined. */
export function rawString(body: Readonly<Record<string, unknown>>, key: string): string | undefined {
  const v = body[key];
  return typeof v === 'string' ? v : undefined;
}

/** What a handler of an {@link ApiRoute} receives: validated parameters, query and body. */
export interface ApiCall<P, Q, B> {
  readonly params: P;
  readonly query: Q;
  readonly body: B;
  readonly req: AuthorizedRequest;
  /** The version the caller's `If-Match` names, or undefined when it sent none (or `*`). */
  readonly ifMatch: number | undefined;
}

/** What a handler answers: the body (checked against `response`), its status, its version. */
export interface ApiResult<R> {
  readonly status?: number;
  readonly body?: R;
  /** The entity's version; sent as `ETag: W/"N"`. */
  readonly version?: number;
}

// biome-ignore lint/suspicious/noExplicitAny: zod schemas of any shape are accepted here.
type AnySchema = z.ZodType<any>;

/**
 * One control-plane operation, declared once: the route table, request validation, response
 * checking and the OpenAPI document are all derived from it.
 */
export interface ApiRoute<
  P extends AnySchema = AnySchema,
  Q extends AnySchema = AnySchema,
  B extends AnySchema = AnySchema,
  R extends AnySchema = AnySchema,
> {
  readonly operationId: string;
  readonly method: HttpMethod;
  /** Path under {@link API_PREFIX}, with `{param}` placeholders. */
  readonly path: string;
  readonly summary: string;
  readonly tag: string;
  /** The catalogued action the engine decides. */
  readonly action: string;
  readonly params?: P;
  readonly query?: Q;
  readonly body?: B;
  /** The success body's schema; absent for 204 answers. */
  readonly response?: R;
  /** The success status (default 200, or 204 without a response schema). */
  readonly status?: number;
  /** True when the operation honours `If-Match` (optimistic concurrency). */
  readonly conditional?: boolean;
  /** True for list operations that page with `limit` and `cursor`. */
  readonly paginated?: boolean;
  readonly maxBodyBytes?: number;
  /**
   * The resource ARN. It runs before validation (authorization comes first, so a caller who
   * may not act learns nothing about what a valid request looks like): it sees the raw path
   * parameters and the body as a plain object (empty when it is not one).
   */
  readonly resource: (input: RawInput & { caller: AuthenticatedPrincipal }) => string | Promise<string>;
  /** Service condition keys (`iam:PolicyARN`, `aws:RequestTag/…`), from the raw input. */
  readonly conditions?: (input: RawInput) => Record<string, ContextValue | undefined>;
  readonly handle: (
    call: ApiCall<z.output<P>, z.output<Q>, z.output<B>>,
  ) => Promise<ApiResult<z.output<R>>> | ApiResult<z.output<R>>;
}

/** Declares an {@link ApiRoute} with its types inferred from its schemas. */
export function apiRoute<P extends AnySchema, Q extends AnySchema, B extends AnySchema, R extends AnySchema>(
  route: ApiRoute<P, Q, B, R>,
): ApiRoute {
  return route as unknown as ApiRoute;
}

/** Renders zod issues as one sentence a person can act on: `body.tags.Team: expected string`. */
export function describeIssues(where: string, error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => {
      const path = [where, ...issue.path.map(String)].join('.');
      if (issue.code === 'unrecognized_keys')
        return `${path}: unknown field${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
      return `${path}: ${issue.message}`;
    })
    .join('; ');
}

function parseWith<S extends AnySchema>(schema: S | undefined, value: unknown, where: string): z.output<S> {
  if (schema === undefined) {
    if (where === 'body' && value !== undefined)
      throw new InputError('this operation takes no request body', { code: 'ERR_INVALID_INPUT' });
    return undefined as z.output<S>;
  }
  const result = schema.safeParse(value);
  if (!result.success) throw new InputError(`invalid ${where}: ${describeIssues(where, result.error)}`);
  return result.data;
}

function queryObject(query: URLSearchParams): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of query) {
    if (Object.hasOwn(out, k)) throw new InputError(`query parameter "${k}" is given more than once`);
    out[k] = v;
  }
  return out;
}

const NO_QUERY = z.strictObject({});

const ETAG = /^(?:W\/)?"(\d{1,15})"$/;

/** Parses `If-Match`: `W/"3"` or `"3"` → 3; `*` or absent → undefined. */
export function parseIfMatch(header: string | string[] | undefined): number | undefined {
  if (header === undefined) return undefined;
  const value = (Array.isArray(header) ? header.join(',') : header).trim();
  if (value === '*' || value === '') return undefined;
  const m = ETAG.exec(value);
  if (!m) {
    throw new PreconditionFailedError(
      `If-Match must be one entity tag as this API sends it (W/"N"); got ${JSON.stringify(value)}`,
    );
  }
  return Number(m[1]);
}

/** The entity tag of an entity version. */
export function etagOf(version: number): string {
  return `W/"${version}"`;
}

function rawInput(req: RequestInfo): RawInput {
  let body: Record<string, unknown> = {};
  if (req.body.length > 0) {
    try {
      const v = req.json();
      if (v !== null && typeof v === 'object' && !Array.isArray(v)) body = v as Record<string, unknown>;
    } catch {
      // Malformed JSON is reported by validation, after authorization.
    }
  }
  return { params: req.params, body };
}

/** Turns an {@link ApiRoute} into a protected route of the server's fail-closed table. */
export function toProtectedRoute(route: ApiRoute): ProtectedRoute {
  return {
    method: route.method,
    path: API_PREFIX + route.path,
    auth: ['sigv4', 'bearer'],
    action: route.action,
    name: route.operationId,
    ...(route.maxBodyBytes ? { maxBodyBytes: route.maxBodyBytes } : {}),
    resource: (req, caller) => route.resource({ ...rawInput(req), caller }),
    ...(route.conditions ? { conditions: (req: RequestInfo) => route.conditions!(rawInput(req)) } : {}),
    handle: async (req): Promise<RouteResponse> => {
      const params = parseWith(route.params, req.params, 'path');
      const body = parseWith(route.body, req.body.length === 0 ? undefined : req.json(), 'body');
      // An operation without a query schema takes no query parameters: a stray one is refused.
      const query = parseWith(route.query ?? NO_QUERY, queryObject(req.query), 'query');
      const ifMatch = route.conditional ? parseIfMatch(req.headers['if-match']) : undefined;
      const result = await route.handle({ params, query, body, req, ifMatch });
      const headers: Record<string, string> = {};
      if (result.version !== undefined) headers.etag = etagOf(result.version);
      if (route.response === undefined) return { status: result.status ?? route.status ?? 204, headers };
      // The response schema is the contract the OpenAPI document promises; a handler that
      // strays from it (a secret in a list, a missing field) is a server bug, caught here.
      const checked = route.response.safeParse(result.body);
      if (!checked.success)
        throw new Error(
          `response of ${route.operationId} breaks its schema: ${describeIssues('response', checked.error)}`,
        );
      return { status: result.status ?? route.status ?? 200, headers, body: checked.data };
    },
  };
}

/** Pagination query fields, shared by every list operation. */
export const pageQuery = {
  limit: z.coerce
    .number()
    .int()
    .min(1)
    .max(1000)
    .optional()
    .describe('At most this many items (1..1000, default 100).'),
  cursor: z.string().max(512).optional().describe('The `nextCursor` of the previous page.'),
};

/**
 * Pages a list in a stable order: items sorted by `keyOf`, the cursor the last key returned
 * (opaque to clients). A cursor past the end yields an empty last page.
 */
export function paginate<T>(
  items: readonly T[],
  keyOf: (item: T) => string,
  query: { limit?: number | undefined; cursor?: string | undefined },
): { items: T[]; nextCursor?: string } {
  const limit = query.limit ?? 100;
  let after: string | undefined;
  if (query.cursor !== undefined) {
    try {
      const decoded = JSON.parse(Buffer.from(query.cursor, 'base64url').toString('utf8')) as { a?: unknown };
      if (typeof decoded.a !== 'string') throw new Error('no key');
      after = decoded.a;
    } catch {
      throw new InputError('cursor is not one this API returned; pass the nextCursor of the previous page');
    }
  }
  const sorted = [...items].sort((x, y) => {
    const a = keyOf(x);
    const b = keyOf(y);
    return a < b ? -1 : a > b ? 1 : 0;
  });
  const start = after === undefined ? 0 : sorted.findIndex((i) => keyOf(i) > after);
  const page = start < 0 ? [] : sorted.slice(start, start + limit);
  const more = start >= 0 && start + limit < sorted.length;
  return more
    ? {
        items: page,
        nextCursor: Buffer.from(JSON.stringify({ a: keyOf(page[page.length - 1]!) })).toString('base64url'),
      }
    : { items: page };
}
