import { createHmac, timingSafeEqual } from 'node:crypto';
import { SigV4Error } from './identity-errors.js';
import { sha256Hex } from './sigv4-canonical-request.js';

/** SHA-256 of the empty string: the fixed fifth line of every chunk string to sign. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/**
 * The string to sign of one `aws-chunked` chunk (AWS S3 API reference, "Signature calculations
 * for the Authorization header: transferring payload in multiple chunks"):
 *
 * ```
 * AWS4-HMAC-SHA256-PAYLOAD \n amzDate \n scope \n previousSignature \n sha256("") \n sha256(chunk)
 * ```
 */
export function chunkStringToSign(
  amzDate: string,
  scope: string,
  previousSignature: string,
  chunkSha256: string,
): string {
  return `AWS4-HMAC-SHA256-PAYLOAD\n${amzDate}\n${scope}\n${previousSignature}\n${EMPTY_SHA256}\n${chunkSha256}`;
}

/**
 * The canonical form of trailing headers, as signed: `name:value\n` per header, names lowercased
 * and sorted, values trimmed; `x-amz-trailer-signature` itself is left out.
 */
export function canonicalTrailer(trailers: Iterable<readonly [string, string]>): string {
  const lines: string[] = [];
  for (const [name, value] of trailers) {
    const lower = name.toLowerCase();
    if (lower === 'x-amz-trailer-signature') continue;
    lines.push(`${lower}:${value.trim()}\n`);
  }
  return lines.sort().join('');
}

/**
 * The string to sign of the trailer chunk ("Signature calculations for trailing headers"):
 *
 * ```
 * AWS4-HMAC-SHA256-TRAILER \n amzDate \n scope \n previousSignature \n sha256(canonicalTrailer)
 * ```
 */
export function trailerStringToSign(
  amzDate: string,
  scope: string,
  previousSignature: string,
  canonicalTrailerText: string,
): string {
  return `AWS4-HMAC-SHA256-TRAILER\n${amzDate}\n${scope}\n${previousSignature}\n${sha256Hex(canonicalTrailerText)}`;
}

/** The part of a verified request that chunk and trailer signatures are computed from. */
export interface ChunkSigningContext {
  readonly signingKey: Buffer;
  readonly amzDate: string;
  readonly scope: string;
}

/**
 * The signatures an `aws-chunked` body must carry, as functions of the previous signature and
 * a hash: the shape the S3 layer's `AwsChunkedDecoder` takes (`chunkSignature`,
 * `trailerSignature`), which then compares them itself in constant time.
 *
 * ```ts
 * new AwsChunkedDecoder({ mode, decodedContentLength, seedSignature: v.seedSignature, ...chunkSigners(v) });
 * ```
 */
export function chunkSigners(context: ChunkSigningContext): {
  chunkSignature: (previousSignature: string, chunkSha256Hex: string) => string;
  trailerSignature: (previousSignature: string, trailerSha256Hex: string) => string;
} {
  const hmac = (text: string) => createHmac('sha256', context.signingKey).update(text).digest('hex');
  return {
    chunkSignature: (previous, chunkHash) =>
      hmac(chunkStringToSign(context.amzDate, context.scope, previous, chunkHash)),
    trailerSignature: (previous, trailerHash) =>
      hmac(`AWS4-HMAC-SHA256-TRAILER\n${context.amzDate}\n${context.scope}\n${previous}\n${trailerHash}`),
  };
}

/** What a chain needs from a verified request (see `SigV4Verified`). */
export interface ChunkChainSeed {
  readonly signingKey: Buffer;
  readonly amzDate: string;
  readonly scope: string;
  readonly seedSignature: string;
}

/**
 * Verifies the signatures of an `aws-chunked` body in order: each chunk's signature chains from
 * the previous one (the first from the request's seed signature), so chunks cannot be dropped,
 * reordered or spliced from another upload. The final zero-length chunk is verified like any
 * other; then, for the `-TRAILER` modes, the trailer.
 *
 * ```ts
 * const chain = new ChunkSignatureChain(verified);
 * chain.verifyChunk(sha256Hex(chunkBytes), chunkSignatureFromWire);   // throws SigV4Error
 * chain.verifyTrailer([['x-amz-checksum-crc32', 'sOO8/Q==']], trailerSignatureFromWire);
 * ```
 */
export class ChunkSignatureChain {
  readonly #key: Buffer;
  readonly #amzDate: string;
  readonly #scope: string;
  #previous: string;
  #finished = false;

  constructor(seed: ChunkChainSeed) {
    this.#key = seed.signingKey;
    this.#amzDate = seed.amzDate;
    this.#scope = seed.scope;
    this.#previous = seed.seedSignature;
  }

  /** The last verified signature (the seed before any chunk). */
  get previousSignature(): string {
    return this.#previous;
  }

  /** Verifies the next chunk, given the hex SHA-256 of its data and the signature sent with it. */
  verifyChunk(chunkSha256: string, signature: string): void {
    if (this.#finished) throw new SigV4Error('SignatureDoesNotMatch', 'chunk after the trailer');
    const stringToSign = chunkStringToSign(this.#amzDate, this.#scope, this.#previous, chunkSha256);
    this.#check(stringToSign, signature, 'chunk');
    this.#previous = signature;
  }

  /** Verifies the signed trailer that follows the final zero-length chunk; ends the chain. */
  verifyTrailer(trailers: Iterable<readonly [string, string]>, signature: string): void {
    if (this.#finished) throw new SigV4Error('SignatureDoesNotMatch', 'second trailer');
    const stringToSign = trailerStringToSign(
      this.#amzDate,
      this.#scope,
      this.#previous,
      canonicalTrailer(trailers),
    );
    this.#check(stringToSign, signature, 'trailer');
    this.#finished = true;
  }

  #check(stringToSign: string, signature: string, what: string): void {
    const expected = createHmac('sha256', this.#key).update(stringToSign).digest();
    const provided = /^[0-9a-f]{64}$/.test(signature) ? Buffer.from(signature, 'hex') : Buffer.alloc(0);
    if (provided.length !== expected.length || !timingSafeEqual(provided, expected)) {
      throw new SigV4Error('SignatureDoesNotMatch', `${what} signature mismatch`, { stringToSign });
    }
  }
}
