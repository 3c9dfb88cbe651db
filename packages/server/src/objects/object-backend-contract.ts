import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { PassThrough } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import { ChecksumCalculator } from '../s3/checksums.js';
import { S3Error } from '../s3/s3-errors.js';
import type { ObjectBackend } from './object-backend.js';

/** What a backend's test file hands the contract suite. */
export interface ObjectBackendFixture {
  backend: ObjectBackend;
  /** Removes everything the fixture created. */
  cleanup(): Promise<void>;
}

/** An async source that yields `pieces`, then optionally fails like a dropped connection. */
export async function* sourceOf(pieces: (Buffer | string)[], failWith?: Error): AsyncGenerator<Buffer> {
  for (const p of pieces) {
    await new Promise((r) => setImmediate(r));
    yield typeof p === 'string' ? Buffer.from(p) : p;
  }
  if (failWith) throw failWith;
}

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');
const md5b64 = (b: Buffer | string) => createHash('md5').update(b).digest('base64');

function s3(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof S3Error, `expected S3Error ${code}, got ${e}`);
    assert.equal(e.s3Code, code, e.message);
    return true;
  };
}

async function blobIds(backend: ObjectBackend): Promise<string[]> {
  const ids: string[] = [];
  for await (const b of backend.listBlobs()) ids.push(b.id);
  return ids.sort();
}

/**
 * The behaviour every `ObjectBackend` must show, as one suite each implementation runs
 * (`describeObjectBackendContract('filesystem', setup)`). Parts below 5 MiB are completed with
 * `minPartSize: 1` so the suite stays fast; the 5 MiB rule itself is tested with real sizes.
 */
