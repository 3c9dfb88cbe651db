import { AiamError } from '@aiam/policy';

/**
 * The server's domain errors. They know nothing of HTTP: each protocol surface (REST JSON,
 * S3 XML, STS XML, SCIM JSON) maps `code` to its own status and shape in one place.
 */

/** The request is malformed or names something impossible. REST 400. */
export class InputError extends AiamError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'ERR_INVALID_INPUT', message, options);
  }
}

/** The thing asked for does not exist (or the caller may not know that it does). REST 404. */
export class NotFoundError extends AiamError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'ERR_NOT_FOUND', message, options);
  }
}

/** The change conflicts with the current state: a duplicate name, a stale version. REST 409. */
export class ConflictError extends AiamError {
  constructor(message: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'ERR_CONFLICT', message, options);
  }
}

/** An optimistic-concurrency check failed: the caller's version or ETag is stale. REST 412. */
export class PreconditionFailedError extends AiamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_PRECONDITION_FAILED', message, options);
  }
}

/** A quota or limit is reached (two access keys, five policy versions). REST 409/400. */
export class LimitExceededError extends AiamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_LIMIT_EXCEEDED', message, options);
  }
}

/**
 * Authentication failed. The message is for the audit log only: callers are never told why
 * (wrong key, wrong signature, disabled user all look the same from outside).
 */
export class AuthenticationError extends AiamError {
  /** The reason, for the audit trail; never sent to the caller. */
  readonly reason: string;

  constructor(reason: string, options?: { cause?: unknown; code?: string }) {
    super(options?.code ?? 'ERR_UNAUTHENTICATED', 'The request could not be authenticated.', options);
    this.reason = reason;
  }
}

/** The engine denied the request. Carries the decision id so the caller can ask for an explanation. */
export class NotAllowedError extends AiamError {
  readonly decisionId: string | undefined;

  constructor(message: string, options?: { cause?: unknown; decisionId?: string }) {
    super('ERR_ACCESS_DENIED', message, options);
    this.decisionId = options?.decisionId;
  }
}

/** Too many requests from one source or principal. REST 429. */
export class RateLimitedError extends AiamError {
  readonly retryAfterSeconds: number;

  constructor(message: string, retryAfterSeconds: number) {
    super('ERR_RATE_LIMITED', message);
    this.retryAfterSeconds = retryAfterSeconds;
  }
}

/** The server cannot serve now (shutting down, store unreachable). REST 503. */
export class ServiceUnavailableError extends AiamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_UNAVAILABLE', message, options);
  }
}
