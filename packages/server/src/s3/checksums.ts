import { createHash, type Hash } from 'node:crypto';
import * as zlib from 'node:zlib';
import { S3Error } from './s3-errors.js';

/**
 * Streaming checksums of S3 payloads (S3 User Guide, "Checking object integrity"): CRC32,
 * CRC32C, SHA-1 and SHA-256 (`x-amz-checksum-*`, base64 of the big-endian digest), MD5
 * (`Content-MD5`, base64; also the ETag) and the hex SHA-256 of `x-amz-content-sha256`. All are
 * computed in one pass over the bytes as they stream to storage, and compared before the object
 * becomes visible.
 */

/** The flexible-checksum algorithms S3 accepts, plus MD5 (Content-MD5 and the ETag). */
export type ChecksumAlgorithm = 'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256' | 'MD5';

/** The `x-amz-checksum-*` algorithms, in S3's spelling. */
export const FLEXIBLE_CHECKSUM_ALGORITHMS = ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const;
export type FlexibleChecksumAlgorithm = (typeof FLEXIBLE_CHECKSUM_ALGORITHMS)[number];

// Slice-by-8 tables (Intel's technique, as in zlib): 8 KiB per polynomial, ~1 GB/s in V8.
function makeTables(reversedPoly: number): Int32Array[] {
  const tables = Array.from({ length: 8 }, () => new Int32Array(256));
  const t0 = tables[0]!;
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ reversedPoly : c >>> 1;
    t0[n] = c;
  }
  for (let n = 0; n < 256; n++) {
    let c = t0[n]!;
    for (let k = 1; k < 8; k++) {
      c = t0[c & 0xff]! ^ (c >>> 8);
      tables[k]![n] = c;
    }
  }
  return tables;
}

let crc32Tables: Int32Array[] | undefined;
let crc32cTables: Int32Array[] | undefined;

function crcUpdate(tables: Int32Array[], crc: number, data: Uint8Array): number {
  const [t0, t1, t2, t3, t4, t5, t6, t7] = tables as [
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
    Int32Array,
  ];
  let c = ~crc;
  let i = 0;
  const len = data.length;
  const end8 = len - (len % 8);
  for (; i < end8; i += 8) {
    const a = (data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24)) ^ c;
    c =
      t7[a & 0xff]! ^
      t6[(a >>> 8) & 0xff]! ^
      t5[(a >>> 16) & 0xff]! ^
      t4[a >>> 24]! ^
      t3[data[i + 4]!]! ^
      t2[data[i + 5]!]! ^
      t1[data[i + 6]!]! ^
      t0[data[i + 7]!]!;
  }
  for (; i < len; i++) c = t0[(c ^ data[i]!) & 0xff]! ^ (c >>> 8);
  return ~c >>> 0;
}

// Node >= 22.2 has a native zlib.crc32; Node 20 does not, so the table version stands in.
const nativeCrc32 = (zlib as { crc32?: (data: Uint8Array, value?: number) => number }).crc32;

/** CRC-32 (ISO-HDLC, the zlib/PNG polynomial 0x04C11DB7), continuing from `previous`. */
export function crc32(data: Uint8Array, previous = 0): number {
  if (nativeCrc32) return nativeCrc32(data, previous);
  crc32Tables ??= makeTables(0xedb88320);
  return crcUpdate(crc32Tables, previous, data);
}

/** CRC-32C (Castagnoli, 0x1EDC6F41; RFC 3720 appendix B.4), continuing from `previous`. */
export function crc32c(data: Uint8Array, previous = 0): number {
  crc32cTables ??= makeTables(0x82f63b78);
  return crcUpdate(crc32cTables, previous, data);
}

/** A 32-bit CRC as S3 sends it: the 4 big-endian bytes, base64-encoded. */
function crcBytes(value: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(value >>> 0, 0);
  return b;
}

/** The digests of one payload, raw bytes per algorithm. */
export type ChecksumDigests = Partial<Record<ChecksumAlgorithm, Buffer>>;

/**
 * Computes several checksums over a stream in one pass. Feed every chunk to `update`, then
 * call `digest` once.
 *
 * @example const c = new ChecksumCalculator(['MD5', 'CRC32C']); c.update(buf); c.digest().MD5
 */
export class ChecksumCalculator {
  readonly algorithms: ReadonlySet<ChecksumAlgorithm>;
  #hashes: Partial<Record<'MD5' | 'SHA1' | 'SHA256', Hash>> = {};
  #crc32: number | undefined;
  #crc32c: number | undefined;
  #done = false;

