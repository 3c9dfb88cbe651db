import type { AppContext } from '../app/start-server.js';
import { AuthFailureLimiter } from '../http/auth-failure-limiter.js';
import type { RouteDefinition } from '../http/route-table.js';
import { SigV4Verifier } from '../identity/sigv4-verifier.js';
import { OidcIssuer } from '../oidc/oidc-issuer.js';
import { oidcRoutes } from '../oidc/oidc-routes.js';
import type { ResolvedPrincipal } from '../services/principal-resolver.js';
import { StsService } from '../services/sts-service.js';
import { workloadRoutes } from '../workload/workload-routes.js';
import { stsRoutes } from './sts-routes.js';

/** Options of {@link openStsSurfaces}. */
export interface StsSurfacesOptions {
  /**
   * The issuer URL (`iss` of aiam's tokens), normally the public https base URL. Default: the
   * server's own base URL once it listens (fine on loopback; behind a proxy, set it).
   */
  readonly issuer?: string;
  /** Signing-key rotation period (ms). Default 30 days. */
  readonly rotationPeriodMs?: number;
  /** Audiences accepted on aiam's own tokens by AssumeRoleWithWebIdentity. */
  readonly ownAudiences?: readonly string[];
}

/** The STS, OIDC and workload-credentials routes, and what must be closed with the server. */
export interface StsSurfaces {
  readonly routes: readonly RouteDefinition[];
  /** The OIDC issuer, opened on first use (it needs the listening URL). */
  issuer(): Promise<OidcIssuer>;
  /** Stops the key-rotation timer (the server flushes the audit trail). */
  close(): Promise<void>;
}

/**
 * Builds the STS Query API, aiam's OIDC issuer (discovery, JWKS, token endpoint, key rotation)
 * and the workload-credentials endpoints over the app's store, principals and the one
 * authorizer. Register `routes` in the route table, and call `close` on shutdown.
 *
 * @example
 * const surfaces = openStsSurfaces(app, { issuer: env.AIAM_PUBLIC_URL });
 * table.add(...surfaces.routes);
 */
export function openStsSurfaces(app: AppContext, options: StsSurfacesOptions = {}): StsSurfaces {
  const limiter = new AuthFailureLimiter({ clock: app.clock });
  const audit = app.audit;
  let opening: Promise<{ issuer: OidcIssuer; sts: StsService }> | undefined;
  let closed = false;
  const ready = () => {
    opening ??= (async () => {
      const url = (options.issuer ?? app.baseUrl()).replace(/\/+$/, '');
      if (url === '') throw new Error('the OIDC issuer is not known before the server listens');
      const issuer = await OidcIssuer.open({
        store: app.store,
        keyring: app.keyring,
        issuer: url,
        clock: app.clock,
        logger: app.logger.child({ component: 'oidc' }),
        ...(options.rotationPeriodMs !== undefined ? { rotationPeriodMs: options.rotationPeriodMs } : {}),
      });
      if (!closed) issuer.start();
      const sts = new StsService({
        store: app.store,
        cache: app.accessModel,
        authorizer: app.serviceAuthorizer,
        sessions: app.sessions,
        oidc: issuer.keys,
        clock: app.clock,
        ...(options.ownAudiences ? { ownAudiences: options.ownAudiences } : {}),
      });
      return { issuer, sts };
    })();
    // A failed first open (a store hiccup) is retried by the next request.
    opening.catch(() => {
      opening = undefined;
    });
    return opening;
  };
  const verifier = new SigV4Verifier<{ identity: ResolvedPrincipal }>({
    lookupSecret: app.principals.lookupSecret,
    services: ['sts'],
    clock: app.clock,
  });
  const issuer = async () => (await ready()).issuer;
  const sts = async () => (await ready()).sts;
  const routes: RouteDefinition[] = [
    ...stsRoutes({ sts, verifier, authorizer: app.serviceAuthorizer, audit, limiter, logger: app.logger }),
    ...oidcRoutes({ issuer }),
    ...workloadRoutes({
      accountId: () => app.store.accountId,
      issuer,
      sts,
      cache: app.accessModel,
      audit,
      limiter,
    }),
  ];
  return {
    routes,
    issuer,
    close: async () => {
      closed = true;
      const open = await opening?.catch(() => undefined);
      await open?.issuer.close();
    },
  };
}
