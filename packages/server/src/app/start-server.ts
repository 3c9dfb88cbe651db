import { mkdir } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { controlPlaneRoutes } from '../api/control-plane-routes.js';
import { type Clock, systemClock } from '../clock.js';
import { InputError } from '../errors.js';
import { AuthFailureLimiter } from '../http/auth-failure-limiter.js';
import {
  type Authenticator,
  BearerTokenAuthenticator,
  type BearerTokenLookup,
} from '../http/authenticator.js';
import type { Authorizer } from '../http/authorizer.js';
import { HttpServer } from '../http/http-server.js';
import { type AuditRecorder, createRequestPipeline } from '../http/request-pipeline.js';
import { type RouteDefinition, RouteTable } from '../http/route-table.js';
import { SigV4Authenticator, type SigV4Identity } from '../http/sigv4-authenticator.js';
import { type Keyring, loadKeyring } from '../identity/keyring.js';
import { SecretHasher } from '../identity/secret-hash.js';
import { SessionTokenIssuer } from '../identity/session-token.js';
import { SigV4Verifier } from '../identity/sigv4-verifier.js';
import { AuditWriter } from '../observability/audit-writer.js';
import { createLogger, type Logger } from '../observability/logger.js';
import { MetricsRegistry, registerProcessMetrics } from '../observability/metrics.js';
import { type GatewaySurfaceOptions, gatewaySurface } from '../gateway-surface/gateway-surface.js';
import { mlApiRoutes } from '../ml-api/ml-api-routes.js';
import type { OidcIssuer } from '../oidc/oidc-issuer.js';
import { scimSurfaceRoutes } from '../scim-api/index.js';
import { AccessSnapshotCache } from '../services/access-snapshot-cache.js';
import { ServiceAuthorizer } from '../services/authorizer.js';
import { loadPepper } from '../services/bootstrap.js';
import { PrincipalResolver } from '../services/principal-resolver.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { configRoutes } from '../config-api/config-routes.js';
import { domainRoutes } from '../domain-api/domain-routes.js';
import { openStsSurfaces } from '../sts/sts-surfaces.js';
import { parseObjectStoreUrl, S3ObjectBackend } from '../objects/s3-object-backend.js';
import { openS3Surface, parseVirtualHostBases, type S3SurfaceOptions } from '../s3-api/s3-surface.js';
import { type BootstrapResult, bootstrapAdministrator } from './bootstrap-administrator.js';
import { type RawSurface, withRawSurfaces } from './raw-surface.js';
import { systemRoutes } from './system-routes.js';

/** The default port of `aiam serve`: unassigned by IANA and unlike the usual 8080/3000/5000. */
export const DEFAULT_PORT = 7477;
/** The default host: loopback only, so a first start is not reachable from the network. */
export const DEFAULT_HOST = '127.0.0.1';
/** The default data directory. */
export const DEFAULT_DATA_DIR = '.aiam';
/** The audience of aiam JWTs that the server's own API accepts as bearer tokens. */
export const API_TOKEN_AUDIENCE = 'urn:aiam:api';
// A compact JWS (RFC 7515 §7.1): three base64url parts; aiam bearer keys never contain a dot.
const JWT_SHAPE = /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/;

/** What the other surfaces (control plane, STS, SCIM, OIDC, gateway) receive to build their routes. */
export interface AppContext {
  readonly store: Store;
  readonly keyring: Keyring;
  readonly authorizer: Authorizer;
  /** The services' authorizer (decision ids, recent decisions for `explain`). */
  readonly serviceAuthorizer: ServiceAuthorizer;
  /** The server's one audit trail: every surface records its decisions here (never blocks). */
  readonly audit: AuditRecorder;
  readonly accessModel: AccessSnapshotCache;
  /** Turns verified credentials (access keys, session tokens, bearer keys) into principals. */
  readonly principals: PrincipalResolver;
  readonly sessions: SessionTokenIssuer;
  readonly hasher: SecretHasher;
  readonly logger: Logger;
  readonly metrics: MetricsRegistry;
  readonly clock: Clock;
  readonly dataDir: string;
  /** The server's base URL, known once listening (routes read it lazily). */
  readonly baseUrl: () => string;
  /** aiam's OIDC issuer (one key set for the server), opened on first use once listening. */
  readonly oidcIssuer: () => Promise<OidcIssuer>;
  /**
   * Registers a shutdown step (timers to stop, queues to flush). Steps run after in-flight
   * requests finished, latest registered first, before the store closes.
   */
  readonly onClose: (step: () => Promise<unknown>) => void;
}

