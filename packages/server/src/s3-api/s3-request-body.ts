import type { IncomingMessage } from 'node:http';
import { pipeline } from 'node:stream';
import { chunkSigners } from '../identity/sigv4-chunk-signature.js';
import type { PutOptions } from '../objects/object-backend.js';
import { AwsChunkedDecoder, isAwsChunkedMode } from '../s3/aws-chunked-decoder.js';
import {
  type ChecksumAlgorithm,
  ChecksumCalculator,
  checksumAlgorithmOfHeader,
  type ExpectedChecksums,
  expectedChecksumsFromHeaders,
  type FlexibleChecksumAlgorithm,
  algorithmsToCompute,
  mergeTrailerChecksums,
  trailerChecksumAlgorithms,
  verifyChecksums,
} from '../s3/checksums.js';
import { S3Error } from '../s3/s3-errors.js';
import type { ContentHeaders } from '../store/data-plane-types.js';
import type { S3Caller } from './s3-authentication.js';

/** A request body ready to stream into the object backend, with what it must be checked against. */
export interface S3BodySource {
  readonly source: AsyncIterable<Uint8Array>;
  readonly options: PutOptions;
}

function header(req: IncomingMessage, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}

function declaredLength(req: IncomingMessage, name: string): number | undefined {
  const raw = header(req, name);
  if (raw === undefined) return undefined;
  if (!/^\d{1,16}$/.test(raw.trim())) {
    throw new S3Error('InvalidArgument', `${name} must be a non-negative integer.`, {
      details: { ArgumentName: name, ArgumentValue: raw.slice(0, 32) },
    });
  }
  return Number(raw.trim());
}

/**
 * The body of an upload (PutObject, UploadPart) as a verified stream. `x-amz-content-sha256`
 * decides how: an `aws-chunked` mode goes through `AwsChunkedDecoder` (chunk signatures checked
 * with the request's signing key, trailers announced by `x-amz-trailer` collected); a hex digest
 * is checked over the whole body; `UNSIGNED-PAYLOAD` (presigned URLs) is not. Content-MD5 and
 * `x-amz-checksum-*` (header or trailer) are always checked. Nothing is read here: the object
 * backend reads the stream and refuses to publish when any check fails.
 */
export function uploadBody(req: IncomingMessage, caller: S3Caller, maxSize?: number): S3BodySource {
  const contentSha = header(req, 'x-amz-content-sha256');
  const fromHeaders = expectedChecksumsFromHeaders(req.headers);
  const extra = new Set<ChecksumAlgorithm>();
  // The algorithm the client asks S3 to compute and store (CreateMultipartUpload, PutObject).
  for (const name of ['x-amz-checksum-algorithm', 'x-amz-sdk-checksum-algorithm']) {
    const alg = header(req, name);
    if (alg !== undefined) {
      const known = checksumAlgorithmOfHeader(`x-amz-checksum-${alg.trim().toLowerCase()}`);
      if (!known)
        throw new S3Error('InvalidRequest', `Checksum algorithm "${alg.slice(0, 32)}" is not supported.`);
      extra.add(known);
    }
  }
  if (isAwsChunkedMode(contentSha)) {
    const decoded = declaredLength(req, 'x-amz-decoded-content-length');
    if (decoded === undefined) {
      throw new S3Error('MissingContentLength', 'An aws-chunked body needs x-amz-decoded-content-length.');
    }
    const verified = caller.verified;
    const signed = contentSha !== 'STREAMING-UNSIGNED-PAYLOAD-TRAILER';
    if (signed && (verified === undefined || verified.form !== 'header')) {
      throw new S3Error('InvalidRequest', 'Signed aws-chunked bodies need an Authorization header.');
    }
    const trailerHeader = header(req, 'x-amz-trailer');
    const trailerAlgorithms: FlexibleChecksumAlgorithm[] = trailerChecksumAlgorithms(trailerHeader);
    for (const alg of trailerAlgorithms) extra.add(alg);
    const decoder = new AwsChunkedDecoder({
      mode: contentSha,
      decodedContentLength: decoded,
      expectedTrailers: trailerAlgorithms.map((a) => `x-amz-checksum-${a.toLowerCase()}`),
      ...(signed && verified ? { seedSignature: verified.seedSignature, ...chunkSigners(verified) } : {}),
    });
    // pipeline() propagates a client disconnect to the decoder (and so to the backend's read).
    pipeline(req, decoder, () => {});
    const expected = (): ExpectedChecksums => mergeTrailerChecksums(fromHeaders, decoder.trailers);
    return {
      source: decoder,
      options: {
        expectedSize: decoded,
        expected,
        checksumAlgorithms: extra,
        ...(maxSize ? { maxSize } : {}),
      },
    };
  }
  if (contentSha === undefined && caller.verified?.form === 'header') {
    // S3 requires the header on every header-signed request (it is part of the signature).
    throw new S3Error('InvalidRequest', 'Missing required header for this request: x-amz-content-sha256.');
  }
  const length = declaredLength(req, 'content-length');
  if (length === undefined) throw new S3Error('MissingContentLength');
  return {
    source: req,
    options: {
      expectedSize: length,
      expected: fromHeaders,
      checksumAlgorithms: extra,
      ...(maxSize ? { maxSize } : {}),
    },
  };
}

