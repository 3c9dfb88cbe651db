import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  ListPartsCommand,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { S3Error } from '../s3/s3-errors.js';
import { holdEarlyStreamErrors, IngestMeter } from './ingest-meter.js';
import { multipartEtag, unquoteEtag } from './multipart-etag.js';
import {
  type BlobInfo,
  type ByteRange,
  type CompletedPart,
  type CompleteOptions,
  MAX_PART_NUMBER,
  MIN_PART_NUMBER,
  MIN_PART_SIZE,
  type ObjectBackend,
  type PutOptions,
  type StoredBlob,
  type StoredPart,
  type UploadInfo,
} from './object-backend.js';

/** Options of `S3ObjectBackend`: where the upstream store is and how to reach it. */
export interface S3ObjectBackendOptions {
  /** The upstream bucket (must exist; aiam never creates or deletes it). */
  bucket: string;
  /** Key prefix inside the bucket, e.g. `aiam/` (normalised to end with `/`). Default none. */
  prefix?: string;
  /** Endpoint URL of a non-AWS store (MinIO, Ceph, another aiam). Default: AWS S3. */
  endpoint?: string;
  /** Signing region. Default `AWS_REGION` or `us-east-1`. */
  region?: string;
  /** Static credentials; without them the SDK's default chain (env, profile, IMDS…) applies. */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Path-style addressing (`endpoint/bucket/key`). Default: true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** A ready client (tests, custom agents); the connection options above are then ignored. */
  client?: S3Client;
  /**
   * Size of the upstream parts a large or unknown-length `put` is cut into (default 8 MiB,
   * at least S3's 5 MiB). At most two parts are held in memory per write.
   */
  partSize?: number;
  /**
   * `sweepTemporary` never removes upstream uploads or part objects younger than this
   * (default one hour): in a scale-out deployment other nodes share the upstream, and a node
   * starting up with `sweepTemporary(0)` must not abort their writes under way.
   */
  minSweepAgeMs?: number;
}

// S3 refuses CompleteMultipartUpload when a part other than the last is smaller than this.
const UPSTREAM_MIN_PART = 5 * 1024 * 1024;
// A part of unknown length is buffered to learn its length (UploadPart needs Content-Length);
// above this, S3's own answer applies: MissingContentLength.
const MAX_BUFFERED_PART = 64 * 1024 * 1024;

// Ids: 32 hex chars for a single `put`, `m` + 32 hex for a completed multipart upload. An
// upload id is `<32 hex>.<base64url(upstream upload id)>`: stateless, so any node can continue
// an upload another started. Ids are checked against these patterns before they become keys.
const SINGLE_ID = /^[0-9a-f]{32}$/;
const MULTI_ID = /^m[0-9a-f]{32}$/;
const UPLOAD_ID = /^([0-9a-f]{32})\.([A-Za-z0-9_-]{1,1400})$/;
const PART_OBJECT = /^(\d{5})\.([0-9a-f]{32})$/;

const newHex = () => randomBytes(16).toString('hex');

interface ParsedUpload {
  hex: string;
  key: string;
  upstreamId: string;
}

interface PartRecord {
  partNumber: number;
  size: number;
  etag: string;
  lastModified: Date;
  /** Set when the part is a standalone object (smaller than S3's minimum part size). */
  objectKey?: string;
}

