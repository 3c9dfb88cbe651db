import { AiamError } from '@aiam/policy';
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
  | 'ExpiredToken'
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
  ExpiredToken: 'The provided token has expired.',
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

/** Why the keyring refused to load a master key or to open a ciphertext. */
export type KeyringErrorCode =
  | 'ERR_MASTER_KEY_MISSING'
  | 'ERR_MASTER_KEY_INVALID'
  | 'ERR_MASTER_KEY_PERMISSIONS'
  | 'ERR_MASTER_KEY_UNKNOWN'
  | 'ERR_CIPHERTEXT_MALFORMED'
  | 'ERR_CIPHERTEXT_AUTH';

/**
 * A master-key or envelope-encryption failure. Server-side only (an operator's problem, never
 * a caller's): the message says what to fix and never contains key material.
 */
export class KeyringError extends AiamError {
  declare readonly code: KeyringErrorCode;

  constructor(code: KeyringErrorCode, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

/** Why a JWT (aiam's own or an external issuer's) was refused. */
export type TokenErrorCode =
  | 'ERR_JWT_INVALID'
  | 'ERR_JWT_SIGNATURE'
  | 'ERR_JWT_EXPIRED'
  | 'ERR_JWT_NOT_YET_VALID'
  | 'ERR_JWT_AUDIENCE'
  | 'ERR_JWT_ISSUER'
  | 'ERR_JWT_UNTRUSTED_ISSUER'
  | 'ERR_JWKS_UNAVAILABLE';

/**
 * A bearer JWT failed verification. As for every authentication failure, `reason` is for the
 * audit log; callers only see that the token was refused.
 */
export class TokenError extends AuthenticationError {
  declare readonly code: TokenErrorCode;

  constructor(code: TokenErrorCode, reason: string, options?: { cause?: unknown }) {
    super(reason, { code, cause: options?.cause });
  }
}
