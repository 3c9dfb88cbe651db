import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buffer } from 'node:stream/consumers';
import { after, before, describe, it } from 'node:test';
import {
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { type RunningServer, startServer } from '../app/start-server.js';
import { loadKeyring } from '../identity/keyring.js';
import { silentLogger } from '../observability/logger.js';
import { S3Error } from '../s3/s3-errors.js';
import { IamService } from '../services/iam-service.js';
import { describeObjectBackendContract, sourceOf } from './object-backend-contract.js';
import { parseObjectStoreUrl, S3ObjectBackend } from './s3-object-backend.js';

/** A second aiam server as the upstream store, with a bucket and its administrator's key. */
async function startUpstream(bucket: string) {
  const dir = await mkdtemp(join(tmpdir(), 'aiam-upstream-'));
  const server: RunningServer = await startServer({
    dataDir: dir,
    port: 0,
    env: {},
    logger: silentLogger,
    s3: { fsync: false },
  });
  const { keyring } = await loadKeyring({ dataDir: dir, env: {} });
  const key = await new IamService({ store: server.store, keyring }).createAccessKey('admin');
  const credentials = { accessKeyId: key.accessKey.accessKeyId, secretAccessKey: key.secretAccessKey };
  const client = new S3Client({
    endpoint: server.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
  });
  await client.send(new CreateBucketCommand({ Bucket: bucket }));
  return {
    server,
    credentials,
    client,
    async close() {
      client.destroy();
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

describeObjectBackendContract('s3 (a second aiam server as the upstream)', async () => {
  const upstream = await startUpstream('blobs');
  const backend = new S3ObjectBackend({
    bucket: 'blobs',
    prefix: 'node-a',
    endpoint: upstream.server.url,
    credentials: upstream.credentials,
  });
  return {
    backend,
    async cleanup() {
      backend.close();
      await upstream.close();
    },
  };
});

describe('S3ObjectBackend against a second aiam server', () => {
  let upstream: Awaited<ReturnType<typeof startUpstream>>;
  before(async () => {
    upstream = await startUpstream('store');
  });
  after(async () => {
    await upstream?.close();
  });

  it('keeps blobs under <prefix>blobs/<id>, whatever the object key was', async () => {
    const backend = new S3ObjectBackend({
      bucket: 'store',
      prefix: 'tenant/',
      endpoint: upstream.server.url,
      credentials: upstream.credentials,
    });
    const blob = await backend.put(sourceOf(['bytes']));
    const listed = await upstream.client.send(
      new ListObjectsV2Command({ Bucket: 'store', Prefix: 'tenant/' }),
    );
    assert.deepEqual(
      listed.Contents?.map((o) => o.Key),
      [`tenant/blobs/${blob.id}`],
    );
    backend.close();
  });

  it('cuts a large body of unknown length into upstream parts, one part in memory at a time', async () => {
    const backend = new S3ObjectBackend({
      bucket: 'store',
      endpoint: upstream.server.url,
      credentials: upstream.credentials,
      partSize: 5 * 1024 * 1024,
    });
    const piece = Buffer.alloc(1024 * 1024);
    for (let i = 0; i < piece.length; i++) piece[i] = (i * 7) & 0xff;
    const blob = await backend.put(sourceOf(Array.from({ length: 12 }, () => piece)), {
      checksumAlgorithms: ['CRC32C'],
    });
    assert.equal(blob.size, 12 * piece.length);
    const got = await buffer(
      await backend.get(blob.id, { start: 5 * 1024 * 1024 - 3, end: 5 * 1024 * 1024 + 2 }),
    );
    assert.ok(got.equals(Buffer.concat([piece, piece]).subarray(1024 * 1024 - 3, 1024 * 1024 + 3)));
    // A bad trailing checksum on a multipart-sized body publishes nothing and leaves no upload.
    const before = (await upstream.client.send(new ListObjectsV2Command({ Bucket: 'store' }))).KeyCount;
    await assert.rejects(
      backend.put(sourceOf(Array.from({ length: 11 }, () => piece)), {
        checksumAlgorithms: ['CRC32C'],
        expected: () => ({ checksums: { CRC32C: 'AAAAAA==' } }),
      }),
      (e: unknown) => e instanceof S3Error && e.s3Code === 'BadDigest',
    );
    assert.equal(
      (await upstream.client.send(new ListObjectsV2Command({ Bucket: 'store' }))).KeyCount,
      before,
    );
    assert.equal(await backend.sweepTemporary(0), 0);
    backend.close();
  });

  it('completes 5 MiB parts streamed into the upstream upload, with a small last part', async () => {
    const backend = new S3ObjectBackend({
      bucket: 'store',
      endpoint: upstream.server.url,
      credentials: upstream.credentials,
    });
    const uploadId = await backend.createMultipartUpload();
    const big = Buffer.alloc(5 * 1024 * 1024, 3);
    const p1 = await backend.putPart(uploadId, 1, sourceOf([big.subarray(0, 1000), big.subarray(1000)]), {
      expectedSize: big.length,
    });
    const p2 = await backend.putPart(uploadId, 2, sourceOf(['tail']), { expectedSize: 4 });
    assert.deepEqual(
      (await backend.listParts(uploadId)).map((p) => [p.partNumber, p.size]),
      [
        [1, big.length],
        [2, 4],
      ],
    );
    const blob = await backend.completeMultipartUpload(uploadId, [p1, p2]);
    assert.match(blob.etag, /-2$/);
    const tail = await buffer(await backend.get(blob.id, { start: big.length - 1, end: big.length + 3 }));
    assert.deepEqual([...tail], [3, ...Buffer.from('tail')]);
    const left = await upstream.client.send(new ListObjectsV2Command({ Bucket: 'store', Prefix: 'parts/' }));
    assert.equal(left.KeyCount, 0);
    backend.close();
  });

  it('sweeps what a killed node left upstream, but only past the grace period other nodes need', async () => {
    const backend = new S3ObjectBackend({
      bucket: 'store',
      prefix: 'swept',
      endpoint: upstream.server.url,
      credentials: upstream.credentials,
    });
    const hex = 'ab'.repeat(16);
    // A put cut short by a crash: an upstream upload on a blob key, and a small part of an
    // upload that no longer exists.
    await upstream.client.send(
      new CreateMultipartUploadCommand({ Bucket: 'store', Key: `swept/blobs/${hex}` }),
    );
    await upstream.client.send(
      new PutObjectCommand({ Bucket: 'store', Key: `swept/parts/${hex}/00001.${'0'.repeat(32)}`, Body: 'x' }),
    );
    const live = await backend.createMultipartUpload();
    await backend.putPart(live, 1, sourceOf(['kept']));
    assert.equal(await backend.sweepTemporary(0), 0);
    const eager = new S3ObjectBackend({
      bucket: 'store',
      prefix: 'swept',
      endpoint: upstream.server.url,
      credentials: upstream.credentials,
      minSweepAgeMs: 0,
    });
    assert.equal(await eager.sweepTemporary(0), 2);
    const uploads = await upstream.client.send(
      new ListMultipartUploadsCommand({ Bucket: 'store', Prefix: 'swept/' }),
    );
    assert.deepEqual(
      uploads.Uploads?.map((u) => u.Key),
      [`swept/blobs/m${live.split('.')[0]}`],
    );
    assert.deepEqual(
      (await backend.listParts(live)).map((p) => p.size),
      [4],
    );
    const listed = [];
    for await (const u of backend.listMultipartUploads()) listed.push(u.uploadId);
    assert.deepEqual(listed, [live]);
    backend.close();
    eager.close();
  });

  it('maps upstream refusals to typed errors that never carry the credentials', async () => {
    const backend = new S3ObjectBackend({
      bucket: 'store',
      endpoint: upstream.server.url,
      credentials: { accessKeyId: upstream.credentials.accessKeyId, secretAccessKey: 'wrong-secret-value' },
    });
    const error = await backend.put(sourceOf(['x'])).then(
      () => assert.fail('expected a refusal'),
      (e: unknown) => e,
    );
    assert.ok(error instanceof S3Error);
    assert.equal(error.s3Code, 'InternalError');
    assert.match(error.message, /SignatureDoesNotMatch/);
    assert.doesNotMatch(error.message, /wrong-secret-value/);
    assert.ok(!error.message.includes(upstream.credentials.accessKeyId));
    const missing = new S3ObjectBackend({
      bucket: 'nope',
      endpoint: upstream.server.url,
      credentials: upstream.credentials,
    });
    await assert.rejects(
      missing.get('0'.repeat(32)),
      (e: unknown) => e instanceof S3Error && e.s3Code === 'InternalError',
    );
    backend.close();
    missing.close();
  });

  it('answers ServiceUnavailable (worth a retry) when the upstream cannot be reached', async () => {
    const down = new S3ObjectBackend({
      bucket: 'store',
      endpoint: 'http://127.0.0.1:1',
      credentials: upstream.credentials,
      client: new S3Client({
        endpoint: 'http://127.0.0.1:1',
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: upstream.credentials,
        maxAttempts: 1,
      }),
    });
    await assert.rejects(
      down.stat('0'.repeat(32)),
      (e: unknown) =>
        e instanceof S3Error &&
        e.s3Code === 'ServiceUnavailable' &&
        !e.message.includes(upstream.credentials.secretAccessKey),
    );
    down.close();
  });
});

describe('parseObjectStoreUrl', () => {
  it('reads bucket, prefix, endpoint, region and path style', () => {
    assert.deepEqual(
      parseObjectStoreUrl('s3://data/aiam/objects?endpoint=http://127.0.0.1:9000&region=eu-west-1'),
      {
        bucket: 'data',
        prefix: 'aiam/objects',
        endpoint: 'http://127.0.0.1:9000',
        region: 'eu-west-1',
      },
    );
    assert.deepEqual(parseObjectStoreUrl('s3://data?forcePathStyle=false'), {
      bucket: 'data',
      prefix: '',
      forcePathStyle: false,
    });
  });

  it('refuses what is not an s3 URL, credentials in the URL and unknown options', () => {
    for (const bad of [
      'data',
      'http://data/x',
      's3:///x',
      's3://key:secret@data/x',
      's3://data?endpoint=ftp://x',
      's3://data?pathstyle=1',
      's3://data?forcePathStyle=yes',
    ]) {
      assert.throws(
        () => parseObjectStoreUrl(bad),
        (e: unknown) =>
          e instanceof S3Error && e.s3Code === 'InvalidArgument' && !e.message.includes('secret'),
        bad,
      );
    }
  });
});
