import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import {
  type CompiledPolicy,
  type ContextValue,
  compilePolicy,
  type Decision,
  parsePolicyOrThrow,
  type RequestContext,
} from '@aiam/policy';
import type { AppContext } from '../app/start-server.js';
import { AuthenticationError, InputError, NotAllowedError, NotFoundError } from '../errors.js';
import {
  DeploymentSelector,
  EndpointGateway,
  type GatewayAuthorizationRequest,
  type GatewayEndpoint,
  GatewayLimiter,
  httpHealthProbe,
  ReverseProxy,
  writeGatewayError,
} from '../gateway/index.js';
import type { AuthenticatedPrincipal } from '../http/authenticator.js';
import { buildRequestContext } from '../http/request-context-builder.js';
import { SigV4Verifier } from '../identity/sigv4-verifier.js';
import type { OidcIssuer } from '../oidc/oidc-issuer.js';
import type { AccessView } from '../services/access-snapshot-cache.js';
import { EndpointKeyService } from '../services/endpoint-key-service.js';
import {
  MlRegistryService,
  type ResolvedDeployment,
  type ResolvedEndpoint,
} from '../services/ml-registry-service.js';
import { PrincipalResolver, type ResolvedPrincipal } from '../services/principal-resolver.js';
import type { BearerKey } from '../store/store-types.js';

/** Where the gateway lives on the server's base URL (DESIGN.md: `/endpoints/{name}/…`). */
export const GATEWAY_PREFIX = '/endpoints/';

/**
 * The audience an aiam JWT must carry to call a `token` endpoint (as Azure ML tokens carry
 * `https://ml.azure.com`). Obtain one from aiam's token endpoint with `audience=urn:aiam:endpoints`.
 */
export const GATEWAY_TOKEN_AUDIENCE = 'urn:aiam:endpoints';

/** Lifetime of the `x-aiam-caller` statement: long enough for clock skew, short enough to be useless if leaked. */
const CALLER_STATEMENT_TTL_SECONDS = 60;
/**
 * A statement is reused until this long before its expiry, so the upstream never receives one
 * about to lapse (signing ES256 per request was ~35% of the gateway's CPU, docs/benchmarks.md).
 */
const CALLER_STATEMENT_RENEW_BEFORE_MS = 15_000;
/** Bound of the statement cache and of the key-lookup cache; a full cache starts over. */
const MAX_CACHED = 10_000;

const ENDPOINT_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

/**
 * A surface that takes raw requests before the route pipeline (which reads bodies first): the
 * gateway must stream request bodies to the upstream untouched.
 */
export interface RawSurface {
  readonly name: string;
  matches(req: IncomingMessage): boolean;
  handle(req: IncomingMessage, res: ServerResponse): Promise<void>;
}

/** Options of {@link gatewaySurface}. */
export interface GatewaySurfaceOptions {
  /** aiam's OIDC issuer: verifies `token`-mode JWTs and signs the `x-aiam-caller` statement. */
  readonly issuer: () => Promise<OidcIssuer>;
  /** The forwarding proxy (default: a keep-alive `ReverseProxy` with its default timeouts). */
  readonly proxy?: ReverseProxy;
  /**
   * Period of the active health probe of deployments that declare a `healthProbePath` (and the
   * first retry of an unhealthy one; retries back off up to `healthProbeMaxBackoffMs`). Default 10 s.
   */
  readonly healthProbeIntervalMs?: number;
  /** Cap of the probe backoff of an unhealthy deployment. Default 5 min. */
  readonly healthProbeMaxBackoffMs?: number;
  /** How long one probe may take before it counts as failed. Default 2 s. */
  readonly healthProbeTimeoutMs?: number;
}

/** What the deny decision looked like, for a 403 a caller can act on. */
export class EndpointAccessDeniedError extends NotAllowedError {
  /** `explicit-deny`, `no-allow`, `boundary` or `session-policy`. */
  readonly reason: string;
  /** The kind of policy that decided: `identity`, `deny-assignment`, `boundary`… or `none` (nothing allowed it). */
  readonly policyKind: string;

  constructor(message: string, decisionId: string, decision: Decision) {
    super(message, { decisionId });
    this.reason = decision.reason ?? 'no-allow';
    this.policyKind = policyKindOf(decision);
  }
}

