import { InputError, NotFoundError } from '../errors.js';
import type { CompletedPart, StoredBlob, StoredPart } from '../objects/object-backend.js';
import { multipartEtag, unquoteEtag } from '../objects/multipart-etag.js';
import { assertValidObjectKey } from '../s3/bucket-name.js';
import { S3Error } from '../s3/s3-errors.js';
import type {
  ContentHeaders,
  ListPosition,
  MultipartPart,
  MultipartUpload,
  MultipartUploadListing,
  NewObjectMetadata,
  ObjectListing,
  ObjectMetadata,
  ObjectSummary,
  PutObjectResult,
  WriteConditions,
} from '../store/data-plane-types.js';
import type { Store } from '../store/store.js';
import type { Tags } from '../store/store-types.js';
import { checkS3Tags } from './bucket-service.js';

/** Options of {@link ObjectService}. */
export interface ObjectServiceOptions {
  readonly store: Store;
}

/** S3: at most 2 KB of user-defined metadata (names and values, UTF-8) per object. */
export const MAX_USER_METADATA_BYTES = 2048;
/** S3: at most 10 tags per object. */
export const MAX_OBJECT_TAGS = 10;
// S3's smallest part except the last (CompleteMultipartUpload EntityTooSmall).
const MIN_PART_SIZE = 5 * 1024 * 1024;

/** The metadata a client sets on PUT, CreateMultipartUpload or a REPLACE copy. */
export interface ObjectAttributes {
  contentType?: string | null;
  contentHeaders?: ContentHeaders;
  userMetadata?: Record<string, string>;
  tags?: Tags;
}

/** A ListObjectsV2 page as the XML renderer takes it. */
export interface ListObjectsV2Result {
  objects: ObjectSummary[];
  commonPrefixes: string[];
  isTruncated: boolean;
  keyCount: number;
  nextContinuationToken: string | undefined;
}

/** A ListObjects (V1) page. */
export interface ListObjectsV1Result {
  objects: ObjectSummary[];
  commonPrefixes: string[];
  isTruncated: boolean;
  /** S3 sends it only with a delimiter; without one clients continue from the last key. */
  nextMarker: string | undefined;
}

/** A ListObjectVersions page: an unversioned bucket lists each object once, version `null`. */
export interface ListObjectVersionsResult {
  versions: (ObjectSummary & { versionId: 'null'; isLatest: true })[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker: string | undefined;
  nextVersionIdMarker: string | undefined;
}

/** The result of DeleteObjects: S3 reports every key as deleted, whether it existed or not. */
export interface DeleteObjectsResult {
  deleted: string[];
  /** Blobs to delete from the backend after the commit. */
  blobIds: string[];
}

function checkUserMetadata(meta: Record<string, string> | undefined): void {
  if (!meta) return;
  let bytes = 0;
  for (const [k, v] of Object.entries(meta)) {
    if (typeof v !== 'string') throw new InputError(`metadata "${k}" must be a string`);
    bytes += Buffer.byteLength(k, 'utf8') + Buffer.byteLength(v, 'utf8');
  }
  if (bytes > MAX_USER_METADATA_BYTES) {
    throw new S3Error(
      'MetadataTooLarge',
      `User metadata is ${bytes} bytes; S3 allows at most ${MAX_USER_METADATA_BYTES} (names and values).`,
    );
  }
}

function checkMaxKeys(maxKeys: number | undefined): number {
  const n = maxKeys ?? 1000;
  if (!Number.isInteger(n) || n < 0) throw new InputError('max-keys must be a non-negative whole number');
  // S3 caps a page at 1,000 whatever the client asks.
  return Math.min(n, 1000);
}

/** The opaque ListObjectsV2 continuation token for a position (base64url JSON, versioned). */
export function encodeContinuationToken(position: ListPosition): string {
  return Buffer.from(JSON.stringify(['v1', position.value, position.isPrefix ? 1 : 0])).toString('base64url');
}

/** The position of a continuation token; a token we did not issue is S3's InvalidArgument. */
export function decodeContinuationToken(token: string): ListPosition {
  try {
    const [v, value, isPrefix] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as unknown[];
    if (v === 'v1' && typeof value === 'string' && (isPrefix === 0 || isPrefix === 1))
      return { value, isPrefix: isPrefix === 1 };
  } catch {
    // fall through to the typed error
  }
  throw new InputError('The continuation token provided is incorrect');
}

/**
 * V1 markers and version key markers may be a common prefix returned as NextMarker: a marker
 * that ends at a delimiter under the prefix resumes after every key of that group.
 */
function markerPosition(
  marker: string | undefined,
  prefix: string,
  delimiter: string | undefined,
): ListPosition | undefined {
  if (!marker) return undefined;
  const isGroup =
    delimiter !== undefined &&
    delimiter !== '' &&
    marker.startsWith(prefix) &&
    marker.endsWith(delimiter) &&
    marker.indexOf(delimiter, prefix.length) === marker.length - delimiter.length;
  return { value: marker, isPrefix: isGroup };
}

/**
 * Object metadata operations the S3 wiring calls around the object backend. The write
 * protocol: the backend makes the blob durable first, then one of the commit calls here
 * (`putObject`, `copyObject`, `completeMultipartUpload`) records it; each returns the blob it
 * replaced, which the caller deletes from the backend after the commit. Deletes return the
 * blob ids the same way. Nothing here touches bytes.
 */
export class ObjectService {
  readonly #store: Store;

