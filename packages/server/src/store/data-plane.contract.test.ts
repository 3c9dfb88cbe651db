import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import fc from 'fast-check';
import { fixedClock } from '../clock.js';
import { ConflictError, InputError, NotFoundError, PreconditionFailedError } from '../errors.js';
import type { ObjectListing, ObjectListQuery } from './data-plane-types.js';
import { compareCodePoints, prefixUpperBound } from './operations-core.js';
import type { Store } from './store.js';
import { testDatabases } from './store-test-databases.js';

const OWNER = 'arn:aws:iam::123456789012:user/alice';

/** What a listing must return, computed naively from the full key set (S3's semantics). */
function naiveList(keys: readonly string[], q: ObjectListQuery): ObjectListing {
  const prefix = q.prefix ?? '';
  const sorted = [...keys].sort(compareCodePoints);
  const entries: { value: string; isPrefix: boolean }[] = [];
  for (const key of sorted) {
    if (!key.startsWith(prefix)) continue;
    let item = { value: key, isPrefix: false };
    if (q.delimiter) {
      const at = key.indexOf(q.delimiter, prefix.length);
      if (at >= 0) item = { value: key.slice(0, at + q.delimiter.length), isPrefix: true };
    }
    if (item.isPrefix && entries.at(-1)?.value === item.value) continue;
    if (q.after) {
      const past = q.after.isPrefix
        ? item.value.startsWith(q.after.value) || compareCodePoints(item.value, q.after.value) <= 0
        : compareCodePoints(item.isPrefix ? key : item.value, q.after.value) <= 0;
      if (past) continue;
    }
    entries.push(item);
  }
  const page = entries.slice(0, q.maxKeys);
  const isTruncated = entries.length > q.maxKeys && q.maxKeys > 0;
  return {
    objects: [],
    commonPrefixes: page.filter((e) => e.isPrefix).map((e) => e.value),
    isTruncated,
    next: isTruncated ? page.at(-1) : undefined,
  };
}

const strip = (l: ObjectListing) => ({
  keys: l.objects.map((o) => o.key),
  commonPrefixes: l.commonPrefixes,
  isTruncated: l.isTruncated,
  next: l.next,
});

