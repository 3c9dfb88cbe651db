import type { AuthScheme } from '../http/authenticator.js';
import type { AuthorizedRequest, RouteDefinition } from '../http/route-table.js';
import { type MetricsRegistry, PROMETHEUS_CONTENT_TYPE } from '../observability/metrics.js';

/** One readiness check: a name and a probe that resolves true when ready. */
export interface ReadinessCheck {
  readonly name: string;
  readonly probe: () => Promise<boolean> | boolean;
}

/** Options of {@link systemRoutes}. */
export interface SystemRoutesOptions {
  readonly metrics: MetricsRegistry;
  readonly readiness: readonly ReadinessCheck[];
  /** The account id, for the server's ARN. */
  readonly accountId: () => string;
  /**
   * Serve `/metrics` without authentication. Default false: the route then needs
   * `aiam:GetServerInfo` on the server's ARN, like any API call (Prometheus sends a bearer
   * token or uses a SigV4 proxy). Metrics reveal traffic shape, denied-request rates and route
   * names, which AWS-like services keep behind authorization; open them only on a private
   * network where the scraper cannot present credentials.
   */
  readonly metricsPublic?: boolean;
  /** The schemes `/metrics` accepts when protected (those the server has authenticators for). */
  readonly schemes?: readonly AuthScheme[];
}

const PROBE_TIMEOUT_MS = 2000;

async function runProbe(check: ReadinessCheck): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      Promise.resolve(check.probe()),
      new Promise<boolean>((resolve) => {
        timer = setTimeout(() => resolve(false), PROBE_TIMEOUT_MS);
      }),
    ]);
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
  }
}

/** The path of {@link systemRoutes}' authenticated no-op: who the caller is, on which server. */
export const SERVER_INFO_PATH = '/api/v1/server-info';

/**
 * The operational routes: `GET /healthz` (liveness: the process answers), `GET /readyz`
 * (readiness: every check passes, e.g. store reachable, migrations applied, access model
 * loaded, not draining; 503 with the failing check names otherwise), `GET /metrics`, and
 * `GET /api/v1/server-info` (the account and the caller as authenticated, decided as
 * `aiam:GetServerInfo`; it reads nothing from the store, so it measures the request path alone
 * and lets a client check its credentials).
 */
export function systemRoutes(options: SystemRoutesOptions): RouteDefinition[] {
  const metricsHandler = () => ({
    status: 200,
    text: options.metrics.render(),
    contentType: PROMETHEUS_CONTENT_TYPE,
  });
  const serverArn = () => `arn:aws:aiam::${options.accountId()}:server`;
  return [
    {
      method: 'GET',
      path: SERVER_INFO_PATH,
      auth: options.schemes ?? ['sigv4'],
      action: 'aiam:GetServerInfo',
      resource: serverArn,
      name: 'server info',
      handle: (req: AuthorizedRequest) => ({
        status: 200,
        body: {
          accountId: options.accountId(),
          caller: { arn: req.caller.principal.arn, type: req.caller.type, userId: req.caller.userId },
        },
      }),
    },
    {
      method: 'GET',
      path: '/healthz',
      auth: 'none-public',
      publicReason: 'liveness probe for orchestrators; answers a constant',
      handle: () => ({ status: 200, body: { status: 'ok' } }),
    },
    {
      method: 'GET',
      path: '/readyz',
      auth: 'none-public',
      publicReason: 'readiness probe for load balancers; reveals only check names',
      handle: async () => {
        const results = await Promise.all(
          options.readiness.map(async (c) => [c.name, await runProbe(c)] as const),
        );
        const failing = results.filter(([, ok]) => !ok).map(([name]) => name);
        const checks = Object.fromEntries(results.map(([name, ok]) => [name, ok ? 'ok' : 'failing']));
        return failing.length === 0
          ? { status: 200, body: { status: 'ready', checks } }
          : { status: 503, body: { status: 'not-ready', checks } };
      },
    },
    options.metricsPublic
      ? {
          method: 'GET',
          path: '/metrics',
          auth: 'none-public',
          publicReason: 'operator chose public metrics (AIAM_METRICS_PUBLIC=true) for a private network',
          handle: metricsHandler,
        }
      : {
          method: 'GET',
          path: '/metrics',
          auth: options.schemes ?? ['sigv4'],
          action: 'aiam:GetServerInfo',
          resource: serverArn,
          handle: metricsHandler,
        },
  ];
}
