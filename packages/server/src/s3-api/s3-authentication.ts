import type { IncomingMessage } from 'node:http';
import type { ContextValue, RequestContext } from '@aiam/policy';
import type { AuthenticatedPrincipal } from '../http/authenticator.js';
import { buildRequestContext, type RequestFacts } from '../http/request-context-builder.js';
import { isSigV4Error } from '../identity/identity-errors.js';
import type { SigV4Verified, SigV4Verifier } from '../identity/sigv4-verifier.js';
import { S3_ERROR_CODES, S3Error, type S3ErrorCode } from '../s3/s3-errors.js';

/** What the S3 surface's SigV4 secret lookup returns besides the secret. */
export interface S3Identity {
  readonly identity: AuthenticatedPrincipal;
}

/** An authenticated S3 caller, or the anonymous one. */
export interface S3Caller {
  readonly who: AuthenticatedPrincipal;
  readonly anonymous: boolean;
  /** The verified signature (absent for anonymous requests). */
  readonly verified: SigV4Verified<S3Identity> | undefined;
}

/**
 * The anonymous requester. Its account is empty, so no `Principal` naming an account or ARN
 * matches it; only `"*"` does, which is how S3 treats anonymous requests (a bucket policy with
 * `Principal: "*"` is the only way in). It has no identity policies.
 */
export const ANONYMOUS_PRINCIPAL: AuthenticatedPrincipal = {
  principal: { arn: 'anonymous', account: '' },
  type: 'Anonymous' as AuthenticatedPrincipal['type'],
  userId: 'anonymous',
};

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

/** True when the request carries SigV4 credentials (header or presigned query). */
function hasSigV4(req: IncomingMessage, rawQuery: string): boolean {
  const auth = single(req.headers.authorization);
  if (auth !== undefined) return true;
  return /(?:^|&)X-Amz-(?:Algorithm|Credential|Signature)=/i.test(rawQuery);
}

/**
 * Authenticates an S3 request with Signature Version 4 (service `s3`, S3's single-encoded
 * path). Nothing of the body is read: the payload mode and the signing key come back so that
 * the body is verified as it streams (aws-chunked chunk signatures, x-amz-content-sha256).
 * No credentials at all -> the anonymous caller. Signature Version 2 and other schemes are
 * refused, as S3 refuses them for new regions.
 */
export async function authenticateS3(
  verifier: SigV4Verifier<S3Identity>,
  req: IncomingMessage,
  path: string,
  rawQuery: string,
): Promise<S3Caller> {
  if (!hasSigV4(req, rawQuery)) return { who: ANONYMOUS_PRINCIPAL, anonymous: true, verified: undefined };
  const auth = single(req.headers.authorization);
  if (auth !== undefined && !auth.startsWith('AWS4-HMAC-SHA256')) {
    throw new S3Error(
      'InvalidRequest',
      'The authorization mechanism you have provided is not supported. Please use AWS4-HMAC-SHA256.',
    );
  }
  let verified: SigV4Verified<S3Identity>;
  try {
    verified = await verifier.verify({
      method: (req.method ?? 'GET').toUpperCase(),
      path,
      query: rawQuery,
      headers: req.headersDistinct as Record<string, string[]>,
    });
  } catch (error) {
    throw toS3AuthError(error);
  }
  const identity = verified.principal.identity;
  const who =
    identity.credentialId === verified.accessKeyId
      ? identity
      : { ...identity, credentialId: verified.accessKeyId };
  return { who, anonymous: false, verified };
}

/** Maps a SigV4 failure to S3's error of the same name (S3 reveals these codes to clients). */
export function toS3AuthError(error: unknown): unknown {
  if (!isSigV4Error(error)) return error;
  const code = error.code as string;
  if (Object.hasOwn(S3_ERROR_CODES, code)) {
    return new S3Error(code as S3ErrorCode, error.message, { cause: error });
  }
  return new S3Error('AccessDenied', error.message, { cause: error });
}

/**
 * The engine's request context for an S3 request: the global keys (`aws:SourceIp`,
 * `aws:SecureTransport`, `aws:CurrentTime`, `aws:EpochTime`, `aws:username`, `aws:userid`,
 * `aws:PrincipalArn`, `aws:PrincipalTag/…`), then S3's own (`s3:prefix`, `s3:max-keys`,
 * `s3:RequestObjectTag/…`, `s3:ExistingObjectTag/…`, `s3:authType`, `s3:signatureversion`,
 * `s3:signatureAge`).
 */
export function buildS3Context(
  facts: RequestFacts,
  caller: S3Caller,
  s3Keys: Readonly<Record<string, ContextValue>>,
): RequestContext {
  const keys: Record<string, ContextValue> = { ...s3Keys };
  if (caller.verified) {
    keys['s3:authType'] = caller.verified.form === 'query' ? 'REST-QUERY-STRING' : 'REST-HEADER';
    keys['s3:signatureversion'] = 'AWS4-HMAC-SHA256';
    keys['s3:signatureAge'] = Math.max(0, facts.receivedAt - caller.verified.requestTime);
  }
  if (caller.anonymous) {
    // The anonymous caller has no principal keys: a condition on them must not match.
    const map = new Map<string, ContextValue>();
    for (const [k, v] of Object.entries(keys)) map.set(k.toLowerCase(), v);
    map.set('aws:sourceip', facts.sourceIp);
    map.set('aws:securetransport', facts.secureTransport);
    map.set('aws:currenttime', new Date(facts.receivedAt).toISOString());
    map.set('aws:epochtime', Math.floor(facts.receivedAt / 1000));
    if (facts.userAgent !== undefined) map.set('aws:useragent', facts.userAgent);
    if (facts.referer !== undefined) map.set('aws:referer', facts.referer);
    return map;
  }
  return buildRequestContext(facts, caller.who, keys);
}
