import { isAiamError } from '@aiam/policy';
import {
  AuthenticationError,
  ConflictError,
  InputError,
  LimitExceededError,
  NotAllowedError,
  NotFoundError,
  PreconditionFailedError,
  RateLimitedError,
  ServiceUnavailableError,
} from '../errors.js';
import { MethodNotAllowedError } from './http-errors.js';
import type { ErrorRenderer } from './route-table.js';

/** The JSON body of every REST error response. */
export interface RestErrorBody {
  error: {
    code: string;
    message: string;
    requestId: string;
    decisionId?: string;
  };
}

/** A mapped error: status, extra headers, body; and whether the cause must be logged as a fault. */
export interface RestError {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: RestErrorBody;
  /** True for a 5xx the server did not expect: log it with its stack. */
  readonly unexpected: boolean;
}

// Stable codes -> statuses. Errors whose class sets a custom code (an AuthenticationError with
// a SigV4 code, an InputError with a specific code) are also mapped by class below.
const STATUS_BY_CODE: Readonly<Record<string, number>> = {
  ERR_INVALID_INPUT: 400,
  ERR_JSON_SYNTAX: 400,
  ERR_POLICY_INVALID: 400,
  ERR_INVALID_RESOURCE_NAME: 400,
  ERR_INVALID_ROLE_ASSIGNMENT: 400,
  ERR_INVALID_SIMULATION_REQUEST: 400,
  ERR_UNAUTHENTICATED: 401,
  ERR_ACCESS_DENIED: 403,
  ERR_NOT_FOUND: 404,
  ERR_ROUTE_NOT_FOUND: 404,
  ERR_METHOD_NOT_ALLOWED: 405,
  ERR_REQUEST_TIMEOUT: 408,
  ERR_CONFLICT: 409,
  // AWS IAM answers LimitExceeded with 409 too.
  ERR_LIMIT_EXCEEDED: 409,
  ERR_PRECONDITION_FAILED: 412,
  ERR_PAYLOAD_TOO_LARGE: 413,
  ERR_UNSUPPORTED_MEDIA_TYPE: 415,
  ERR_RATE_LIMITED: 429,
  ERR_UNAVAILABLE: 503,
};

const UNAUTHENTICATED_MESSAGE = 'The request could not be authenticated.';
const INTERNAL_MESSAGE =
  'The server failed to process the request. It has been logged; quote the request id.';

function statusOf(error: unknown): number | undefined {
  // Class first: a subclass may carry its own code (SigV4Error's AWS codes) but keeps its kind.
  if (error instanceof AuthenticationError) return 401;
  if (error instanceof NotAllowedError) return 403;
  if (error instanceof RateLimitedError) return 429;
  if (error instanceof InputError) return 400;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof ConflictError || error instanceof LimitExceededError) return 409;
  if (error instanceof PreconditionFailedError) return 412;
  if (error instanceof ServiceUnavailableError) return 503;
  if (isAiamError(error)) return STATUS_BY_CODE[error.code];
  return undefined;
}

/**
 * The one place REST maps errors to responses. Domain and protocol errors keep their code and
 * message; an authentication failure always reads the same (its `reason` goes to the log and
 * the audit trail only); anything unexpected is a 500 with a generic message, its details only
 * in the log.
 *
 * @example
 * toRestError(new NotFoundError('User "bob" does not exist.'), 'req-1')
 * // { status: 404, body: { error: { code: 'ERR_NOT_FOUND', message: 'User "bob" …', requestId: 'req-1' } } }
 */
export function toRestError(error: unknown, requestId: string): RestError {
  const status = statusOf(error);
  if (status === undefined || !isAiamError(error)) {
    return {
      status: 500,
      headers: {},
      body: { error: { code: 'ERR_INTERNAL', message: INTERNAL_MESSAGE, requestId } },
      unexpected: true,
    };
  }
  const headers: Record<string, string> = {};
  let code = error.code;
  let message = error.message;
  if (status === 401) {
    // Never say why: wrong key, bad signature, disabled user and expired token look the same.
    code = 'ERR_UNAUTHENTICATED';
    message = UNAUTHENTICATED_MESSAGE;
  }
  if (error instanceof RateLimitedError)
    headers['retry-after'] = String(Math.max(1, Math.ceil(error.retryAfterSeconds)));
  if (error instanceof MethodNotAllowedError) headers.allow = error.allow.join(', ');
  const body: RestErrorBody = { error: { code, message, requestId } };
  if (error instanceof NotAllowedError && error.decisionId !== undefined)
    body.error.decisionId = error.decisionId;
  return { status, headers, body, unexpected: status >= 500 && !(error instanceof ServiceUnavailableError) };
}

/**
 * The REST renderer of the pipeline: `toRestError` as a response. Other protocols (STS XML,
 * SCIM JSON, S3 XML) give their routes their own `ErrorRenderer`.
 */
export const renderRestError: ErrorRenderer = (error, requestId) => {
  const e = toRestError(error, requestId);
  return {
    status: e.status,
    code: e.body.error.code,
    unexpected: e.unexpected,
    response: { status: e.status, headers: e.headers, body: e.body },
  };
};
