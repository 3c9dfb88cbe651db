import { AiamError, isAiamError } from '@aiam/policy';

/** The error message schema URN of RFC 7644 §3.12. */
export const SCIM_ERROR_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:Error';

/**
 * Every `scimType` of RFC 7644 §3.12 (Table 9), with the HTTP status it travels with.
 * `sensitive` is the only one that is not a 400: it answers a request that put confidential
 * data (a password, a filter on a secret) in the URL.
 */
export const SCIM_TYPES = {
  invalidFilter: 400,
  tooMany: 400,
  uniqueness: 409,
  mutability: 400,
  invalidSyntax: 400,
  invalidPath: 400,
  noTarget: 400,
  invalidValue: 400,
  invalidVers: 400,
  sensitive: 403,
} as const;

/** One of RFC 7644 §3.12's `scimType` keywords. */
export type ScimType = keyof typeof SCIM_TYPES;

/** The JSON body of a SCIM error response (RFC 7644 §3.12): `status` is a string there. */
export interface ScimErrorBody {
  schemas: [typeof SCIM_ERROR_SCHEMA];
  status: string;
  scimType?: ScimType;
  detail?: string;
}

/**
 * A SCIM protocol error: a `scimType` (when RFC 7644 defines one for the case) and the HTTP
 * status. Thrown by the parsers and the PATCH engine; the HTTP layer renders it with
 * {@link toScimErrorResponse}.
 *
 * @example throw new ScimError('invalidFilter', 'Expected an operator after "userName" at 9.')
 */
export class ScimError extends AiamError {
  readonly scimType: ScimType | undefined;
  readonly status: number;

  constructor(scimType: ScimType, detail: string, options?: { cause?: unknown });
  constructor(scimType: undefined, detail: string, options: { status: number; cause?: unknown });
  constructor(
    scimType: ScimType | undefined,
    detail: string,
    options?: { status?: number; cause?: unknown },
  ) {
    const status = options?.status ?? (scimType ? SCIM_TYPES[scimType] : 400);
    super(scimType ? `ERR_SCIM_${snakeUpper(scimType)}` : `ERR_SCIM_${status}`, detail, options);
    this.scimType = scimType;
    this.status = status;
  }
}

function snakeUpper(s: string): string {
  return s.replace(/[A-Z]/g, (c) => `_${c}`).toUpperCase();
}

/** True for a {@link ScimError}, also across duplicated module copies. */
export function isScimError(value: unknown): value is ScimError {
  return (
    value instanceof ScimError ||
    (isAiamError(value) && typeof (value as { status?: unknown }).status === 'number' && 'scimType' in value)
  );
}

/** A rendered SCIM error: the HTTP status and the JSON body to send. */
export interface ScimErrorResponse {
  status: number;
  body: ScimErrorBody;
}

/**
 * Maps any thrown value to SCIM's error shape, in one place. The server's domain errors map by
 * `code`: ConflictError -> 409 `uniqueness`, PreconditionFailedError -> 412 (RFC 7644 §3.14:
 * no scimType), NotFoundError -> 404, InputError -> 400 `invalidValue`, and so on. Anything
 * unknown becomes a 500 whose detail says nothing about the cause: internal messages may carry
 * data the caller must not see.
 */
export function toScimErrorResponse(error: unknown): ScimErrorResponse {
  if (isScimError(error)) return render(error.status, error.scimType, error.message);
  if (isAiamError(error)) {
    switch (error.code) {
      case 'ERR_NOT_FOUND':
        return render(404, undefined, error.message);
      case 'ERR_CONFLICT':
        return render(409, 'uniqueness', error.message);
      case 'ERR_PRECONDITION_FAILED':
        return render(412, undefined, error.message);
      case 'ERR_INVALID_INPUT':
        return render(400, 'invalidValue', error.message);
      case 'ERR_LIMIT_EXCEEDED':
        return render(400, undefined, error.message);
      case 'ERR_UNAUTHENTICATED':
        // Never say why authentication failed (STYLE.md); the AuthenticationError message is generic.
        return render(401, undefined, 'The request could not be authenticated.');
      case 'ERR_ACCESS_DENIED':
        return render(403, undefined, error.message);
      case 'ERR_RATE_LIMITED':
        return render(429, undefined, error.message);
      case 'ERR_UNAVAILABLE':
        return render(503, undefined, error.message);
      default:
        if (error.code.startsWith('ERR_INVALID') || error.code.startsWith('ERR_INPUT')) {
          return render(400, 'invalidValue', error.message);
        }
    }
  }
  return render(500, undefined, 'The service provider could not complete the request.');
}

function render(status: number, scimType: ScimType | undefined, detail: string): ScimErrorResponse {
  const body: ScimErrorBody = { schemas: [SCIM_ERROR_SCHEMA], status: String(status) };
  if (scimType) body.scimType = scimType;
  if (detail) body.detail = detail;
  return { status, body };
}
