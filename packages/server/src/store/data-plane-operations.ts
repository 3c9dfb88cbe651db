import type { Selectable } from 'kysely';
import { ConflictError, InputError, NotFoundError, PreconditionFailedError } from '../errors.js';
import type { DatabaseSchema } from './database-schema.js';
import type {
  Bucket,
  ListPosition,
  MultipartPart,
  MultipartUpload,
  MultipartUploadListing,
  NewBucket,
  NewMultipartPart,
  NewMultipartUpload,
  NewObjectMetadata,
  ObjectListing,
  ObjectListQuery,
  ObjectMetadata,
  PutObjectResult,
  WriteConditions,
} from './data-plane-types.js';
import {
  beginMutation,
  checkTagSet,
  compareCodePoints,
  fromJson,
  insertUnique,
  OperationsCore,
  prefixUpperBound,
  staleOrMissing,
  toJson,
} from './operations-core.js';
import type { Tags } from './store-types.js';

type Row<T extends keyof DatabaseSchema> = Selectable<DatabaseSchema[T]>;

/** S3's largest page (ListObjects, ListParts, ListMultipartUploads, DeleteObjects). */
export const MAX_LIST_KEYS = 1000;
// When a delimiter groups keys, a page that keeps meeting keys of one common prefix stops
// reading rows and seeks past the prefix instead (one indexed seek beats scanning its keys).
const SKIP_BEFORE_SEEK = 8;
// How often a conditional update is retried when a concurrent writer changed the row between
// our read and our compare-and-swap (PostgreSQL read committed).
const WRITE_RETRIES = 16;

