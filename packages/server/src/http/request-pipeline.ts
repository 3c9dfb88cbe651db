import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import { type Clock, systemClock } from '../clock.js';
import { AuthenticationError, NotAllowedError } from '../errors.js';
import type { AuditEntry } from '../observability/audit-writer.js';
import { type Logger, silentLogger } from '../observability/logger.js';
import {
  type Counter,
  type CounterChild,
  type Histogram,
  MetricsRegistry,
} from '../observability/metrics.js';
import type { AuthFailureLimiter } from './auth-failure-limiter.js';
import type {
  AuthenticatedPrincipal,
  AuthenticationInput,
  Authenticator,
  AuthScheme,
} from './authenticator.js';
import type { Authorizer } from './authorizer.js';
import type { Decision } from '@aiam/policy';
import { MethodNotAllowedError, PayloadTooLargeError, RouteNotFoundError } from './http-errors.js';
import { DEFAULT_MAX_BODY_BYTES, parseJsonBody, readBody } from './request-body.js';
import { buildRequestContext } from './request-context-builder.js';
import { renderRestError } from './rest-error-mapping.js';
import type {
  AuthorizedRequest,
  CompiledRoute,
  ErrorRenderer,
  ProtectedRoute,
  RequestInfo,
  RouteResponse,
  RouteTable,
} from './route-table.js';

/** Where audit records go (an `AuditWriter`): must not block. */
export interface AuditRecorder {
  record(entry: AuditEntry): void;
}

/** What the pipeline is built from. */
export interface RequestPipelineOptions {
  readonly routes: RouteTable;
  readonly authenticators: readonly Authenticator[];
  readonly authorizer: Authorizer;
  readonly audit: AuditRecorder;
  readonly limiter: AuthFailureLimiter;
  readonly logger?: Logger;
  readonly metrics?: MetricsRegistry;
  readonly clock?: Clock;
  /** Default body limit; a route may set its own. Default 1 MiB. */
  readonly maxBodyBytes?: number;
  /**
   * Addresses of reverse proxies whose `X-Forwarded-For`/`X-Forwarded-Proto` are believed.
   * Empty by default: a client could otherwise pick its own `aws:SourceIp`.
   */
  readonly trustedProxies?: readonly string[];
  /** True while the server drains: responses then close their connection. */
  readonly isDraining?: () => boolean;
}

/** Handles one request end to end; resolves when the response is sent. */
export type RequestPipeline = (req: IncomingMessage, res: ServerResponse) => Promise<void>;

const REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

interface RouteMetrics {
  duration: ReturnType<Histogram['labels']>;
  /** `aiam_http_requests_total` bound per method, then per status: no label join per request. */
  requests: Map<string, Map<number, CounterChild>>;
}

/**
 * Builds the request pipeline every route runs through:
 * match → (protected routes) rate-limit check → read body → authenticate → build the request
 * context → authorize through the one `Authorizer` → act → audit; errors of any step are mapped
 * to REST responses in one place (`toRestError`). A route whose scheme has no authenticator
 * configured is refused at build time, not at request time.
 */
