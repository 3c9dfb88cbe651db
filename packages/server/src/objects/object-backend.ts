import type { Readable } from 'node:stream';
import type { ChecksumAlgorithm, ExpectedChecksums } from '../s3/checksums.js';

/**
 * The byte store under the S3 data plane. It stores *blobs*, not keys: every write gets a
 * fresh opaque id chosen by the backend, and the metadata store maps (bucket, key) -> blob id.
 * Object keys therefore never become file names or upstream paths, overwrites are atomic
 * (commit the new id, then delete the old blob), and concurrent writers never share bytes.
 *
 * The write protocol every implementation follows:
 *   1. `put`/`putPart`/`completeMultipart` stream into a private temporary location, verify
 *      size and checksums, make the bytes durable, then publish them under the new id;
 *   2. only after that promise resolves may the caller commit metadata pointing at the id;
 *   3. a failed or abandoned write leaves no blob; what a crash leaves behind (temporary files,
 *      published blobs whose metadata never committed, stale uploads) is found by
 *      `sweepTemporary`, `listBlobs` and `listMultipartUploads` and removed by the caller's
 *      garbage collector, which alone knows which ids metadata references.
 *
 * Errors are `S3Error`s: NoSuchKey (unknown blob id), NoSuchUpload, BadDigest /
 * XAmzContentSHA256Mismatch (checksums), IncompleteBody (fewer bytes than declared),
 * EntityTooLarge, InvalidPart, InvalidPartOrder, EntityTooSmall, InvalidArgument.
 * A second implementation (an upstream S3 store) runs the same contract suite
 * (`object-backend-contract.ts`).
 */
export interface ObjectBackend {
  /**
   * Streams `source` into a new blob and returns its id, size, MD5 ETag and checksums. Nothing
   * is visible under the id until the returned promise resolves; if the source fails (a client
   * disconnect), or a size or checksum check fails, no blob remains.
   */
  put(source: AsyncIterable<Uint8Array>, options?: PutOptions): Promise<StoredBlob>;

  /**
   * Reads a blob, whole or `range` (inclusive byte offsets, already resolved against the size
   * by the caller; see `resolveRange`). Unknown id -> NoSuchKey. The stream reads a snapshot:
   * deleting the blob after `get` resolved does not cut the stream short.
   */
  get(id: string, range?: ByteRange): Promise<Readable>;

  /**
   * Optional: the bytes of a small blob or range read at once (`size` is the object's size from
   * its metadata), or undefined when the backend prefers to stream it (`get`).
   */
  readSmall?(id: string, range: ByteRange | undefined, size: number): Buffer | undefined;

  /**
   * Optional: the descriptor of a single-file blob opened for reading, for a caller that sends
   * the bytes itself (the S3 GET path) and closes it (`closeSync`); undefined when the blob is not
   * one file (stream it with `get`). The file stays readable while open even if the blob is
   * deleted. Unknown id -> NoSuchKey.
   */
  openFile?(id: string): number | undefined;

  /** The blob's size, or undefined when there is no such blob. */
  stat(id: string): Promise<{ size: number } | undefined>;

  /** Deletes a blob; deleting an unknown id is not an error (deletes are retried by GC). */
  delete(id: string): Promise<void>;

  /** Starts a multipart upload; returns its id (opaque; clients echo it back as `uploadId`). */
  createMultipartUpload(): Promise<string>;

  /**
   * Stores part `partNumber` (1..10,000) of an upload. Uploading a part number again replaces
   * it. Unknown upload -> NoSuchUpload; other bad input as for `put`.
   */
  putPart(
    uploadId: string,
    partNumber: number,
    source: AsyncIterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<StoredPart>;

  /** The parts stored so far, ascending by part number (ListParts). */
  listParts(uploadId: string): Promise<StoredPart[]>;

  /**
   * Completes an upload from the parts the client lists (in ascending order, ETags as returned
   * by `putPart`) and returns the new blob, whose ETag is S3's multipart form
   * `hex(md5(md5(part1) ‖ … ‖ md5(partN)))-N`. The upload is gone afterwards; parts not listed
   * are discarded.
   */
  completeMultipartUpload(
    uploadId: string,
    parts: readonly CompletedPart[],
    options?: CompleteOptions,
  ): Promise<StoredBlob>;

  /** Discards an upload and its parts. Unknown upload -> NoSuchUpload. */
  abortMultipartUpload(uploadId: string): Promise<void>;

  /** Every published blob, for the caller's orphan collection. */
  listBlobs(): AsyncIterable<BlobInfo>;

  /** Every multipart upload in progress, for stale-upload cleanup. */
  listMultipartUploads(): AsyncIterable<UploadInfo>;

  /**
   * Removes temporary files older than `olderThanMs` left by interrupted writes (a killed
   * process), and deleted blobs kept for reads under way. Call with 0 at startup, before
   * serving, then periodically with a bound longer than any download (e.g. one hour);
   * returns how many entries were removed.
   */
  sweepTemporary(olderThanMs?: number): Promise<number>;
}

/** Options of a write. */
export interface PutOptions {
  /** The declared length (Content-Length or x-amz-decoded-content-length); enforced exactly. */
  expectedSize?: number;
  /** Largest accepted blob (default: S3's 5 GiB for a single PUT or a part). */
  maxSize?: number;
  /** Checksums to compute besides MD5 (which is always computed: it is the ETag). */
  checksumAlgorithms?: Iterable<ChecksumAlgorithm>;
  /**
   * What the client claimed. A function is called once the source has ended, so that
   * checksums from aws-chunked trailers can be included. Checked before publishing.
   */
  expected?: ExpectedChecksums | (() => ExpectedChecksums);
}

/** Options of `completeMultipartUpload`. */
export interface CompleteOptions {
  /** Smallest allowed part except the last (S3: 5 MiB). Lowered in tests. */
  minPartSize?: number;
}

/** A published blob. `etag` is unquoted hex; `checksums` are base64 (as S3 returns them). */
export interface StoredBlob {
  id: string;
  size: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
}

/** A stored part of a multipart upload. */
export interface StoredPart {
  partNumber: number;
  size: number;
  etag: string;
  checksums: Partial<Record<ChecksumAlgorithm, string>>;
  lastModified: Date;
}

/** A part as listed in CompleteMultipartUpload. ETags may be quoted, as clients send them. */
export interface CompletedPart {
  partNumber: number;
  etag: string;
}

/** Inclusive byte offsets, as in HTTP ranges: `{ start: 0, end: 0 }` is the first byte. */
export interface ByteRange {
  start: number;
  end: number;
}

/** A blob found by `listBlobs`. */
export interface BlobInfo {
  id: string;
  size: number;
  modifiedAt: Date;
}

/** An upload found by `listMultipartUploads`. */
export interface UploadInfo {
  uploadId: string;
  modifiedAt: Date;
}

/** S3's part-number range. */
export const MIN_PART_NUMBER = 1;
export const MAX_PART_NUMBER = 10_000;
/** S3's limits: 5 GiB per PUT or part, 5 MiB minimum part size (all but the last). */
export const MAX_PUT_SIZE = 5 * 1024 ** 3;
export const MIN_PART_SIZE = 5 * 1024 ** 2;
