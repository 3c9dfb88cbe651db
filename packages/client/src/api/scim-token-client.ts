import { z } from 'zod';
import { AiamApiError, AiamResponseError } from './api-errors.js';
import { type CredentialSources, resolveCredentials } from './credentials.js';
import { type AwsCredentials, signRequest } from './sigv4-signer.js';

/** The SCIM token operations (as in the server's route declarations and openapi.json). */
export const SCIM_TOKEN_OPERATIONS = {
  createScimToken: { method: 'POST', path: '/api/v1/scim-tokens' },
  listScimTokens: { method: 'GET', path: '/api/v1/scim-tokens' },
  deleteScimToken: { method: 'DELETE', path: '/api/v1/scim-tokens/{id}' },
} as const;

/** A SCIM provisioning token as listed (never its secret). */
export const ScimTokenSchema = z.object({
  id: z.string(),
  description: z.string(),
  status: z.enum(['Active', 'Inactive']),
  createdAt: z.string(),
});
/** A SCIM token as listed. */
export type ScimToken = z.infer<typeof ScimTokenSchema>;

/** A new SCIM token: `token` is in this answer only. */
export const CreatedScimTokenSchema = ScimTokenSchema.extend({ token: z.string().min(20) });
/** A new SCIM token with its secret. */
export type CreatedScimToken = z.infer<typeof CreatedScimTokenSchema>;

const ErrorBody = z.object({
  error: z.object({
    code: z.string(),
    message: z.string(),
    requestId: z.string().optional(),
    decisionId: z.string().optional(),
  }),
});

/** Options of {@link ScimTokenClient} (as the other clients take them). */
export interface ScimTokenClientOptions {
  readonly endpoint?: string;
  readonly credentials?: AwsCredentials | (() => Promise<AwsCredentials>);
  readonly region?: string;
  readonly fetch?: typeof fetch;
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly credentialSources?: CredentialSources;
}

/**
 * Administers SCIM provisioning tokens (`/api/v1/scim-tokens`): create (the secret is returned
 * once), list, revoke. Signed with SigV4 like the rest of the control plane.
 *
 * @example
 * const { id, token } = await new ScimTokenClient().create({ description: 'Entra ID' });
 */
export class ScimTokenClient {
  readonly endpoint: string;
  readonly #fetch: typeof fetch;
  readonly #region: string;
  readonly #credentials: () => Promise<AwsCredentials>;

  constructor(options: ScimTokenClientOptions = {}) {
    const env = options.env ?? process.env;
    this.endpoint = (options.endpoint ?? env.AIAM_ENDPOINT ?? 'http://127.0.0.1:7477').replace(/\/+$/, '');
    this.#fetch = options.fetch ?? globalThis.fetch;
    this.#region = options.region ?? env.AWS_REGION ?? env.AWS_DEFAULT_REGION ?? 'us-east-1';
    const creds = options.credentials;
    this.#credentials =
      typeof creds === 'function'
        ? creds
        : creds
          ? async () => creds
          : () => resolveCredentials({ env, ...options.credentialSources });
  }

  /** Creates a token; keep `token` now, it cannot be read again. */
  async create(input: { description?: string } = {}): Promise<CreatedScimToken> {
    const op = SCIM_TOKEN_OPERATIONS.createScimToken;
    return CreatedScimTokenSchema.parse(await this.#call(op.method, op.path, input));
  }

  /** Every SCIM token, oldest first. */
  async list(): Promise<ScimToken[]> {
    return z
      .object({ tokens: z.array(ScimTokenSchema) })
      .parse(
        await this.#call(
          SCIM_TOKEN_OPERATIONS.listScimTokens.method,
          SCIM_TOKEN_OPERATIONS.listScimTokens.path,
        ),
      ).tokens;
  }

  /** Revokes a token: the identity provider's next request with it is refused. */
  async revoke(id: string): Promise<void> {
    const op = SCIM_TOKEN_OPERATIONS.deleteScimToken;
    await this.#call(op.method, op.path.replace('{id}', encodeURIComponent(id)));
  }

  async #call(method: string, path: string, body?: unknown): Promise<unknown> {
    const url = new URL(this.endpoint + path);
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = { accept: 'application/json' };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const signed = signRequest({
      method,
      url,
      headers,
      body: text,
      credentials: await this.#credentials(),
      region: this.#region,
      service: 'aiam',
      now: Date.now(),
    });
    const { host: _host, ...sendHeaders } = signed;
    let res: Response;
    try {
      res = await this.#fetch(url, { method, headers: sendHeaders, ...(text ? { body: text } : {}) });
    } catch (err) {
      throw new AiamResponseError(
        `cannot reach aiam at ${this.endpoint} (${(err as Error).message}); check AIAM_ENDPOINT`,
        { cause: err },
      );
    }
    const answer = await res.text();
    if (!res.ok) {
      const parsed = ErrorBody.safeParse(safeJson(answer));
      throw new AiamApiError(
        parsed.success ? parsed.data.error.code : `HTTP_${res.status}`,
        parsed.success ? parsed.data.error.message : `HTTP ${res.status} from ${method} ${path}`,
        {
          status: res.status,
          requestId:
            (parsed.success ? parsed.data.error.requestId : undefined) ??
            res.headers.get('x-request-id') ??
            undefined,
          decisionId: parsed.success ? parsed.data.error.decisionId : undefined,
        },
      );
    }
    if (answer === '') return undefined;
    const value = safeJson(answer);
    if (value === undefined) throw new AiamResponseError(`${method} ${path}: the answer is not JSON`);
    return value;
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