export function createRequestPipeline(options: RequestPipelineOptions): RequestPipeline {
  const log = options.logger ?? silentLogger;
  const clock = options.clock ?? systemClock;
  const registry = options.metrics ?? new MetricsRegistry();
  const defaultLimit = options.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES;
  const trusted = new Set((options.trustedProxies ?? []).map(normalizeIp));
  const isDraining = options.isDraining ?? (() => false);
  // One line per request at debug level only: an access log at info would cost the hot path.
  const accessLog = log.enabled('debug');
  const byScheme = new Map<AuthScheme, Authenticator>();
  for (const a of options.authenticators) byScheme.set(a.scheme, a);
  for (const route of options.routes.routes) {
    for (const s of route.schemes) {
      if (!byScheme.has(s))
        throw new Error(`route ${route.label} needs a ${s} authenticator, and none is configured`);
    }
  }

  const requests: Counter = registry.counter('aiam_http_requests_total', 'HTTP requests answered.', [
    'route',
    'method',
    'status',
  ]);
  const durations: Histogram = registry.histogram(
    'aiam_http_request_duration_seconds',
    'Time from request to response, in seconds.',
    ['route'],
  );
  const authFailures = registry.counter('aiam_authentication_failures_total', 'Failed authentications.', [
    'scheme',
  ]);
  const decisions = registry.counter('aiam_authorization_decisions_total', 'Authorization decisions.', [
    'decision',
  ]);
  const routeMetrics = new Map<string, RouteMetrics>();
  const metricsFor = (label: string): RouteMetrics => {
    let m = routeMetrics.get(label);
    if (m === undefined) {
      m = { duration: durations.labels(label), requests: new Map() };
      routeMetrics.set(label, m);
    }
    return m;
  };
  const countRequest = (m: RouteMetrics, label: string, method: string, status: number): void => {
    let byStatus = m.requests.get(method);
    if (byStatus === undefined) {
      byStatus = new Map();
      m.requests.set(method, byStatus);
    }
    let child = byStatus.get(status);
    if (child === undefined) {
      child = requests.labels(label, method, String(status));
      byStatus.set(status, child);
    }
    child.inc();
  };
  const decisionCounters = new Map<string, CounterChild>();
  const countDecision = (decision: string): void => {
    let child = decisionCounters.get(decision);
    if (child === undefined) {
      child = decisions.labels(decision);
      decisionCounters.set(decision, child);
    }
    child.inc();
  };

  const sourceOf = (req: IncomingMessage): { ip: string; secure: boolean } => {
    const peer = normalizeIp(req.socket.remoteAddress ?? '');
    const secure = (req.socket as TLSSocket).encrypted === true;
    if (trusted.size === 0 || !trusted.has(peer)) return { ip: peer, secure };
    // Walk X-Forwarded-For from the right: the first address not of a trusted proxy is the client.
    const xff = req.headers['x-forwarded-for'];
    const hops = (Array.isArray(xff) ? xff.join(',') : (xff ?? ''))
      .split(',')
      .map((s) => normalizeIp(s.trim()));
    let ip = peer;
    for (let i = hops.length - 1; i >= 0; i--) {
      const hop = hops[i]!;
      if (hop === '') continue;
      ip = hop;
      if (!trusted.has(hop)) break;
    }
    const proto = req.headers['x-forwarded-proto'];
    return { ip, secure: secure || proto === 'https' };
  };

  const send = (
    req: IncomingMessage,
    res: ServerResponse,
    requestId: string,
    response: RouteResponse,
  ): void => {
    const headers: Record<string, string | number> = {
      'x-request-id': requestId,
      'x-amz-request-id': requestId,
      'cache-control': 'no-store',
      ...response.headers,
    };
    let payload: string | undefined;
    if (response.text !== undefined) {
      payload = response.text;
      headers['content-type'] = response.contentType ?? 'text/plain; charset=utf-8';
    } else if (response.body !== undefined) {
      payload = JSON.stringify(response.body);
      headers['content-type'] = response.contentType ?? 'application/json; charset=utf-8';
    }
    headers['content-length'] = payload === undefined ? 0 : Buffer.byteLength(payload);
    if (isDraining()) headers.connection = 'close';
    res.writeHead(response.status, headers);
    res.end(req.method === 'HEAD' ? undefined : payload);
  };

  return async (req, res) => {
    const started = performance.now();
    const receivedAt = clock.now();
    const incomingId = req.headers['x-amz-request-id'] ?? req.headers['x-request-id'];
    const requestId =
      typeof incomingId === 'string' && REQUEST_ID.test(incomingId) ? incomingId : randomUUID();
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const method = req.method ?? 'GET';
    let label = 'unmatched';
    let status = 500;
    let caller: AuthenticatedPrincipal | undefined;
    let action: string | undefined;
    let resource: string | undefined;
    let decisionId: string | undefined;
    let allowed: Decision | undefined;
    let renderError: ErrorRenderer = renderRestError;
    let bearerRoute = false;
    let audited = false;
    const { ip, secure } = sourceOf(req);
    const userAgent = req.headers['user-agent'];
    try {
      const match = options.routes.router.match(method, path);
      if (match.kind === 'not-found') throw new RouteNotFoundError(method, path);
      if (match.kind === 'method-not-allowed') throw new MethodNotAllowedError(method, path, match.allow);
      const route = match.value;
      renderError = route.renderError ?? renderError;
      bearerRoute = (route.schemes as readonly string[]).includes('bearer');
      label = route.label;
      const isPublic = route.auth === 'none-public';
      if (!isPublic) options.limiter.check(ip);

      const body = await readBody(req, route.maxBodyBytes ?? defaultLimit);
      const info = new PipelineRequest(
        req,
        method,
        path,
        rawQuery,
        match.params,
        requestId,
        ip,
        secure,
        receivedAt,
        body,
      );

      let response: RouteResponse;
      if (route.auth === 'none-public') {
        response = await route.handle(info);
      } else {
        const protectedRoute = route as CompiledRoute & ProtectedRoute;
        const input: AuthenticationInput = {
          method,
          path,
          rawQuery,
          headers: req.headers,
          // Node builds headersDistinct on each access; only SigV4 needs it.
          get headersDistinct() {
            return req.headersDistinct;
          },
          body,
        };
        let scheme: AuthScheme | 'none' = 'none';
        for (const s of protectedRoute.schemes) {
          if (byScheme.get(s)!.detects(input)) {
            scheme = s;
            break;
          }
        }
        try {
          if (scheme === 'none') {
            throw new AuthenticationError(
              `no ${protectedRoute.schemes.join(' or ')} credentials in the request`,
            );
          }
          caller = await byScheme.get(scheme)!.authenticate(input);
        } catch (err) {
          if (err instanceof AuthenticationError) {
            options.limiter.recordFailure(ip);
            authFailures.inc(1, scheme);
            audited = true;
            options.audit.record({
              time: receivedAt,
              requestId,
              principal: null,
              action: protectedRoute.action,
              resource: null,
              decision: 'unauthenticated',
              sourceIp: ip,
              userAgent: userAgent ?? null,
              errorCode: err.code,
              extra: { reason: err.reason, route: label },
            });
            log.info('authentication failed', { requestId, route: label, sourceIp: ip, reason: err.reason });
          }
          throw err;
        }
        action = protectedRoute.action;
        const named = protectedRoute.resource(info, caller);
        resource = typeof named === 'string' ? named : await named;
        const context = buildRequestContext(
          { sourceIp: ip, secureTransport: secure, receivedAt, userAgent, referer: req.headers.referer },
          caller,
          protectedRoute.conditions?.(info, caller),
        );
        const outcome = await options.authorizer.authorize(
          { principal: caller.principal, action, resource, context },
          caller.sessionPolicies ? { sessionPolicies: caller.sessionPolicies } : undefined,
        );
        const decision = outcome.decision;
        decisionId = outcome.decisionId ?? randomUUID();
        countDecision(decision.decision);
        if (decision.decision !== 'allowed') {
          audited = true;
          options.audit.record({
            id: decisionId,
            time: receivedAt,
            requestId,
            principal: caller.principal.arn,
            action,
            resource,
            decision: decision.decision,
            matchedStatements: decision.matched,
            sourceIp: ip,
            userAgent: userAgent ?? null,
            errorCode: 'ERR_ACCESS_DENIED',
            extra: withMissing(
              { reason: decision.reason, credential: caller.credentialId ?? null },
              decision,
            ),
          });
          throw new NotAllowedError(
            `${caller.principal.arn} is not authorized to perform ${action} on ${resource}: ${denyText(decision.reason, action)}.`,
            { decisionId },
          );
        }
        allowed = decision;
        const authorized = info as PipelineRequest & {
          -readonly [K in keyof AuthorizedRequest]: AuthorizedRequest[K];
        };
        authorized.caller = caller;
        authorized.action = action;
        authorized.resource = resource;
        authorized.decision = decision;
        authorized.decisionId = decisionId;
        response = await protectedRoute.handle(authorized);
        audited = true;
        options.audit.record({
          id: decisionId,
          time: receivedAt,
          requestId,
          principal: caller.principal.arn,
          action,
          resource,
          decision: decision.decision,
          matchedStatements: decision.matched,
          sourceIp: ip,
          userAgent: userAgent ?? null,
          errorCode: null,
          extra: withMissing({ status: response.status, credential: caller.credentialId ?? null }, allowed),
        });
      }
      status = response.status;
      send(req, res, requestId, response);
    } catch (err) {
      const mapped = renderError(err, requestId);
      status = mapped.status;
      if (mapped.unexpected) {
        log.error('request failed', { requestId, route: label, method, error: err });
      } else {
        log.debug('request refused', { requestId, route: label, status, code: mapped.code });
      }
      if (caller && action && !audited) {
        options.audit.record({
          id: decisionId,
          time: receivedAt,
          requestId,
          principal: caller.principal.arn,
          action,
          resource: resource ?? null,
          decision: allowed?.decision ?? null,
          matchedStatements: allowed?.matched ?? null,
          sourceIp: ip,
          userAgent: userAgent ?? null,
          errorCode: mapped.code,
          extra: { status: mapped.status, credential: caller.credentialId ?? null },
        });
      }
      if (!res.headersSent) {
        const headers: Record<string, string> = { ...mapped.response.headers };
        // The unread rest of an oversized body would be parsed as the next request.
        if (err instanceof PayloadTooLargeError) headers.connection = 'close';
        // RFC 6750 §3: a bearer-protected resource names its scheme in a 401.
        if (mapped.status === 401 && renderError === renderRestError && bearerRoute) {
          headers['www-authenticate'] = 'Bearer realm="aiam"';
        }
        send(req, res, requestId, { ...mapped.response, headers });
      } else {
        res.destroy();
      }
    } finally {
      const seconds = (performance.now() - started) / 1000;
      const m = metricsFor(label);
      countRequest(m, label, method, status);
      m.duration.observe(seconds);
      if (accessLog) {
        log.debug('request', {
          requestId,
          method,
          route: label,
          status,
          ms: Math.round(seconds * 1e4) / 10,
          sourceIp: ip,
          principal: caller?.principal.arn,
        });
      }
    }
  };
}