/** Options of {@link startServer}. */
export interface StartServerOptions {
  /** Where the master key, the SQLite database and the bootstrap credentials live. */
  readonly dataDir: string;
  readonly host?: string;
  /** 0 picks a free port; the real one is in the result. */
  readonly port?: number;
  /** `postgres://…` for PostgreSQL; default `sqlite:DATA_DIR/aiam.db`. */
  readonly databaseUrl?: string;
  /** PostgreSQL: the schema holding aiam's tables (created if missing); default `public`. */
  readonly databaseSchema?: string;
  readonly logger?: Logger;
  readonly clock?: Clock;
  /** Environment for the master key (`AIAM_MASTER_KEY`) and log level; default process.env. */
  readonly env?: Readonly<Record<string, string | undefined>>;
  /** Serve /metrics without authentication (default false; see `systemRoutes`). */
  readonly metricsPublic?: boolean;
  /** Addresses of reverse proxies whose X-Forwarded-For is believed. */
  readonly trustedProxies?: readonly string[];
  /** How long in-flight requests may run on shutdown. Default 10 s. */
  readonly shutdownGraceMs?: number;
  /**
   * Resolves bearer tokens. Default: aiam bearer keys whose owner is a principal (through the
   * principal resolver) and aiam JWTs issued for {@link API_TOKEN_AUDIENCE}; endpoint keys,
   * owned by endpoints, are the gateway's business.
   */
  readonly bearerLookup?: (app: AppContext) => BearerTokenLookup;
  /** Routes of the other surfaces, validated by the same fail-closed route table. */
  readonly routes?: (app: AppContext) => readonly RouteDefinition[];
  /**
   * Surfaces that take whole requests before the route pipeline (see `RawSurface`: streamed
   * bodies, authenticated before they are read). Asked in order, after the gateway and before
   * the S3 data plane, which takes every request no other surface owns.
   */
  readonly rawSurfaces?: (app: AppContext) => readonly RawSurface[];
  /** Options of the S3 data plane; virtual-host bases default to `AIAM_S3_VIRTUAL_HOST_BASE`. */
  readonly s3?: Omit<S3SurfaceOptions, 'audit'>;
  /**
   * Where object bytes live: `s3://BUCKET/PREFIX?endpoint=URL&region=R` for an upstream
   * S3-compatible store (credentials from the process's standard AWS environment or profile).
   * Default `AIAM_OBJECT_STORE`, else the filesystem under the data directory.
   */
  readonly objectStore?: string;
  /** Options of the inference gateway (health probe timing); the issuer is the server's. */
  readonly gateway?: Omit<GatewaySurfaceOptions, 'issuer'>;
}

/** A running server. */
export interface RunningServer {
  readonly url: string;
  readonly host: string;
  readonly port: number;
  readonly dataDir: string;
  readonly bootstrap: BootstrapResult;
  readonly store: Store;
  /** The fail-closed route table the server runs (for tests that walk it). */
  readonly routes: RouteTable;
  /**
   * Graceful stop: stop accepting, let in-flight requests finish (bounded by the grace period),
   * flush the audit queue, close the store. Idempotent.
   */
  close(): Promise<void>;
}

