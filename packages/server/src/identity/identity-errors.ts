import { AuthenticationError } from '../errors.js';

/**
 * The error codes a Signature Version 4 check can end with. They are AWS's own codes, so the S3
 * and STS surfaces can render them verbatim in their XML error bodies.
 */
export type SigV4ErrorCode =
  | 'SignatureDoesNotMatch'
  | 'RequestTimeTooSkewed'
  | 'InvalidAccessKeyId'
  | 'AuthorizationHeaderMalformed'
  | 'AuthorizationQueryParametersError'
  | 'AccessDenied'
  | 'IncompleteSignature'
  | 'MissingSecurityToken'
  | 'InvalidToken'
  | 'InvalidArgument'
  | 'NotImplemented';

// The messages AWS itself sends for each code: public text, safe to return to any caller.
const PUBLIC_MESSAGES: Record<SigV4ErrorCode, string> = {
  SignatureDoesNotMatch:
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  RequestTimeTooSkewed: 'The difference between the request time and the current time is too large.',
  InvalidAccessKeyId: 'The AWS Access Key Id you provided does not exist in our records.',
  AuthorizationHeaderMalformed: 'The authorization header is malformed.',
  AuthorizationQueryParametersError: 'The authorization query parameters are malformed.',
  AccessDenied: 'Request has expired',
  IncompleteSignature: 'The request signature does not conform to AWS standards.',
  MissingSecurityToken: 'The request must contain the parameter X-Amz-Security-Token.',
  InvalidToken: 'The provided token is malformed or otherwise invalid.',
  InvalidArgument: 'The request carries an invalid authentication argument.',
  NotImplemented: 'A header you provided implies functionality that is not implemented.',
};

/**
 * A Signature Version 4 verification failure. `code` is AWS's error code and `message` AWS's
 * public text for it; `reason` says precisely what was wrong, for the audit log only. Neither
 * ever contains the signature the server computed: a caller who could read it would not need
 * the secret.
 *
 * For `SignatureDoesNotMatch`, `canonicalRequest` and `stringToSign` are what the server
 * signed; AWS returns both in its error body so that client authors can debug their signers,
 * and neither reveals anything derived from the secret.
 */
export class SigV4Error extends AuthenticationError {
  declare readonly code: SigV4ErrorCode;
  /** What the server signed (only on `SignatureDoesNotMatch`). */
  readonly canonicalRequest: string | undefined;
  /** The string to sign (only on `SignatureDoesNotMatch`). */
  readonly stringToSign: string | undefined;

  constructor(
    code: SigV4ErrorCode,
    reason: string,
    options?: { cause?: unknown; canonicalRequest?: string; stringToSign?: string; message?: string },
  ) {
    super(reason, { code, cause: options?.cause });
    this.message = options?.message ?? PUBLIC_MESSAGES[code];
    this.canonicalRequest = options?.canonicalRequest;
    this.stringToSign = options?.stringToSign;
  }
}

/** True if `value` is a {@link SigV4Error} with the given code (or any code when omitted). */
export function isSigV4Error(value: unknown, code?: SigV4ErrorCode): value is SigV4Error {
  return value instanceof SigV4Error && (code === undefined || value.code === code);
}
