import { createHash, type Hash, timingSafeEqual } from 'node:crypto';
import { Transform, type TransformCallback } from 'node:stream';
import { S3Error } from './s3-errors.js';

/**
 * The `x-amz-content-sha256` values that announce an `aws-chunked` body (S3 API reference,
 * "Authenticating Requests: Using the Authorization Header"): chunks signed one by one, with
 * or without a signed trailer, or unsigned chunks with a trailer (the AWS SDKs' default for
 * PutObject/UploadPart over HTTPS with flexible checksums).
 */
export type AwsChunkedMode =
  | 'STREAMING-UNSIGNED-PAYLOAD-TRAILER'
  | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD'
  | 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER';

/** True when `contentSha256` (the header's value) announces an aws-chunked body. */
export function isAwsChunkedMode(contentSha256: string | undefined): contentSha256 is AwsChunkedMode {
  return (
    contentSha256 === 'STREAMING-UNSIGNED-PAYLOAD-TRAILER' ||
    contentSha256 === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD' ||
    contentSha256 === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER'
  );
}

/** The SHA-256 of the empty string, part of every chunk's string to sign. */
export const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** Options of `AwsChunkedDecoder`. */
export interface AwsChunkedDecoderOptions {
  /** The request's `x-amz-content-sha256`. */
  mode: AwsChunkedMode;
  /** `x-amz-decoded-content-length`: the payload's size once decoded. Required by S3. */
  decodedContentLength: number;
  /** Signed modes: the request's own signature, the "previous signature" of the first chunk. */
  seedSignature?: string;
  /**
   * Signed modes: returns the signature the chunk must carry. The identity module computes it
   * with the request's signing key over
   * `"AWS4-HMAC-SHA256-PAYLOAD\n" + date + "\n" + scope + "\n" + previousSignature + "\n" +
   *  EMPTY_SHA256 + "\n" + chunkSha256Hex` (S3 API reference, "sigv4-streaming").
   */
  chunkSignature?: (previousSignature: string, chunkSha256Hex: string) => string;
  /**
   * Signed-trailer mode: returns the signature the trailer must carry, over
   * `"AWS4-HMAC-SHA256-TRAILER\n" + date + "\n" + scope + "\n" + previousSignature + "\n" +
   *  trailerSha256Hex`, where the hash covers the trailing headers as `name:value\n` lines
   * ("sigv4-streaming-trailers").
   */
  trailerSignature?: (previousSignature: string, trailerSha256Hex: string) => string;
  /** Trailer names announced by `x-amz-trailer` (lower case); each must arrive, and no other. */
  expectedTrailers?: readonly string[];
  /** Largest accepted chunk, bytes (default 16 MiB; the SDKs send 64 KiB to 8 MiB). */
  maxChunkSize?: number;
}

const MAX_LINE = 4096;
const MAX_TRAILER_BYTES = 16 * 1024;
const MAX_TRAILERS = 16;
const CHUNK_HEADER = /^([0-9a-fA-F]{1,16})(?:;chunk-signature=([0-9a-f]{64}))?$/;
const TRAILER_LINE = /^([A-Za-z0-9-]+):(.*)$/;

type State = 'header' | 'data' | 'data-crlf' | 'trailer' | 'final-crlf' | 'done';

function malformed(detail: string): S3Error {
  return new S3Error('InvalidRequest', `Malformed aws-chunked body: ${detail}.`);
}