  constructor(algorithms: Iterable<ChecksumAlgorithm>) {
    this.algorithms = new Set(algorithms);
    if (this.algorithms.has('MD5')) this.#hashes.MD5 = createHash('md5');
    if (this.algorithms.has('SHA1')) this.#hashes.SHA1 = createHash('sha1');
    if (this.algorithms.has('SHA256')) this.#hashes.SHA256 = createHash('sha256');
    if (this.algorithms.has('CRC32')) this.#crc32 = 0;
    if (this.algorithms.has('CRC32C')) this.#crc32c = 0;
  }

  /** Adds bytes to every checksum. */
  update(chunk: Uint8Array): void {
    if (this.#done) throw new Error('ChecksumCalculator.update after digest');
    this.#hashes.MD5?.update(chunk);
    this.#hashes.SHA1?.update(chunk);
    this.#hashes.SHA256?.update(chunk);
    if (this.#crc32 !== undefined) this.#crc32 = crc32(chunk, this.#crc32);
    if (this.#crc32c !== undefined) this.#crc32c = crc32c(chunk, this.#crc32c);
  }

  /** The raw digests; callable once. */
  digest(): ChecksumDigests {
    this.#done = true;
    const out: ChecksumDigests = {};
    for (const [alg, hash] of Object.entries(this.#hashes)) out[alg as ChecksumAlgorithm] = hash.digest();
    if (this.#crc32 !== undefined) out.CRC32 = crcBytes(this.#crc32);
    if (this.#crc32c !== undefined) out.CRC32C = crcBytes(this.#crc32c);
    return out;
  }
}

/**
 * What the client claimed about the payload, gathered from headers and trailers. Flexible
 * checksums and Content-MD5 are base64 as sent; `contentSha256` is the hex of
 * `x-amz-content-sha256` when it names an actual digest (not `UNSIGNED-PAYLOAD`/`STREAMING-…`).
 */
export interface ExpectedChecksums {
  contentMd5?: string;
  contentSha256?: string;
  checksums?: Partial<Record<FlexibleChecksumAlgorithm, string>>;
}

type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

function header(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  if (v.length > 1) throw new S3Error('InvalidRequest', `The ${name} header must be sent once.`);
  return v[0];
}

const DIGEST_BYTES: Record<ChecksumAlgorithm, number> = {
  CRC32: 4,
  CRC32C: 4,
  SHA1: 20,
  SHA256: 32,
  MD5: 16,
};

/** Decodes canonical base64 of exactly `bytes` bytes, or returns undefined. */
function decodeBase64(value: string, bytes: number): Buffer | undefined {
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(value) || value.length % 4 !== 0) return undefined;
  const buf = Buffer.from(value, 'base64');
  return buf.length === bytes ? buf : undefined;
}

/** Maps `x-amz-checksum-crc32c` (header or trailer name) to `CRC32C`, or undefined. */
export function checksumAlgorithmOfHeader(name: string): FlexibleChecksumAlgorithm | undefined {
  const m = /^x-amz-checksum-(crc32|crc32c|sha1|sha256)$/i.exec(name);
  return m ? (m[1]!.toUpperCase() as FlexibleChecksumAlgorithm) : undefined;
}

/**
 * Reads and validates the integrity headers of a request (lower-cased names, as Node gives
 * them): `Content-MD5` (malformed -> InvalidDigest), one `x-amz-checksum-*` (malformed or more
 * than one -> InvalidRequest, as S3 answers), and a digest-valued `x-amz-content-sha256`.
 * Checksums announced in `x-amz-trailer` arrive later: merge them with `mergeTrailerChecksums`.
 */
export function expectedChecksumsFromHeaders(headers: HeaderBag): ExpectedChecksums {
  const expected: ExpectedChecksums = {};
  const md5 = header(headers, 'content-md5');
  if (md5 !== undefined) {
    if (!decodeBase64(md5.trim(), 16)) throw new S3Error('InvalidDigest');
    expected.contentMd5 = md5.trim();
  }
  const sha = header(headers, 'x-amz-content-sha256');
  if (sha !== undefined && /^[0-9a-fA-F]{64}$/.test(sha)) expected.contentSha256 = sha.toLowerCase();
  for (const name of Object.keys(headers)) {
    const alg = checksumAlgorithmOfHeader(name);
    if (!alg) continue;
    if (expected.checksums) {
      throw new S3Error(
        'InvalidRequest',
        'Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.',
      );
    }
    const value = header(headers, name)!.trim();
    if (!decodeBase64(value, DIGEST_BYTES[alg])) {
      throw new S3Error('InvalidRequest', `Value for ${name.toLowerCase()} header is invalid.`);
    }
    expected.checksums = { [alg]: value };
  }
  return expected;
}

/**
 * The algorithms announced in `x-amz-trailer` (e.g. `x-amz-checksum-crc32`), which must be
 * computed although their values arrive only after the body. Anything else -> InvalidRequest.
 */
export function trailerChecksumAlgorithms(trailerHeader: string | undefined): FlexibleChecksumAlgorithm[] {
  if (trailerHeader === undefined || trailerHeader.trim() === '') return [];
  const out: FlexibleChecksumAlgorithm[] = [];
  for (const part of trailerHeader.split(',')) {
    const alg = checksumAlgorithmOfHeader(part.trim());
    if (!alg) throw new S3Error('InvalidRequest', `The trailer "${part.trim()}" is not supported.`);
    out.push(alg);
  }
  if (out.length > 1) {
    throw new S3Error(
      'InvalidRequest',
      'Expecting a single x-amz-checksum- trailer. Multiple checksum Types are not allowed.',
    );
  }
  return out;
}

/**
 * Adds checksums received as aws-chunked trailers to those from headers. A checksum sent both
 * ways, or a malformed one, is InvalidRequest.
 */
export function mergeTrailerChecksums(
  expected: ExpectedChecksums,
  trailers: ReadonlyMap<string, string>,
): ExpectedChecksums {
  const merged: ExpectedChecksums = { ...expected, checksums: { ...expected.checksums } };
  for (const [name, raw] of trailers) {
    const alg = checksumAlgorithmOfHeader(name);
    if (!alg) continue;
    const value = raw.trim();
    if (!decodeBase64(value, DIGEST_BYTES[alg])) {
      throw new S3Error('InvalidRequest', `Value for ${name.toLowerCase()} trailing header is invalid.`);
    }
    if (merged.checksums![alg] !== undefined && merged.checksums![alg] !== value) {
      throw new S3Error('InvalidRequest', `${name} was sent both as a header and as a trailer.`);
    }
    merged.checksums![alg] = value;
  }
  return merged;
}

/** The algorithms that must be computed to check `expected` (MD5 always: it is the ETag). */
export function algorithmsToCompute(
  expected: ExpectedChecksums,
  extra: Iterable<ChecksumAlgorithm> = [],
): Set<ChecksumAlgorithm> {
  const set = new Set<ChecksumAlgorithm>(['MD5', ...extra]);
  if (expected.contentSha256) set.add('SHA256');
  for (const alg of Object.keys(expected.checksums ?? {})) set.add(alg as ChecksumAlgorithm);
  return set;
}

/**
 * Compares what was computed with what the client claimed. Mismatches throw S3's codes:
 * Content-MD5 -> BadDigest, `x-amz-checksum-*` -> BadDigest naming the algorithm,
 * `x-amz-content-sha256` -> XAmzContentSHA256Mismatch. A claimed checksum that was not
 * computed is a programming error (InternalError), never a silent pass.
 */
export function verifyChecksums(expected: ExpectedChecksums, actual: ChecksumDigests): void {
  if (expected.contentSha256 !== undefined) {
    const got = actual.SHA256;
    if (!got) throw new S3Error('InternalError', 'SHA256 was claimed but not computed.');
    if (got.toString('hex') !== expected.contentSha256) {
      throw new S3Error('XAmzContentSHA256Mismatch', undefined, {
        details: {
          ClientComputedContentSHA256: expected.contentSha256,
          S3ComputedContentSHA256: got.toString('hex'),
        },
      });
    }
  }
  if (expected.contentMd5 !== undefined) {
    const got = actual.MD5;
    if (!got) throw new S3Error('InternalError', 'MD5 was claimed but not computed.');
    if (got.toString('base64') !== expected.contentMd5) {
      throw new S3Error('BadDigest', 'The Content-MD5 you specified did not match what we received.', {
        details: { ExpectedDigest: expected.contentMd5, CalculatedDigest: got.toString('base64') },
      });
    }
  }
  for (const [alg, value] of Object.entries(expected.checksums ?? {})) {
    const got = actual[alg as ChecksumAlgorithm];
    if (!got) throw new S3Error('InternalError', `${alg} was claimed but not computed.`);
    if (got.toString('base64') !== value) {
      throw new S3Error('BadDigest', `The ${alg} you specified did not match the calculated checksum.`);
    }
  }
}

/** Base64 of every flexible checksum in `digests` (what S3 returns as `x-amz-checksum-*`). */
export function encodeChecksums(digests: ChecksumDigests): Partial<Record<ChecksumAlgorithm, string>> {
  const out: Partial<Record<ChecksumAlgorithm, string>> = {};
  for (const [alg, buf] of Object.entries(digests)) out[alg as ChecksumAlgorithm] = buf.toString('base64');
  return out;
}
