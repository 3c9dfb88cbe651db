import { createHmac, timingSafeEqual } from 'node:crypto';
import { type Clock, systemClock } from '../clock.js';
import { SigV4Error } from './identity-errors.js';
import {
  buildCanonicalRequest,
  buildStringToSign,
  canonicalQueryString,
  type QueryParameter,
  canonicalUri,
  parseQuery,
  type SigV4Headers,
  uriEncode,
} from './sigv4-canonical-request.js';
import { PresignedVerificationCache } from './sigv4-presigned-cache.js';
import { deriveSigningKey, SigningKeyCache, secretFingerprint } from './sigv4-signing-key-cache.js';

/** What a secret lookup returns for an access key id: its secret, plus whatever the caller wants back. */
export interface SigV4Credential {
  /** The secret access key, in clear (decrypted by the caller from the keyring). */
  readonly secretAccessKey: string;
  /**
   * A stable fingerprint of this secret (e.g. its row version); derived from the secret when
   * omitted. Keys the signing-key cache, so that a rotated secret never hits an old entry.
   */
  readonly fingerprint?: string;
  /** Temporary credentials: the request must carry `X-Amz-Security-Token`. */
  readonly sessionTokenRequired?: boolean;
}

/**
 * Looks an access key id up. Returns `undefined` for an unknown, disabled or expired key. For
 * temporary credentials it receives the request's session token and must check it (throwing
 * `SigV4Error('InvalidToken')` when it does not belong to the key).
 */
export type SigV4SecretLookup<P> = (
  accessKeyId: string,
  context: { readonly sessionToken: string | undefined },
) => Promise<(P & SigV4Credential) | undefined>;

/** A request as the HTTP layer received it. */
export interface SigV4Request {
  /** HTTP method, upper case. */
  readonly method: string;
  /** The path exactly as received (still percent-encoded), without the query. */
  readonly path: string;
  /** The raw query string, without `?` (empty when none). */
  readonly query: string;
  /** Headers with lowercased names; repeated headers as arrays in the order received. */
  readonly headers: SigV4Headers;
  /**
   * The hashed payload for the canonical request. For S3, leave it out: the client's
   * `x-amz-content-sha256` header is used, and the S3 layer checks the body against it. For
   * other services (STS, IAM), pass `sha256Hex(body)`.
   */
  readonly payloadHash?: string;
}

/** How the body of an authenticated request is protected. */
export type SigV4PayloadMode =
  /** The declared SHA-256 covers the whole body; the S3 layer must check the body against it. */
  | 'signed'
  | 'unsigned'
  /** `aws-chunked` body, each chunk signed (STREAMING-AWS4-HMAC-SHA256-PAYLOAD). */
  | 'streaming-signed'
  /** As above, with a signed trailer (STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER). */
  | 'streaming-signed-trailer'
  /** `aws-chunked` body with unsigned chunks and a trailing checksum (STREAMING-UNSIGNED-PAYLOAD-TRAILER). */
  | 'streaming-unsigned-trailer';

/** A verified request: who signed it and what the S3 layer needs to verify the rest of the body. */
export interface SigV4Verified<P> {
  readonly form: 'header' | 'query';
  readonly accessKeyId: string;
  /** What the lookup returned besides the secret (who the caller is). The secret is not passed on. */
  readonly principal: Omit<P, keyof SigV4Credential>;
  readonly sessionToken: string | undefined;
  readonly region: string;
  readonly service: string;
  /** Credential scope, `yyyymmdd/region/service/aws4_request`. */
  readonly scope: string;
  /** The request time in ISO 8601 basic format (`20150830T123600Z`). */
  readonly amzDate: string;
  /** The request time, ms since the epoch. */
  readonly requestTime: number;
  /** Presigned form: when the URL stops being valid, ms since the epoch. */
  readonly expiresAt: number | undefined;
  readonly signedHeaders: readonly string[];
  readonly payloadMode: SigV4PayloadMode;
  /** The hashed-payload line that was signed (hex digest or constant). */
  readonly payloadHash: string;
  /** The request's signature: the seed of an `aws-chunked` chunk-signature chain. */
  readonly seedSignature: string;
  /** The derived signing key, for chunk and trailer signatures. Secret material: never log it. */
  readonly signingKey: Buffer;
}

