import { createHash, createHmac } from 'node:crypto';
import { SignatureV4 } from '@smithy/signature-v4';

type Bytes = string | ArrayBuffer | ArrayBufferView;
const toBuffer = (d: Bytes): Buffer =>
  typeof d === 'string'
    ? Buffer.from(d, 'utf8')
    : ArrayBuffer.isView(d)
      ? Buffer.from(d.buffer, d.byteOffset, d.byteLength)
      : Buffer.from(d);

/** SHA-256 and HMAC-SHA256 from `node:crypto`, in the shape `@smithy/signature-v4` takes. */
export class NodeSha256 {
  #h: ReturnType<typeof createHash> | ReturnType<typeof createHmac>;
  constructor(secret?: Bytes) {
    this.#h = secret ? createHmac('sha256', toBuffer(secret)) : createHash('sha256');
  }
  update(data: Bytes): void {
    this.#h.update(toBuffer(data));
  }
  async digest(): Promise<Uint8Array> {
    return new Uint8Array(this.#h.digest());
  }
  reset(): void {}
}

/** Long-term or temporary AWS credentials. */
export interface SigningCredentials {
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly sessionToken?: string;
}

/** What {@link signedFetch} sends besides the URL. */
export interface SignedFetchInit {
  readonly method?: string;
  readonly body?: string;
  /** Content-Type of a body (default `application/json`). */
  readonly contentType?: string;
  /** Extra headers, added after signing (so unsigned, as a proxy would add them). */
  readonly headers?: Record<string, string>;
  /** The SigV4 service (default `aiam`; `sts` for the STS Query API). */
  readonly service?: string;
}

/**
 * `fetch` with an AWS Signature V4 `Authorization` header made by the stock signer of the AWS
 * SDK for JavaScript (`@smithy/signature-v4`), never by aiam's own code: tests of the server
 * must not agree with aiam's verifier by sharing its mistakes. Test support only (not built).
 */
export async function signedFetch(
  url: string,
  credentials: SigningCredentials,
  init: SignedFetchInit = {},
): Promise<Response> {
  const u = new URL(url);
  const signer = new SignatureV4({
    credentials,
    region: 'us-east-1',
    service: init.service ?? 'aiam',
    sha256: NodeSha256,
  });
  const headers: Record<string, string> = { host: u.host };
  if (init.body !== undefined) headers['content-type'] = init.contentType ?? 'application/json';
  const method = init.method ?? 'GET';
  const signed = await signer.sign({
    method,
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    query: {},
    headers,
    body: init.body,
  });
  const sent: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) if (k !== 'host') sent[k] = String(v);
  Object.assign(sent, init.headers);
  return fetch(url, { method, headers: sent, body: init.body });
}
