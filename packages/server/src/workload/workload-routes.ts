import { managedIdentityArn } from '@aiam/policy';
import { AuthenticationError, InputError, NotFoundError } from '../errors.js';
import type { AuthFailureLimiter } from '../http/auth-failure-limiter.js';
import type { AuditRecorder } from '../http/request-pipeline.js';
import type { ProtectedRoute, PublicRoute, RequestInfo, RouteDefinition } from '../http/route-table.js';
import type { AccessSnapshotCache } from '../services/access-snapshot-cache.js';
import type { StsService } from '../services/sts-service.js';
import type { OidcIssuer } from '../oidc/oidc-issuer.js';

/** Where the workload-credentials endpoints live. */
export const WORKLOAD_PATHS = {
  authorizations: '/workload/v1/authorizations',
  credentials: '/workload/v1/credentials',
} as const;

/** The `aud` of workload authorization tokens: nothing else accepts them, they accept nothing else. */
export const WORKLOAD_AUDIENCE = 'aiam:container-credentials';

/** Options of {@link workloadRoutes}. */
export interface WorkloadRoutesOptions {
  readonly accountId: () => string;
  readonly issuer: () => OidcIssuer | Promise<OidcIssuer>;
  readonly sts: () => StsService | Promise<StsService>;
  readonly cache: AccessSnapshotCache;
  readonly audit: AuditRecorder;
  readonly limiter: AuthFailureLimiter;
  /** Lifetime of an authorization token (default 900 s; the CLI renews it with its own credentials). */
  readonly authorizationTtlSeconds?: number;
  /** Lifetime of the temporary credentials served (default 3600 s). */
  readonly credentialsTtlSeconds?: number;
}

const NAME = /^[\w+=,.@-]{1,128}$/;

/**
 * The workload-credentials protocol behind `aiam run --identity`:
 *
 * 1. `POST /workload/v1/authorizations` `{"identity": NAME}` — the caller, authenticated with its
 *    own credentials, asks to run a workload as managed identity NAME; decided as
 *    `iam:AssignManagedIdentity` on the identity. The answer is a short-lived authorization
 *    token bound to that identity (an aiam JWT with its own audience, `act.sub` = the caller).
 * 2. `GET /workload/v1/credentials` with `Authorization: TOKEN` — the container-credentials
 *    protocol of the AWS SDKs (`AWS_CONTAINER_CREDENTIALS_FULL_URI` +
 *    `AWS_CONTAINER_AUTHORIZATION_TOKEN`): answers `{AccessKeyId, SecretAccessKey, Token,
 *    Expiration}` of fresh temporary credentials for the identity. Public in the route table
 *    because the token is the credential (as the SDK sends it, without a scheme); it is
 *    verified here, and the identity and the caller must still be active on every call.
 */
export function workloadRoutes(options: WorkloadRoutesOptions): RouteDefinition[] {
  const authTtl = options.authorizationTtlSeconds ?? 900;
  const credTtl = options.credentialsTtlSeconds ?? 3600;
  const identityOf = (req: RequestInfo): string => {
    const body = req.json();
    const identity =
      body !== null && typeof body === 'object' && !Array.isArray(body)
        ? (body as Record<string, unknown>).identity
        : undefined;
    if (typeof identity !== 'string')
      throw new InputError('the request body must be {"identity": "NAME or ARN of a managed identity"}');
    if (identity.startsWith('arn:')) return identity;
    if (!NAME.test(identity)) throw new InputError(`"${identity}" is not a managed identity name`);
    return managedIdentityArn(options.accountId(), identity);
  };

  const authorize: ProtectedRoute = {
    method: 'POST',
    path: WORKLOAD_PATHS.authorizations,
    auth: ['sigv4', 'bearer'],
    action: 'iam:AssignManagedIdentity',
    resource: (req) => identityOf(req),
    maxBodyBytes: 4096,
    name: 'workload authorization',
    handle: async (req) => {
      const view = await options.cache.view();
      const identity = view.identitiesByArn.get(req.resource);
      if (identity === undefined || identity.status !== 'active')
        throw new NotFoundError(`managed identity ${req.resource} does not exist or is disabled`);
      const { keys } = await options.issuer();
      const issued = await keys.issue({
        subject: identity.arn,
        audience: WORKLOAD_AUDIENCE,
        ttlSeconds: authTtl,
        // RFC 8693 §4.1: `act` names the party acting for the subject, here whoever ran the workload.
        claims: { act: { sub: req.caller.principal.arn } },
      });
      return {
        status: 201,
        body: {
          identityArn: identity.arn,
          authorizationToken: issued.token,
          expiration: new Date(issued.expiresAt).toISOString(),
          credentialsPath: WORKLOAD_PATHS.credentials,
        },
      };
    },
  };

  const credentials: PublicRoute = {
    method: 'GET',
    path: WORKLOAD_PATHS.credentials,
    auth: 'none-public',
    publicReason:
      'container-credentials protocol: the SDK sends the workload authorization token bare in Authorization; it is verified here (aiam signature, audience, expiry, identity and caller still active)',
    name: 'workload credentials',
    handle: async (req) => {
      options.limiter.check(req.sourceIp);
      let subject: string | undefined;
      let actor: string | undefined;
      try {
        const raw = req.headers.authorization;
        const token = raw?.replace(/^Bearer\s+/i, '').trim();
        if (!token) throw new AuthenticationError('no authorization token');
        const { keys } = await options.issuer();
        let payload: Awaited<ReturnType<typeof keys.verify>>;
        try {
          payload = await keys.verify(token, WORKLOAD_AUDIENCE);
        } catch (cause) {
          throw new AuthenticationError('invalid workload authorization token', { cause });
        }
        subject = String(payload.sub);
        actor = String((payload.act as { sub?: unknown } | undefined)?.sub ?? '');
        const view = await options.cache.view();
        const revoked = (arn: string) => {
          const before = view.sessionsRevokedBefore.get(arn);
          return before !== undefined && (payload.iat ?? 0) * 1000 <= before;
        };
        const actorActive =
          view.usersByArn.get(actor)?.status === 'active' ||
          view.identitiesByArn.get(actor)?.status === 'active' ||
          actor.startsWith(`arn:aws:sts::${view.accountId}:assumed-role/`);
        if (!actorActive || revoked(actor) || revoked(subject))
          throw new AuthenticationError(
            `the caller ${actor} that authorized this workload is gone, disabled or revoked`,
          );
      } catch (err) {
        if (err instanceof AuthenticationError) {
          options.limiter.recordFailure(req.sourceIp);
          options.audit.record({
            time: req.receivedAt,
            requestId: req.requestId,
            principal: subject ?? null,
            action: 'workload:GetCredentials',
            decision: 'unauthenticated',
            sourceIp: req.sourceIp,
            errorCode: err.code,
            extra: { reason: err.reason, actor: actor ?? null },
          });
        }
        throw err;
      }
      const sts = await options.sts();
      const c = await sts.issueIdentityCredentials(subject, credTtl);
      options.audit.record({
        time: req.receivedAt,
        requestId: req.requestId,
        principal: subject,
        action: 'workload:GetCredentials',
        decision: 'allowed',
        sourceIp: req.sourceIp,
        errorCode: null,
        extra: { actor, credential: c.accessKeyId },
      });
      return {
        status: 200,
        body: {
          AccessKeyId: c.accessKeyId,
          SecretAccessKey: c.secretAccessKey,
          Token: c.sessionToken,
          Expiration: c.expiration.toISOString(),
          AccountId: options.accountId(),
        },
      };
    },
  };
  return [authorize, credentials];
}