/** Options of a {@link SigV4Verifier}. */
export interface SigV4VerifierOptions<P> {
  readonly lookupSecret: SigV4SecretLookup<P>;
  /** Services accepted in the credential scope (`s3`, `sts`, `iam`...). */
  readonly services: readonly string[];
  /** Regions accepted in the credential scope; any well-formed region when omitted. */
  readonly regions?: readonly string[];
  /** Services whose path is encoded once and never normalized. Default `['s3']`, as AWS. */
  readonly singleEncodeServices?: readonly string[];
  /** Normalize dot segments for the other services (AWS does). Default true. */
  readonly normalizePath?: boolean;
  readonly clock?: Clock;
  /** Allowed difference between request time and server time. Default 15 minutes, as AWS. */
  readonly maxSkewMs?: number;
  /** Derived-key cache; a private one of 4096 entries by default, `false` for none. */
  readonly cache?: SigningKeyCache | false;
  /**
   * Presigned URLs already verified, so that using one again skips the signature's arithmetic
   * (`PresignedVerificationCache`); 4096 URLs by default, `false` for none.
   */
  readonly presignedCache?: number | false;
}

/** What a verified presigned request proved, kept for its next use (the caller not included). */
interface PresignedProof<P> {
  readonly params: AuthParams;
  readonly fingerprint: string;
  readonly verified: Omit<SigV4Verified<P>, 'principal'>;
}