/**
 * Starts aiam: creates the data directory, loads (or creates) the master key, opens and migrates
 * the store, bootstraps the administrator on first start, builds the access model, and listens.
 * Every route goes through one pipeline: authenticate → request context → the engine → act → audit.
 *
 * @example
 * const server = await startServer({ dataDir: './.aiam', port: 0 });
 * console.log(server.url, server.bootstrap.credentialsPath);
 * await server.close();
 */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const env = options.env ?? process.env;
  const clock = options.clock ?? systemClock;
  const log = options.logger ?? createLogger({ env, clock });
  const dataDir = resolve(options.dataDir);
  const host = options.host ?? DEFAULT_HOST;
  const port = options.port ?? DEFAULT_PORT;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new InputError(`port ${port} is not a TCP port (0..65535; 0 picks a free one)`);
  }

  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  const { keyring, created: keyCreated, source: keySource } = await loadKeyring({ dataDir, env });
  if (keyCreated) log.info('created the master key', { path: join(dataDir, 'master.key') });
  const databaseUrl = options.databaseUrl ?? `sqlite:${join(dataDir, 'aiam.db')}`;
  const store = await openStore({
    url: databaseUrl,
    clock,
    ...(options.databaseSchema !== undefined ? { schema: options.databaseSchema } : {}),
  });
  const cleanup: (() => Promise<unknown>)[] = [() => store.close()];
  const abort = async (err: unknown): Promise<never> => {
    for (const f of cleanup.reverse()) await f().catch(() => {});
    throw err;
  };

  try {
    const migrated = await store.migrate();
    if (migrated.applied.length) log.info('migrated the store', { applied: migrated.applied });
    const bootstrap = await bootstrapAdministrator({ store, keyring, dataDir, clock });
    if (bootstrap.created) log.info('created the bootstrap administrator', { user: bootstrap.userArn });

    const metrics = new MetricsRegistry();
    registerProcessMetrics(metrics);
    const accessModel = await AccessSnapshotCache.open(store, {
      onProblem: (p) => log.error('a stored policy does not compile; it grants nothing', { ...p }),
    });
    cleanup.push(() => accessModel.close());
    // The pipeline audits every decision itself (with the response's outcome), so the service
    // authorizer only decides and remembers decisions for `explain`.
    const service = new ServiceAuthorizer(accessModel, store, { clock, audit: false });
    // No copy of the request, and no promise while the access view is fresh.
    const authorizer: Authorizer = { authorize: (request, opts) => service.decide(request, opts) };

    const sessions = new SessionTokenIssuer({ keyring, clock });
    const hasher = new SecretHasher(await loadPepper(store, keyring));
    const principals = new PrincipalResolver({
      store,
      cache: accessModel,
      keyring,
      sessions,
      hasher,
      clock,
      onBackgroundError: (err) => log.warn('recording credential use failed', { error: err }),
    });
    cleanup.push(() => principals.flushUsage());
    const verifier = new SigV4Verifier<SigV4Identity>({
      lookupSecret: principals.lookupSecret,
      services: ['aiam', 'iam', 'sts'],
      clock,
    });

    // One audit trail for every surface (REST pipeline, S3, gateway, STS): one queue, one set of
    // metrics, flushed once at shutdown after the last request finished.
    const audit = new AuditWriter({
      sink: { append: (records) => store.appendAudit(records) },
      logger: log.child({ component: 'audit' }),
      metrics,
      clock,
    });

    let baseUrl = '';
    const app: AppContext = {
      store,
      keyring,
      authorizer,
      serviceAuthorizer: service,
      audit,
      accessModel,
      principals,
      sessions,
      hasher,
      logger: log,
      metrics,
      clock,
      dataDir,
      baseUrl: () => baseUrl,
      oidcIssuer: () => stsSurfaces.issuer(),
      onClose: (step) => {
        cleanup.push(step);
      },
    };
    // STS Query API, OIDC issuer (discovery, JWKS, token endpoint, key rotation), workload credentials.
    const stsSurfaces = openStsSurfaces(app, { issuer: env.AIAM_PUBLIC_URL });
    cleanup.push(() => stsSurfaces.close());
    // aiam JWTs (audience API_TOKEN_AUDIENCE) need the issuer's keys, known once it is open.
    let jwtPrincipals: Promise<PrincipalResolver> | undefined;
    const jwtResolver = (): Promise<PrincipalResolver> => {
      jwtPrincipals ??= stsSurfaces.issuer().then(
        (issuer) =>
          new PrincipalResolver({
            store,
            cache: accessModel,
            keyring,
            sessions,
            hasher,
            oidc: issuer.keys,
            clock,
          }),
      );
      jwtPrincipals.catch(() => {
        jwtPrincipals = undefined;
      });
      return jwtPrincipals;
    };
    const bearerLookup: BearerTokenLookup =
      options.bearerLookup?.(app) ??
      (async (token) =>
        JWT_SHAPE.test(token)
          ? (await jwtResolver()).resolveJwt(token, API_TOKEN_AUDIENCE)
          : (await principals.resolveBearerKey(token))?.principal);
    const authenticators: Authenticator[] = [
      new SigV4Authenticator(verifier),
      new BearerTokenAuthenticator(bearerLookup),
    ];

    let server: HttpServer | undefined;
    let migrationsDone = true;
    const routes = new RouteTable().add(
      ...systemRoutes({
        metrics,
        accountId: () => store.accountId,
        metricsPublic: options.metricsPublic,
        schemes: authenticators.map((a) => a.scheme),
        readiness: [
          { name: 'store', probe: async () => (await store.getRevision()) >= 0 },
          { name: 'migrations', probe: () => migrationsDone },
          { name: 'access-model', probe: () => accessModel.latest !== undefined },
          { name: 'accepting', probe: () => server !== undefined && !server.draining },
        ],
      }),
      ...stsSurfaces.routes,
      ...scimSurfaceRoutes(app),
      ...mlApiRoutes(app),
      ...controlPlaneRoutes(app),
      ...configRoutes(app),
      ...domainRoutes(app),
      ...(options.routes?.(app) ?? []),
    );

    const pipeline = createRequestPipeline({
      routes,
      authenticators,
      authorizer,
      audit,
      limiter: new AuthFailureLimiter({ clock }),
      logger: log.child({ component: 'http' }),
      metrics,
      clock,
      trustedProxies: options.trustedProxies,
      isDraining: () => server?.draining ?? false,
    });
    // The gateway takes /endpoints/… before the pipeline, which reads bodies first: inference
    // requests and responses stream through unbuffered.
    const gateway = gatewaySurface(app, { ...options.gateway, issuer: app.oidcIssuer });
    cleanup.push(() => gateway.close());
    // Raw surfaces (the S3 data plane last: it takes whatever no other surface owns) see each
    // request before the pipeline, which reads bodies before authenticating.
    const objectStore = options.objectStore ?? (env.AIAM_OBJECT_STORE || undefined);
    const upstream =
      objectStore && !options.s3?.backend ? new S3ObjectBackend(parseObjectStoreUrl(objectStore)) : undefined;
    if (upstream) cleanup.push(async () => upstream.close());
    const s3 = await openS3Surface(app, {
      audit,
      ...(upstream ? { backend: upstream } : {}),
      virtualHostBases: parseVirtualHostBases(env.AIAM_S3_VIRTUAL_HOST_BASE),
      ...(options.trustedProxies ? { trustedProxies: options.trustedProxies } : {}),
      ...options.s3,
    });
    cleanup.push(() => s3.close());
    // The gateway owns /endpoints/…; S3 comes last because it takes whatever no other surface owns.
    const handler = withRawSurfaces([gateway, ...(options.rawSurfaces?.(app) ?? []), s3.surface], pipeline);
    server = new HttpServer(handler, { logger: log });
    const address = await server.listen(port, host);
    const shownHost = address.family === 'IPv6' ? `[${address.address}]` : address.address;
    baseUrl = `http://${shownHost}:${address.port}`;
    log.info('listening', {
      url: baseUrl,
      dataDir,
      store: store.kind,
      masterKey: keySource,
      credentialsFile: bootstrap.credentialsPath,
    });

    let closing: Promise<void> | undefined;
    const close = (): Promise<void> => {
      closing ??= (async () => {
        migrationsDone = false;
        const { forced } = await server.close({ graceMs: options.shutdownGraceMs ?? 10_000 });
        if (forced) log.warn('shutdown grace period ended with requests still running; they were cut');
        await audit.close();
        if (audit.dropped > 0)
          log.error('audit records were lost during this run', { dropped: audit.dropped });
        for (const f of cleanup.reverse())
          await f().catch((err) => log.error('shutdown step failed', { error: err }));
        log.info('stopped');
      })();
      return closing;
    };
    return {
      url: baseUrl,
      host: address.address,
      port: address.port,
      dataDir,
      bootstrap,
      store,
      routes,
      close,
    };
  } catch (err) {
    return abort(err);
  }
}
