import { AiamError } from '@aiam/policy';

/**
 * Errors of the HTTP protocol itself (not of the domain): no route, wrong method, a body too
 * large or of the wrong type, a client too slow. Mapped to statuses in `rest-error-mapping.ts`.
 */

/** No route serves this path. REST 404. */
export class RouteNotFoundError extends AiamError {
  constructor(method: string, path: string) {
    super('ERR_ROUTE_NOT_FOUND', `No API operation serves ${method} ${path}. See GET /openapi.json.`);
  }
}

/** The path exists, but not for this method. REST 405 with `Allow`. */
export class MethodNotAllowedError extends AiamError {
  readonly allow: readonly string[];

  constructor(method: string, path: string, allow: readonly string[]) {
    super('ERR_METHOD_NOT_ALLOWED', `${method} is not supported on ${path}; use ${allow.join(', ')}.`);
    this.allow = allow;
  }
}

/** The body is larger than the route accepts. REST 413. */
export class PayloadTooLargeError extends AiamError {
  readonly limitBytes: number;

  constructor(limitBytes: number) {
    super(
      'ERR_PAYLOAD_TOO_LARGE',
      `The request body is larger than the ${limitBytes} bytes this operation accepts.`,
    );
    this.limitBytes = limitBytes;
  }
}

/** The body is not of a media type the route reads. REST 415. */
export class UnsupportedMediaTypeError extends AiamError {
  constructor(received: string, expected: string) {
    super(
      'ERR_UNSUPPORTED_MEDIA_TYPE',
      `The request body has Content-Type "${received}"; this operation reads ${expected}.`,
    );
  }
}

/** The client did not send the whole request in time. REST 408. */
export class RequestTimeoutError extends AiamError {
  constructor() {
    super('ERR_REQUEST_TIMEOUT', 'The request body did not arrive in time.');
  }
}