/**
 * An object backend over an upstream S3-compatible store (AWS S3, MinIO, Ceph, or another
 * aiam). aiam still authenticates and authorizes every request; the upstream only sees aiam's
 * own credentials and opaque keys:
 *
 *   <prefix>blobs/<32 hex>            a blob written by `put`
 *   <prefix>blobs/m<32 hex>           a blob completed from a multipart upload (same hex as its upload)
 *   <prefix>parts/<32 hex>/<nnnnn>.<md5>  a part smaller than 5 MiB, kept as its own object
 *
 * Writes: `put` holds at most two upload parts (`partSize`) in memory, one filling, one uploading. A body that fits in one
 * part becomes one PutObject; a larger one an upstream multipart upload. The last bytes are
 * sent only once size and checksums have been verified (the upstream commits nothing until
 * then), and a failed write aborts its upstream upload, so a bad write publishes nothing.
 *
 * Multipart: the interface lets a caller lower the minimum part size (`minPartSize`) and
 * learns whether a part is the last only at completion, while S3 refuses small non-last parts.
 * So parts of at least 5 MiB stream straight into an upstream multipart upload under the
 * same part number, and smaller ones are kept as standalone objects. Completion then
 *   - sends a small last part into the upstream upload and completes it (the usual case:
 *     every part but the last is >= 5 MiB): O(parts) upstream, no bytes copied but the tail;
 *   - when every chosen part is small (only with a lowered `minPartSize`), streams them
 *     concatenated into the blob and aborts the upstream upload;
 *   - refuses a small part between large ones with EntityTooSmall (only reachable with a
 *     lowered `minPartSize`: upstream parts cannot be read back before completion).
 * The ETag is computed here in every case (S3's multipart form), so it never depends on how
 * the upstream stored the bytes. Upstream part ETags must be their MD5 (true of S3 without
 * SSE-KMS/SSE-C, MinIO, Ceph and aiam).
 */
export class S3ObjectBackend implements ObjectBackend {
  readonly bucket: string;
  readonly prefix: string;
  readonly #client: S3Client;
  readonly #partSize: number;
  readonly #minSweepAgeMs: number;

  constructor(options: S3ObjectBackendOptions) {
    this.bucket = options.bucket;
    const prefix = options.prefix ?? '';
    this.prefix = prefix === '' || prefix.endsWith('/') ? prefix : `${prefix}/`;
    this.#partSize = Math.max(options.partSize ?? 8 * 1024 * 1024, UPSTREAM_MIN_PART);
    this.#minSweepAgeMs = options.minSweepAgeMs ?? 60 * 60 * 1000;
    this.#client =
      options.client ??
      new S3Client({
        region: options.region ?? process.env.AWS_REGION ?? 'us-east-1',
        ...(options.endpoint ? { endpoint: options.endpoint } : {}),
        forcePathStyle: options.forcePathStyle ?? options.endpoint !== undefined,
        ...(options.credentials ? { credentials: options.credentials } : {}),
      });
  }

  /** Closes the client's connections. */
  close(): void {
    this.#client.destroy();
  }

