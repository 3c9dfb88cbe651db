import type { ContextValue, RequestContext } from '@aiam/policy';
import { AuthenticationError, NotAllowedError } from '../errors.js';
import type { AuthFailureLimiter } from '../http/auth-failure-limiter.js';
import { buildRequestContext, type RequestFacts } from '../http/request-context-builder.js';
import type { AuditRecorder } from '../http/request-pipeline.js';
import type { PublicRoute, RequestInfo, RouteResponse } from '../http/route-table.js';
import { sha256Hex } from '../identity/sigv4-canonical-request.js';
import type { SigV4Verifier } from '../identity/sigv4-verifier.js';
import { type Logger, silentLogger } from '../observability/logger.js';
import type { ServiceAuthorizer } from '../services/authorizer.js';
import type { ResolvedPrincipal } from '../services/principal-resolver.js';
import type { StsService } from '../services/sts-service.js';
import { renderStsError, toStsError } from './sts-error-mapping.js';
import { parseAssumeRole, parseAssumeRoleWithWebIdentity, stsAction, stsParameters } from './sts-query.js';
import {
  assumeRoleWithWebIdentityXml,
  assumeRoleXml,
  callerIdentityXml,
  STS_CONTENT_TYPE,
  stsErrorXml,
} from './sts-xml.js';

/** What the STS surface is built from. */
export interface StsRoutesOptions {
  /** The STS service (a function, so that it can be built once the issuer URL is known). */
  readonly sts: () => StsService | Promise<StsService>;
  /** A verifier whose credential scope accepts service `sts`. */
  readonly verifier: SigV4Verifier<{ identity: ResolvedPrincipal }>;
  /** The one authorizer; the STS service decides through it, this reads decisions back for the audit. */
  readonly authorizer: ServiceAuthorizer;
  readonly audit: AuditRecorder;
  readonly limiter: AuthFailureLimiter;
  readonly logger?: Logger;
  /** Largest form body accepted (default 64 KiB: a WebIdentityToken and a 2 KiB policy fit). */
  readonly maxBodyBytes?: number;
}

/**
 * The STS Query API at the server's base URL (`POST /` with a form body, as the SDKs send it,
 * and `GET /?Action=…`), answering in STS's XML.
 *
 * Why the route is public in the route table: its action is in the body, not the path, and
 * each action authenticates differently — AssumeRole and GetCallerIdentity are verified here
 * with SigV4 (service `sts`), while AssumeRoleWithWebIdentity carries its credential, the
 * token, in the parameters (as in AWS, where it is unsigned). Every permission question still
 * goes through the one authorizer inside `StsService` (`sts:AssumeRole` needs the caller's
 * identity policy AND the role's trust policy; `sts:AssumeRoleWithWebIdentity` the trust
 * policy), GetCallerIdentity needs no permission (as in AWS), failed authentications count
 * against the source's rate limit, and every outcome is audited.
 */
export function stsRoutes(options: StsRoutesOptions): PublicRoute[] {
  const handle = (req: RequestInfo) => handleSts(options, req);
  const common = {
    path: '/',
    auth: 'none-public' as const,
    publicReason:
      'STS Query API: the action is in the form body, so each action authenticates itself here (SigV4 for AssumeRole/GetCallerIdentity, the OIDC token for AssumeRoleWithWebIdentity) and decides through the one authorizer',
    maxBodyBytes: options.maxBodyBytes ?? 64 * 1024,
    renderError: renderStsError,
    handle,
  };
  return [
    { ...common, method: 'POST', name: 'STS' },
    { ...common, method: 'GET', name: 'STS (query)' },
  ];
}