const ALGORITHM = 'AWS4-HMAC-SHA256';
const MAX_AUTHORIZATION_LENGTH = 8192;
const MAX_SIGNED_HEADERS = 64;
const MAX_PRESIGNED_EXPIRES = 604800; // 7 days, AWS's limit for X-Amz-Expires
const HEX64 = /^[0-9a-f]{64}$/;
const HEADER_NAME = /^[a-z0-9!#$%&'*+.^_`|~-]+$/;
const ACCESS_KEY_ID = /^[A-Za-z0-9]{1,128}$/;
const SCOPE_PART = /^[a-z0-9-]{1,64}$/;
const AMZ_DATE = /^(\d{4})(\d{2})(\d{2})T(\d{2})(\d{2})(\d{2})Z$/;
const HTTP_DATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;

const STREAMING_MODES: Record<string, SigV4PayloadMode> = {
  'UNSIGNED-PAYLOAD': 'unsigned',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'streaming-signed',
  'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'streaming-signed-trailer',
  'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'streaming-unsigned-trailer',
};

/** Parsed authentication parameters, common to both forms. */
interface AuthParams {
  form: 'header' | 'query';
  accessKeyId: string;
  date: string;
  region: string;
  service: string;
  signedHeaders: string[];
  signature: string;
  amzDate: string;
  requestTime: number;
  expiresSeconds: number | undefined;
  sessionToken: string | undefined;
  /** The query's parameters, parsed once (presigned form); the header form parses on demand. */
  query?: readonly QueryParameter[];
}

/**
 * Verifies AWS Signature Version 4 requests, in the `Authorization` header form and the
 * presigned query form, as S3, STS and the other AWS services receive them.
 *
 * ```ts
 * const verifier = new SigV4Verifier({ services: ['s3'], lookupSecret: (id) => store.findSecret(id) });
 * const ok = await verifier.verify({ method, path, query, headers });   // throws SigV4Error
 * ```
 */
export class SigV4Verifier<P = object> {
  readonly #lookup: SigV4SecretLookup<P>;
  readonly #services: ReadonlySet<string>;
  readonly #regions: ReadonlySet<string> | undefined;
  readonly #singleEncode: ReadonlySet<string>;
  readonly #normalize: boolean;
  readonly #clock: Clock;
  readonly #maxSkewMs: number;
  readonly #cache: SigningKeyCache | undefined;
  readonly #presigned: PresignedVerificationCache<PresignedProof<P>> | undefined;

  constructor(options: SigV4VerifierOptions<P>) {
    if (options.services.length === 0) throw new TypeError('SigV4Verifier needs at least one service');
    this.#lookup = options.lookupSecret;
    this.#services = new Set(options.services);
    this.#regions = options.regions ? new Set(options.regions) : undefined;
    this.#singleEncode = new Set(options.singleEncodeServices ?? ['s3']);
    this.#normalize = options.normalizePath ?? true;
    this.#clock = options.clock ?? systemClock;
    this.#maxSkewMs = options.maxSkewMs ?? 15 * 60 * 1000;
    this.#cache = options.cache === false ? undefined : (options.cache ?? new SigningKeyCache(4096));
    this.#presigned =
      options.presignedCache === false
        ? undefined
        : new PresignedVerificationCache(options.presignedCache ?? 4096);
  }

  /** Drops cached signing keys and verified URLs of an access key (on delete, disable or secret rotation). */
  invalidate(accessKeyId: string): void {
    this.#cache?.invalidate(accessKeyId);
    this.#presigned?.forget((proof) => proof.params.accessKeyId === accessKeyId);
  }

  /** Verifies a request; resolves with the verified identity or rejects with a {@link SigV4Error}. */
  async verify(request: SigV4Request): Promise<SigV4Verified<P>> {
    // A presigned URL used again: what its signature proved still holds; who holds the key and
    // whether the URL is still in time are checked now.
    const reuse =
      this.#presigned !== undefined && request.headers.authorization === undefined && request.query !== ''
        ? PresignedVerificationCache.keyOf(
            request.method,
            request.path,
            request.query,
            request.payloadHash,
            request.headers,
          )
        : undefined;
    if (reuse !== undefined) {
      const proof = this.#presigned!.get(reuse, request.headers);
      if (proof !== undefined) {
        this.#checkTime(proof.params);
        const credential = await this.#credential(proof.params);
        const fingerprint = credential.fingerprint ?? secretFingerprint(credential.secretAccessKey);
        if (fingerprint === proof.fingerprint)
          return { ...proof.verified, principal: withoutSecret(credential) };
      }
    }

    const params = this.#parse(request);
    this.#checkTime(params);
    const credential = await this.#credential(params);

    const { payloadHash, payloadMode } = this.#payload(request, params);
    const singleEncode = this.#singleEncode.has(params.service);
    const canonicalRequest = buildCanonicalRequest({
      method: request.method.toUpperCase(),
      canonicalUri: canonicalUri(request.path, {
        doubleEncode: !singleEncode,
        normalize: !singleEncode && this.#normalize,
      }),
      canonicalQuery: canonicalQueryString(
        params.query ?? request.query,
        params.form === 'query' ? 'X-Amz-Signature' : undefined,
      ),
      signedHeaders: params.signedHeaders,
      headers: request.headers,
      payloadHash,
    });
    if (canonicalRequest === undefined) {
      const missing = params.signedHeaders.filter((h) => request.headers[h] === undefined);
      throw malformed(params.form, `signed header(s) missing from the request: ${missing.join(', ')}`);
    }
    const scope = `${params.date}/${params.region}/${params.service}/aws4_request`;
    const stringToSign = buildStringToSign(params.amzDate, scope, canonicalRequest);

    const fingerprint = credential.fingerprint ?? secretFingerprint(credential.secretAccessKey);
    const signingKey = this.#cache
      ? this.#cache.get(
          params.accessKeyId,
          fingerprint,
          credential.secretAccessKey,
          params.date,
          params.region,
          params.service,
        )
      : deriveSigningKey(credential.secretAccessKey, params.date, params.region, params.service);
    const expected = createHmac('sha256', signingKey).update(stringToSign).digest();
    const provided = Buffer.from(params.signature, 'hex');
    // Constant-time: the comparison must not reveal how many leading bytes matched.
    if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
      throw new SigV4Error(
        'SignatureDoesNotMatch',
        `signature mismatch for access key ${params.accessKeyId}`,
        {
          // The session token is a credential: keep it out of anything that may be logged.
          canonicalRequest: redact(canonicalRequest, params.sessionToken),
          stringToSign,
        },
      );
    }

    const verified: Omit<SigV4Verified<P>, 'principal'> = {
      form: params.form,
      accessKeyId: params.accessKeyId,
      sessionToken: params.sessionToken,
      region: params.region,
      service: params.service,
      scope,
      amzDate: params.amzDate,
      requestTime: params.requestTime,
      expiresAt:
        params.expiresSeconds === undefined ? undefined : params.requestTime + params.expiresSeconds * 1000,
      signedHeaders: params.signedHeaders,
      payloadMode,
      payloadHash,
      seedSignature: params.signature,
      signingKey,
    };
    if (reuse !== undefined && params.form === 'query') {
      this.#presigned!.set(reuse, request.headers, params.signedHeaders, { params, fingerprint, verified });
    }
    return { ...verified, principal: withoutSecret(credential) };
  }

  /** The access key's secret and caller, checked against the request's session token. */
  async #credential(params: AuthParams): Promise<P & SigV4Credential> {
    const credential = await this.#lookup(params.accessKeyId, { sessionToken: params.sessionToken });
    if (credential === undefined) {
      throw new SigV4Error('InvalidAccessKeyId', `unknown or inactive access key ${params.accessKeyId}`);
    }
    if (credential.sessionTokenRequired && params.sessionToken === undefined) {
      throw new SigV4Error(
        'MissingSecurityToken',
        `temporary key ${params.accessKeyId} used without a session token`,
      );
    }
    if (!credential.sessionTokenRequired && params.sessionToken !== undefined) {
      throw new SigV4Error(
        'InvalidToken',
        `long-term key ${params.accessKeyId} presented with a session token`,
      );
    }
    return credential;
  }

  #parse(request: SigV4Request): AuthParams {
    const authorization = single(request.headers, 'authorization');
    const hasQuerySignature = /(?:^|&)X-Amz-(?:Algorithm|Signature|Credential)=/.test(request.query);
    if (authorization !== undefined && hasQuerySignature) {
      throw new SigV4Error('InvalidArgument', 'both an Authorization header and presigned query parameters', {
        message:
          'Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter or the Authorization header should be specified.',
      });
    }
    if (authorization !== undefined) return this.#parseHeader(authorization, request.headers);
    if (hasQuerySignature) return this.#parseQuery(request);
    throw new SigV4Error('AccessDenied', 'the request carries no Signature Version 4 authentication', {
      message: 'Access Denied',
    });
  }

  #parseHeader(authorization: string, headers: SigV4Headers): AuthParams {
    if (authorization.length > MAX_AUTHORIZATION_LENGTH) {
      throw malformed(
        'header',
        `Authorization header is ${authorization.length} bytes, over ${MAX_AUTHORIZATION_LENGTH}`,
      );
    }
    const space = authorization.indexOf(' ');
    const algorithm = space < 0 ? authorization : authorization.slice(0, space);
    if (algorithm !== ALGORITHM) throw badAlgorithm(algorithm, 'header');

    const fields = new Map<string, string>();
    for (const part of (space < 0 ? '' : authorization.slice(space + 1)).split(',')) {
      const item = part.trim();
      if (item === '') continue;
      const eq = item.indexOf('=');
      if (eq <= 0) throw malformed('header', `Authorization component without '=': ${truncate(item)}`);
      const key = item.slice(0, eq);
      if (fields.has(key)) throw malformed('header', `Authorization component ${key} repeated`);
      fields.set(key, item.slice(eq + 1));
    }
    for (const required of ['Credential', 'SignedHeaders', 'Signature']) {
      if (!fields.has(required)) {
        throw new SigV4Error('IncompleteSignature', `Authorization header lacks ${required}=`, {
          message: `Authorization header requires '${required}' parameter.`,
        });
      }
    }
    const credential = parseCredential(fields.get('Credential') as string, 'header');
    const signedHeaders = parseSignedHeaders(fields.get('SignedHeaders') as string, 'header');
    const signature = fields.get('Signature') as string;
    if (!HEX64.test(signature)) {
      throw new SigV4Error('SignatureDoesNotMatch', 'signature is not 64 lowercase hex digits');
    }

    // The request time: X-Amz-Date, else the Date header (AWS accepts either).
    let amzDate: string;
    let requestTime: number;
    const xAmzDate = single(headers, 'x-amz-date');
    if (xAmzDate !== undefined) {
      requestTime = parseAmzDate(xAmzDate, 'header');
      amzDate = xAmzDate;
      if (!signedHeaders.includes('x-amz-date'))
        throw malformed('header', 'x-amz-date is present but not signed');
    } else {
      const date = single(headers, 'date');
      if (date === undefined) {
        throw new SigV4Error('AccessDenied', 'neither X-Amz-Date nor Date header', {
          message: 'AWS authentication requires a valid Date or x-amz-date header',
        });
      }
      requestTime = parseHttpDate(date);
      amzDate = toAmzDate(requestTime);
      if (!signedHeaders.includes('date'))
        throw malformed('header', 'the Date header is used but not signed');
    }
    if (!signedHeaders.includes('host')) throw malformed('header', 'the host header is not signed');
    if (credential.service === 's3' && !signedHeaders.includes('x-amz-content-sha256')) {
      throw malformed('header', 'x-amz-content-sha256 must be signed for s3');
    }
    this.#checkScope(credential, amzDate, 'header');
    return {
      form: 'header',
      ...credential,
      signedHeaders,
      signature,
      amzDate,
      requestTime,
      expiresSeconds: undefined,
      sessionToken: single(headers, 'x-amz-security-token'),
    };
  }

  #parseQuery(request: SigV4Request): AuthParams {
    if (request.query.length > 16384) throw malformed('query', 'query string over 16 KiB');
    const params = new Map<string, string>();
    const query = parseQuery(request.query);
    for (const p of query) {
      if (!p.name.startsWith('X-Amz-')) continue;
      if (params.has(p.name)) throw malformed('query', `${p.name} repeated`);
      params.set(p.name, p.value);
    }
    const algorithm = params.get('X-Amz-Algorithm');
    if (algorithm === undefined) throw malformed('query', 'X-Amz-Algorithm missing');
    if (algorithm !== ALGORITHM) throw badAlgorithm(algorithm, 'query');
    for (const required of ['X-Amz-Credential', 'X-Amz-SignedHeaders', 'X-Amz-Signature', 'X-Amz-Date']) {
      if (!params.has(required)) {
        throw new SigV4Error('AuthorizationQueryParametersError', `${required} missing`, {
          message: `Query-string authentication version 4 requires the X-Amz-Algorithm, X-Amz-Credential, X-Amz-Signature, X-Amz-Date, X-Amz-SignedHeaders, and X-Amz-Expires parameters.`,
        });
      }
    }
    const credential = parseCredential(params.get('X-Amz-Credential') as string, 'query');
    const signedHeaders = parseSignedHeaders(params.get('X-Amz-SignedHeaders') as string, 'query');
    if (!signedHeaders.includes('host')) throw malformed('query', 'the host header is not signed');
    const signature = params.get('X-Amz-Signature') as string;
    if (!HEX64.test(signature)) {
      throw new SigV4Error('SignatureDoesNotMatch', 'signature is not 64 lowercase hex digits');
    }
    const amzDate = params.get('X-Amz-Date') as string;
    const requestTime = parseAmzDate(amzDate, 'query');

    // S3 requires X-Amz-Expires; the older query APIs (STS, IAM) allow it to be left out, in
    // which case the URL is good within the clock-skew window only.
    const rawExpires = params.get('X-Amz-Expires');
    let expiresSeconds: number | undefined;
    if (rawExpires !== undefined) {
      if (!/^\d{1,7}$/.test(rawExpires)) throw malformed('query', 'X-Amz-Expires is not a number of seconds');
      expiresSeconds = Number(rawExpires);
      if (expiresSeconds < 1 || expiresSeconds > MAX_PRESIGNED_EXPIRES) {
        throw new SigV4Error(
          'AuthorizationQueryParametersError',
          `X-Amz-Expires=${expiresSeconds} out of range`,
          {
            message:
              expiresSeconds < 1
                ? 'X-Amz-Expires must be non-negative'
                : 'X-Amz-Expires must be less than a week (in seconds) that is 604800',
          },
        );
      }
    } else if (credential.service === 's3') {
      throw new SigV4Error('AuthorizationQueryParametersError', 'X-Amz-Expires missing');
    }
    this.#checkScope(credential, amzDate, 'query');
    return {
      form: 'query',
      ...credential,
      signedHeaders,
      signature,
      amzDate,
      requestTime,
      expiresSeconds,
      sessionToken: params.get('X-Amz-Security-Token'),
      query,
    };
  }

  #checkScope(
    credential: { date: string; region: string; service: string },
    amzDate: string,
    form: 'header' | 'query',
  ): void {
    if (credential.date !== amzDate.slice(0, 8)) {
      throw malformed(
        form,
        `credential date ${credential.date} is not the day of the request time ${amzDate}`,
        `Invalid credential date "${credential.date}". This date is not the same as X-Amz-Date: "${amzDate.slice(0, 8)}".`,
      );
    }
    if (!this.#services.has(credential.service)) {
      throw malformed(
        form,
        `credential scope names service ${credential.service}`,
        `Credential should be scoped to correct service: '${[...this.#services][0]}'.`,
      );
    }
    if (this.#regions !== undefined && !this.#regions.has(credential.region)) {
      throw malformed(
        form,
        `credential scope names region ${credential.region}`,
        `The authorization header is malformed; the region '${credential.region}' is wrong; expecting '${[...this.#regions][0]}'`,
      );
    }
  }

  #checkTime(params: AuthParams): void {
    const now = this.#clock.now();
    if (params.form === 'header') {
      if (Math.abs(now - params.requestTime) > this.#maxSkewMs) {
        throw new SigV4Error(
          'RequestTimeTooSkewed',
          `request time ${params.amzDate} is off by ${now - params.requestTime} ms`,
        );
      }
      return;
    }
    if (params.requestTime - now > this.#maxSkewMs) {
      throw new SigV4Error(
        'RequestTimeTooSkewed',
        `presigned request dated ${params.amzDate}, in the future`,
      );
    }
    const lifetimeMs = params.expiresSeconds === undefined ? this.#maxSkewMs : params.expiresSeconds * 1000;
    if (now > params.requestTime + lifetimeMs) {
      throw new SigV4Error('AccessDenied', `presigned request dated ${params.amzDate} expired`);
    }
  }

  #payload(
    request: SigV4Request,
    params: AuthParams,
  ): { payloadHash: string; payloadMode: SigV4PayloadMode } {
    let declared = request.payloadHash ?? single(request.headers, 'x-amz-content-sha256');
    if (declared === undefined && params.form === 'query') {
      // The AWS SDK's S3 presigner hoists `x-amz-content-sha256: UNSIGNED-PAYLOAD` into the query.
      declared = (params.query ?? parseQuery(request.query)).find(
        (p) => p.name.toLowerCase() === 'x-amz-content-sha256',
      )?.value;
    }
    const payloadHash = declared ?? (params.form === 'query' ? 'UNSIGNED-PAYLOAD' : undefined);
    if (payloadHash === undefined) {
      throw new SigV4Error('InvalidArgument', 'no payload hash: x-amz-content-sha256 missing', {
        message: 'Missing required header for this request: x-amz-content-sha256',
      });
    }
    if (HEX64.test(payloadHash)) return { payloadHash, payloadMode: 'signed' };
    const mode = STREAMING_MODES[payloadHash];
    if (mode !== undefined) {
      if (mode !== 'unsigned' && params.form === 'query') {
        throw new SigV4Error('InvalidArgument', `${payloadHash} in a presigned request`);
      }
      return { payloadHash, payloadMode: mode };
    }
    if (payloadHash.startsWith('STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD')) {
      throw new SigV4Error('NotImplemented', 'SigV4a streaming payloads are not supported');
    }
    throw new SigV4Error('InvalidArgument', `x-amz-content-sha256 is neither a SHA-256 nor a known mode`, {
      message:
        'x-amz-content-sha256 must be UNSIGNED-PAYLOAD, STREAMING-UNSIGNED-PAYLOAD-TRAILER, STREAMING-AWS4-HMAC-SHA256-PAYLOAD, STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER, or a valid sha256 value.',
    });
  }
}

