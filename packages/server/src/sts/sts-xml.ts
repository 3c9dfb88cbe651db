import type { TemporaryCredentials } from '../identity/session-token.js';
import { escapeXml } from '../s3/xml-escape.js';
import type { AssumeRoleResult, CallerIdentity } from '../services/sts-service.js';

const NS = 'https://sts.amazonaws.com/doc/2011-06-15/';

/** The content type STS answers with. */
export const STS_CONTENT_TYPE = 'text/xml';

/**
 * The `<Credentials>` element. STS writes `Expiration` as ISO-8601 UTC; the SDKs parse it as a
 * timestamp, so the millisecond-free form AWS itself sends is kept.
 */
function credentialsXml(c: TemporaryCredentials): string {
  return (
    `<Credentials><AccessKeyId>${escapeXml(c.accessKeyId)}</AccessKeyId>` +
    `<SecretAccessKey>${escapeXml(c.secretAccessKey)}</SecretAccessKey>` +
    `<SessionToken>${escapeXml(c.sessionToken)}</SessionToken>` +
    `<Expiration>${isoSeconds(c.expiration)}</Expiration></Credentials>`
  );
}

/** `2026-01-01T00:00:00Z` (AWS omits milliseconds). */
export function isoSeconds(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

function envelope(action: string, result: string, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<${action}Response xmlns="${NS}"><${action}Result>${result}</${action}Result>` +
    `<ResponseMetadata><RequestId>${escapeXml(requestId)}</RequestId></ResponseMetadata></${action}Response>`
  );
}

/** `<AssumeRoleResponse>` as STS sends it. */
export function assumeRoleXml(r: AssumeRoleResult, requestId: string): string {
  return envelope(
    'AssumeRole',
    credentialsXml(r.credentials) +
      `<AssumedRoleUser><AssumedRoleId>${escapeXml(r.assumedRoleUser.assumedRoleId)}</AssumedRoleId>` +
      `<Arn>${escapeXml(r.assumedRoleUser.arn)}</Arn></AssumedRoleUser>` +
      `<PackedPolicySize>${r.packedPolicySize}</PackedPolicySize>` +
      (r.sourceIdentity !== undefined
        ? `<SourceIdentity>${escapeXml(r.sourceIdentity)}</SourceIdentity>`
        : ''),
    requestId,
  );
}

/** `<AssumeRoleWithWebIdentityResponse>` as STS sends it. */
export function assumeRoleWithWebIdentityXml(r: AssumeRoleResult, requestId: string): string {
  return envelope(
    'AssumeRoleWithWebIdentity',
    credentialsXml(r.credentials) +
      `<SubjectFromWebIdentityToken>${escapeXml(r.subjectFromWebIdentityToken ?? '')}</SubjectFromWebIdentityToken>` +
      `<AssumedRoleUser><AssumedRoleId>${escapeXml(r.assumedRoleUser.assumedRoleId)}</AssumedRoleId>` +
      `<Arn>${escapeXml(r.assumedRoleUser.arn)}</Arn></AssumedRoleUser>` +
      `<PackedPolicySize>${r.packedPolicySize}</PackedPolicySize>` +
      `<Provider>${escapeXml(r.provider ?? '')}</Provider>` +
      `<Audience>${escapeXml(r.audience ?? '')}</Audience>`,
    requestId,
  );
}

/** `<GetCallerIdentityResponse>` as STS sends it. */
export function callerIdentityXml(c: CallerIdentity, requestId: string): string {
  return envelope(
    'GetCallerIdentity',
    `<Arn>${escapeXml(c.arn)}</Arn><UserId>${escapeXml(c.userId)}</UserId><Account>${escapeXml(c.account)}</Account>`,
    requestId,
  );
}

/** An STS error as the Query protocol renders it. */
export interface StsErrorBody {
  readonly status: number;
  /** `Sender` (the caller's fault) or `Receiver` (the server's). */
  readonly type: 'Sender' | 'Receiver';
  readonly code: string;
  readonly message: string;
}

/** `<ErrorResponse>` of the AWS Query protocol. */
export function stsErrorXml(e: StsErrorBody, requestId: string): string {
  return (
    `<?xml version="1.0" encoding="UTF-8"?>\n<ErrorResponse xmlns="${NS}"><Error><Type>${e.type}</Type>` +
    `<Code>${escapeXml(e.code)}</Code><Message>${escapeXml(e.message)}</Message></Error>` +
    `<RequestId>${escapeXml(requestId)}</RequestId></ErrorResponse>`
  );
}