for (const database of testDatabases()) {
  describe(`data plane store contract: ${database.id}`, () => {
    let store: Store;
    const clock = fixedClock('2026-01-01T00:00:00Z');
    const open = async () => {
      store = await database.open({ clock, accountId: '123456789012' });
      return store;
    };
    after(() => database.cleanup());
    afterEach(() => store?.close());

    const put = (bucket: string, key: string, blobId = `blob-${key}`) =>
      store.putObject({ bucket, key, blobId, size: 3, etag: 'e'.repeat(32) });

    it('creates, reads, tags and deletes buckets; a name is taken once, and only an empty bucket is deleted', async () => {
      await open();
      const before = await store.getRevision();
      const b = await store.createBucket({ name: 'ai-model-data', ownerArn: OWNER, tags: { team: 'ml' } });
      assert.equal(b.version, 1);
      assert.ok((await store.getRevision()) > before, 'buckets are access data: the revision moves');
      await assert.rejects(store.createBucket({ name: 'ai-model-data', ownerArn: OWNER }), {
        code: 'ERR_BUCKET_ALREADY_OWNED_BY_YOU',
      });
      await assert.rejects(store.createBucket({ name: 'ai-model-data', ownerArn: 'arn:aws:iam::1:user/b' }), {
        code: 'ERR_BUCKET_ALREADY_EXISTS',
      });
      await assert.rejects(store.createBucket({ name: 'Bad_Name', ownerArn: OWNER }), InputError);
      assert.deepEqual((await store.putBucketTags('ai-model-data', { a: 'b' })).tags, { a: 'b' });
      await assert.rejects(store.putBucketTags('ai-model-data', {}, 1), PreconditionFailedError);
      assert.deepEqual(
        (await store.listBuckets()).map((x) => x.name),
        ['ai-model-data'],
      );
      await store.putResourcePolicy('arn:aws:s3:::ai-model-data', '{"Version":"2012-10-17","Statement":[]}');
      await put('ai-model-data', 'x');
      await assert.rejects(store.deleteBucket('ai-model-data'), (e: unknown) => {
        assert.ok(e instanceof ConflictError);
        assert.equal(e.code, 'ERR_BUCKET_NOT_EMPTY');
        return true;
      });
      await store.deleteObject('ai-model-data', 'x');
      await store.createMultipartUpload({ uploadId: 'u1', bucket: 'ai-model-data', key: 'big' });
      assert.deepEqual(await store.deleteBucket('ai-model-data'), { abortedUploadIds: ['u1'] });
      assert.equal(await store.getBucket('ai-model-data'), undefined);
      assert.equal(
        await store.getResourcePolicy('arn:aws:s3:::ai-model-data'),
        undefined,
        'the policy goes too',
      );
      await assert.rejects(store.deleteBucket('ai-model-data'), { code: 'ERR_NO_SUCH_BUCKET' });
    });

    it('commits object metadata, returns the replaced blob, and honours conditional writes', async () => {
      await open();
      await store.createBucket({ name: 'data', ownerArn: OWNER });
      const revision = await store.getRevision();
      const first = await store.putObject({
        bucket: 'data',
        key: 'a/b.txt',
        blobId: 'b1',
        size: 10,
        etag: '0'.repeat(32),
        contentType: 'text/plain',
        contentHeaders: { cacheControl: 'no-cache', contentEncoding: 'gzip' },
        userMetadata: { owner: 'alice' },
        checksums: { CRC32: 'AAAAAA==' },
        tags: { k: 'v' },
        ownerArn: OWNER,
      });
      assert.equal(first.replacedBlobId, undefined);
      assert.equal(await store.getRevision(), revision, 'object writes are data: the revision stays');
      const got = await store.getObject('data', 'a/b.txt');
      assert.deepEqual(got, { ...first.object, lastModified: clock.now() });
      assert.deepEqual(got?.contentHeaders, { cacheControl: 'no-cache', contentEncoding: 'gzip' });
      const second = await store.putObject({
        bucket: 'data',
        key: 'a/b.txt',
        blobId: 'b2',
        size: 1,
        etag: '1'.repeat(32),
      });
      assert.equal(second.replacedBlobId, 'b1');
      assert.equal(
        (await store.getObject('data', 'a/b.txt'))?.contentType,
        null,
        'a PUT replaces all metadata',
      );
      await assert.rejects(
        store.putObject(
          { bucket: 'data', key: 'a/b.txt', blobId: 'b3', size: 1, etag: 'x' },
          { ifNoneMatch: '*' },
        ),
        PreconditionFailedError,
      );
      await assert.rejects(
        store.putObject(
          { bucket: 'data', key: 'a/b.txt', blobId: 'b3', size: 1, etag: 'x' },
          { ifMatch: 'nope' },
        ),
        PreconditionFailedError,
      );
      await assert.rejects(
        store.putObject(
          { bucket: 'data', key: 'new', blobId: 'b3', size: 1, etag: 'x' },
          { ifMatch: 'nope' },
        ),
        { code: 'ERR_NO_SUCH_KEY' },
      );
      const third = await store.putObject(
        { bucket: 'data', key: 'a/b.txt', blobId: 'b3', size: 1, etag: 'x' },
        { ifMatch: '1'.repeat(32) },
      );
      assert.equal(third.replacedBlobId, 'b2');
      await assert.rejects(put('missing-bucket', 'k'), { code: 'ERR_NO_SUCH_BUCKET' });
      assert.deepEqual((await store.putObjectTags('data', 'a/b.txt', { t: '1' })).tags, { t: '1' });
      await assert.rejects(store.putObjectTags('data', 'nope', {}), { code: 'ERR_NO_SUCH_KEY' });
      assert.equal(await store.deleteObject('data', 'a/b.txt'), 'b3');
      assert.equal(
        await store.deleteObject('data', 'a/b.txt'),
        undefined,
        'deleting a missing key is not an error',
      );
    });

    it('stores keys of any legal S3 form exactly, up to 1,024 bytes', async () => {
      await open();
      await store.createBucket({ name: 'data', ownerArn: OWNER });
      const keys = [
        '..',
        '../../etc/passwd',
        '//x//',
        ' lead',
        'ünï/cødé',
        '😀/ε',
        '\u0001ctl',
        'k'.repeat(1024),
        'é'.repeat(512),
      ];
      for (const k of keys) await put('data', k);
      for (const k of keys) assert.equal((await store.getObject('data', k))?.key, k);
      await assert.rejects(put('data', 'k'.repeat(1025)), InputError);
      await assert.rejects(put('data', 'a\0b'), InputError);
    });

    it('deletes many keys at once and reports the blobs of those that existed', async () => {
      await open();
      await store.createBucket({ name: 'data', ownerArn: OWNER });
      await put('data', 'a');
      await put('data', 'b');
      const deleted = await store.deleteObjects('data', ['a', 'b', 'c', 'a']);
      assert.deepEqual([...deleted.entries()].sort(), [
        ['a', 'blob-a'],
        ['b', 'blob-b'],
      ]);
      await assert.rejects(
        store.deleteObjects(
          'data',
          Array.from({ length: 1001 }, (_, i) => `${i}`),
        ),
        InputError,
      );
    });

    it('lists in UTF-8 binary order with prefix, delimiter, start-after and continuation', async () => {
      await open();
      await store.createBucket({ name: 'data', ownerArn: OWNER });
      const keys = ['a/1', 'a/2', 'a/b/3', 'b', 'c/x/y', 'c/z', 'd', '\uffff', '😀', 'z'];
      for (const k of keys) await put('data', k);
      const all = await store.listObjects('data', { maxKeys: 1000 });
      // U+FFFF sorts before U+1F600 in UTF-8 (and in S3), although not in UTF-16.
      assert.deepEqual(
        all.objects.map((o) => o.key),
        ['a/1', 'a/2', 'a/b/3', 'b', 'c/x/y', 'c/z', 'd', 'z', '\uffff', '😀'],
      );
      const grouped = await store.listObjects('data', { delimiter: '/', maxKeys: 1000 });
      assert.deepEqual(grouped.commonPrefixes, ['a/', 'c/']);
      assert.deepEqual(
        grouped.objects.map((o) => o.key),
        ['b', 'd', 'z', '\uffff', '😀'],
      );
      const inA = await store.listObjects('data', { prefix: 'a/', delimiter: '/', maxKeys: 1000 });
      assert.deepEqual(strip(inA), {
        keys: ['a/1', 'a/2'],
        commonPrefixes: ['a/b/'],
        isTruncated: false,
        next: undefined,
      });
      const p1 = await store.listObjects('data', { delimiter: '/', maxKeys: 2 });
      assert.deepEqual(strip(p1), {
        keys: ['b'],
        commonPrefixes: ['a/'],
        isTruncated: true,
        next: { value: 'b', isPrefix: false },
      });
      const p2 = await store.listObjects('data', { delimiter: '/', maxKeys: 2, after: p1.next });
      assert.deepEqual(strip(p2), {
        keys: ['d'],
        commonPrefixes: ['c/'],
        isTruncated: true,
        next: { value: 'd', isPrefix: false },
      });
      const afterPrefix = await store.listObjects('data', {
        delimiter: '/',
        maxKeys: 1,
        after: { value: 'a/', isPrefix: true },
      });
      assert.deepEqual(
        afterPrefix.objects.map((o) => o.key),
        ['b'],
      );
      const startAfter = await store.listObjects('data', {
        maxKeys: 2,
        after: { value: 'a/2', isPrefix: false },
      });
      assert.deepEqual(
        startAfter.objects.map((o) => o.key),
        ['a/b/3', 'b'],
      );
      assert.deepEqual(strip(await store.listObjects('data', { prefix: 'nothing', maxKeys: 10 })).keys, []);
      assert.equal((await store.listObjects('data', { maxKeys: 0 })).objects.length, 0);
      await assert.rejects(store.listObjects('data', { maxKeys: 1001 }), InputError);
      const o = all.objects[0]!;
      assert.deepEqual(o, {
        key: 'a/1',
        size: 3,
        etag: 'e'.repeat(32),
        lastModified: clock.now(),
        ownerArn: null,
        checksumAlgorithms: [],
      });
    });

    it('lists like a naive reference for random key sets and queries (property)', async () => {
      await open();
      await store.createBucket({ name: 'data', ownerArn: OWNER });
      const alphabet = fc.constantFrom('a', 'b', '/', '-', 'é', '😀');
      const keys = new Set(
        fc.sample(
          fc.array(alphabet, { minLength: 1, maxLength: 6 }).map((a) => a.join('')),
          150,
        ),
      );
      await store.transaction(async (tx) => {
        for (const k of keys)
          await tx.putObject({ bucket: 'data', key: k, blobId: `b${k}`, size: 1, etag: 'e' });
      });
      const list = [...keys];
      await fc.assert(
        fc.asyncProperty(
          fc.record({
            prefix: fc.option(
              fc.array(alphabet, { maxLength: 2 }).map((a) => a.join('')),
              { nil: undefined },
            ),
            delimiter: fc.option(fc.constantFrom('/', '-', 'é'), { nil: undefined }),
            maxKeys: fc.integer({ min: 1, max: 12 }),
          }),
          async (q) => {
            // Page through to the end, comparing every page with the reference.
            let after: ObjectListQuery['after'];
            for (let pages = 0; pages < 200; pages++) {
              const query = { ...q, after };
              const got = await store.listObjects('data', query);
              const want = naiveList(list, query);
              assert.deepEqual(
                { ...strip(got), keys: undefined },
                { ...strip(want), keys: undefined },
                JSON.stringify(query),
              );
              const wantKeys = naiveListKeys(list, query);
              assert.deepEqual(
                got.objects.map((o) => o.key),
                wantKeys,
              );
              if (!got.isTruncated) return;
              after = got.next;
            }
            assert.fail('listing did not end');
          },
        ),
        { numRuns: 60 },
      );
    });

    it('keeps multipart uploads and parts; completing commits the object and forgets the upload', async () => {
      await open();
      await store.createBucket({ name: 'data', ownerArn: OWNER });
      const upload = await store.createMultipartUpload({
        uploadId: 'up-1',
        bucket: 'data',
        key: 'model.bin',
        contentType: 'application/octet-stream',
        userMetadata: { run: '7' },
        checksumAlgorithm: 'CRC32',
        initiatorArn: OWNER,
      });
      assert.equal(upload.initiatedAt, clock.now());
      await store.createMultipartUpload({ uploadId: 'up-0', bucket: 'data', key: 'model.bin' });
      await store.createMultipartUpload({ uploadId: 'up-2', bucket: 'data', key: 'x/other' });
      await store.putMultipartPart({ uploadId: 'up-1', partNumber: 2, size: 5, etag: 'p2' });
      const first = await store.putMultipartPart({
        uploadId: 'up-1',
        partNumber: 1,
        size: 5,
        etag: 'p1',
        partId: 'id-a',
      });
      assert.equal(first.replacedPartId, undefined);
      const again = await store.putMultipartPart({
        uploadId: 'up-1',
        partNumber: 1,
        size: 6,
        etag: 'p1b',
        partId: 'id-b',
      });
      assert.equal(again.replacedPartId, 'id-a');
      await assert.rejects(
        store.putMultipartPart({ uploadId: 'up-1', partNumber: 10001, size: 1, etag: 'x' }),
        InputError,
      );
      await assert.rejects(store.putMultipartPart({ uploadId: 'nope', partNumber: 1, size: 1, etag: 'x' }), {
        code: 'ERR_NO_SUCH_UPLOAD',
      });
      const parts = await store.listMultipartParts('up-1', { maxParts: 1 });
      assert.deepEqual(
        parts.parts.map((p) => [p.partNumber, p.etag, p.size]),
        [[1, 'p1b', 6]],
      );
      assert.equal(parts.isTruncated, true);
      assert.equal(parts.nextPartNumberMarker, 1);
      const rest = await store.listMultipartParts('up-1', { partNumberMarker: 1 });
      assert.deepEqual(
        rest.parts.map((p) => p.partNumber),
        [2],
      );
      const uploads = await store.listMultipartUploads('data', { maxUploads: 2 });
      assert.deepEqual(
        uploads.uploads.map((u) => u.uploadId),
        ['up-0', 'up-1'],
      );
      assert.equal(uploads.isTruncated, true);
      const next = await store.listMultipartUploads('data', {
        maxUploads: 2,
        keyMarker: uploads.nextKeyMarker,
        uploadIdMarker: uploads.nextUploadIdMarker,
      });
      assert.deepEqual(
        next.uploads.map((u) => u.uploadId),
        ['up-2'],
      );
      const grouped = await store.listMultipartUploads('data', { maxUploads: 10, delimiter: '/' });
      assert.deepEqual(grouped.commonPrefixes, ['x/']);
      assert.deepEqual(
        (await store.listStaleMultipartUploads(clock.now() + 1)).map((u) => u.uploadId),
        ['up-0', 'up-1', 'up-2'],
      );
      assert.deepEqual(await store.listStaleMultipartUploads(clock.now()), []);
      const done = await store.completeMultipartUpload('up-1', {
        bucket: 'data',
        key: 'model.bin',
        blobId: 'final',
        size: 11,
        etag: 'abc-2',
      });
      assert.equal(done.replacedBlobId, undefined);
      assert.equal(await store.getMultipartUpload('up-1'), undefined);
      await assert.rejects(store.listMultipartParts('up-1'), NotFoundError);
      await assert.rejects(
        store.completeMultipartUpload('up-1', {
          bucket: 'data',
          key: 'model.bin',
          blobId: 'f',
          size: 1,
          etag: 'e',
        }),
        { code: 'ERR_NO_SUCH_UPLOAD' },
      );
      await assert.rejects(
        store.completeMultipartUpload('up-0', {
          bucket: 'data',
          key: 'elsewhere',
          blobId: 'f',
          size: 1,
          etag: 'e',
        }),
        InputError,
      );
      assert.equal((await store.abortMultipartUpload('up-0')).uploadId, 'up-0');
      await assert.rejects(store.abortMultipartUpload('up-0'), { code: 'ERR_NO_SUCH_UPLOAD' });
    });

    it('concurrent writers of one key each get back exactly the blob they replaced (no orphan, no double delete)', async () => {
      await open();
      await store.createBucket({ name: 'data', ownerArn: OWNER });
      const blobs = Array.from({ length: 12 }, (_, i) => `blob-${i}`);
      const results = await Promise.all(
        blobs.map((blobId) => store.putObject({ bucket: 'data', key: 'hot', blobId, size: 1, etag: 'e' })),
      );
      const replaced = results.map((r) => r.replacedBlobId).filter((b) => b !== undefined);
      const final = (await store.getObject('data', 'hot'))!.blobId;
      assert.equal(
        results.filter((r) => r.replacedBlobId === undefined).length,
        1,
        'one writer created the key',
      );
      assert.deepEqual([...replaced, final].sort(), [...blobs].sort());
    });

    it('a failed transaction leaves neither the object nor the upload change behind', async () => {
      await open();
      await store.createBucket({ name: 'data', ownerArn: OWNER });
      await store.createMultipartUpload({ uploadId: 'u', bucket: 'data', key: 'k' });
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.completeMultipartUpload('u', {
            bucket: 'data',
            key: 'k',
            blobId: 'b',
            size: 1,
            etag: 'e',
          });
          throw new Error('crash after the metadata commit statement');
        }),
      );
      assert.ok(await store.getMultipartUpload('u'));
      assert.equal(await store.getObject('data', 'k'), undefined);
    });
  });
}