  constructor(options: ObjectServiceOptions) {
    this.#store = options.store;
  }

  async #requireBucket(bucket: string): Promise<void> {
    if (!(await this.#store.getBucket(bucket)))
      throw new NotFoundError(`bucket "${bucket}" does not exist`, { code: 'ERR_NO_SUCH_BUCKET' });
  }

  /** HeadObject/GetObject metadata, or NotFoundError ERR_NO_SUCH_KEY (ERR_NO_SUCH_BUCKET when the bucket is missing). */
  async headObject(bucket: string, key: string): Promise<ObjectMetadata> {
    const o = await this.#store.getObject(bucket, key);
    if (o) return o;
    await this.#requireBucket(bucket);
    throw new NotFoundError('The specified key does not exist.', { code: 'ERR_NO_SUCH_KEY' });
  }

  /** PutObject's commit, after `backend.put` resolved with `blob`. */
  async putObject(
    bucket: string,
    key: string,
    blob: StoredBlob,
    attributes: ObjectAttributes & { ownerArn?: string } = {},
    conditions?: WriteConditions,
  ): Promise<PutObjectResult> {
    assertValidObjectKey(key);
    checkUserMetadata(attributes.userMetadata);
    if (attributes.tags) checkS3Tags(attributes.tags, MAX_OBJECT_TAGS);
    return this.#store.putObject(
      {
        bucket,
        key,
        blobId: blob.id,
        size: blob.size,
        etag: blob.etag,
        checksums: blob.checksums as Record<string, string>,
        contentType: attributes.contentType ?? null,
        contentHeaders: attributes.contentHeaders,
        userMetadata: attributes.userMetadata,
        tags: attributes.tags,
        ownerArn: attributes.ownerArn,
      },
      conditions,
    );
  }

  /**
   * CopyObject's commit, after the backend wrote the copy's bytes as `blob` (read them from
   * `source.blobId`, found with `headObject`). `metadataDirective` COPY keeps the source's
   * content headers and user metadata, REPLACE takes `replacement`'s; tags likewise with
   * `taggingDirective`. Copying an object onto itself without changing anything is S3's
   * InvalidRequest.
   */
  async copyObject(
    source: ObjectMetadata,
    target: { bucket: string; key: string; ownerArn?: string },
    blob: StoredBlob,
    options: {
      metadataDirective?: 'COPY' | 'REPLACE';
      taggingDirective?: 'COPY' | 'REPLACE';
      replacement?: ObjectAttributes;
      conditions?: WriteConditions;
    } = {},
  ): Promise<PutObjectResult> {
    const metadata = options.metadataDirective ?? 'COPY';
    const tagging = options.taggingDirective ?? 'COPY';
    if (metadata !== 'COPY' && metadata !== 'REPLACE')
      throw new InputError('x-amz-metadata-directive is COPY or REPLACE');
    if (tagging !== 'COPY' && tagging !== 'REPLACE')
      throw new InputError('x-amz-tagging-directive is COPY or REPLACE');
    if (source.bucket === target.bucket && source.key === target.key && metadata === 'COPY') {
      throw new S3Error(
        'InvalidRequest',
        "This copy request is illegal because it is trying to copy an object to itself without changing the object's metadata, storage class, website redirect location or encryption attributes.",
      );
    }
    const r = options.replacement ?? {};
    const attributes: ObjectAttributes =
      metadata === 'COPY'
        ? {
            contentType: source.contentType,
            contentHeaders: source.contentHeaders,
            userMetadata: source.userMetadata,
          }
        : { contentType: r.contentType, contentHeaders: r.contentHeaders, userMetadata: r.userMetadata };
    attributes.tags = tagging === 'COPY' ? source.tags : r.tags;
    return this.putObject(
      target.bucket,
      target.key,
      blob,
      { ...attributes, ownerArn: target.ownerArn },
      options.conditions,
    );
  }