function policyKindOf(decision: Decision): string {
  switch (decision.reason) {
    case 'explicit-deny':
      return decision.matched.find((m) => m.effect === 'Deny')?.policyKind ?? 'identity';
    case 'boundary':
      return 'boundary';
    case 'session-policy':
      return 'session';
    default:
      return 'none';
  }
}

interface CachedEndpoint {
  readonly resolved: ResolvedEndpoint;
  readonly gateway: GatewayEndpoint<ResolvedDeployment>;
  /** Whether the selector runs the active health probe (some deployment declares a probe path). */
  readonly probed: boolean;
}

interface Caller {
  readonly who: AuthenticatedPrincipal;
  readonly mode: 'key' | 'token';
  readonly credentialId: string | undefined;
}

/**
 * The inference gateway on `/endpoints/{name}/…`: looks the endpoint up in the registry,
 * authenticates by the endpoint's `authMode` — `key`: `Authorization: Bearer KEY` (the caller is
 * the key slot, `ENDPOINT_ARN/key/primary`, implicitly granted its own endpoint as in Azure ML,
 * by an identity policy the engine decides with everything else, so denies still apply);
 * `token`: an aiam JWT (audience {@link GATEWAY_TOKEN_AUDIENCE}) or SigV4 with temporary
 * credentials and `UNSIGNED-PAYLOAD` — then hands the call to `EndpointGateway`, whose
 * authorization step decides `ml:InvokeEndpoint` on the endpoint and on the model version the
 * chosen deployment serves. Every decision is audited; refusals carry the decision id.
 */