function redact(text: string, secret: string | undefined): string {
  if (secret === undefined || secret === '') return text;
  return text.split(secret).join('<redacted>').split(uriEncode(secret)).join('<redacted>');
}

function withoutSecret<P>(credential: P & SigV4Credential): Omit<P, keyof SigV4Credential> {
  const {
    secretAccessKey: _secret,
    fingerprint: _fingerprint,
    sessionTokenRequired: _required,
    ...rest
  } = credential;
  return rest as Omit<P, keyof SigV4Credential>;
}

function malformed(form: 'header' | 'query', reason: string, message?: string): SigV4Error {
  return new SigV4Error(
    form === 'header' ? 'AuthorizationHeaderMalformed' : 'AuthorizationQueryParametersError',
    reason,
    message === undefined ? undefined : { message },
  );
}

function badAlgorithm(algorithm: string, form: 'header' | 'query'): SigV4Error {
  if (algorithm === 'AWS' || algorithm === 'AWS4-ECDSA-P256-SHA256') {
    return new SigV4Error('NotImplemented', `unsupported signing algorithm ${truncate(algorithm)}`, {
      message: 'Only AWS Signature Version 4 (AWS4-HMAC-SHA256) is supported.',
    });
  }
  return malformed(
    form,
    `unknown signing algorithm ${truncate(algorithm)}`,
    `Unsupported Authorization Type`,
  );
}

