import type { ServerResponse } from 'node:http';
import { AiamError } from '@aiam/policy';
import {
  AuthenticationError,
  InputError,
  NotAllowedError,
  NotFoundError,
  RateLimitedError,
  ServiceUnavailableError,
} from '../errors.js';

/** The upstream deployment could not be reached or broke the exchange (refused, reset, bad reply). HTTP 502. */
export class UpstreamUnavailableError extends AiamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_BAD_GATEWAY', message, options);
  }
}

/** The upstream deployment did not connect, answer or continue in time. HTTP 504. */
export class UpstreamTimeoutError extends AiamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_GATEWAY_TIMEOUT', message, options);
  }
}

/** The request body is larger than the gateway will buffer to inspect it. HTTP 413. */
export class PayloadTooLargeError extends AiamError {
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    super(
      'ERR_PAYLOAD_TOO_LARGE',
      `The request body exceeds ${limitBytes} bytes, the most this endpoint inspects before forwarding.`,
    );
    this.limitBytes = limitBytes;
  }
}

/** The request body's media type is not one this route accepts. HTTP 415. */
export class UnsupportedMediaTypeError extends AiamError {
  constructor(message: string) {
    super('ERR_UNSUPPORTED_MEDIA_TYPE', message);
  }
}

/** The JSON shape every gateway error is rendered in. */
export interface GatewayErrorBody {
  /** `decisionId` is set on 403s: `aiam explain DECISION_ID` shows the trace to those allowed. */
  error: {
    code: string;
    message: string;
    requestId: string;
    decisionId?: string;
    /** On 403s from the engine: why (`explicit-deny`, `no-allow`, `boundary`, `session-policy`). */
    reason?: string;
    /** On 403s from the engine: the kind of policy that decided (`identity`, `deny-assignment`, … or `none`). */
    policyKind?: string;
  };
}

/**
 * The HTTP status for an error raised on the gateway path. Unknown errors are 500 and their
 * message is not shown (it may carry internals).
 */
export function gatewayErrorStatus(error: unknown): number {
  if (error instanceof UpstreamUnavailableError) return 502;
  if (error instanceof UpstreamTimeoutError) return 504;
  if (error instanceof PayloadTooLargeError) return 413;
  if (error instanceof UnsupportedMediaTypeError) return 415;
  if (error instanceof RateLimitedError) return 429;
  if (error instanceof ServiceUnavailableError) return 503;
  if (error instanceof InputError) return 400;
  if (error instanceof NotFoundError) return 404;
  if (error instanceof AuthenticationError) return 401;
  if (error instanceof NotAllowedError) return 403;
  return 500;
}

/**
 * Writes `{"error":{"code","message","requestId"}}` with the matching status, or, when the
 * response has already started (an upstream failed mid-stream), cuts the connection: a
 * truncated stream must not look complete to the client.
 */
export function writeGatewayError(res: ServerResponse, error: unknown, requestId: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const status = gatewayErrorStatus(error);
  const known = error instanceof AiamError && status !== 500;
  const body: GatewayErrorBody = {
    error: {
      code: known ? error.code : 'ERR_INTERNAL',
      // AuthenticationError's message is already generic; internals of unknown errors are never shown.
      message: known ? error.message : 'The gateway failed to handle the request.',
      requestId,
      ...(error instanceof NotAllowedError && error.decisionId !== undefined
        ? { decisionId: error.decisionId }
        : {}),
      ...(error instanceof NotAllowedError && 'policyKind' in error && 'reason' in error
        ? { reason: String(error.reason), policyKind: String(error.policyKind) }
        : {}),
    },
  };
  const payload = JSON.stringify(body);
  const headers: Record<string, string | number> = {
    'content-type': 'application/json; charset=utf-8',
    'content-length': Buffer.byteLength(payload),
    'cache-control': 'no-store',
    'x-aiam-request-id': requestId,
  };
  if (error instanceof RateLimitedError) {
    // RFC 9110 §10.2.3: delay-seconds is a non-negative integer.
    headers['retry-after'] = Math.max(1, Math.ceil(error.retryAfterSeconds));
  }
  res.writeHead(status, headers);
  res.end(payload);
}