export function gatewaySurface(
  app: AppContext,
  options: GatewaySurfaceOptions,
): RawSurface & {
  close(): Promise<void>;
} {
  const registry = new MlRegistryService({ store: app.store });
  const keys = new EndpointKeyService({ store: app.store, hasher: app.hasher });
  const proxy = options.proxy ?? new ReverseProxy();
  const gateway = new EndpointGateway(proxy, new GatewayLimiter({ clock: app.clock }));
  const audit = app.audit;
  const cache = new Map<string, CachedEndpoint>();
  // Both caches hold entries of one store revision only: any change of access data (a key
  // regenerated or disabled, a policy or assignment removed) empties them at the next request,
  // so a cached key or statement never outlives the access it stood for.
  let cachedAt = -1;
  const keyLookups = new Map<string, BearerKey>();
  const statements = new Map<string, { readonly token: string; readonly renewAt: number }>();
  const atRevision = (revision: number): void => {
    if (revision === cachedAt) return;
    cachedAt = revision;
    keyLookups.clear();
    statements.clear();
  };
  const healthLog = app.logger.child({ component: 'gateway-health' });
  const probeTimeoutMs = options.healthProbeTimeoutMs ?? 2_000;
  // Each deployment is probed at its own declared path; one without a path, on an endpoint
  // where others declare one, passes (it is still ejected by failed requests, and readmitted
  // at the next probe rather than after the passive ejection time).
  const healthProbe = {
    check: (d: ResolvedDeployment) =>
      d.healthProbePath === undefined
        ? Promise.resolve(true)
        : httpHealthProbe(d.healthProbePath, probeTimeoutMs)(d),
    ...(options.healthProbeIntervalMs !== undefined ? { intervalMs: options.healthProbeIntervalMs } : {}),
    ...(options.healthProbeMaxBackoffMs !== undefined
      ? { maxBackoffMs: options.healthProbeMaxBackoffMs }
      : {}),
  };
  const keyGrants = new Map<string, CompiledPolicy>();
  const keyGrant = (endpointArn: string, modelVersionArn: string | undefined): CompiledPolicy => {
    const id = `${endpointArn}\n${modelVersionArn ?? ''}`;
    let grant = keyGrants.get(id);
    if (grant === undefined) {
      // Bounded: one entry per endpoint and model version served; a full map starts over.
      if (keyGrants.size >= MAX_KEY_GRANTS) keyGrants.clear();
      grant = endpointKeyGrant(endpointArn, modelVersionArn);
      keyGrants.set(id, grant);
    }
    return grant;
  };
  let jwtResolver: Promise<PrincipalResolver> | undefined;
  const resolver = () => {
    jwtResolver ??= options.issuer().then(
      (issuer) =>
        new PrincipalResolver({
          store: app.store,
          cache: app.accessModel,
          keyring: app.keyring,
          sessions: app.sessions,
          hasher: app.hasher,
          oidc: issuer.keys,
          clock: app.clock,
        }),
    );
    jwtResolver.catch(() => {
      jwtResolver = undefined;
    });
    return jwtResolver;
  };
  const sigv4 = new SigV4Verifier<{ identity: ResolvedPrincipal }>({
    lookupSecret: app.principals.lookupSecret,
    services: ['aiam', 'ml'],
    clock: app.clock,
  });

  /** The endpoint at the newest revision this node knows of; selectors keep their health across updates. */
  const endpointNamed = async (name: string): Promise<CachedEndpoint | undefined> => {
    // A fresh view is read without a promise: this runs on every gateway request.
    const models = app.accessModel;
    const view = models.stale ? await models.view() : (models.latest as AccessView);
    atRevision(view.revision);
    const hit = cache.get(name);
    if (hit && hit.resolved.revision >= view.revision) return hit;
    const resolved = await registry.resolveEndpoint(name);
    if (!resolved) {
      if (hit) {
        hit.gateway.selector.stop();
        cache.delete(name);
      }
      return undefined;
    }
    const probed = resolved.deployments.some((d) => d.healthProbePath !== undefined);
    let selector: DeploymentSelector<ResolvedDeployment>;
    if (hit && hit.resolved.arn === resolved.arn && hit.probed === probed) {
      selector = hit.gateway.selector;
      selector.replaceDeployments(resolved.deployments);
    } else {
      hit?.gateway.selector.stop();
      selector = new DeploymentSelector(resolved.deployments, {
        clock: app.clock,
        ...(probed ? { probe: healthProbe } : {}),
        onHealthChange: (deployment, healthy) =>
          healthLog.info('deployment health changed', { endpoint: resolved.name, deployment, healthy }),
      });
      selector.start();
    }
    const entry: CachedEndpoint = {
      probed,
      resolved,
      gateway: {
        resourceName: resolved.arn,
        api: resolved.api,
        selector,
        ...(resolved.limits ? { limits: resolved.limits } : {}),
      },
    };
    cache.set(name, entry);
    return entry;
  };

  const authenticate = async (
    req: IncomingMessage,
    endpoint: ResolvedEndpoint,
    rawPath: string,
    rawQuery: string,
  ): Promise<Caller> => {
    const auth = req.headers.authorization;
    if (endpoint.authMode === 'key') {
      const key = bearer(auth);
      if (key === undefined)
        throw new AuthenticationError('send the endpoint key as Authorization: Bearer KEY');
      // The endpoint was resolved at the current revision; the key record is read once per revision
      // (by its peppered hash, no secret kept) and still verified in constant time per request.
      // Only hits are kept: unknown keys cannot push real ones out.
      const revision = cachedAt;
      const who = await keys.authenticateKeyOf(endpoint, key, async (hash) => {
        const known = keyLookups.get(hash);
        if (known) return known;
        const stored = await app.store.getBearerKey({ hash });
        if (stored && revision === cachedAt) {
          if (keyLookups.size >= MAX_CACHED) keyLookups.clear();
          keyLookups.set(hash, stored);
        }
        return stored;
      });
      return {
        mode: 'key',
        credentialId: who.keyId,
        who: {
          principal: { arn: `${endpoint.arn}/key/${who.slot}`, account: app.store.accountId },
          type: 'Account',
          userId: who.keyId,
          credentialId: who.keyId,
        },
      };
    }
    if (auth?.startsWith('AWS4-')) {
      const verified = await sigv4
        .verify({ method: req.method ?? 'GET', path: rawPath, query: rawQuery, headers: req.headersDistinct })
        .catch((e: unknown) => {
          throw new AuthenticationError('the request signature does not verify', { cause: e });
        });
      if (verified.payloadMode !== 'unsigned')
        throw new InputError('sign gateway requests with x-amz-content-sha256: UNSIGNED-PAYLOAD');
      const identity = verified.principal.identity;
      // DESIGN.md: token mode takes temporary credentials only (a session), never a long-term key.
      if (verified.sessionToken === undefined)
        throw new AuthenticationError('token endpoints take temporary credentials only');
      return { mode: 'token', credentialId: verified.accessKeyId, who: identity };
    }
    const token = bearer(auth);
    if (token === undefined)
      throw new AuthenticationError('send an aiam token as Authorization: Bearer TOKEN, or sign with SigV4');
    const who = await (await resolver()).resolveJwt(token, GATEWAY_TOKEN_AUDIENCE);
    if (!who) throw new AuthenticationError('the token is not valid for this endpoint');
    return { mode: 'token', credentialId: undefined, who };
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const requestId = requestIdOf(req);
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const rawPath = q < 0 ? url : url.slice(0, q);
    const rawQuery = q < 0 ? '' : url.slice(q + 1);
    const rest = rawPath.slice(GATEWAY_PREFIX.length);
    const slash = rest.indexOf('/');
    const name = decodeURIComponentSafe(slash < 0 ? rest : rest.slice(0, slash));
    const path = (slash < 0 ? '/' : rest.slice(slash)) + (q < 0 ? '' : url.slice(q));
    const receivedAt = app.clock.now();
    const sourceIp = req.socket.remoteAddress ?? '';
    const userAgent = req.headers['user-agent'];
    const refuse = (error: unknown, principal?: string): void => {
      if (!req.complete) res.shouldKeepAlive = false;
      audit.record({
        time: receivedAt,
        requestId,
        principal: principal ?? null,
        action: 'ml:InvokeEndpoint',
        resource: name ?? null,
        decision: error instanceof AuthenticationError ? 'unauthenticated' : 'refused',
        sourceIp,
        userAgent: userAgent ?? null,
        errorCode: error instanceof Error && 'code' in error ? String(error.code) : 'ERR_INTERNAL',
        extra: error instanceof AuthenticationError ? { reason: error.message } : undefined,
      });
      writeGatewayError(res, error, requestId);
    };
    if (name === undefined || !ENDPOINT_NAME.test(name)) {
      refuse(new NotFoundError('no endpoint has that name'));
      return;
    }
    let endpoint: CachedEndpoint | undefined;
    let caller: Caller;
    try {
      endpoint = await endpointNamed(name);
      if (!endpoint) throw new NotFoundError(`endpoint "${name}" does not exist`);
      caller = await authenticate(req, endpoint.resolved, rawPath, rawQuery);
    } catch (error) {
      // Why authentication failed stays in the audit log; the caller gets the generic message.
      refuse(error instanceof AuthenticationError ? new AuthenticationError('authentication failed') : error);
      return;
    }
    const resolved = endpoint.resolved;
    const who = caller.who;
    const facts = { sourceIp, secureTransport: false, receivedAt, userAgent, referer: req.headers.referer };

    const decide = async (
      resource: string,
      context: RequestContext,
      grant: readonly CompiledPolicy[] | undefined,
    ): Promise<void> => {
      const r = await app.serviceAuthorizer.authorize({
        principal: who.principal,
        action: 'ml:InvokeEndpoint',
        resource,
        context,
        ...(who.sessionPolicies ? { sessionPolicies: who.sessionPolicies } : {}),
        ...(grant ? { identityPolicies: grant } : {}),
        audit: {
          requestId,
          sourceIp,
          ...(userAgent ? { userAgent } : {}),
          ...(caller.credentialId ? { credentialId: caller.credentialId } : {}),
        },
      });
      audit.record({
        id: r.decisionId,
        time: receivedAt,
        requestId,
        principal: who.principal.arn,
        action: 'ml:InvokeEndpoint',
        resource,
        decision: r.decision.decision,
        matchedStatements: r.decision.matched,
        sourceIp,
        userAgent: userAgent ?? null,
        extra: {
          authMode: caller.mode,
          revision: r.revision,
          ...(r.decision.reason ? { reason: r.decision.reason } : {}),
          ...(r.decision.missingContextValues.length
            ? { missingContextValues: r.decision.missingContextValues }
            : {}),
          ...(caller.credentialId ? { credentialId: caller.credentialId } : {}),
        },
      });
      if (!r.allowed)
        throw new EndpointAccessDeniedError(
          `${who.principal.arn} may not perform ml:InvokeEndpoint on ${resource}`,
          r.decisionId,
          r.decision,
        );
    };

    const authorize = async (request: GatewayAuthorizationRequest<ResolvedDeployment>): Promise<void> => {
      const d = request.deployment;
      const keysOf: Record<string, ContextValue | undefined> = {
        'ml:WorkspaceName': resolved.workspace,
        'ml:EndpointName': resolved.name,
        'ml:EndpointAuthMode': resolved.authMode,
        'ml:TargetDeployment': d.name,
      };
      if (d.modelRef !== undefined) {
        const at = d.modelRef.lastIndexOf(':');
        keysOf['ml:ModelName'] = d.modelRef.slice(0, at);
        keysOf['ml:ModelVersion'] = d.modelRef.slice(at + 1);
      }
      const context = buildRequestContext(facts, who, keysOf);
      // Key mode: the key's implicit grant covers its own endpoint and the chosen model version,
      // and nothing else; the engine still applies every Deny and deny assignment to it.
      const grant = caller.mode === 'key' ? [keyGrant(resolved.arn, d.modelVersionArn)] : undefined;
      await decide(resolved.arn, context, grant);
      // A grant scoped to one model version covers exactly that version (issue 5): the
      // deployment chosen — by weight, by pin or by the OpenAI `model` — is authorized as such.
      if (d.modelVersionArn !== undefined) await decide(d.modelVersionArn, context, grant);
    };

    // One statement per caller, endpoint, deployment and model version, reused until shortly
    // before it expires; the request id travels as x-aiam-request-id instead of as a claim.
    const callerStatement = async (request: GatewayAuthorizationRequest<ResolvedDeployment>) => {
      const d = request.deployment;
      const revision = cachedAt;
      const id = [
        who.principal.arn,
        who.type,
        caller.mode,
        resolved.arn,
        d.arn,
        d.modelVersionArn ?? '',
      ].join('\n');
      const hit = statements.get(id);
      if (hit && app.clock.now() < hit.renewAt) return hit.token;
      const issuer = await options.issuer();
      const issued = await issuer.keys.issue({
        subject: who.principal.arn,
        audience: resolved.arn,
        ttlSeconds: CALLER_STATEMENT_TTL_SECONDS,
        claims: {
          principal_type: who.type,
          endpoint: resolved.arn,
          deployment: d.arn,
          ...(d.modelVersionArn ? { model_version: d.modelVersionArn } : {}),
          auth_mode: caller.mode,
        },
      });
      if (revision === cachedAt) {
        if (statements.size >= MAX_CACHED && !statements.has(id)) statements.clear();
        statements.set(id, {
          token: issued.token,
          renewAt: issued.expiresAt - CALLER_STATEMENT_RENEW_BEFORE_MS,
        });
      }
      return issued.token;
    };

    await gateway.handle(endpoint.gateway, {
      req,
      res,
      path,
      principal: who.principal.arn,
      authorize,
      callerStatement,
      requestId,
    });
  };

  return {
    name: 'gateway',
    matches: (req) => req.url?.startsWith(GATEWAY_PREFIX) ?? false,
    handle,
    close: async () => {
      for (const e of cache.values()) e.gateway.selector.stop();
      cache.clear();
      proxy.close();
    },
  };
}