/** The request object handlers receive; a class so the lazy parts live on the prototype. */
class PipelineRequest implements RequestInfo {
  #query: URLSearchParams | undefined;
  #parsed: { value: unknown } | undefined;

  constructor(
    private readonly req: IncomingMessage,
    readonly method: string,
    readonly path: string,
    readonly rawQuery: string,
    readonly params: Readonly<Record<string, string>>,
    readonly requestId: string,
    readonly sourceIp: string,
    readonly secureTransport: boolean,
    readonly receivedAt: number,
    readonly body: Buffer,
  ) {}

  get headers() {
    return this.req.headers;
  }

  get query(): URLSearchParams {
    this.#query ??= new URLSearchParams(this.rawQuery);
    return this.#query;
  }

  json(): unknown {
    this.#parsed ??= { value: parseJsonBody(this.body, this.req.headers['content-type']) };
    return this.#parsed.value;
  }
}

/**
 * Adds the condition keys the decision lacked to an audit record's payload, so that `explain`
 * of a decision read back from the audit trail shows them as a recent one does.
 */
function withMissing<T extends Record<string, unknown>>(
  extra: T,
  decision: { readonly missingContextValues: readonly string[] },
): T & { missingContextValues?: readonly string[] } {
  return decision.missingContextValues.length === 0
    ? extra
    : { ...extra, missingContextValues: decision.missingContextValues };
}

function denyText(reason: string | undefined, action: string): string {
  switch (reason) {
    case 'explicit-deny':
      return 'an explicit deny in a policy applies';
    case 'boundary':
      return `the permissions boundary does not allow ${action}`;
    case 'session-policy':
      return `the session policy does not allow ${action}`;
    default:
      return `no policy allows ${action}`;
  }
}

/** `::ffff:127.0.0.1` → `127.0.0.1`: an IPv4 peer on a dual-stack socket is an IPv4 address. */
export function normalizeIp(ip: string): string {
  return ip.startsWith('::ffff:') && ip.includes('.') ? ip.slice(7) : ip;
}