function parseCredential(
  value: string,
  form: 'header' | 'query',
): { accessKeyId: string; date: string; region: string; service: string } {
  const parts = value.split('/');
  if (parts.length !== 5) {
    throw malformed(
      form,
      `credential has ${parts.length} parts, not 5`,
      `The authorization header is malformed; the Credential is mal-formed; expecting "<YOUR-AKID>/YYYYMMDD/REGION/SERVICE/aws4_request".`,
    );
  }
  const [accessKeyId, date, region, service, terminator] = parts as [string, string, string, string, string];
  if (!ACCESS_KEY_ID.test(accessKeyId)) {
    throw new SigV4Error('InvalidAccessKeyId', `malformed access key id ${truncate(accessKeyId)}`);
  }
  if (
    !/^\d{8}$/.test(date) ||
    Number.isNaN(Date.parse(`${date.slice(0, 4)}-${date.slice(4, 6)}-${date.slice(6, 8)}`))
  ) {
    throw malformed(form, `credential date ${truncate(date)} is not yyyymmdd`);
  }
  if (!SCOPE_PART.test(region)) throw malformed(form, `credential region ${truncate(region)} is malformed`);
  if (!SCOPE_PART.test(service))
    throw malformed(form, `credential service ${truncate(service)} is malformed`);
  if (terminator !== 'aws4_request') {
    throw malformed(
      form,
      `credential scope ends with ${truncate(terminator)}, not aws4_request`,
      `The authorization header is malformed; incorrect terminal "${truncate(terminator)}". This endpoint uses "aws4_request".`,
    );
  }
  return { accessKeyId, date, region, service };
}