export function describeObjectBackendContract(
  name: string,
  setup: () => Promise<ObjectBackendFixture>,
): void {
  describe(`ObjectBackend contract: ${name}`, () => {
    let fixture: ObjectBackendFixture;
    let backend: ObjectBackend;
    before(async () => {
      fixture = await setup();
      backend = fixture.backend;
    });
    after(async () => {
      await fixture.cleanup();
    });

    describe('put and get', () => {
      it('stores a stream and returns size, MD5 ETag and requested checksums', async () => {
        const body = Buffer.from('Hello World');
        const blob = await backend.put(sourceOf(['Hello ', 'World']), {
          expectedSize: 11,
          checksumAlgorithms: ['CRC32', 'CRC32C', 'SHA256'],
        });
        assert.equal(blob.size, 11);
        assert.equal(blob.etag, md5(body));
        assert.equal(blob.checksums.CRC32, 'ShexVg==');
        assert.equal(blob.checksums.CRC32C, 'aR2qLw==');
        assert.equal(blob.checksums.SHA256, createHash('sha256').update(body).digest('base64'));
        assert.ok((await buffer(await backend.get(blob.id))).equals(body));
        assert.deepEqual(await backend.stat(blob.id), { size: 11 });
      });

      it('gives every write a new id, so overwrites never touch published bytes', async () => {
        const a = await backend.put(sourceOf(['same']));
        const b = await backend.put(sourceOf(['same']));
        assert.notEqual(a.id, b.id);
        assert.equal(a.etag, b.etag);
      });

      it('stores empty objects', async () => {
        const blob = await backend.put(sourceOf([]), { expectedSize: 0 });
        assert.equal(blob.size, 0);
        assert.equal(blob.etag, 'd41d8cd98f00b204e9800998ecf8427e');
        assert.equal((await buffer(await backend.get(blob.id))).length, 0);
      });

      it('reads byte ranges (inclusive), clamping the end to the size', async () => {
        const body = Buffer.from('0123456789abcdefghij');
        const blob = await backend.put(sourceOf([body.subarray(0, 7), body.subarray(7)]));
        const read = async (start: number, end: number) =>
          (await buffer(await backend.get(blob.id, { start, end }))).toString();
        assert.equal(await read(0, 0), '0');
        assert.equal(await read(5, 9), '56789');
        assert.equal(await read(15, 19), 'fghij');
        assert.equal(await read(15, 1000), 'fghij');
        await assert.rejects(backend.get(blob.id, { start: 20, end: 25 }), s3('InvalidRange'));
        await assert.rejects(backend.get(blob.id, { start: 5, end: 2 }), s3('InvalidRange'));
        await assert.rejects(backend.get(blob.id, { start: -1, end: 2 }), s3('InvalidRange'));
      });

      it('streams large blobs intact', async () => {
        const piece = Buffer.alloc(256 * 1024);
        for (let i = 0; i < piece.length; i++) piece[i] = (i * 31) & 0xff;
        const pieces = Array.from({ length: 12 }, () => piece);
        const blob = await backend.put(sourceOf(pieces), { expectedSize: piece.length * 12 });
        const got = await buffer(await backend.get(blob.id));
        assert.equal(got.length, piece.length * 12);
        assert.equal(md5(got), blob.etag);
        const mid = await buffer(await backend.get(blob.id, { start: 1_000_000, end: 2_000_000 }));
        assert.ok(mid.equals(Buffer.concat(pieces).subarray(1_000_000, 2_000_001)));
      });

      it('keeps serving a stream whose blob is deleted mid-read', async () => {
        const blob = await backend.put(sourceOf([Buffer.alloc(3 * 1024 * 1024, 7)]));
        const stream = await backend.get(blob.id);
        await backend.delete(blob.id);
        assert.equal((await buffer(stream)).length, 3 * 1024 * 1024);
      });

      it('deletes idempotently; unknown ids read as NoSuchKey', async () => {
        const blob = await backend.put(sourceOf(['x']));
        await backend.delete(blob.id);
        await backend.delete(blob.id);
        await assert.rejects(backend.get(blob.id), s3('NoSuchKey'));
        assert.equal(await backend.stat(blob.id), undefined);
      });

      it('never resolves hostile ids to paths', async () => {
        for (const id of [
          '../../../etc/passwd',
          '/etc/passwd',
          '',
          '..',
          'a/b',
          'm../x',
          '%2e%2e',
          '\u0000',
        ]) {
          await assert.rejects(backend.get(id), s3('NoSuchKey'), id);
          assert.equal(await backend.stat(id), undefined);
          await backend.delete(id);
        }
      });
    });

    describe('bad writes leave no blob', () => {
      it('a source that fails mid-stream (client disconnect)', async () => {
        const before = await blobIds(backend);
        const reset = Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
        await assert.rejects(backend.put(sourceOf(['partial ', 'data'], reset)), /aborted/);
        assert.deepEqual(await blobIds(backend), before);
      });
      it('a source stream that fails before the backend reads it, without an uncaught error', async () => {
        const before = await blobIds(backend);
        const stream = new PassThrough();
        const put = backend.put(stream);
        stream.write('some');
        stream.destroy(new Error('early reset'));
        await assert.rejects(put, /early reset/);
        assert.deepEqual(await blobIds(backend), before);
      });
      it('fewer bytes than declared -> IncompleteBody', async () => {
        const before = await blobIds(backend);
        await assert.rejects(backend.put(sourceOf(['short']), { expectedSize: 10 }), s3('IncompleteBody'));
        assert.deepEqual(await blobIds(backend), before);
      });
      it('more bytes than declared -> InvalidRequest', async () => {
        await assert.rejects(backend.put(sourceOf(['toolong']), { expectedSize: 3 }), s3('InvalidRequest'));
      });
      it('more than the maximum size -> EntityTooLarge, declared or streamed', async () => {
        await assert.rejects(
          backend.put(sourceOf(['x']), { expectedSize: 100, maxSize: 10 }),
          s3('EntityTooLarge'),
        );
        await assert.rejects(
          backend.put(sourceOf(['0123456789', 'x']), { maxSize: 10 }),
          s3('EntityTooLarge'),
        );
      });
      it('a wrong Content-MD5 -> BadDigest', async () => {
        const before = await blobIds(backend);
        await assert.rejects(
          backend.put(sourceOf(['data']), { expected: { contentMd5: md5b64('other') } }),
          s3('BadDigest'),
        );
        assert.deepEqual(await blobIds(backend), before);
        const ok = await backend.put(sourceOf(['data']), { expected: { contentMd5: md5b64('data') } });
        assert.equal(ok.etag, md5('data'));
      });
      it('a wrong x-amz-content-sha256 -> XAmzContentSHA256Mismatch', async () => {
        await assert.rejects(
          backend.put(sourceOf(['data']), { expected: { contentSha256: 'a'.repeat(64) } }),
          s3('XAmzContentSHA256Mismatch'),
        );
      });
      it('a wrong trailing checksum, known only after the body -> BadDigest', async () => {
        const c = new ChecksumCalculator(['CRC32C']);
        c.update(Buffer.from('data'));
        const right = c.digest().CRC32C!.toString('base64');
        let trailer = 'AAAAAA==';
        const put = () =>
          backend.put(sourceOf(['data']), {
            checksumAlgorithms: ['CRC32C'],
            expected: () => ({ checksums: { CRC32C: trailer } }),
          });
        await assert.rejects(put(), s3('BadDigest'));
        trailer = right;
        assert.equal((await put()).checksums.CRC32C, right);
      });
      it('a trailing checksum that was never announced -> InvalidRequest', async () => {
        await assert.rejects(
          backend.put(sourceOf(['data']), {
            expected: () => ({ checksums: { SHA1: 'AAAAAAAAAAAAAAAAAAAAAAAAAAA=' } }),
          }),
          s3('InvalidRequest'),
        );
      });
    });

    describe('multipart uploads', () => {
      const p1 = Buffer.alloc(1000, 'a');
      const p2 = Buffer.alloc(700, 'b');
      const p3 = Buffer.from('tail');

      it('stores parts, lists them, completes with the multipart ETag and reads across parts', async () => {
        const uploadId = await backend.createMultipartUpload();
        const r2 = await backend.putPart(uploadId, 2, sourceOf([p2]), { expectedSize: p2.length });
        const r1 = await backend.putPart(uploadId, 1, sourceOf([p1.subarray(0, 10), p1.subarray(10)]));
        const r3 = await backend.putPart(uploadId, 3, sourceOf([p3]));
        assert.equal(r1.etag, md5(p1));
        const listed = await backend.listParts(uploadId);
        assert.deepEqual(
          listed.map((p) => [p.partNumber, p.size, p.etag]),
          [
            [1, 1000, md5(p1)],
            [2, 700, md5(p2)],
            [3, 4, md5(p3)],
          ],
        );
        const blob = await backend.completeMultipartUpload(
          uploadId,
          [r1, r2, r3].map((r) => ({ partNumber: r.partNumber, etag: `"${r.etag}"` })),
          { minPartSize: 1 },
        );
        const expectedEtag = `${createHash('md5')
          .update(Buffer.concat([p1, p2, p3].map((p) => createHash('md5').update(p).digest())))
          .digest('hex')}-3`;
        assert.equal(blob.etag, expectedEtag);
        assert.equal(blob.size, 1704);
        const whole = Buffer.concat([p1, p2, p3]);
        assert.ok((await buffer(await backend.get(blob.id))).equals(whole));
        for (const [start, end] of [
          [0, 0],
          [990, 1010],
          [999, 1000],
          [1000, 1699],
          [1500, 1703],
          [1702, 5000],
          [0, 1703],
        ] as const) {
          const got = await buffer(await backend.get(blob.id, { start, end }));
          assert.ok(got.equals(whole.subarray(start, end + 1)), `${start}-${end}`);
        }
        assert.deepEqual(await backend.stat(blob.id), { size: 1704 });
        await assert.rejects(backend.listParts(uploadId), s3('NoSuchUpload'));
        assert.ok((await blobIds(backend)).includes(blob.id));
        await backend.delete(blob.id);
        await assert.rejects(backend.get(blob.id), s3('NoSuchKey'));
        assert.ok(!(await blobIds(backend)).includes(blob.id));
      });

      it('keeps serving a multipart stream whose blob is deleted mid-read', async () => {
        const uploadId = await backend.createMultipartUpload();
        const parts = [];
        for (let n = 1; n <= 4; n++)
          parts.push(await backend.putPart(uploadId, n, sourceOf([Buffer.alloc(1 << 20, n)])));
        const blob = await backend.completeMultipartUpload(uploadId, parts, { minPartSize: 1 });
        const stream = await backend.get(blob.id, { start: 100, end: (4 << 20) - 101 });
        await backend.delete(blob.id);
        await assert.rejects(backend.get(blob.id), s3('NoSuchKey'));
        const got = await buffer(stream);
        assert.equal(got.length, (4 << 20) - 200);
        assert.equal(got[0], 1);
        assert.equal(got[got.length - 1], 4);
        await backend.sweepTemporary(0);
      });

      it('completes with a subset of the parts, discarding the rest', async () => {
        const uploadId = await backend.createMultipartUpload();
        const r1 = await backend.putPart(uploadId, 1, sourceOf([p1]));
        await backend.putPart(uploadId, 2, sourceOf([p2]));
        const r3 = await backend.putPart(uploadId, 3, sourceOf([p3]));
        const blob = await backend.completeMultipartUpload(uploadId, [r1, r3], { minPartSize: 1 });
        assert.ok((await buffer(await backend.get(blob.id))).equals(Buffer.concat([p1, p3])));
      });

      it('replaces a part uploaded again', async () => {
        const uploadId = await backend.createMultipartUpload();
        const old = await backend.putPart(uploadId, 1, sourceOf(['old']));
        const fresh = await backend.putPart(uploadId, 1, sourceOf(['new!']));
        assert.deepEqual(
          (await backend.listParts(uploadId)).map((p) => p.etag),
          [fresh.etag],
        );
        await assert.rejects(backend.completeMultipartUpload(uploadId, [old]), s3('InvalidPart'));
        const blob = await backend.completeMultipartUpload(uploadId, [fresh]);
        assert.equal((await buffer(await backend.get(blob.id))).toString(), 'new!');
      });

      it('refuses parts out of order, unknown parts, wrong ETags and small parts', async () => {
        const uploadId = await backend.createMultipartUpload();
        const r1 = await backend.putPart(uploadId, 1, sourceOf([p1]));
        const r2 = await backend.putPart(uploadId, 2, sourceOf([p2]));
        await assert.rejects(
          backend.completeMultipartUpload(uploadId, [r2, r1], { minPartSize: 1 }),
          s3('InvalidPartOrder'),
        );
        await assert.rejects(
          backend.completeMultipartUpload(uploadId, [r1, r1], { minPartSize: 1 }),
          s3('InvalidPartOrder'),
        );
        await assert.rejects(
          backend.completeMultipartUpload(uploadId, [r1, { partNumber: 3, etag: r2.etag }], {
            minPartSize: 1,
          }),
          s3('InvalidPart'),
        );
        await assert.rejects(
          backend.completeMultipartUpload(uploadId, [r1, { partNumber: 2, etag: md5('nope') }], {
            minPartSize: 1,
          }),
          s3('InvalidPart'),
        );
        await assert.rejects(
          backend.completeMultipartUpload(uploadId, [r1, { partNumber: 2, etag: 'not-an-etag' }], {
            minPartSize: 1,
          }),
          s3('InvalidPart'),
        );
        // S3's default: every part but the last must be at least 5 MiB.
        await assert.rejects(backend.completeMultipartUpload(uploadId, [r1, r2]), s3('EntityTooSmall'));
        await assert.rejects(backend.completeMultipartUpload(uploadId, []), s3('MalformedXML'));
        // The upload survives failed completions.
        const blob = await backend.completeMultipartUpload(uploadId, [r1, r2], { minPartSize: 1 });
        assert.equal(blob.size, 1700);
      });

      it('accepts 5 MiB parts under the default minimum', async () => {
        const uploadId = await backend.createMultipartUpload();
        const big = Buffer.alloc(5 * 1024 * 1024, 1);
        const r1 = await backend.putPart(uploadId, 1, sourceOf([big]));
        const r2 = await backend.putPart(uploadId, 2, sourceOf(['x']));
        const blob = await backend.completeMultipartUpload(uploadId, [r1, r2]);
        assert.equal(blob.size, big.length + 1);
        await backend.delete(blob.id);
      });

      it('refuses bad part numbers and bad part bodies', async () => {
        const uploadId = await backend.createMultipartUpload();
        for (const n of [0, 10001, 1.5, -1, Number.NaN]) {
          await assert.rejects(
            backend.putPart(uploadId, n, sourceOf(['x'])),
            s3('InvalidArgument'),
            String(n),
          );
        }
        await assert.rejects(
          backend.putPart(uploadId, 1, sourceOf(['x']), { expected: { contentMd5: md5b64('y') } }),
          s3('BadDigest'),
        );
        await assert.rejects(backend.putPart(uploadId, 1, sourceOf(['x'], new Error('aborted'))), /aborted/);
        assert.deepEqual(await backend.listParts(uploadId), []);
        await backend.abortMultipartUpload(uploadId);
      });

      it('aborts, after which the upload is gone', async () => {
        const uploadId = await backend.createMultipartUpload();
        await backend.putPart(uploadId, 1, sourceOf([p1]));
        let seen = false;
        for await (const u of backend.listMultipartUploads()) if (u.uploadId === uploadId) seen = true;
        assert.ok(seen);
        await backend.abortMultipartUpload(uploadId);
        await assert.rejects(backend.putPart(uploadId, 1, sourceOf([p1])), s3('NoSuchUpload'));
        await assert.rejects(backend.abortMultipartUpload(uploadId), s3('NoSuchUpload'));
        for await (const u of backend.listMultipartUploads()) assert.notEqual(u.uploadId, uploadId);
      });

      it('answers NoSuchUpload for unknown and hostile upload ids', async () => {
        for (const id of ['0'.repeat(32), '../../tmp', '..', '', 'ABC', `${'a'.repeat(32)}/..`]) {
          await assert.rejects(backend.putPart(id, 1, sourceOf(['x'])), s3('NoSuchUpload'), id);
          await assert.rejects(backend.listParts(id), s3('NoSuchUpload'), id);
          await assert.rejects(
            backend.completeMultipartUpload(id, [{ partNumber: 1, etag: md5('x') }]),
            s3('NoSuchUpload'),
          );
          await assert.rejects(backend.abortMultipartUpload(id), s3('NoSuchUpload'), id);
        }
      });
    });

    it('sweeps nothing that is published', async () => {
      const blob = await backend.put(sourceOf(['keep me']));
      await backend.sweepTemporary(0);
      assert.equal((await buffer(await backend.get(blob.id))).toString(), 'keep me');
    });
  });
}