  /** DeleteObject: the blob id to delete after the commit, or undefined when there was no such key. */
  async deleteObject(bucket: string, key: string, conditions?: WriteConditions): Promise<string | undefined> {
    return this.#store.deleteObject(bucket, key, conditions);
  }

  /** DeleteObjects (at most 1,000 keys). */
  async deleteObjects(bucket: string, keys: readonly string[]): Promise<DeleteObjectsResult> {
    if (keys.length === 0) throw new S3Error('MalformedXML', 'DeleteObjects needs at least one key.');
    const deleted = await this.#store.deleteObjects(bucket, keys);
    return { deleted: [...new Set(keys)], blobIds: [...deleted.values()] };
  }

  /** GetObjectTagging. */
  async getObjectTagging(bucket: string, key: string): Promise<Tags> {
    return (await this.headObject(bucket, key)).tags;
  }

  /** PutObjectTagging (replaces the set; `{}` is DeleteObjectTagging). */
  async putObjectTagging(bucket: string, key: string, tags: Tags): Promise<void> {
    checkS3Tags(tags, MAX_OBJECT_TAGS);
    await this.#store.putObjectTags(bucket, key, tags);
  }

  /** ListObjectsV2. `continuationToken` wins over `startAfter`, as in S3. */
  async listObjectsV2(
    bucket: string,
    query: {
      prefix?: string;
      delimiter?: string;
      maxKeys?: number;
      startAfter?: string;
      continuationToken?: string;
    },
  ): Promise<ListObjectsV2Result> {
    const maxKeys = checkMaxKeys(query.maxKeys);
    const after: ListPosition | undefined =
      query.continuationToken !== undefined
        ? decodeContinuationToken(query.continuationToken)
        : query.startAfter
          ? { value: query.startAfter, isPrefix: false }
          : undefined;
    const page = await this.#list(bucket, {
      prefix: query.prefix,
      delimiter: query.delimiter,
      maxKeys,
      after,
    });
    return {
      objects: page.objects,
      commonPrefixes: page.commonPrefixes,
      isTruncated: page.isTruncated,
      keyCount: page.objects.length + page.commonPrefixes.length,
      nextContinuationToken: page.isTruncated && page.next ? encodeContinuationToken(page.next) : undefined,
    };
  }

  /** ListObjects (V1) with Marker/NextMarker. */
  async listObjectsV1(
    bucket: string,
    query: { prefix?: string; delimiter?: string; maxKeys?: number; marker?: string },
  ): Promise<ListObjectsV1Result> {
    const maxKeys = checkMaxKeys(query.maxKeys);
    const after = markerPosition(query.marker, query.prefix ?? '', query.delimiter);
    const page = await this.#list(bucket, {
      prefix: query.prefix,
      delimiter: query.delimiter,
      maxKeys,
      after,
    });
    return {
      objects: page.objects,
      commonPrefixes: page.commonPrefixes,
      isTruncated: page.isTruncated,
      nextMarker: page.isTruncated ? page.next?.value : undefined,
    };
  }

  /** ListObjectVersions of an unversioned bucket: every object once, version id `null`, latest. */
  async listObjectVersions(
    bucket: string,
    query: {
      prefix?: string;
      delimiter?: string;
      maxKeys?: number;
      keyMarker?: string;
      versionIdMarker?: string;
    },
  ): Promise<ListObjectVersionsResult> {
    const maxKeys = checkMaxKeys(query.maxKeys);
    if (query.versionIdMarker && !query.keyMarker)
      throw new InputError('A version-id marker cannot be specified without a key marker.');
    if (query.versionIdMarker && query.versionIdMarker !== 'null')
      throw new InputError('Invalid version id specified', { code: 'ERR_INVALID_ARGUMENT' });
    const after = markerPosition(query.keyMarker, query.prefix ?? '', query.delimiter);
    const page = await this.#list(bucket, {
      prefix: query.prefix,
      delimiter: query.delimiter,
      maxKeys,
      after,
    });
    const next = page.isTruncated ? page.next : undefined;
    return {
      versions: page.objects.map((o) => ({ ...o, versionId: 'null', isLatest: true })),
      commonPrefixes: page.commonPrefixes,
      isTruncated: page.isTruncated,
      nextKeyMarker: next?.value,
      nextVersionIdMarker: next && !next.isPrefix ? 'null' : undefined,
    };
  }

  async #list(
    bucket: string,
    q: { prefix?: string; delimiter?: string; maxKeys: number; after?: ListPosition },
  ): Promise<ObjectListing> {
    const page = await this.#store.listObjects(bucket, q);
    // An empty page may mean a missing bucket: check only then, so a listing costs one query.
    if (page.objects.length === 0 && page.commonPrefixes.length === 0) await this.#requireBucket(bucket);
    return page;
  }

  // ---- multipart ------------------------------------------------------------------------

  /** CreateMultipartUpload's record, after `backend.createMultipartUpload()` returned `uploadId`. */
  async createMultipartUpload(
    bucket: string,
    key: string,
    uploadId: string,
    attributes: ObjectAttributes & { initiatorArn?: string; checksumAlgorithm?: string } = {},
  ): Promise<MultipartUpload> {
    assertValidObjectKey(key);
    checkUserMetadata(attributes.userMetadata);
    if (attributes.tags) checkS3Tags(attributes.tags, MAX_OBJECT_TAGS);
    return this.#store.createMultipartUpload({
      uploadId,
      bucket,
      key,
      initiatorArn: attributes.initiatorArn,
      contentType: attributes.contentType ?? null,
      contentHeaders: attributes.contentHeaders,
      userMetadata: attributes.userMetadata,
      tags: attributes.tags,
      checksumAlgorithm: attributes.checksumAlgorithm,
    });
  }

  /** The upload, if it belongs to this bucket and key; else NotFoundError ERR_NO_SUCH_UPLOAD (check before UploadPart). */
  async requireUpload(bucket: string, key: string, uploadId: string): Promise<MultipartUpload> {
    const u = await this.#store.getMultipartUpload(uploadId);
    if (!u || u.bucket !== bucket || u.key !== key) {
      throw new NotFoundError(
        'The specified upload does not exist. The upload ID may be invalid, or the upload may have been aborted or completed.',
        { code: 'ERR_NO_SUCH_UPLOAD' },
      );
    }
    return u;
  }

  /** UploadPart's record, after `backend.putPart` stored it. */
  async recordPart(bucket: string, key: string, uploadId: string, part: StoredPart): Promise<MultipartPart> {
    await this.requireUpload(bucket, key, uploadId);
    const { part: recorded } = await this.#store.putMultipartPart({
      uploadId,
      partNumber: part.partNumber,
      size: part.size,
      etag: part.etag,
      checksums: part.checksums as Record<string, string>,
    });
    return recorded;
  }

  /** ListParts. */
  async listParts(
    bucket: string,
    key: string,
    uploadId: string,
    query: { partNumberMarker?: number; maxParts?: number } = {},
  ): Promise<{
    upload: MultipartUpload;
    parts: MultipartPart[];
    isTruncated: boolean;
    nextPartNumberMarker: number;
  }> {
    const upload = await this.requireUpload(bucket, key, uploadId);
    const maxParts = Math.min(query.maxParts ?? 1000, 1000);
    return { upload, ...(await this.#store.listMultipartParts(uploadId, { ...query, maxParts })) };
  }

  /**
   * Checks a CompleteMultipartUpload part list against the recorded parts before the backend
   * assembles anything: ascending part numbers (InvalidPartOrder), each part uploaded with that
   * ETag (InvalidPart), every part but the last at least 5 MiB (EntityTooSmall). Returns the
   * upload and the multipart ETag the completed object will have.
   */
  async checkCompletion(
    bucket: string,
    key: string,
    uploadId: string,
    parts: readonly CompletedPart[],
    options: { minPartSize?: number } = {},
  ): Promise<{ upload: MultipartUpload; etag: string }> {
    const upload = await this.requireUpload(bucket, key, uploadId);
    if (parts.length === 0) throw new S3Error('MalformedXML', 'You must specify at least one part.');
    const { parts: recorded } = await this.#store.listMultipartParts(uploadId);
    const byNumber = new Map(recorded.map((p) => [p.partNumber, p]));
    const min = options.minPartSize ?? MIN_PART_SIZE;
    let previous = 0;
    for (const [i, p] of parts.entries()) {
      if (p.partNumber <= previous)
        throw new S3Error(
          'InvalidPartOrder',
          'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
        );
      previous = p.partNumber;
      const stored = byNumber.get(p.partNumber);
      if (!stored || unquoteEtag(stored.etag) !== unquoteEtag(p.etag))
        throw new S3Error('InvalidPart', `Part ${p.partNumber} was not uploaded or its ETag does not match.`);
      if (i < parts.length - 1 && stored.size < min)
        throw new S3Error(
          'EntityTooSmall',
          `Part ${p.partNumber} is ${stored.size} bytes; every part but the last must be at least ${min}.`,
        );
    }
    return { upload, etag: multipartEtag(parts.map((p) => p.etag)) };
  }

  /**
   * CompleteMultipartUpload's commit, after `backend.completeMultipartUpload` produced `blob`:
   * the object takes the upload's content headers, metadata and tags. Returns the replaced blob.
   */
  async completeMultipartUpload(
    upload: MultipartUpload,
    blob: StoredBlob,
    options: { ownerArn?: string; conditions?: WriteConditions } = {},
  ): Promise<PutObjectResult> {
    const object: NewObjectMetadata = {
      bucket: upload.bucket,
      key: upload.key,
      blobId: blob.id,
      size: blob.size,
      etag: blob.etag,
      checksums: blob.checksums as Record<string, string>,
      contentType: upload.contentType,
      contentHeaders: upload.contentHeaders,
      userMetadata: upload.userMetadata,
      tags: upload.tags,
      ownerArn: options.ownerArn ?? upload.initiatorArn,
    };
    return this.#store.completeMultipartUpload(upload.uploadId, object, options.conditions);
  }

  /** AbortMultipartUpload's record (then `backend.abortMultipartUpload`). */
  async abortMultipartUpload(bucket: string, key: string, uploadId: string): Promise<void> {
    await this.requireUpload(bucket, key, uploadId);
    await this.#store.abortMultipartUpload(uploadId);
  }

  /** ListMultipartUploads. */
  async listMultipartUploads(
    bucket: string,
    query: {
      prefix?: string;
      delimiter?: string;
      keyMarker?: string;
      uploadIdMarker?: string;
      maxUploads?: number;
    } = {},
  ): Promise<MultipartUploadListing> {
    await this.#requireBucket(bucket);
    return this.#store.listMultipartUploads(bucket, { ...query, maxUploads: checkMaxKeys(query.maxUploads) });
  }

  /**
   * Stale-upload cleanup: forgets uploads initiated more than `olderThanMs` ago and aborts each
   * in the backend through `abort` (errors there are left for the backend's own sweep).
   * Returns how many were removed.
   */
  async cleanupStaleUploads(
    olderThanMs: number,
    now: number,
    abort: (uploadId: string) => Promise<void>,
  ): Promise<number> {
    let removed = 0;
    for (;;) {
      const stale = await this.#store.listStaleMultipartUploads(now - olderThanMs, 100);
      if (stale.length === 0) return removed;
      for (const u of stale) {
        try {
          await this.#store.abortMultipartUpload(u.uploadId);
        } catch (error) {
          if ((error as { code?: string }).code !== 'ERR_NO_SUCH_UPLOAD') throw error;
          continue;
        }
        removed++;
        await abort(u.uploadId).catch(() => {});
      }
    }
  }
}