  #blobKey(id: string): string {
    return `${this.prefix}blobs/${id}`;
  }

  #partsPrefix(hex: string): string {
    return `${this.prefix}parts/${hex}/`;
  }

  async put(source: AsyncIterable<Uint8Array>, options?: PutOptions): Promise<StoredBlob> {
    const release = holdEarlyStreamErrors(source);
    try {
      const meter = new IngestMeter(options);
      const id = newHex();
      const written = await this.#write(this.#blobKey(id), source, meter);
      return { id, ...written };
    } finally {
      release();
    }
  }

  /**
   * Streams `source` to `key`, one part in memory at a time; the final bytes go out only
   * after `meter.finish()` accepted size and checksums.
   */
  async #write(
    key: string,
    source: AsyncIterable<Uint8Array>,
    meter: IngestMeter,
  ): Promise<Omit<StoredBlob, 'id'>> {
    let pending: Uint8Array[] = [];
    let pendingSize = 0;
    let upload: { uploadId: string; parts: { PartNumber: number; ETag: string }[] } | undefined;
    let inFlight: Promise<void> | undefined;
    const sendPart = async (body: Buffer) => {
      if (!upload) {
        const created = await this.#call(() =>
          this.#client.send(new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: key })),
        );
        upload = { uploadId: created.UploadId!, parts: [] };
      }
      const PartNumber = upload.parts.length + 1;
      upload.parts.push({ PartNumber, ETag: '' });
      const r = await this.#call(() =>
        this.#client.send(
          new UploadPartCommand({
            Bucket: this.bucket,
            Key: key,
            UploadId: upload!.uploadId,
            PartNumber,
            Body: body,
            ContentMD5: createHash('md5').update(body).digest('base64'),
          }),
        ),
      );
      upload.parts[PartNumber - 1]!.ETag = r.ETag!;
    };
    try {
      for await (const chunk of source) {
        meter.observe(chunk);
        if (pendingSize >= this.#partSize) {
          // Two parts at most in memory: the one uploading and the one filling.
          await inFlight;
          const body = Buffer.concat(pending);
          pending = [];
          pendingSize = 0;
          if (!upload) await sendPart(body);
          else {
            // Awaited before the next part and at the end; until then a failure must not
            // count as an unhandled rejection (which would end the process).
            inFlight = sendPart(body);
            inFlight.catch(() => {});
          }
        }
        pending.push(chunk);
        pendingSize += chunk.length;
      }
      await inFlight;
      const done = meter.finish();
      const rest = Buffer.concat(pending);
      if (!upload) {
        await this.#call(() =>
          this.#client.send(
            new PutObjectCommand({
              Bucket: this.bucket,
              Key: key,
              Body: rest,
              ContentLength: rest.length,
              ContentMD5: done.digests.MD5!.toString('base64'),
            }),
          ),
        );
      } else {
        if (rest.length > 0) await sendPart(rest);
        const u = upload;
        await this.#call(() =>
          this.#client.send(
            new CompleteMultipartUploadCommand({
              Bucket: this.bucket,
              Key: key,
              UploadId: u.uploadId,
              MultipartUpload: { Parts: u.parts },
            }),
          ),
        );
      }
      return { size: done.size, etag: done.etag, checksums: done.checksums };
    } catch (error) {
      await inFlight?.catch(() => {});
      if (upload) await this.#abortQuietly(key, upload.uploadId);
      throw error;
    }
  }

  async get(id: string, range?: ByteRange): Promise<Readable> {
    if (!SINGLE_ID.test(id) && !MULTI_ID.test(id)) throw new S3Error('NoSuchKey');
    if (range) {
      if (!Number.isSafeInteger(range.start) || !Number.isSafeInteger(range.end) || range.start < 0) {
        throw new S3Error('InvalidRange');
      }
      if (range.end < range.start) throw new S3Error('InvalidRange');
    }
    const r = await this.#call(
      () =>
        this.#client.send(
          new GetObjectCommand({
            Bucket: this.bucket,
            Key: this.#blobKey(id),
            ...(range ? { Range: `bytes=${range.start}-${range.end}` } : {}),
          }),
        ),
      'NoSuchKey',
    );
    return r.Body as Readable;
  }

  async stat(id: string): Promise<{ size: number } | undefined> {
    if (!SINGLE_ID.test(id) && !MULTI_ID.test(id)) return undefined;
    try {
      const r = await this.#call(
        () => this.#client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.#blobKey(id) })),
        'NoSuchKey',
      );
      return { size: r.ContentLength ?? 0 };
    } catch (error) {
      if (error instanceof S3Error && error.s3Code === 'NoSuchKey') return undefined;
      throw error;
    }
  }

  async delete(id: string): Promise<void> {
    if (!SINGLE_ID.test(id) && !MULTI_ID.test(id)) return;
    await this.#call(
      () => this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.#blobKey(id) })),
      'NoSuchKey',
    ).catch((error: unknown) => {
      if (!(error instanceof S3Error && error.s3Code === 'NoSuchKey')) throw error;
    });
  }

  async createMultipartUpload(): Promise<string> {
    const hex = newHex();
    const r = await this.#call(() =>
      this.#client.send(
        new CreateMultipartUploadCommand({ Bucket: this.bucket, Key: this.#blobKey(`m${hex}`) }),
      ),
    );
    return `${hex}.${Buffer.from(r.UploadId!).toString('base64url')}`;
  }

  #parseUpload(uploadId: string): ParsedUpload {
    const m = UPLOAD_ID.exec(uploadId);
    const upstreamId = m ? Buffer.from(m[2]!, 'base64url').toString() : '';
    // Round-trip check: only the exact encoding we issued is accepted.
    if (!m || Buffer.from(upstreamId).toString('base64url') !== m[2]) {
      throw new S3Error('NoSuchUpload', undefined, { details: { UploadId: uploadId.slice(0, 200) } });
    }
    return { hex: m[1]!, key: this.#blobKey(`m${m[1]}`), upstreamId };
  }

  async putPart(
    uploadId: string,
    partNumber: number,
    source: AsyncIterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<StoredPart> {
    const release = holdEarlyStreamErrors(source);
    try {
      return await this.#putPart(uploadId, partNumber, source, options);
    } finally {
      release();
    }
  }

  async #putPart(
    uploadId: string,
    partNumber: number,
    source: AsyncIterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<StoredPart> {
    const upload = this.#parseUpload(uploadId);
    if (!Number.isInteger(partNumber) || partNumber < MIN_PART_NUMBER || partNumber > MAX_PART_NUMBER) {
      throw new S3Error(
        'InvalidArgument',
        `Part number must be an integer between ${MIN_PART_NUMBER} and ${MAX_PART_NUMBER}, inclusive.`,
        { details: { ArgumentName: 'partNumber', ArgumentValue: String(partNumber) } },
      );
    }
    const meter = new IngestMeter(options);
    const numbered = String(partNumber).padStart(5, '0');
    if (options?.expectedSize !== undefined && options.expectedSize >= UPSTREAM_MIN_PART) {
      const done = await this.#streamPart(upload, partNumber, options.expectedSize, source, meter);
      await this.#deletePartObjects(upload.hex, `${numbered}.`);
      return {
        partNumber,
        size: done.size,
        etag: done.etag,
        checksums: done.checksums,
        lastModified: new Date(),
      };
    }
    // Unknown or small length: buffer (bounded) to learn the size, then decide.
    const chunks: Uint8Array[] = [];
    let size = 0;
    for await (const chunk of source) {
      meter.observe(chunk);
      size += chunk.length;
      if (size > MAX_BUFFERED_PART) throw new S3Error('MissingContentLength');
      chunks.push(chunk);
    }
    const done = meter.finish();
    const body = Buffer.concat(chunks);
    const contentMd5 = done.digests.MD5!.toString('base64');
    if (body.length >= UPSTREAM_MIN_PART) {
      await this.#call(
        () =>
          this.#client.send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: upload.key,
              UploadId: upload.upstreamId,
              PartNumber: partNumber,
              Body: body,
              ContentMD5: contentMd5,
            }),
          ),
        'NoSuchUpload',
      );
      await this.#deletePartObjects(upload.hex, `${numbered}.`);
    } else {
      const objectKey = `${this.#partsPrefix(upload.hex)}${numbered}.${done.etag}`;
      await this.#call(() =>
        this.#client.send(
          new PutObjectCommand({ Bucket: this.bucket, Key: objectKey, Body: body, ContentMD5: contentMd5 }),
        ),
      );
      // The upload must still exist (an abort may have raced this part); S3 answers
      // NoSuchUpload for parts of an aborted or completed upload, so must we.
      try {
        await this.#listUpstreamParts(upload, 1);
      } catch (error) {
        await this.#deleteKey(objectKey);
        throw error;
      }
      await this.#deletePartObjects(upload.hex, `${numbered}.`, objectKey);
    }
    return {
      partNumber,
      size: done.size,
      etag: done.etag,
      checksums: done.checksums,
      lastModified: new Date(),
    };
  }

  /**
   * Streams a part of declared length straight into the upstream upload. The last chunk is
   * held back until the meter accepted size and checksums: with Content-Length declared the
   * upstream stores nothing until every byte arrived, so a rejected part never lands.
   */
  async #streamPart(
    upload: ParsedUpload,
    partNumber: number,
    expectedSize: number,
    source: AsyncIterable<Uint8Array>,
    meter: IngestMeter,
  ): Promise<ReturnType<IngestMeter['finish']>> {
    let failure: unknown;
    let done: ReturnType<IngestMeter['finish']> | undefined;
    async function* gated(): AsyncGenerator<Uint8Array> {
      try {
        let held: Uint8Array | undefined;
        for await (const chunk of source) {
          meter.observe(chunk);
          if (held) yield held;
          held = chunk;
        }
        done = meter.finish();
        if (held) yield held;
      } catch (error) {
        failure = error;
        throw error;
      }
    }
    try {
      await this.#call(
        () =>
          this.#client.send(
            new UploadPartCommand({
              Bucket: this.bucket,
              Key: upload.key,
              UploadId: upload.upstreamId,
              PartNumber: partNumber,
              Body: Readable.from(gated(), { objectMode: false }),
              ContentLength: expectedSize,
            }),
          ),
        'NoSuchUpload',
      );
    } catch (error) {
      throw failure ?? error;
    }
    if (failure) throw failure;
    if (!done) throw new S3Error('IncompleteBody');
    return done;
  }

  async #listUpstreamParts(upload: ParsedUpload, maxParts?: number): Promise<PartRecord[]> {
    const parts: PartRecord[] = [];
    let marker: string | undefined;
    for (;;) {
      const r = await this.#call(
        () =>
          this.#client.send(
            new ListPartsCommand({
              Bucket: this.bucket,
              Key: upload.key,
              UploadId: upload.upstreamId,
              ...(marker ? { PartNumberMarker: marker } : {}),
              ...(maxParts ? { MaxParts: maxParts } : {}),
            }),
          ),
        'NoSuchUpload',
      );
      for (const p of r.Parts ?? []) {
        parts.push({
          partNumber: p.PartNumber!,
          size: p.Size ?? 0,
          etag: unquoteEtag(p.ETag ?? '').toLowerCase(),
          lastModified: p.LastModified ?? new Date(0),
        });
      }
      if (maxParts || !r.IsTruncated || !r.NextPartNumberMarker) return parts;
      marker = String(r.NextPartNumberMarker);
    }
  }

  /** The upload's parts: upstream parts, overridden by standalone small-part objects. */
  async #parts(upload: ParsedUpload): Promise<Map<number, PartRecord>> {
    const parts = new Map<number, PartRecord>();
    for (const p of await this.#listUpstreamParts(upload)) parts.set(p.partNumber, p);
    // A small part object exists only if it was written after any upstream part of its number
    // (a large part deletes the small objects of its number once stored).
    for await (const o of this.#listObjects(this.#partsPrefix(upload.hex))) {
      const m = PART_OBJECT.exec(o.key.slice(this.#partsPrefix(upload.hex).length));
      if (!m) continue;
      const partNumber = Number(m[1]);
      const previous = parts.get(partNumber);
      if (previous?.objectKey && previous.lastModified > o.modifiedAt) continue;
      parts.set(partNumber, {
        partNumber,
        size: o.size,
        etag: m[2]!,
        lastModified: o.modifiedAt,
        objectKey: o.key,
      });
    }
    return new Map([...parts.entries()].sort((a, b) => a[0] - b[0]));
  }

  async listParts(uploadId: string): Promise<StoredPart[]> {
    const upload = this.#parseUpload(uploadId);
    return [...(await this.#parts(upload)).values()].map((p) => ({
      partNumber: p.partNumber,
      size: p.size,
      etag: p.etag,
      checksums: {},
      lastModified: p.lastModified,
    }));
  }

  async completeMultipartUpload(
    uploadId: string,
    parts: readonly CompletedPart[],
    options?: CompleteOptions,
  ): Promise<StoredBlob> {
    const upload = this.#parseUpload(uploadId);
    const stored = await this.#parts(upload);
    if (parts.length === 0)
      throw new S3Error('MalformedXML', 'The multipart upload must list at least one part.');
    if (parts.length > MAX_PART_NUMBER)
      throw new S3Error('MalformedXML', `At most ${MAX_PART_NUMBER} parts.`);
    const minPartSize = options?.minPartSize ?? MIN_PART_SIZE;
    const chosen: PartRecord[] = [];
    let previous = 0;
    for (const [i, part] of parts.entries()) {
      if (!Number.isInteger(part.partNumber) || part.partNumber <= previous)
        throw new S3Error('InvalidPartOrder');
      previous = part.partNumber;
      const have = stored.get(part.partNumber);
      const etag = unquoteEtag(part.etag).toLowerCase();
      if (!have || have.etag !== etag) {
        throw new S3Error('InvalidPart', undefined, {
          details: { UploadId: uploadId, PartNumber: part.partNumber, ETag: part.etag.slice(0, 80) },
        });
      }
      if (i < parts.length - 1 && have.size < minPartSize) {
        throw new S3Error('EntityTooSmall', undefined, {
          details: {
            ProposedSize: have.size,
            MinSizeAllowed: minPartSize,
            PartNumber: part.partNumber,
            ETag: etag,
          },
        });
      }
      chosen.push(have);
    }
    const id = `m${upload.hex}`;
    const size = chosen.reduce((n, p) => n + p.size, 0);
    const etag = multipartEtag(chosen.map((p) => p.etag));
    const last = chosen[chosen.length - 1]!;
    const smallInside = chosen.slice(0, -1).some((p) => p.objectKey !== undefined);
    if (!smallInside) {
      if (last.objectKey) {
        // The usual tail: a small last part joins the upstream upload under its number.
        const body = await this.#readAll(last.objectKey);
        await this.#call(
          () =>
            this.#client.send(
              new UploadPartCommand({
                Bucket: this.bucket,
                Key: upload.key,
                UploadId: upload.upstreamId,
                PartNumber: last.partNumber,
                Body: body,
                ContentMD5: Buffer.from(last.etag, 'hex').toString('base64'),
              }),
            ),
          'NoSuchUpload',
        );
      }
      await this.#call(
        () =>
          this.#client.send(
            new CompleteMultipartUploadCommand({
              Bucket: this.bucket,
              Key: upload.key,
              UploadId: upload.upstreamId,
              MultipartUpload: {
                Parts: chosen.map((p) => ({ PartNumber: p.partNumber, ETag: `"${p.etag}"` })),
              },
            }),
          ),
        'NoSuchUpload',
      );
    } else if (chosen.every((p) => p.objectKey !== undefined)) {
      // Only with a lowered minimum part size: the upstream would refuse these parts, so the
      // blob is written from their concatenation and the upstream upload dropped.
      const self = this;
      async function* concatenated(): AsyncGenerator<Uint8Array> {
        for (const p of chosen) yield* (await self.#getKey(p.objectKey!)) as AsyncIterable<Uint8Array>;
      }
      await this.#write(upload.key, concatenated(), new IngestMeter({ expectedSize: size, maxSize: size }));
      await this.#abortQuietly(upload.key, upload.upstreamId);
    } else {
      const small = chosen.find((p, i) => i < chosen.length - 1 && p.objectKey !== undefined)!;
      throw new S3Error(
        'EntityTooSmall',
        `Part ${small.partNumber} (${small.size} bytes) lies between larger parts; the upstream object store needs every part but the last to be at least 5 MiB.`,
        {
          details: {
            ProposedSize: small.size,
            MinSizeAllowed: UPSTREAM_MIN_PART,
            PartNumber: small.partNumber,
          },
        },
      );
    }
    await this.#deletePartObjects(upload.hex, '');
    return { id, size, etag, checksums: {} };
  }

  async abortMultipartUpload(uploadId: string): Promise<void> {
    const upload = this.#parseUpload(uploadId);
    await this.#call(
      () =>
        this.#client.send(
          new AbortMultipartUploadCommand({
            Bucket: this.bucket,
            Key: upload.key,
            UploadId: upload.upstreamId,
          }),
        ),
      'NoSuchUpload',
    );
    await this.#deletePartObjects(upload.hex, '');
  }

  async *listBlobs(): AsyncIterable<BlobInfo> {
    const base = `${this.prefix}blobs/`;
    for await (const o of this.#listObjects(base)) {
      const id = o.key.slice(base.length);
      if (SINGLE_ID.test(id) || MULTI_ID.test(id)) yield { id, size: o.size, modifiedAt: o.modifiedAt };
    }
  }

  async *listMultipartUploads(): AsyncIterable<UploadInfo> {
    const base = `${this.prefix}blobs/`;
    for await (const u of this.#listUpstreamUploads()) {
      const id = u.key.slice(base.length);
      if (!MULTI_ID.test(id)) continue;
      yield {
        uploadId: `${id.slice(1)}.${Buffer.from(u.uploadId).toString('base64url')}`,
        modifiedAt: u.initiated,
      };
    }
  }

  async sweepTemporary(olderThanMs = 0): Promise<number> {
    const cutoff = Date.now() - Math.max(olderThanMs, this.#minSweepAgeMs);
    const base = `${this.prefix}blobs/`;
    let removed = 0;
    const liveUploads = new Set<string>();
    for await (const u of this.#listUpstreamUploads()) {
      const id = u.key.slice(base.length);
      if (MULTI_ID.test(id)) liveUploads.add(id.slice(1));
      // Uploads on single-blob keys belong to a `put` in progress; old ones were interrupted.
      else if (SINGLE_ID.test(id) && u.initiated.getTime() <= cutoff) {
        await this.#abortQuietly(u.key, u.uploadId);
        removed++;
      }
    }
    const parts = `${this.prefix}parts/`;
    for await (const o of this.#listObjects(parts)) {
      const hex = o.key.slice(parts.length).split('/')[0]!;
      if (!liveUploads.has(hex) && o.modifiedAt.getTime() <= cutoff) {
        await this.#deleteKey(o.key);
        removed++;
      }
    }
    return removed;
  }

  // ---- helpers ------------------------------------------------------------------------------

  async *#listObjects(prefix: string): AsyncIterable<{ key: string; size: number; modifiedAt: Date }> {
    let token: string | undefined;
    do {
      const r = await this.#call(() =>
        this.#client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            ...(token ? { ContinuationToken: token } : {}),
          }),
        ),
      );
      for (const o of r.Contents ?? []) {
        yield { key: o.Key!, size: o.Size ?? 0, modifiedAt: o.LastModified ?? new Date(0) };
      }
      token = r.IsTruncated ? r.NextContinuationToken : undefined;
    } while (token);
  }

  async *#listUpstreamUploads(): AsyncIterable<{ key: string; uploadId: string; initiated: Date }> {
    let keyMarker: string | undefined;
    let uploadIdMarker: string | undefined;
    for (;;) {
      const r = await this.#call(() =>
        this.#client.send(
          new ListMultipartUploadsCommand({
            Bucket: this.bucket,
            Prefix: `${this.prefix}blobs/`,
            ...(keyMarker ? { KeyMarker: keyMarker } : {}),
            ...(uploadIdMarker ? { UploadIdMarker: uploadIdMarker } : {}),
          }),
        ),
      );
      for (const u of r.Uploads ?? []) {
        yield { key: u.Key!, uploadId: u.UploadId!, initiated: u.Initiated ?? new Date(0) };
      }
      if (!r.IsTruncated) return;
      keyMarker = r.NextKeyMarker;
      uploadIdMarker = r.NextUploadIdMarker;
      if (!keyMarker) return;
    }
  }

  async #getKey(key: string): Promise<Readable> {
    const r = await this.#call(
      () => this.#client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })),
      'NoSuchKey',
    );
    return r.Body as Readable;
  }

  async #readAll(key: string): Promise<Buffer> {
    const chunks: Buffer[] = [];
    for await (const c of await this.#getKey(key)) chunks.push(c as Buffer);
    return Buffer.concat(chunks);
  }

  async #deleteKey(key: string): Promise<void> {
    await this.#call(() =>
      this.#client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })),
    ).catch((error: unknown) => {
      if (!(error instanceof S3Error && error.s3Code === 'NoSuchKey')) throw error;
    });
  }

  /** Deletes the upload's small-part objects whose name starts with `namePrefix`, except `keep`. */
  async #deletePartObjects(hex: string, namePrefix: string, keep?: string): Promise<void> {
    for await (const o of this.#listObjects(`${this.#partsPrefix(hex)}${namePrefix}`)) {
      if (o.key !== keep) await this.#deleteKey(o.key);
    }
  }

  async #abortQuietly(key: string, upstreamId: string): Promise<void> {
    await this.#client
      .send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: key, UploadId: upstreamId }))
      .catch(() => {});
  }

  /**
   * Runs an upstream call, mapping its failures to aiam's S3 errors. `notFound` names what a
   * 404 means here. Upstream messages are not passed on: they describe aiam's own upstream
   * account (ARNs, bucket names), which is none of the client's business.
   */
  async #call<T>(run: () => Promise<T>, notFound?: 'NoSuchKey' | 'NoSuchUpload'): Promise<T> {
    try {
      return await run();
    } catch (error) {
      throw upstreamError(error, notFound);
    }
  }
}