function sameSignature(expected: string, actual: string): boolean {
  const a = Buffer.from(expected);
  const b = Buffer.from(actual);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Decodes an `aws-chunked` request body as it streams: in comes the framed body
 * (`<hex-size>[;chunk-signature=<sig>]\r\n<data>\r\n` … a final 0-size chunk, then trailing
 * headers in the trailer modes), out come the payload bytes, without copying them.
 *
 * Typed errors (all `S3Error`): bad framing, an oversized chunk or more bytes than
 * `decodedContentLength` -> InvalidRequest; a body that ends early or decodes to fewer bytes ->
 * IncompleteBody; a wrong chunk or trailer signature -> SignatureDoesNotMatch.
 *
 * A signed chunk's bytes are passed on as they arrive and its signature is checked at its end,
 * so a consumer must treat the output as untrusted until the stream ends without error; the
 * object backends do (nothing becomes visible before the final rename).
 * After the stream ends, `trailers` holds the trailing headers (lower-case names, without
 * the signature). Connect it with `stream.pipeline(req, decoder, …)` rather than `.pipe`, so
 * that an error on either side reaches the other.
 */
export class AwsChunkedDecoder extends Transform {
  /** Trailing headers received (available once the stream has ended). */
  readonly trailers = new Map<string, string>();
  readonly #options: AwsChunkedDecoderOptions;
  readonly #signed: boolean;
  readonly #hasTrailer: boolean;
  readonly #maxChunk: number;
  #state: State = 'header';
  #line: Buffer[] = [];
  #lineLength = 0;
  #remaining = 0;
  #crlfSeen = 0;
  #decoded = 0;
  #chunkSignature: string | undefined;
  #previousSignature: string | undefined;
  #hash: Hash | undefined;
  #trailerBytes = 0;
  #trailerSignature: string | undefined;
  #blankSkipped = false;

  constructor(options: AwsChunkedDecoderOptions) {
    super({ readableHighWaterMark: 1 << 20 });
    if (!Number.isSafeInteger(options.decodedContentLength) || options.decodedContentLength < 0) {
      throw new S3Error(
        'MissingContentLength',
        'An aws-chunked body needs a valid x-amz-decoded-content-length.',
      );
    }
    this.#options = options;
    this.#signed = options.mode !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
    this.#hasTrailer = options.mode.endsWith('-TRAILER');
    this.#maxChunk = options.maxChunkSize ?? 16 * 1024 * 1024;
    if (this.#signed && (!options.seedSignature || !options.chunkSignature)) {
      throw new TypeError('signed aws-chunked decoding needs seedSignature and chunkSignature');
    }
    if (options.mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER' && !options.trailerSignature) {
      throw new TypeError('signed-trailer aws-chunked decoding needs trailerSignature');
    }
    this.#previousSignature = options.seedSignature;
  }

  /** Payload bytes decoded so far. */
  get decodedLength(): number {
    return this.#decoded;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    try {
      this.#consume(chunk);
      callback();
    } catch (error) {
      callback(error as Error);
    }
  }

  override _flush(callback: TransformCallback): void {
    if (
      this.#state === 'trailer' &&
      this.#blankSkipped &&
      this.#lineLength === 0 &&
      this.trailers.size === 0 &&
      this.#trailerSignature === undefined
    ) {
      // `0\r\n\r\n` in a trailer mode: the body ended with no trailing header at all.
      try {
        this.#finishTrailers();
      } catch (error) {
        callback(error as Error);
        return;
      }
    }
    if (this.#state !== 'done') {
      callback(
        new S3Error(
          'IncompleteBody',
          `The aws-chunked body ended early, after ${this.#decoded - this.#remaining} of ${this.#options.decodedContentLength} bytes.`,
        ),
      );
      return;
    }
    callback();
  }

  #consume(buf: Buffer): void {
    let i = 0;
    while (i < buf.length) {
      switch (this.#state) {
        case 'data': {
          const n = Math.min(this.#remaining, buf.length - i);
          const piece = buf.subarray(i, i + n);
          this.#hash?.update(piece);
          this.push(piece);
          this.#remaining -= n;
          i += n;
          if (this.#remaining === 0) this.#state = 'data-crlf';
          break;
        }
        case 'data-crlf':
        case 'final-crlf': {
          const expect = this.#crlfSeen === 0 ? 0x0d : 0x0a;
          if (buf[i] !== expect) throw malformed('a chunk is not followed by CRLF');
          i++;
          if (++this.#crlfSeen === 2) {
            this.#crlfSeen = 0;
            if (this.#state === 'data-crlf') {
              this.#checkChunkSignature();
              this.#state = 'header';
            } else {
              this.#state = 'done';
            }
          }
          break;
        }
        case 'header':
        case 'trailer': {
          const lf = buf.indexOf(0x0a, i);
          const end = lf < 0 ? buf.length : lf + 1;
          this.#appendLine(buf.subarray(i, end));
          i = end;
          if (lf >= 0) {
            const line = this.#takeLine();
            if (this.#state === 'header') this.#onHeader(line);
            else this.#onTrailer(line);
          }
          break;
        }
        case 'done':
          throw malformed('bytes follow the final chunk');
      }
    }
  }

  #appendLine(piece: Buffer): void {
    this.#lineLength += piece.length;
    if (this.#lineLength > MAX_LINE) throw malformed('a chunk header or trailer line is too long');
    if (this.#state === 'trailer') {
      this.#trailerBytes += piece.length;
      if (this.#trailerBytes > MAX_TRAILER_BYTES) throw malformed('the trailing headers are too large');
    }
    this.#line.push(piece);
  }

  /** The line without its CRLF; a bare LF is malformed. */
  #takeLine(): string {
    const raw = this.#line.length === 1 ? this.#line[0]! : Buffer.concat(this.#line);
    this.#line = [];
    this.#lineLength = 0;
    if (raw.length < 2 || raw[raw.length - 2] !== 0x0d) throw malformed('a line does not end with CRLF');
    return raw.toString('latin1', 0, raw.length - 2);
  }

  #onHeader(line: string): void {
    const m = CHUNK_HEADER.exec(line);
    if (!m) throw malformed(`bad chunk header "${line.slice(0, 100)}"`);
    const size = Number.parseInt(m[1]!, 16);
    const signature = m[2];
    if (this.#signed && signature === undefined) throw malformed('a chunk has no chunk-signature');
    if (!this.#signed && signature !== undefined)
      throw malformed('an unsigned-payload chunk carries a signature');
    if (size > this.#maxChunk) {
      throw new S3Error(
        'InvalidRequest',
        `An aws-chunked chunk of ${size} bytes exceeds the limit of ${this.#maxChunk}.`,
      );
    }
    if (this.#decoded + size > this.#options.decodedContentLength) {
      throw new S3Error(
        'InvalidRequest',
        `The aws-chunked body holds more than the ${this.#options.decodedContentLength} bytes declared in x-amz-decoded-content-length.`,
      );
    }
    this.#decoded += size;
    this.#chunkSignature = signature;
    if (this.#signed) this.#hash = createHash('sha256');
    if (size > 0) {
      this.#remaining = size;
      this.#state = 'data';
      return;
    }
    if (this.#decoded !== this.#options.decodedContentLength) {
      throw new S3Error(
        'IncompleteBody',
        `The aws-chunked body decoded to ${this.#decoded} bytes; x-amz-decoded-content-length declared ${this.#options.decodedContentLength}.`,
      );
    }
    this.#checkChunkSignature();
    this.#state = this.#hasTrailer ? 'trailer' : 'final-crlf';
  }

  #checkChunkSignature(): void {
    if (!this.#signed) return;
    const hash = this.#hash!.digest('hex');
    this.#hash = undefined;
    const expected = this.#options.chunkSignature!(this.#previousSignature!, hash);
    if (!sameSignature(expected, this.#chunkSignature!)) {
      throw new S3Error('SignatureDoesNotMatch', 'The signature of an aws-chunked chunk does not match.');
    }
    this.#previousSignature = this.#chunkSignature;
  }

  #onTrailer(line: string): void {
    if (line === '') {
      // AWS's own example puts a blank line between the final chunk and the trailers; accept
      // one such line before any trailer, then a blank line ends the trailer section.
      if (this.trailers.size === 0 && this.#trailerSignature === undefined && !this.#blankSkipped) {
        this.#blankSkipped = true;
        return;
      }
      this.#finishTrailers();
      return;
    }
    const m = TRAILER_LINE.exec(line);
    if (!m) throw malformed(`bad trailing header "${line.slice(0, 100)}"`);
    const name = m[1]!.toLowerCase();
    const value = m[2]!.trim();
    if (name === 'x-amz-trailer-signature') {
      if (this.#trailerSignature !== undefined) throw malformed('two trailer signatures');
      this.#trailerSignature = value;
      return;
    }
    if (this.#trailerSignature !== undefined)
      throw malformed('a trailing header follows the trailer signature');
    if (this.trailers.has(name)) throw malformed(`the trailing header ${name} is repeated`);
    if (this.trailers.size >= MAX_TRAILERS) throw malformed('too many trailing headers');
    this.trailers.set(name, value);
  }

  #finishTrailers(): void {
    const expected = this.#options.expectedTrailers ?? [];
    for (const name of expected) {
      if (!this.trailers.has(name.toLowerCase())) {
        throw new S3Error('InvalidRequest', `The trailer ${name} announced in x-amz-trailer was not sent.`);
      }
    }
    for (const name of this.trailers.keys()) {
      if (!expected.some((e) => e.toLowerCase() === name)) {
        throw new S3Error('InvalidRequest', `The trailer ${name} was not announced in x-amz-trailer.`);
      }
    }
    if (this.#options.mode === 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER') {
      if (this.#trailerSignature === undefined)
        throw malformed('the signed trailer has no x-amz-trailer-signature');
      let canonical = '';
      for (const [name, value] of this.trailers) canonical += `${name}:${value}\n`;
      const hash = createHash('sha256').update(canonical, 'latin1').digest('hex');
      const expectedSig = this.#options.trailerSignature!(this.#previousSignature!, hash);
      if (!sameSignature(expectedSig, this.#trailerSignature)) {
        throw new S3Error(
          'SignatureDoesNotMatch',
          'The signature of the aws-chunked trailer does not match.',
        );
      }
    } else if (this.#trailerSignature !== undefined) {
      throw malformed('an unsigned-payload trailer carries a signature');
    }
    this.#state = 'done';
  }
}
