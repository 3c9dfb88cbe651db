import { AiamError } from '@aiam/policy';

/**
 * A non-2xx answer of the aiam API: the server's stable `code` (ERR_NOT_FOUND,
 * ERR_ACCESS_DENIED…), its message, the HTTP status, the request id to quote, and on a 403 the
 * decision id that `aiam explain` takes.
 */
export class AiamApiError extends AiamError {
  readonly status: number;
  readonly requestId: string | undefined;
  readonly decisionId: string | undefined;
  constructor(
    code: string,
    message: string,
    details: { status: number; requestId?: string | undefined; decisionId?: string | undefined },
  ) {
    super(code, message);
    this.status = details.status;
    this.requestId = details.requestId;
    this.decisionId = details.decisionId;
  }
}

/** The server answered something the client cannot read (wrong shape, not JSON, no server). */
export class AiamResponseError extends AiamError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('ERR_BAD_RESPONSE', message, options);
  }
}