// Codes that mean the same thing upstream as they do to aiam's client.
const PASSED_THROUGH = new Set([
  'InvalidRange',
  'InvalidPart',
  'InvalidPartOrder',
  'EntityTooSmall',
  'BadDigest',
]);

function upstreamError(error: unknown, notFound?: 'NoSuchKey' | 'NoSuchUpload'): Error {
  if (error instanceof S3Error) return error;
  const e = error as {
    name?: string;
    Code?: string;
    $metadata?: { httpStatusCode?: number; requestId?: string };
  };
  const status = e.$metadata?.httpStatusCode;
  const code = e.Code ?? e.name ?? 'Error';
  if (
    notFound &&
    (code === 'NoSuchKey' ||
      code === 'NoSuchUpload' ||
      code === 'NotFound' ||
      (status === 404 && code !== 'NoSuchBucket'))
  ) {
    return new S3Error(notFound);
  }
  if (PASSED_THROUGH.has(code)) return new S3Error(code as 'InvalidRange');
  const requestId = e.$metadata?.requestId ? `, request id ${e.$metadata.requestId}` : '';
  const what = `The upstream object store answered ${code}${status ? ` (HTTP ${status})` : ''}${requestId}.`;
  // Throttling and outages are worth a retry by the client; anything else (access denied,
  // missing bucket, bad credentials) is aiam's misconfiguration, reported as an internal error.
  if (status === undefined || status >= 500 || code === 'SlowDown' || code === 'TimeoutError') {
    return new S3Error('ServiceUnavailable', `${what} Please retry.`);
  }
  return new S3Error('InternalError', `${what} Check aiam's object store configuration.`);
}