function parseSignedHeaders(value: string, form: 'header' | 'query'): string[] {
  const names = value.split(';');
  if (names.length > MAX_SIGNED_HEADERS)
    throw malformed(form, `${names.length} signed headers, over ${MAX_SIGNED_HEADERS}`);
  for (let i = 0; i < names.length; i++) {
    const name = names[i] as string;
    if (!HEADER_NAME.test(name))
      throw malformed(form, `signed header name ${truncate(name)} is not a lowercase token`);
    // SigV4 lists signed headers sorted and unique; anything else is not what a signer produced.
    if (i > 0 && (names[i - 1] as string) >= name)
      throw malformed(form, 'signed headers not sorted or repeated');
  }
  return names;
}

function parseAmzDate(value: string, form: 'header' | 'query'): number {
  const m = AMZ_DATE.exec(value);
  let t = Number.NaN;
  if (m) {
    const [y, mo, d, h, mi, s] = [+m[1]!, +m[2]!, +m[3]!, +m[4]!, +m[5]!, +m[6]!];
    t = Date.UTC(y, mo - 1, d, h, mi, s);
    // Date.UTC rolls 2026-02-30 over into March; a valid date comes back unchanged.
    const back = new Date(t);
    if (back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59)
      t = Number.NaN;
  }
  if (Number.isNaN(t)) {
    if (form === 'query')
      throw malformed(
        'query',
        `X-Amz-Date ${truncate(value)} is not yyyymmddThhmmssZ`,
        "X-Amz-Date must be in the ISO8601 Long Format \"yyyyMMdd'T'HHmmss'Z'\"",
      );
    throw new SigV4Error('AccessDenied', `X-Amz-Date ${truncate(value)} is not yyyymmddThhmmssZ`, {
      message: 'AWS authentication requires a valid Date or x-amz-date header',
    });
  }
  return t;
}

function parseHttpDate(value: string): number {
  const t = HTTP_DATE.test(value) ? Date.parse(value) : Number.NaN;
  if (Number.isNaN(t)) {
    throw new SigV4Error('AccessDenied', `Date header ${truncate(value)} is not an HTTP-date`, {
      message: 'AWS authentication requires a valid Date or x-amz-date header',
    });
  }
  return t;
}

function toAmzDate(t: number): string {
  return new Date(t)
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d{3}/, '');
}

function single(headers: SigV4Headers, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined || typeof v === 'string') return v;
  if (v.length === 1) return v[0];
  if (v.length === 0) return undefined;
  throw new SigV4Error('InvalidArgument', `header ${name} repeated`, {
    message: `Multiple ${name} headers are not allowed.`,
  });
}

function truncate(s: string): string {
  return s.length > 64 ? `${s.slice(0, 64)}...` : s;
}