const toBucket = (r: Row<'buckets'>): Bucket => ({
  name: r.name,
  ownerArn: r.owner_arn,
  tags: fromJson(r.tags),
  version: r.version,
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const toObject = (r: Row<'objects'>): ObjectMetadata => ({
  bucket: r.bucket,
  key: r.key,
  blobId: r.blob_id,
  size: Number(r.size),
  etag: r.etag,
  contentType: r.content_type,
  contentHeaders: fromJson(r.content_headers),
  userMetadata: fromJson(r.user_metadata),
  checksums: fromJson(r.checksums),
  tags: fromJson(r.tags),
  ownerArn: r.owner_arn,
  lastModified: Number(r.last_modified),
});

const toUpload = (r: Row<'multipart_uploads'>): MultipartUpload => ({
  uploadId: r.upload_id,
  bucket: r.bucket,
  key: r.key,
  initiatorArn: r.initiator_arn,
  contentType: r.content_type,
  contentHeaders: fromJson(r.content_headers),
  userMetadata: fromJson(r.user_metadata),
  tags: fromJson(r.tags),
  checksumAlgorithm: r.checksum_algorithm,
  initiatedAt: Number(r.initiated_at),
});

const toPart = (r: Row<'multipart_parts'>): MultipartPart => ({
  uploadId: r.upload_id,
  partNumber: r.part_number,
  partId: r.part_id,
  size: Number(r.size),
  etag: r.etag,
  checksums: fromJson(r.checksums),
  lastModified: Number(r.last_modified),
});

function noSuchBucket(name: string): NotFoundError {
  return new NotFoundError(`bucket "${name}" does not exist`, { code: 'ERR_NO_SUCH_BUCKET' });
}

function noSuchUpload(uploadId: string): NotFoundError {
  return new NotFoundError(
    `multipart upload "${uploadId.slice(0, 128)}" does not exist (completed, aborted or never started)`,
    { code: 'ERR_NO_SUCH_UPLOAD' },
  );
}

function checkKey(key: string): void {
  if (
    typeof key !== 'string' ||
    key.length === 0 ||
    Buffer.byteLength(key, 'utf8') > 1024 ||
    key.includes('\0')
  ) {
    throw new InputError('an object key is 1..1024 bytes of UTF-8 without NUL');
  }
}

function checkMaxKeys(maxKeys: number): void {
  if (!Number.isInteger(maxKeys) || maxKeys < 0 || maxKeys > MAX_LIST_KEYS)
    throw new InputError(`max-keys must be a whole number 0..${MAX_LIST_KEYS}`);
}

function checkConditions(current: ObjectMetadata | undefined, c: WriteConditions | undefined): void {
  if (!c) return;
  // S3 conditional writes: If-None-Match: * fails with 412 when the key exists; If-Match with
  // 412 when the ETag differs and 404 (NoSuchKey) when there is no object.
  if (c.ifNoneMatch === '*' && current)
    throw new PreconditionFailedError(`object "${current.key}" already exists (If-None-Match: *)`);
  if (c.ifMatch !== undefined) {
    if (!current)
      throw new NotFoundError('the object does not exist (If-Match)', { code: 'ERR_NO_SUCH_KEY' });
    if (c.ifMatch !== '*' && c.ifMatch !== current.etag)
      throw new PreconditionFailedError(`object "${current.key}" has ETag ${current.etag}, not ${c.ifMatch}`);
  }
}

/**
 * The S3 data plane's metadata: buckets, object metadata keyed by (bucket, key), multipart
 * uploads and their parts. Object bytes live in the object backend under blob ids; these rows
 * are committed only after the backend made a blob durable, and a replaced or deleted object's
 * blob id is returned so the caller deletes the blob after the commit. Object writes are data,
 * not access data: they do not bump the revision. Buckets do (kind `bucket`): their existence
 * and tags feed authorization.
 */
export class DataPlaneOperations extends OperationsCore {
  // ---- buckets --------------------------------------------------------------------------

  /** Creates a bucket; an existing name is ConflictError ERR_BUCKET_ALREADY_OWNED_BY_YOU or ERR_BUCKET_ALREADY_EXISTS. */
  async createBucket(input: NewBucket): Promise<Bucket> {
    const now = beginMutation(this.ctx, 'bucket');
    if (typeof input.name !== 'string' || !/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(input.name))
      throw new InputError(`bucket name "${String(input.name)}" is invalid`);
    const tags = input.tags ?? {};
    checkTagSet(tags);
    const existing = await this.getBucket(input.name);
    if (existing) {
      const mine = existing.ownerArn === input.ownerArn;
      throw new ConflictError(
        mine ? `you already own bucket "${input.name}"` : `bucket "${input.name}" already exists`,
        { code: mine ? 'ERR_BUCKET_ALREADY_OWNED_BY_YOU' : 'ERR_BUCKET_ALREADY_EXISTS' },
      );
    }
    const row: Row<'buckets'> = {
      name: input.name,
      owner_arn: input.ownerArn,
      tags: toJson(tags),
      version: 1,
      created_at: now,
      updated_at: now,
    };
    await insertUnique(
      `bucket "${input.name}"`,
      () => this.db.insertInto('buckets').values(row).execute(),
      'ERR_BUCKET_ALREADY_EXISTS',
    );
    return toBucket(row);
  }

  /** A bucket, or undefined (HeadBucket). */
  async getBucket(name: string): Promise<Bucket | undefined> {
    const r = await this.db.selectFrom('buckets').selectAll().where('name', '=', name).executeTakeFirst();
    return r && toBucket(r);
  }

  /** Every bucket, by name (ListBuckets). */
  async listBuckets(): Promise<Bucket[]> {
    return (await this.db.selectFrom('buckets').selectAll().orderBy('name').execute()).map(toBucket);
  }

  /** Replaces a bucket's tags (PutBucketTagging; `{}` deletes them), at `expectedVersion` when given. */
  async putBucketTags(name: string, tags: Tags, expectedVersion?: number): Promise<Bucket> {
    const now = beginMutation(this.ctx, 'bucket');
    checkTagSet(tags);
    const current = await this.getBucket(name);
    if (!current) throw noSuchBucket(name);
    const expected = expectedVersion ?? current.version;
    const r = await this.db
      .updateTable('buckets')
      .set({ tags: toJson(tags), version: expected + 1, updated_at: now })
      .where('name', '=', name)
      .where('version', '=', expected)
      .returningAll()
      .executeTakeFirst();
    if (!r) return staleOrMissing(`bucket "${name}"`, await this.getBucket(name), expected);
    return toBucket(r);
  }

  /**
   * Deletes an empty bucket with its policy and its multipart uploads. Objects left:
   * ConflictError ERR_BUCKET_NOT_EMPTY. Returns the upload ids to abort in the backend.
   */
  async deleteBucket(name: string, expectedVersion?: number): Promise<{ abortedUploadIds: string[] }> {
    beginMutation(this.ctx, 'bucket');
    const current = await this.getBucket(name);
    if (!current) throw noSuchBucket(name);
    if (expectedVersion !== undefined && current.version !== expectedVersion)
      return staleOrMissing(`bucket "${name}"`, current, expectedVersion);
    const any = await this.db
      .selectFrom('objects')
      .select('key')
      .where('bucket', '=', name)
      .limit(1)
      .executeTakeFirst();
    if (any) {
      throw new ConflictError(`bucket "${name}" is not empty: delete its objects first`, {
        code: 'ERR_BUCKET_NOT_EMPTY',
      });
    }
    const uploads = await this.db
      .deleteFrom('multipart_uploads')
      .where('bucket', '=', name)
      .returning('upload_id')
      .execute();
    const policy = await this.db
      .deleteFrom('resource_policies')
      .where('resource_arn', '=', `arn:aws:s3:::${name}`)
      .executeTakeFirst();
    if (Number(policy.numDeletedRows) > 0) this.ctx.touched.add('resource-policy');
    await this.db.deleteFrom('buckets').where('name', '=', name).execute();
    return { abortedUploadIds: uploads.map((u) => u.upload_id) };
  }

  async #requireBucket(name: string): Promise<void> {
    const r = await this.db.selectFrom('buckets').select('name').where('name', '=', name).executeTakeFirst();
    if (!r) throw noSuchBucket(name);
  }

  // ---- objects --------------------------------------------------------------------------

  /** An object's metadata, or undefined. */
  async getObject(bucket: string, key: string): Promise<ObjectMetadata | undefined> {
    const r = await this.db
      .selectFrom('objects')
      .selectAll()
      .where('bucket', '=', bucket)
      .where('key', '=', key)
      .executeTakeFirst();
    return r && toObject(r);
  }

  /**
   * Commits an object's metadata, creating or replacing it; call only after the backend made
   * `blobId` durable. Returns the blob the object had before (delete it after the commit).
   */
  async putObject(input: NewObjectMetadata, conditions?: WriteConditions): Promise<PutObjectResult> {
    const now = beginMutation(this.ctx, null);
    checkKey(input.key);
    if (!input.blobId) throw new InputError('an object needs the blob id of its bytes');
    if (!Number.isSafeInteger(input.size) || input.size < 0)
      throw new InputError('object size must be a whole number');
    const tags = input.tags ?? {};
    checkTagSet(tags);
    await this.#requireBucket(input.bucket);
    const row: Row<'objects'> = {
      bucket: input.bucket,
      key: input.key,
      blob_id: input.blobId,
      size: input.size,
      etag: input.etag,
      content_type: input.contentType ?? null,
      content_headers: toJson(input.contentHeaders ?? {}),
      user_metadata: toJson(input.userMetadata ?? {}),
      checksums: toJson(input.checksums ?? {}),
      tags: toJson(tags),
      owner_arn: input.ownerArn ?? null,
      last_modified: now,
    };
    for (let attempt = 0; attempt < WRITE_RETRIES; attempt++) {
      const current = await this.getObject(input.bucket, input.key);
      checkConditions(current, conditions);
      if (!current) {
        const r = await this.db
          .insertInto('objects')
          .values(row)
          .onConflict((oc) => oc.columns(['bucket', 'key']).doNothing())
          .executeTakeFirst();
        if (Number(r.numInsertedOrUpdatedRows ?? 0n) > 0)
          return { object: toObject(row), replacedBlobId: undefined };
        continue;
      }
      // Compare-and-swap on the blob id: a concurrent writer that replaced the object after
      // our read makes this match nothing, and we read again (its blob is then ours to report).
      const { bucket: _b, key: _k, ...changes } = row;
      const r = await this.db
        .updateTable('objects')
        .set(changes)
        .where('bucket', '=', input.bucket)
        .where('key', '=', input.key)
        .where('blob_id', '=', current.blobId)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0) return { object: toObject(row), replacedBlobId: current.blobId };
    }
    throw new ConflictError(`object "${input.key}" is being written concurrently; retry`);
  }

  /** Replaces an object's tags (PutObjectTagging; `{}` deletes them). */
  async putObjectTags(bucket: string, key: string, tags: Tags): Promise<ObjectMetadata> {
    beginMutation(this.ctx, null);
    checkTagSet(tags);
    await this.#requireBucket(bucket);
    const r = await this.db
      .updateTable('objects')
      .set({ tags: toJson(tags) })
      .where('bucket', '=', bucket)
      .where('key', '=', key)
      .returningAll()
      .executeTakeFirst();
    if (!r) throw new NotFoundError(`object "${key}" does not exist`, { code: 'ERR_NO_SUCH_KEY' });
    return toObject(r);
  }

  /**
   * Deletes an object's metadata; returns its blob id (delete the blob after the commit), or
   * undefined when there was no such key, which S3 treats as success.
   */
  async deleteObject(bucket: string, key: string, conditions?: WriteConditions): Promise<string | undefined> {
    beginMutation(this.ctx, null);
    await this.#requireBucket(bucket);
    if (conditions) checkConditions(await this.getObject(bucket, key), conditions);
    const r = await this.db
      .deleteFrom('objects')
      .where('bucket', '=', bucket)
      .where('key', '=', key)
      .returning('blob_id')
      .executeTakeFirst();
    return r?.blob_id;
  }

  /** Deletes up to 1,000 keys at once (DeleteObjects); returns each deleted key's blob id. */
  async deleteObjects(bucket: string, keys: readonly string[]): Promise<Map<string, string>> {
    beginMutation(this.ctx, null);
    if (keys.length > MAX_LIST_KEYS) throw new InputError(`delete at most ${MAX_LIST_KEYS} keys at once`);
    await this.#requireBucket(bucket);
    const deleted = new Map<string, string>();
    if (keys.length === 0) return deleted;
    const rows = await this.db
      .deleteFrom('objects')
      .where('bucket', '=', bucket)
      .where('key', 'in', [...new Set(keys)])
      .returning(['key', 'blob_id'])
      .execute();
    for (const r of rows) deleted.set(r.key, r.blob_id);
    return deleted;
  }

  /**
   * One page of ListObjects (V1, V2 and versions). Rows are read in key order from an indexed
   * seek; with a delimiter, once a page keeps meeting keys of one common prefix it seeks past
   * the prefix, so a prefix holding millions of keys costs one seek, not a scan.
   */
  async listObjects(bucket: string, query: ObjectListQuery): Promise<ObjectListing> {
    checkMaxKeys(query.maxKeys);
    const prefix = query.prefix ?? '';
    const delimiter = query.delimiter || undefined;
    const upper = prefix ? prefixUpperBound(prefix) : undefined;
    const page: ObjectListing = { objects: [], commonPrefixes: [], isTruncated: false, next: undefined };
    // The lower bound: the prefix (inclusive), or the position after `after` when that lies beyond it.
    let from: { value: string; inclusive: boolean } | undefined = { value: prefix, inclusive: true };
    const after = query.after;
    if (after && compareCodePoints(after.value, prefix) >= 0) {
      if (after.isPrefix) {
        const past = prefixUpperBound(after.value);
        from = past === undefined ? undefined : { value: past, inclusive: true };
      } else from = { value: after.value, inclusive: false };
    }
    if (upper !== undefined && from && compareCodePoints(from.value, upper) >= 0) from = undefined;
    let count = 0;
    let lastPrefix: string | undefined;
    while (from) {
      const limit = Math.max(query.maxKeys - count + 1, 2);
      let q = this.db
        .selectFrom('objects')
        .select(['key', 'size', 'etag', 'last_modified', 'owner_arn', 'checksums'])
        .where('bucket', '=', bucket)
        .where('key', from.inclusive ? '>=' : '>', from.value);
      if (upper !== undefined) q = q.where('key', '<', upper);
      const rows = await q.orderBy('key').limit(limit).execute();
      let next: { value: string; inclusive: boolean } | undefined;
      let skipped = 0;
      for (const row of rows) {
        next = { value: row.key, inclusive: false };
        let group: string | undefined;
        if (delimiter) {
          const at = row.key.indexOf(delimiter, prefix.length);
          if (at >= 0) group = row.key.slice(0, at + delimiter.length);
        }
        if (group !== undefined && group === lastPrefix) {
          if (++skipped >= SKIP_BEFORE_SEEK) break;
          continue;
        }
        if (count === query.maxKeys) {
          page.isTruncated = count > 0;
          return page;
        }
        count++;
        skipped = 0;
        if (group !== undefined) {
          page.commonPrefixes.push(group);
          lastPrefix = group;
          page.next = { value: group, isPrefix: true };
        } else {
          lastPrefix = undefined;
          page.objects.push({
            key: row.key,
            size: Number(row.size),
            etag: row.etag,
            lastModified: Number(row.last_modified),
            ownerArn: row.owner_arn,
            checksumAlgorithms: Object.keys(fromJson<Record<string, string>>(row.checksums)),
          });
          page.next = { value: row.key, isPrefix: false };
        }
      }
      if (rows.length < limit && skipped < SKIP_BEFORE_SEEK) break;
      if (lastPrefix !== undefined && page.next?.isPrefix) {
        const past = prefixUpperBound(lastPrefix);
        next = past === undefined ? undefined : { value: past, inclusive: true };
      }
      from = next;
    }
    page.next = undefined;
    return page;
  }

  // ---- multipart uploads ----------------------------------------------------------------

  /** Records a multipart upload the backend started. */
  async createMultipartUpload(input: NewMultipartUpload): Promise<MultipartUpload> {
    const now = beginMutation(this.ctx, null);
    checkKey(input.key);
    const tags = input.tags ?? {};
    checkTagSet(tags);
    await this.#requireBucket(input.bucket);
    const row: Row<'multipart_uploads'> = {
      upload_id: input.uploadId,
      bucket: input.bucket,
      key: input.key,
      initiator_arn: input.initiatorArn ?? null,
      content_type: input.contentType ?? null,
      content_headers: toJson(input.contentHeaders ?? {}),
      user_metadata: toJson(input.userMetadata ?? {}),
      tags: toJson(tags),
      checksum_algorithm: input.checksumAlgorithm ?? null,
      initiated_at: now,
    };
    await insertUnique(`upload ${input.uploadId}`, () =>
      this.db.insertInto('multipart_uploads').values(row).execute(),
    );
    return toUpload(row);
  }

  /** An upload in progress, or undefined. */
  async getMultipartUpload(uploadId: string): Promise<MultipartUpload | undefined> {
    const r = await this.db
      .selectFrom('multipart_uploads')
      .selectAll()
      .where('upload_id', '=', uploadId)
      .executeTakeFirst();
    return r && toUpload(r);
  }

  /** ListMultipartUploads: by key then upload id, after (keyMarker, uploadIdMarker). */
  async listMultipartUploads(
    bucket: string,
    query: {
      prefix?: string;
      delimiter?: string;
      keyMarker?: string;
      uploadIdMarker?: string;
      maxUploads: number;
    },
  ): Promise<MultipartUploadListing> {
    checkMaxKeys(query.maxUploads);
    const prefix = query.prefix ?? '';
    let q = this.db
      .selectFrom('multipart_uploads')
      .selectAll()
      .where('bucket', '=', bucket)
      .where('key', '>=', prefix);
    const upper = prefix ? prefixUpperBound(prefix) : undefined;
    if (upper !== undefined) q = q.where('key', '<', upper);
    if (query.keyMarker !== undefined) {
      const marker = query.keyMarker;
      // S3: with an upload-id-marker, uploads of the marker key after that id are included.
      q = query.uploadIdMarker
        ? q.where((eb) =>
            eb.or([
              eb('key', '>', marker),
              eb.and([eb('key', '=', marker), eb('upload_id', '>', query.uploadIdMarker!)]),
            ]),
          )
        : q.where('key', '>', marker);
    }
    const rows = await q.orderBy('key').orderBy('upload_id').execute();
    const out: MultipartUploadListing = {
      uploads: [],
      commonPrefixes: [],
      isTruncated: false,
      nextKeyMarker: undefined,
      nextUploadIdMarker: undefined,
    };
    let count = 0;
    for (const r of rows) {
      let group: string | undefined;
      if (query.delimiter) {
        const at = r.key.indexOf(query.delimiter, prefix.length);
        if (at >= 0) group = r.key.slice(0, at + query.delimiter.length);
      }
      if (group !== undefined && out.commonPrefixes.at(-1) === group) continue;
      if (count === query.maxUploads) {
        out.isTruncated = count > 0;
        break;
      }
      count++;
      if (group !== undefined) {
        out.commonPrefixes.push(group);
        out.nextKeyMarker = group;
        out.nextUploadIdMarker = undefined;
      } else {
        out.uploads.push(toUpload(r));
        out.nextKeyMarker = r.key;
        out.nextUploadIdMarker = r.upload_id;
      }
    }
    if (!out.isTruncated) {
      out.nextKeyMarker = undefined;
      out.nextUploadIdMarker = undefined;
    }
    return out;
  }

  /** Uploads started before `initiatedBefore`, oldest first (stale-upload cleanup). */
  async listStaleMultipartUploads(
    initiatedBefore: number,
    limit = MAX_LIST_KEYS,
  ): Promise<MultipartUpload[]> {
    return (
      await this.db
        .selectFrom('multipart_uploads')
        .selectAll()
        .where('initiated_at', '<', initiatedBefore)
        .orderBy('initiated_at')
        .orderBy('upload_id')
        .limit(limit)
        .execute()
    ).map(toUpload);
  }

  /** Records an uploaded part (replacing one with the same number); returns the replaced part's id. */
  async putMultipartPart(
    input: NewMultipartPart,
  ): Promise<{ part: MultipartPart; replacedPartId: string | undefined }> {
    const now = beginMutation(this.ctx, null);
    if (!Number.isInteger(input.partNumber) || input.partNumber < 1 || input.partNumber > 10_000)
      throw new InputError('part numbers are whole numbers 1..10000');
    if (!(await this.getMultipartUpload(input.uploadId))) throw noSuchUpload(input.uploadId);
    const old = await this.db
      .deleteFrom('multipart_parts')
      .where('upload_id', '=', input.uploadId)
      .where('part_number', '=', input.partNumber)
      .returning('part_id')
      .executeTakeFirst();
    const row: Row<'multipart_parts'> = {
      upload_id: input.uploadId,
      part_number: input.partNumber,
      part_id: input.partId ?? null,
      size: input.size,
      etag: input.etag,
      checksums: toJson(input.checksums ?? {}),
      last_modified: now,
    };
    await insertUnique(`part ${input.partNumber}`, () =>
      this.db.insertInto('multipart_parts').values(row).execute(),
    );
    return { part: toPart(row), replacedPartId: old?.part_id ?? undefined };
  }

  /** ListParts: ascending part numbers after `partNumberMarker`. Unknown upload: ERR_NO_SUCH_UPLOAD. */
  async listMultipartParts(
    uploadId: string,
    query: { partNumberMarker?: number; maxParts?: number } = {},
  ): Promise<{ parts: MultipartPart[]; isTruncated: boolean; nextPartNumberMarker: number }> {
    if (!(await this.getMultipartUpload(uploadId))) throw noSuchUpload(uploadId);
    const max = query.maxParts ?? 10_000;
    if (!Number.isInteger(max) || max < 0 || max > 10_000) throw new InputError('max-parts must be 0..10000');
    const rows = await this.db
      .selectFrom('multipart_parts')
      .selectAll()
      .where('upload_id', '=', uploadId)
      .where('part_number', '>', query.partNumberMarker ?? 0)
      .orderBy('part_number')
      .limit(max + 1)
      .execute();
    const parts = rows.slice(0, max).map(toPart);
    return {
      parts,
      isTruncated: rows.length > max,
      nextPartNumberMarker: parts.at(-1)?.partNumber ?? query.partNumberMarker ?? 0,
    };
  }

  /**
   * Commits the object a completed upload produced and forgets the upload, in one transaction.
   * Call after the backend assembled the blob. Returns the replaced object's blob id.
   */
  async completeMultipartUpload(
    uploadId: string,
    object: NewObjectMetadata,
    conditions?: WriteConditions,
  ): Promise<PutObjectResult> {
    beginMutation(this.ctx, null);
    const upload = await this.getMultipartUpload(uploadId);
    if (!upload) throw noSuchUpload(uploadId);
    if (upload.bucket !== object.bucket || upload.key !== object.key)
      throw new InputError('the upload belongs to another bucket or key');
    await this.db.deleteFrom('multipart_uploads').where('upload_id', '=', uploadId).execute();
    return this.putObject(object, conditions);
  }

  /** Forgets an upload and its parts (AbortMultipartUpload). Unknown upload: ERR_NO_SUCH_UPLOAD. */
  async abortMultipartUpload(uploadId: string): Promise<MultipartUpload> {
    beginMutation(this.ctx, null);
    const upload = await this.getMultipartUpload(uploadId);
    if (!upload) throw noSuchUpload(uploadId);
    await this.db.deleteFrom('multipart_uploads').where('upload_id', '=', uploadId).execute();
    return upload;
  }
}

export type { ListPosition };