/**
 * Reads a small request body (XML configuration, a policy) whole, at most `limit` bytes, and
 * checks it like an upload: aws-chunked decoding, x-amz-content-sha256, Content-MD5 and
 * `x-amz-checksum-*`. Too large -> S3's error for the body (MaxMessageLengthExceeded).
 */
export async function readSmallBody(req: IncomingMessage, caller: S3Caller, limit: number): Promise<Buffer> {
  const { source, options } = uploadBody(req, caller, limit);
  if ((options.expectedSize ?? 0) > limit) {
    throw new S3Error('MaxMessageLengthExceeded', `The request body may be at most ${limit} bytes.`);
  }
  const expectedNow = typeof options.expected === 'object' ? options.expected : {};
  const calc = new ChecksumCalculator(algorithmsToCompute(expectedNow, options.checksumAlgorithms));
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of source) {
    size += chunk.length;
    if (size > limit)
      throw new S3Error('MaxMessageLengthExceeded', `The request body may be at most ${limit} bytes.`);
    calc.update(chunk);
    chunks.push(Buffer.from(chunk.buffer, chunk.byteOffset, chunk.length));
  }
  if (options.expectedSize !== undefined && size !== options.expectedSize)
    throw new S3Error('IncompleteBody');
  const expected = typeof options.expected === 'function' ? options.expected() : (options.expected ?? {});
  verifyChecksums(expected, calc.digest());
  return Buffer.concat(chunks, size);
}

/** S3's default Content-Type when the client sent none. */
export const DEFAULT_CONTENT_TYPE = 'binary/octet-stream';

/** User metadata (`x-amz-meta-*`, names lower-cased without the prefix) of a request. */
export function userMetadataOf(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (!name.startsWith('x-amz-meta-') || value === undefined) continue;
    out[name.slice('x-amz-meta-'.length)] = Array.isArray(value) ? value.join(',') : value;
  }
  return out;
}

/**
 * Content headers to store with an object. `aws-chunked` is a transfer detail, not the
 * object's encoding: it is removed from Content-Encoding, as S3 does.
 */
export function contentHeadersOf(req: IncomingMessage): ContentHeaders {
  const h: ContentHeaders = {};
  const cacheControl = header(req, 'cache-control');
  const disposition = header(req, 'content-disposition');
  const language = header(req, 'content-language');
  const expires = header(req, 'expires');
  const encoding = header(req, 'content-encoding')
    ?.split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '' && s.toLowerCase() !== 'aws-chunked')
    .join(', ');
  if (cacheControl !== undefined) h.cacheControl = cacheControl;
  if (disposition !== undefined) h.contentDisposition = disposition;
  if (language !== undefined) h.contentLanguage = language;
  if (expires !== undefined) h.expires = expires;
  if (encoding) h.contentEncoding = encoding;
  return h;
}