async function handleSts(options: StsRoutesOptions, req: RequestInfo): Promise<RouteResponse> {
  const log = options.logger ?? silentLogger;
  const userAgent = header(req, 'user-agent');
  const facts: RequestFacts = {
    sourceIp: req.sourceIp,
    secureTransport: req.secureTransport,
    receivedAt: req.receivedAt,
    userAgent,
    referer: header(req, 'referer'),
  };
  let action: string | undefined;
  let principal: string | undefined;
  let resource: string | undefined;
  const audit = (
    decisionId: string | undefined,
    errorCode: string | null,
    extra: Record<string, unknown>,
  ) => {
    const recorded = decisionId === undefined ? undefined : options.authorizer.explain(decisionId);
    options.audit.record({
      ...(decisionId !== undefined ? { id: decisionId } : {}),
      time: req.receivedAt,
      requestId: req.requestId,
      principal: principal ?? null,
      action: action === undefined ? null : `sts:${action}`,
      resource: resource ?? null,
      decision: recorded?.decision.decision ?? (errorCode === null ? 'allowed' : null),
      matchedStatements: recorded?.decision.matched ?? null,
      sourceIp: req.sourceIp,
      userAgent: userAgent ?? null,
      errorCode,
      extra,
    });
  };
  try {
    options.limiter.check(req.sourceIp);
    const params = stsParameters(req.rawQuery, req.body, header(req, 'content-type'));
    action = stsAction(params);
    if (action === 'AssumeRoleWithWebIdentity') {
      const request = parseAssumeRoleWithWebIdentity(params);
      resource = request.roleArn;
      const context = anonymousContext(facts, {
        'sts:RoleSessionName': request.roleSessionName,
        'sts:DurationSeconds': request.durationSeconds,
      });
      const sts = await options.sts();
      let result: Awaited<ReturnType<StsService['assumeRoleWithWebIdentity']>>;
      try {
        result = await sts.assumeRoleWithWebIdentity(request, context);
      } catch (err) {
        if (err instanceof AuthenticationError) options.limiter.recordFailure(req.sourceIp);
        throw err;
      }
      principal = result.provider;
      audit(result.decisionId, null, {
        subject: result.subjectFromWebIdentityToken,
        session: result.assumedRoleUser.arn,
      });
      return xml(200, assumeRoleWithWebIdentityXml(result, req.requestId));
    }

    const caller = await authenticate(options, req);
    principal = caller.principal.arn;
    const sts = await options.sts();
    if (action === 'GetCallerIdentity') {
      // AWS: GetCallerIdentity needs no permission and an explicit deny does not stop it.
      audit(undefined, null, { credential: caller.credentialId ?? null });
      return xml(200, callerIdentityXml(sts.getCallerIdentity(caller), req.requestId));
    }
    const request = parseAssumeRole(params);
    resource = request.roleArn;
    const context = buildRequestContext(facts, caller, {
      'sts:DurationSeconds': request.durationSeconds,
    });
    const result = await sts.assumeRole(caller, request, context);
    audit(result.decisionId, null, {
      credential: caller.credentialId ?? null,
      session: result.assumedRoleUser.arn,
    });
    return xml(200, assumeRoleXml(result, req.requestId));
  } catch (err) {
    const mapped = toStsError(err);
    if (mapped.unexpected) log.error('STS request failed', { requestId: req.requestId, action, error: err });
    if (action !== undefined) {
      const decisionId = err instanceof NotAllowedError ? err.decisionId : undefined;
      const reason = err instanceof AuthenticationError ? err.reason : undefined;
      audit(decisionId, mapped.code, { status: mapped.status, ...(reason ? { reason } : {}) });
    }
    return xml(mapped.status, stsErrorXml(mapped, req.requestId));
  }
}

async function authenticate(options: StsRoutesOptions, req: RequestInfo): Promise<ResolvedPrincipal> {
  const auth = header(req, 'authorization');
  const presigned = /(^|&)X-Amz-Algorithm=/i.test(req.rawQuery);
  if (auth === undefined && !presigned) {
    options.limiter.recordFailure(req.sourceIp);
    throw new AuthenticationError('no Signature Version 4 authentication', {
      code: 'ERR_MISSING_AUTHENTICATION',
    });
  }
  const headers: Record<string, string[] | undefined> = {};
  for (const [k, v] of Object.entries(req.headers)) {
    if (v !== undefined) headers[k] = Array.isArray(v) ? v : [v];
  }
  try {
    const verified = await options.verifier.verify({
      method: req.method,
      path: req.path,
      query: req.rawQuery,
      headers,
      // STS signs the form body itself; its hash is part of the canonical request.
      payloadHash: sha256Hex(req.body),
    });
    return { ...verified.principal.identity, credentialId: verified.accessKeyId };
  } catch (err) {
    if (err instanceof AuthenticationError) options.limiter.recordFailure(req.sourceIp);
    throw err;
  }
}

/** The global condition keys of a request made without credentials (a web identity token). */
function anonymousContext(
  facts: RequestFacts,
  keys: Record<string, ContextValue | undefined>,
): RequestContext {
  const map = new Map<string, ContextValue>();
  for (const [k, v] of Object.entries(keys)) if (v !== undefined) map.set(k.toLowerCase(), v);
  map.set('aws:sourceip', facts.sourceIp);
  map.set('aws:securetransport', facts.secureTransport);
  map.set('aws:currenttime', new Date(facts.receivedAt).toISOString());
  map.set('aws:epochtime', Math.floor(facts.receivedAt / 1000));
  if (facts.userAgent !== undefined) map.set('aws:useragent', facts.userAgent);
  return map;
}

function header(req: RequestInfo, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v.join(', ') : v;
}

function xml(status: number, text: string): RouteResponse {
  return { status, text, contentType: STS_CONTENT_TYPE };
}