function naiveListKeys(keys: readonly string[], q: ObjectListQuery): string[] {
  const prefix = q.prefix ?? '';
  const sorted = [...keys].sort(compareCodePoints);
  const out: string[] = [];
  let count = 0;
  let lastGroup: string | undefined;
  for (const key of sorted) {
    if (!key.startsWith(prefix)) continue;
    let group: string | undefined;
    if (q.delimiter) {
      const at = key.indexOf(q.delimiter, prefix.length);
      if (at >= 0) group = key.slice(0, at + q.delimiter.length);
    }
    if (q.after) {
      const v = q.after.value;
      if (
        q.after.isPrefix
          ? key.startsWith(v) || compareCodePoints(key, v) <= 0
          : compareCodePoints(key, v) <= 0
      )
        continue;
    }
    if (group !== undefined) {
      if (group === lastGroup) continue;
      lastGroup = group;
      count++;
    } else {
      count++;
      if (count <= q.maxKeys) out.push(key);
    }
    if (count >= q.maxKeys) break;
  }
  return out;
}

describe('prefixUpperBound', () => {
  it('bounds exactly the strings with the prefix, in code-point order', () => {
    assert.equal(prefixUpperBound('ab'), 'ac');
    assert.equal(prefixUpperBound('a\u{10ffff}'), 'b');
    assert.equal(prefixUpperBound('\u{10ffff}'), undefined);
    assert.equal(prefixUpperBound('a\ud7ff'), 'a\ue000');
    fc.assert(
      fc.property(
        fc.string({ unit: 'grapheme', minLength: 1, maxLength: 4 }),
        fc.string({ unit: 'grapheme', maxLength: 4 }),
        (p, rest) => {
          const bound = prefixUpperBound(p);
          if (bound === undefined) return;
          assert.ok(compareCodePoints(p + rest, bound) < 0);
          assert.ok(compareCodePoints(p, bound) < 0);
        },
      ),
    );
  });
});