/**
 * Reads `--object-store` / `AIAM_OBJECT_STORE`: `s3://BUCKET/PREFIX?endpoint=URL&region=R&forcePathStyle=true`.
 * Credentials never appear here: they come from the standard AWS environment or profile of the
 * aiam process (the SDK's default chain).
 *
 * @example parseObjectStoreUrl('s3://data/aiam/?endpoint=http://minio:9000') // { bucket: 'data', prefix: 'aiam/', endpoint: … }
 */
export function parseObjectStoreUrl(value: string): S3ObjectBackendOptions {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new S3Error(
      'InvalidArgument',
      `The object store "${value.slice(0, 200)}" is not a URL like s3://BUCKET/PREFIX.`,
    );
  }
  if (url.protocol !== 's3:' || url.hostname === '') {
    throw new S3Error(
      'InvalidArgument',
      `The object store must look like s3://BUCKET/PREFIX?endpoint=URL (got ${url.protocol}).`,
    );
  }
  if (url.username || url.password) {
    throw new S3Error(
      'InvalidArgument',
      'Credentials do not belong in the object store URL; set AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or AWS_PROFILE for the aiam process.',
    );
  }
  const options: S3ObjectBackendOptions = {
    bucket: url.hostname,
    prefix: decodeURIComponent(url.pathname.slice(1)),
  };
  for (const [name, v] of url.searchParams) {
    if (name === 'endpoint') {
      try {
        const endpoint = new URL(v);
        if (endpoint.protocol !== 'http:' && endpoint.protocol !== 'https:') throw new Error();
      } catch {
        throw new S3Error(
          'InvalidArgument',
          `The object store endpoint "${v.slice(0, 200)}" is not an http(s) URL.`,
        );
      }
      options.endpoint = v;
    } else if (name === 'region') options.region = v;
    else if (name === 'forcePathStyle') {
      if (v !== 'true' && v !== 'false') {
        throw new S3Error('InvalidArgument', 'forcePathStyle must be true or false.');
      }
      options.forcePathStyle = v === 'true';
    } else {
      throw new S3Error(
        'InvalidArgument',
        `Unknown object store option "${name}" (known: endpoint, region, forcePathStyle).`,
      );
    }
  }
  return options;
}
