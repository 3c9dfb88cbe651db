import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ConflictError } from '../errors.js';
import { FilesystemObjectBackend } from '../objects/filesystem-object-backend.js';
import { isS3Error, toS3Error } from '../s3/s3-errors.js';
import type { Store } from '../store/store.js';
import { type TestDatabase, testDatabases } from '../store/store-test-databases.js';
import { BucketService } from './bucket-service.js';
import { decodeContinuationToken, encodeContinuationToken, ObjectService } from './object-service.js';

const OWNER = 'arn:aws:iam::123456789012:user/alice';
const s3Code = (e: unknown) => toS3Error(e).s3Code;
async function* bytes(text: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(text);
}

describe('bucket and object services (SQLite store, filesystem backend)', () => {
  let db: TestDatabase;
  let store: Store;
  let backend: FilesystemObjectBackend;
  let dir: string;
  let buckets: BucketService;
  let objects: ObjectService;

  before(async () => {
    db = testDatabases().find((d) => d.id === 'sqlite')!;
    store = await db.open({ accountId: '123456789012' });
    dir = mkdtempSync(join(tmpdir(), 'aiam-objects-'));
    backend = new FilesystemObjectBackend({ root: dir });
    buckets = new BucketService({ store });
    objects = new ObjectService({ store });
  });
  after(async () => {
    await db.cleanup();
    rmSync(dir, { recursive: true, force: true });
  });

  it('creates buckets with S3 names only and maps duplicates and non-empty deletes to S3 codes', async () => {
    await buckets.createBucket('ai-model-data', OWNER, { tags: { Project: 'AIModel' } });
    await assert.rejects(
      buckets.createBucket('ai-model-data', OWNER),
      (e) => s3Code(e) === 'BucketAlreadyOwnedByYou',
    );
    await assert.rejects(
      buckets.createBucket('Not_Valid', OWNER),
      (e) => isS3Error(e) && e.s3Code === 'InvalidBucketName',
    );
    assert.equal((await buckets.headBucket('ai-model-data')).ownerArn, OWNER);
    await assert.rejects(buckets.headBucket('nope-bucket'), (e) => s3Code(e) === 'NoSuchBucket');
    assert.deepEqual(await buckets.getBucketTagging('ai-model-data'), { Project: 'AIModel' });
    await buckets.deleteBucketTagging('ai-model-data');
    await assert.rejects(buckets.getBucketTagging('ai-model-data'), (e) => s3Code(e) === 'NoSuchTagSet');
    await assert.rejects(
      buckets.putBucketTagging('ai-model-data', { 'aws:x': 'y' }),
      (e) => s3Code(e) === 'InvalidTag',
    );

    const blob = await backend.put(bytes('x'));
    await objects.putObject('ai-model-data', 'k', blob);
    await assert.rejects(buckets.deleteBucket('ai-model-data'), (e) => {
      assert.ok(e instanceof ConflictError);
      return s3Code(e) === 'BucketNotEmpty';
    });
    await backend.delete((await objects.deleteObject('ai-model-data', 'k'))!);
  });

  it('validates bucket policies as resource policies scoped to the bucket, and stores them for the access model', async () => {
    const good = {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::123456789012:user/bob' },
          Action: ['s3:GetObject', 's3:ListBucket'],
          Resource: ['arn:aws:s3:::ai-model-data', 'arn:aws:s3:::ai-model-data/*'],
        },
      ],
    };
    await buckets.putBucketPolicy('ai-model-data', good);
    assert.deepEqual(JSON.parse(await buckets.getBucketPolicy('ai-model-data')), good);
    const snapshot = await store.loadAccessSnapshot();
    assert.ok(snapshot.resourcePolicies.some((p) => p.resourceArn === 'arn:aws:s3:::ai-model-data'));
    await assert.rejects(
      buckets.putBucketPolicy(
        'ai-model-data',
        '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject"}]}',
      ),
      (e) => s3Code(e) === 'MalformedPolicy',
    );
    const elsewhere = structuredClone(good);
    elsewhere.Statement[0]!.Resource = ['arn:aws:s3:::other-bucket/*'];
    await assert.rejects(
      buckets.putBucketPolicy('ai-model-data', elsewhere),
      (e) => s3Code(e) === 'MalformedPolicy',
    );
    await assert.rejects(
      buckets.putBucketPolicy('ai-model-data', 'not json'),
      (e) => s3Code(e) === 'MalformedPolicy',
    );
    await buckets.deleteBucketPolicy('ai-model-data');
    await buckets.deleteBucketPolicy('ai-model-data');
    await assert.rejects(buckets.getBucketPolicy('ai-model-data'), (e) => s3Code(e) === 'NoSuchBucketPolicy');
  });

  it('commits an object after its blob, replaces it returning the old blob, and copies metadata', async () => {
    const b1 = await backend.put(bytes('hello'));
    const r1 = await objects.putObject('ai-model-data', 'data/a.txt', b1, {
      contentType: 'text/plain',
      userMetadata: { origin: 'test' },
      tags: { class: 'public' },
      ownerArn: OWNER,
    });
    assert.equal(r1.replacedBlobId, undefined);
    const head = await objects.headObject('ai-model-data', 'data/a.txt');
    assert.deepEqual([head.size, head.etag, head.contentType], [5, b1.etag, 'text/plain']);
    const b2 = await backend.put(bytes('hello world'));
    const r2 = await objects.putObject('ai-model-data', 'data/a.txt', b2);
    assert.equal(r2.replacedBlobId, b1.id);
    await backend.delete(r2.replacedBlobId!);
    await assert.rejects(objects.headObject('ai-model-data', 'missing'), (e) => s3Code(e) === 'NoSuchKey');
    await assert.rejects(objects.headObject('no-such-bucket', 'k'), (e) => s3Code(e) === 'NoSuchBucket');
    await assert.rejects(
      objects.putObject('ai-model-data', 'big-meta', b2, { userMetadata: { x: 'y'.repeat(2048) } }),
      (e) => s3Code(e) === 'MetadataTooLarge',
    );
    await assert.rejects(
      objects
        .putObject('ai-model-data', 'x', b2, {}, { ifNoneMatch: '*' })
        .then(() => objects.putObject('ai-model-data', 'x', b2, {}, { ifNoneMatch: '*' })),
      (e) => s3Code(e) === 'PreconditionFailed',
    );

    const source = await objects.headObject('ai-model-data', 'data/a.txt');
    await objects.putObjectTagging('ai-model-data', 'data/a.txt', { a: '1' });
    const src = await objects.headObject('ai-model-data', 'data/a.txt');
    const copyBlob = await backend.put(await backend.get(source.blobId));
    await objects.copyObject(src, { bucket: 'ai-model-data', key: 'copy.txt' }, copyBlob);
    const copy = await objects.headObject('ai-model-data', 'copy.txt');
    assert.deepEqual([copy.size, copy.etag, copy.tags], [src.size, src.etag, { a: '1' }]);
    const replaced = await backend.put(await backend.get(source.blobId));
    await objects.copyObject(src, { bucket: 'ai-model-data', key: 'copy2.txt' }, replaced, {
      metadataDirective: 'REPLACE',
      taggingDirective: 'REPLACE',
      replacement: { contentType: 'application/json', userMetadata: { v: '2' } },
    });
    const copy2 = await objects.headObject('ai-model-data', 'copy2.txt');
    assert.deepEqual(
      [copy2.contentType, copy2.userMetadata, copy2.tags],
      ['application/json', { v: '2' }, {}],
    );
    await assert.rejects(
      objects.copyObject(src, { bucket: 'ai-model-data', key: 'data/a.txt' }, replaced),
      (e) => s3Code(e) === 'InvalidRequest',
    );
    const del = await objects.deleteObjects('ai-model-data', ['copy.txt', 'copy2.txt', 'never']);
    assert.deepEqual(del.deleted, ['copy.txt', 'copy2.txt', 'never']);
    assert.deepEqual(del.blobIds.sort(), [copyBlob.id, replaced.id].sort());
  });

  it('lists v2 with continuation tokens, v1 with markers and versions with version id null', async () => {
    await buckets.createBucket('listing', OWNER);
    const keys = ['a/1', 'a/2', 'b/1', 'c', 'd/e/f', 'g'];
    for (const k of keys)
      await store.putObject({ bucket: 'listing', key: k, blobId: `b-${k}`, size: 1, etag: 'e' });
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await objects.listObjectsV2('listing', {
        delimiter: '/',
        maxKeys: 2,
        continuationToken: token,
      });
      seen.push(...page.commonPrefixes, ...page.objects.map((o) => o.key));
      assert.equal(page.keyCount, page.commonPrefixes.length + page.objects.length);
      token = page.nextContinuationToken;
    } while (token);
    assert.deepEqual(seen.sort(), ['a/', 'b/', 'c', 'd/', 'g']);
    const startAfter = await objects.listObjectsV2('listing', { startAfter: 'b/1' });
    assert.deepEqual(
      startAfter.objects.map((o) => o.key),
      ['c', 'd/e/f', 'g'],
    );
    assert.throws(() => decodeContinuationToken('garbage'), /continuation token/);
    assert.deepEqual(decodeContinuationToken(encodeContinuationToken({ value: 'a/', isPrefix: true })), {
      value: 'a/',
      isPrefix: true,
    });
    const v1 = await objects.listObjectsV1('listing', { delimiter: '/', maxKeys: 1 });
    assert.deepEqual([v1.commonPrefixes, v1.nextMarker], [['a/'], 'a/']);
    const v1b = await objects.listObjectsV1('listing', { delimiter: '/', maxKeys: 1, marker: v1.nextMarker });
    assert.deepEqual(v1b.commonPrefixes, ['b/'], 'a marker that is a common prefix resumes after its group');
    const versions = await objects.listObjectVersions('listing', { maxKeys: 2 });
    assert.deepEqual(
      versions.versions.map((v) => [v.key, v.versionId, v.isLatest]),
      [
        ['a/1', 'null', true],
        ['a/2', 'null', true],
      ],
    );
    assert.deepEqual([versions.nextKeyMarker, versions.nextVersionIdMarker], ['a/2', 'null']);
    const rest = await objects.listObjectVersions('listing', { keyMarker: 'a/2', versionIdMarker: 'null' });
    assert.equal(rest.versions[0]?.key, 'b/1');
    await assert.rejects(objects.listObjectsV2('no-such-bucket', {}), (e) => s3Code(e) === 'NoSuchBucket');
    assert.equal(
      (await objects.listObjectsV2('listing', { maxKeys: 5000 })).objects.length,
      6,
      'capped at 1,000, not refused',
    );
  });

  it('runs a multipart upload: parts, list, order and ETag checks, standard ETag, abort and stale cleanup', async () => {
    const uploadId = await backend.createMultipartUpload();
    await objects.createMultipartUpload('ai-model-data', 'model.bin', uploadId, {
      contentType: 'application/octet-stream',
      userMetadata: { step: '1' },
      initiatorArn: OWNER,
    });
    const p1 = await backend.putPart(uploadId, 1, bytes('a'.repeat(10)));
    await objects.recordPart('ai-model-data', 'model.bin', uploadId, p1);
    const p2 = await backend.putPart(uploadId, 2, bytes('b'.repeat(4)));
    await objects.recordPart('ai-model-data', 'model.bin', uploadId, p2);
    await assert.rejects(
      objects.recordPart('ai-model-data', 'other-key', uploadId, p2),
      (e) => s3Code(e) === 'NoSuchUpload',
    );
    const listed = await objects.listParts('ai-model-data', 'model.bin', uploadId);
    assert.deepEqual(
      listed.parts.map((p) => [p.partNumber, p.size]),
      [
        [1, 10],
        [2, 4],
      ],
    );
    const parts = [
      { partNumber: 1, etag: `"${p1.etag}"` },
      { partNumber: 2, etag: p2.etag },
    ];
    await assert.rejects(
      objects.checkCompletion('ai-model-data', 'model.bin', uploadId, [...parts].reverse(), {
        minPartSize: 1,
      }),
      (e) => s3Code(e) === 'InvalidPartOrder',
    );
    await assert.rejects(
      objects.checkCompletion('ai-model-data', 'model.bin', uploadId, [
        { partNumber: 1, etag: 'f'.repeat(32) },
      ]),
      (e) => s3Code(e) === 'InvalidPart',
    );
    await assert.rejects(
      objects.checkCompletion('ai-model-data', 'model.bin', uploadId, parts),
      (e) => s3Code(e) === 'EntityTooSmall',
    );
    const { upload, etag } = await objects.checkCompletion('ai-model-data', 'model.bin', uploadId, parts, {
      minPartSize: 1,
    });
    const blob = await backend.completeMultipartUpload(uploadId, parts, { minPartSize: 1 });
    assert.equal(blob.etag, etag, 'the standard multipart ETag');
    assert.match(etag, /^[0-9a-f]{32}-2$/);
    await objects.completeMultipartUpload(upload, blob);
    const head = await objects.headObject('ai-model-data', 'model.bin');
    assert.deepEqual(
      [head.size, head.etag, head.userMetadata, head.ownerArn],
      [14, etag, { step: '1' }, OWNER],
    );
    await assert.rejects(
      objects.listParts('ai-model-data', 'model.bin', uploadId),
      (e) => s3Code(e) === 'NoSuchUpload',
    );

    const aborted = await backend.createMultipartUpload();
    await objects.createMultipartUpload('ai-model-data', 'gone', aborted);
    await objects.abortMultipartUpload('ai-model-data', 'gone', aborted);
    await backend.abortMultipartUpload(aborted);
    assert.equal((await objects.listMultipartUploads('ai-model-data')).uploads.length, 0);

    const stale = await backend.createMultipartUpload();
    await objects.createMultipartUpload('ai-model-data', 'stale', stale);
    const abortedIds: string[] = [];
    assert.equal(
      await objects.cleanupStaleUploads(60_000, Date.now(), async (id) => void abortedIds.push(id)),
      0,
      'a fresh upload is not stale',
    );
    assert.equal(
      await objects.cleanupStaleUploads(60_000, Date.now() + 120_000, async (id) => {
        abortedIds.push(id);
        await backend.abortMultipartUpload(id);
      }),
      1,
    );
    assert.deepEqual(abortedIds, [stale]);
  });
});