const MAX_KEY_GRANTS = 1024;

/**
 * The implicit grant of an endpoint key (Azure ML: a valid key may invoke its own endpoint), as
 * an identity policy of the key slot: `ml:InvokeEndpoint` on the endpoint and on the model version
 * the chosen deployment serves. An ARN carrying policy wildcards or variables (`*`, `?`, `${`) is
 * left out rather than widen the grant.
 */
export function endpointKeyGrant(endpointArn: string, modelVersionArn: string | undefined): CompiledPolicy {
  const resources = [endpointArn, ...(modelVersionArn === undefined ? [] : [modelVersionArn])].filter(
    (arn) => !/[*?]|\$\{/.test(arn),
  );
  const document = {
    Version: '2012-10-17',
    Statement: [
      resources.length > 0
        ? { Sid: 'EndpointKey', Effect: 'Allow', Action: 'ml:InvokeEndpoint', Resource: resources }
        : { Sid: 'EndpointKey', Effect: 'Deny', Action: 'ml:InvokeEndpoint', Resource: '*' },
    ],
  };
  return compilePolicy(parsePolicyOrThrow(document, { kind: 'identity' }), {
    id: 'endpoint-key-grant',
    kind: 'identity',
  });
}

function bearer(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const m = /^Bearer +(\S+)\s*$/i.exec(header);
  return m?.[1];
}

function decodeURIComponentSafe(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

const REQUEST_ID = /^[A-Za-z0-9._:/+=-]{1,128}$/;

function requestIdOf(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}
