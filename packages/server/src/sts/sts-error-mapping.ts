import { PolicyValidationError } from '@aiam/policy';
import {
  AuthenticationError,
  InputError,
  NotAllowedError,
  RateLimitedError,
  ServiceUnavailableError,
} from '../errors.js';
import type { RenderedError } from '../http/route-table.js';
import { STS_CONTENT_TYPE, type StsErrorBody, stsErrorXml } from './sts-xml.js';

// Codes of the STS API reference and the AWS Query protocol's common errors, with their status.
const INPUT_CODES: Readonly<Record<string, number>> = {
  ValidationError: 400,
  InvalidParameterValue: 400,
  MissingParameter: 400,
  MissingAction: 400,
  InvalidAction: 400,
  MalformedPolicyDocument: 400,
  PackedPolicyTooLarge: 400,
};

/**
 * Maps any error of the STS surface to the error STS itself would send. Authentication
 * failures get AWS's public text only (the precise reason stays in the audit trail); an
 * unexpected error is a `Receiver`/`InternalFailure` with no detail.
 */
export function toStsError(err: unknown): StsErrorBody & { readonly unexpected: boolean } {
  if (err instanceof PolicyValidationError) {
    return {
      status: 400,
      type: 'Sender',
      code: 'MalformedPolicyDocument',
      message: err.message,
      unexpected: false,
    };
  }
  if (err instanceof AuthenticationError) return { ...authenticationError(err), unexpected: false };
  if (err instanceof NotAllowedError) {
    return { status: 403, type: 'Sender', code: 'AccessDenied', message: err.message, unexpected: false };
  }
  if (err instanceof RateLimitedError) {
    return { status: 400, type: 'Sender', code: 'Throttling', message: err.message, unexpected: false };
  }
  if (err instanceof InputError) {
    const status = INPUT_CODES[err.code];
    return {
      status: status ?? 400,
      type: 'Sender',
      code: status === undefined ? 'ValidationError' : err.code,
      message: err.message,
      unexpected: false,
    };
  }
  if (err instanceof ServiceUnavailableError) {
    return {
      status: 503,
      type: 'Receiver',
      code: 'ServiceUnavailable',
      message: err.message,
      unexpected: false,
    };
  }
  return {
    status: 500,
    type: 'Receiver',
    code: 'InternalFailure',
    message: 'The request processing has failed because of an unknown error.',
    unexpected: true,
  };
}

function authenticationError(err: AuthenticationError): StsErrorBody {
  switch (err.code) {
    case 'InvalidIdentityToken':
      return {
        status: 400,
        type: 'Sender',
        code: 'InvalidIdentityToken',
        message: 'The web identity token could not be validated.',
      };
    case 'IDPRejectedClaim':
      return {
        status: 403,
        type: 'Sender',
        code: 'IDPRejectedClaim',
        message: 'The identity provider rejected a claim of the token.',
      };
    case 'ExpiredToken':
      // Only a genuine (authenticated) session token can be found expired, so this tells nothing
      // to a forger; the SDKs rely on the code to refresh their credentials.
      return {
        status: 400,
        type: 'Sender',
        code: 'ExpiredToken',
        message: 'The security token included in the request is expired',
      };
    case 'SignatureDoesNotMatch':
      return {
        status: 403,
        type: 'Sender',
        code: 'SignatureDoesNotMatch',
        message:
          'The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details.',
      };
    case 'RequestTimeTooSkewed':
      // STS reports clock skew as SignatureDoesNotMatch "Signature expired"; the SDKs correct their clock on it.
      return {
        status: 403,
        type: 'Sender',
        code: 'SignatureDoesNotMatch',
        message: 'Signature expired: the request time is too far from the server time.',
      };
    case 'ERR_MISSING_AUTHENTICATION':
      return {
        status: 403,
        type: 'Sender',
        code: 'MissingAuthenticationToken',
        message: 'Request is missing Authentication Token',
      };
    case 'IncompleteSignature':
    case 'AuthorizationHeaderMalformed':
    case 'AuthorizationQueryParametersError':
    case 'InvalidArgument':
      return {
        status: 400,
        type: 'Sender',
        code: 'IncompleteSignature',
        message: 'The request signature does not conform to AWS standards.',
      };
    default:
      return {
        status: 403,
        type: 'Sender',
        code: 'InvalidClientTokenId',
        message: 'The security token included in the request is invalid.',
      };
  }
}

/** The route table's error renderer for the STS surface: STS's `<ErrorResponse>` XML. */
export function renderStsError(error: unknown, requestId: string): RenderedError {
  const mapped = toStsError(error);
  return {
    status: mapped.status,
    code: mapped.code,
    unexpected: mapped.unexpected,
    response: { status: mapped.status, text: stsErrorXml(mapped, requestId), contentType: STS_CONTENT_TYPE },
  };
}
