/**
 * The one error base class of aiam. Every error a caller can act on is an `AiamError` with a
 * stable string `code` (like jose's `ERR_JWT_EXPIRED`), a message a person can act on, and
 * optionally the `cause`. Errors know nothing of HTTP: each protocol maps codes to its own
 * status and format in one place.
 */
export class AiamError extends Error {
  /** A stable, machine-readable code, e.g. `ERR_POLICY_INVALID`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** True for any aiam error, across realms and duplicated module copies. */
export function isAiamError(value: unknown): value is AiamError {
  return (
    value instanceof AiamError ||
    (value instanceof Error && typeof (value as { code?: unknown }).code === 'string' && 'code' in value)
  );
}
