import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * A surface that takes whole requests before the route pipeline does: the S3 data plane
 * (streamed uploads of many GiB, authenticated before the body is read) and the model gateway
 * (streamed inference requests and responses). The route pipeline reads and bounds the body
 * before it authenticates, which is right for JSON control-plane calls and wrong for these.
 *
 * `startServer` asks each surface in order, first match wins, before the route table; a
 * surface that matches owns the response completely: it authenticates, authorizes through
 * `app.serviceAuthorizer`, audits through `app.audit` and renders errors in its own protocol.
 * There is no fallback: `matches` must be cheap and side-effect free (method, path, Host and
 * query only; never the body), and a surface must not claim another surface's paths.
 *
 * @example
 * const gateway: RawSurface = {
 *   name: 'gateway',
 *   matches: (req) => req.url?.startsWith('/endpoints/') === true,
 *   handle: (req, res) => gatewayHandler.handle(req, res),
 * };
 */
export interface RawSurface {
  /** For logs and metrics, e.g. `s3`. */
  readonly name: string;
  /** True when this surface serves the request (decided from method, URL and headers only). */
  matches(req: IncomingMessage): boolean;
  /** Serves it; must always answer (or destroy the socket) and never reject for request errors. */
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/**
 * Wraps the route pipeline so that raw surfaces are asked first.
 *
 * @example new HttpServer(withRawSurfaces(surfaces, pipeline), { logger })
 */
export function withRawSurfaces(
  surfaces: readonly RawSurface[],
  fallback: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  if (surfaces.length === 0) return fallback;
  return (req, res) => {
    for (const surface of surfaces) if (surface.matches(req)) return surface.handle(req, res);
    return fallback(req, res);
  };
}
