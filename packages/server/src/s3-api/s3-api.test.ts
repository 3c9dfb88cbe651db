import { randomBytes } from 'node:crypto';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readlink, rm } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Transform } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteBucketCommand,
  DeleteObjectCommand,
  DeleteObjectsCommand,
  GetBucketPolicyCommand,
  GetObjectCommand,
  GetObjectTaggingCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  PutBucketPolicyCommand,
  PutObjectCommand,
  PutObjectTaggingCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { type RunningServer, startServer } from '../app/start-server.js';
import { loadKeyring } from '../identity/keyring.js';
import { silentLogger } from '../observability/logger.js';
import { IamService } from '../services/iam-service.js';

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

// Seed scenario 002, verbatim: the policy document the Pulumi program attaches to aiUser.
const SEED_002_POLICY = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:ListBucket'],
      Resource: ['arn:aws:s3:::ai-model-data/*', 'arn:aws:s3:::ai-model-data'],
    },
  ],
};

describe('S3 data plane with stock clients', () => {
  let dir: string;
  let server: RunningServer;
  let admin: Creds;
  let aiUser: Creds;
  let tagReader: Creds;
  let offsetMs = 0;
  const s3 = (credentials?: Creds, extra: Record<string, unknown> = {}) =>
    new S3Client({
      endpoint: server.url,
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      ...(credentials ? { credentials } : {}),
      ...extra,
    });
  const errorOf = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      return e as { name: string; Code?: string; message: string; $metadata: { httpStatusCode?: number } };
    }
    assert.fail('expected an error');
  };
  const raw = (
    method: string,
    path: string,
    headers: Record<string, string> = {},
    body?: Buffer | string,
  ): Promise<{ status: number; headers: Record<string, unknown>; body: string }> =>
    new Promise((resolve, reject) => {
      const r = httpRequest(`${server.url}${path}`, { method, headers }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            body: Buffer.concat(chunks).toString(),
          }),
        );
      });
      r.on('error', reject);
      r.end(body);
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-s3-'));
    server = await startServer({
      dataDir: dir,
      port: 0,
      env: {},
      logger: silentLogger,
      clock: { now: () => Date.now() + offsetMs },
      s3: { fsync: false, virtualHostBases: ['s3.test'] },
    });
    const { keyring } = await loadKeyring({ dataDir: dir, env: {} });
    const iam = new IamService({ store: server.store, keyring });
    const adminKey = await iam.createAccessKey('admin');
    admin = { accessKeyId: adminKey.accessKey.accessKeyId, secretAccessKey: adminKey.secretAccessKey };
    const user = await iam.createUser({
      name: 'aiUser',
      path: '/',
      tags: { Environment: 'DataAccess', Project: 'AIModel' },
    });
    const policy = await iam.createPolicy({ name: 'aiDataAccessPolicy', document: SEED_002_POLICY });
    await iam.attachPolicy(user.arn, policy.arn);
    const reader = await iam.createUser({ name: 'tagReader', tags: { team: 'ml' } });
    await iam.putInlinePolicy(
      reader.arn,
      'by-tag',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Action: 's3:GetObject',
            Resource: 'arn:aws:s3:::tagged/*',
            // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template
            Condition: { StringEquals: { 's3:ExistingObjectTag/team': '${aws:PrincipalTag/team}' } },
          },
          {
            Effect: 'Allow',
            Action: 's3:ListBucket',
            Resource: 'arn:aws:s3:::tagged',
            Condition: { StringLike: { 's3:prefix': 'public/*' } },
          },
        ],
      }),
    );
    const rk = await iam.createAccessKey('tagReader');
    tagReader = { accessKeyId: rk.accessKey.accessKeyId, secretAccessKey: rk.secretAccessKey };
    const k = await iam.createAccessKey('aiUser');
    aiUser = { accessKeyId: k.accessKey.accessKeyId, secretAccessKey: k.secretAccessKey };
  });

  after(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates buckets, puts (aws-chunked with a trailing CRC32), gets, heads and ranges', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'data' }));
    assert.equal(
      (await errorOf(c.send(new CreateBucketCommand({ Bucket: 'data' })))).name,
      'BucketAlreadyOwnedByYou',
    );
    await c.send(new HeadBucketCommand({ Bucket: 'data' }));
    const listed = await c.send(new ListBucketsCommand({}));
    assert.ok(listed.Buckets?.some((b) => b.Name === 'data'));

    const body = 'hello, training data\n'.repeat(1000);
    const put = await c.send(
      new PutObjectCommand({
        Bucket: 'data',
        Key: 'dir/a b/ünï.txt',
        Body: body,
        ContentType: 'text/plain',
        Metadata: { origin: 'test' },
        Tagging: 'team=ml',
      }),
    );
    assert.equal(put.ETag, `"${createHash('md5').update(body).digest('hex')}"`);
    // The SDK's default for a stream body: aws-chunked with a trailing CRC32.
    const modes: string[] = [];
    const streaming = s3(admin);
    streaming.middlewareStack.add(
      (next) => async (args) => {
        const h = (args as { request: { headers: Record<string, string> } }).request.headers;
        modes.push(`${h['x-amz-content-sha256']} ${h['x-amz-trailer']}`);
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low' },
    );
    await streaming.send(
      new PutObjectCommand({
        Bucket: 'data',
        Key: 'streamed',
        Body: Readable.from([Buffer.from(body)]),
        ContentLength: body.length,
      }),
    );
    assert.match(modes[0]!, /^STREAMING-.*-TRAILER x-amz-checksum-crc32$/);
    const streamed = await c.send(
      new GetObjectCommand({ Bucket: 'data', Key: 'streamed', ChecksumMode: 'ENABLED' }),
    );
    assert.equal(await streamed.Body!.transformToString(), body);
    assert.equal(streamed.ChecksumCRC32 !== undefined, true);
    const got = await c.send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/a b/ünï.txt' }));
    assert.equal(await got.Body!.transformToString(), body);
    assert.equal(got.ContentType, 'text/plain');
    assert.deepEqual(got.Metadata, { origin: 'test' });
    assert.equal(got.TagCount, 1);
    const range = await c.send(
      new GetObjectCommand({ Bucket: 'data', Key: 'dir/a b/ünï.txt', Range: 'bytes=7-19' }),
    );
    assert.equal(await range.Body!.transformToString(), 'training data');
    assert.equal(range.ContentRange, `bytes 7-19/${body.length}`);
    // Past the small-read size, a single-part object is sent from its open file in 1 MiB
    // steps: whole and ranged reads across step boundaries come back byte for byte.
    const large = randomBytes(3 * 1024 * 1024 + 5);
    await c.send(new PutObjectCommand({ Bucket: 'data', Key: 'large.bin', Body: large }));
    const whole = await c.send(new GetObjectCommand({ Bucket: 'data', Key: 'large.bin' }));
    assert.ok(Buffer.from(await whole.Body!.transformToByteArray()).equals(large));
    const span = await c.send(
      new GetObjectCommand({ Bucket: 'data', Key: 'large.bin', Range: 'bytes=1048570-2097160' }),
    );
    assert.ok(Buffer.from(await span.Body!.transformToByteArray()).equals(large.subarray(1048570, 2097161)));
    const head = await c.send(new HeadObjectCommand({ Bucket: 'data', Key: 'dir/a b/ünï.txt' }));
    assert.equal(head.ContentLength, body.length);
    const tags = await c.send(new GetObjectTaggingCommand({ Bucket: 'data', Key: 'dir/a b/ünï.txt' }));
    assert.deepEqual(tags.TagSet, [{ Key: 'team', Value: 'ml' }]);
    await c.send(
      new PutObjectTaggingCommand({
        Bucket: 'data',
        Key: 'dir/a b/ünï.txt',
        Tagging: { TagSet: [{ Key: 'stage', Value: 'raw' }] },
      }),
    );
    const notModified = await errorOf(
      c.send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/a b/ünï.txt', IfNoneMatch: put.ETag })),
    );
    assert.equal(notModified.$metadata.httpStatusCode, 304);
    const failed = await errorOf(
      c.send(new GetObjectCommand({ Bucket: 'data', Key: 'dir/a b/ünï.txt', IfMatch: '"0"' })),
    );
    assert.equal(failed.name, 'PreconditionFailed');
    assert.equal(
      (await errorOf(c.send(new GetObjectCommand({ Bucket: 'data', Key: 'missing' })))).name,
      'NoSuchKey',
    );
    assert.equal(
      (await errorOf(c.send(new HeadBucketCommand({ Bucket: 'nope' })))).$metadata.httpStatusCode,
      404,
    );
  });

  it('lists v2 with delimiter and pagination, v1 and versions; copies; batch deletes', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'listing' }));
    const keys = ['a/1', 'a/2', 'b/1', 'c', 'd', 'e'];
    for (const Key of keys) await c.send(new PutObjectCommand({ Bucket: 'listing', Key, Body: Key }));
    const top = await c.send(new ListObjectsV2Command({ Bucket: 'listing', Delimiter: '/' }));
    assert.deepEqual(
      top.CommonPrefixes?.map((p) => p.Prefix),
      ['a/', 'b/'],
    );
    assert.deepEqual(
      top.Contents?.map((o) => o.Key),
      ['c', 'd', 'e'],
    );
    const seen: string[] = [];
    let token: string | undefined;
    do {
      const page = await c.send(
        new ListObjectsV2Command({ Bucket: 'listing', MaxKeys: 2, ContinuationToken: token }),
      );
      seen.push(...(page.Contents ?? []).map((o) => o.Key!));
      token = page.NextContinuationToken;
      assert.equal(page.IsTruncated, token !== undefined);
    } while (token);
    assert.deepEqual(seen, keys);
    const after = await c.send(new ListObjectsV2Command({ Bucket: 'listing', StartAfter: 'c', Prefix: '' }));
    assert.deepEqual(
      after.Contents?.map((o) => o.Key),
      ['d', 'e'],
    );
    const v1 = await c.send(new ListObjectsCommand({ Bucket: 'listing', Prefix: 'a/' }));
    assert.deepEqual(
      v1.Contents?.map((o) => o.Key),
      ['a/1', 'a/2'],
    );
    const versions = await c.send(new ListObjectVersionsCommand({ Bucket: 'listing', Prefix: 'b/' }));
    assert.deepEqual(
      versions.Versions?.map((v) => [v.Key, v.VersionId, v.IsLatest]),
      [['b/1', 'null', true]],
    );

    const copy = await c.send(
      new CopyObjectCommand({ Bucket: 'listing', Key: 'copied', CopySource: 'listing/c' }),
    );
    assert.equal(copy.CopyObjectResult?.ETag, `"${createHash('md5').update('c').digest('hex')}"`);
    const copied = await c.send(new GetObjectCommand({ Bucket: 'listing', Key: 'copied' }));
    assert.equal(await copied.Body!.transformToString(), 'c');

    const del = await c.send(
      new DeleteObjectsCommand({
        Bucket: 'listing',
        Delete: { Objects: [{ Key: 'a/1' }, { Key: 'a/2' }, { Key: 'zzz' }] },
      }),
    );
    assert.deepEqual(del.Deleted?.map((d) => d.Key).sort(), ['a/1', 'a/2', 'zzz']);
    const left = await c.send(new ListObjectsV2Command({ Bucket: 'listing' }));
    assert.deepEqual(
      left.Contents?.map((o) => o.Key),
      ['b/1', 'c', 'copied', 'd', 'e'],
    );
    assert.equal(
      (await errorOf(c.send(new DeleteBucketCommand({ Bucket: 'listing' })))).name,
      'BucketNotEmpty',
    );
    await c.send(new DeleteObjectCommand({ Bucket: 'listing', Key: 'c' }));
  });

  it('uploads a 20 MiB object in parts with lib-storage; the ETag is the multipart form', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'big' }));
    const data = Buffer.alloc(20 * 1024 * 1024 + 123);
    for (let i = 0; i < data.length; i += 4096) data.writeUInt32LE(i, i);
    const upload = new Upload({
      client: c,
      params: { Bucket: 'big', Key: 'model.bin', Body: data },
      partSize: 5 * 1024 * 1024,
    });
    const done = await upload.done();
    const md5s = [];
    for (let off = 0; off < data.length; off += 5 * 1024 * 1024)
      md5s.push(
        createHash('md5')
          .update(data.subarray(off, off + 5 * 1024 * 1024))
          .digest(),
      );
    const expected = `"${createHash('md5').update(Buffer.concat(md5s)).digest('hex')}-${md5s.length}"`;
    assert.equal(done.ETag, expected);
    const got = await c.send(new GetObjectCommand({ Bucket: 'big', Key: 'model.bin' }));
    const bytes = Buffer.from(await got.Body!.transformToByteArray());
    assert.equal(bytes.length, data.length);
    assert.ok(bytes.equals(data));
    const uploads = await c.send(new ListMultipartUploadsCommand({ Bucket: 'big' }));
    assert.equal(uploads.Uploads?.length ?? 0, 0);
  });

  it('refuses parts out of order with InvalidPartOrder', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'parts' }));
    const { UploadId } = await c.send(new CreateMultipartUploadCommand({ Bucket: 'parts', Key: 'k' }));
    const part = Buffer.alloc(5 * 1024 * 1024, 1);
    const p1 = await c.send(
      new UploadPartCommand({ Bucket: 'parts', Key: 'k', UploadId, PartNumber: 1, Body: part }),
    );
    const p2 = await c.send(
      new UploadPartCommand({ Bucket: 'parts', Key: 'k', UploadId, PartNumber: 2, Body: 'end' }),
    );
    const err = await errorOf(
      c.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'parts',
          Key: 'k',
          UploadId,
          MultipartUpload: {
            Parts: [
              { PartNumber: 2, ETag: p2.ETag },
              { PartNumber: 1, ETag: p1.ETag },
            ],
          },
        }),
      ),
    );
    assert.equal(err.name, 'InvalidPartOrder');
    const wrong = await errorOf(
      c.send(
        new CompleteMultipartUploadCommand({
          Bucket: 'parts',
          Key: 'k',
          UploadId,
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"00000000000000000000000000000000"' }] },
        }),
      ),
    );
    assert.equal(wrong.name, 'InvalidPart');
  });

  it('serves presigned GET and PUT URLs, refusing expired and tampered ones', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'signed' }));
    const putUrl = await getSignedUrl(c, new PutObjectCommand({ Bucket: 'signed', Key: 'p.txt' }), {
      expiresIn: 60,
    });
    const put = await fetch(putUrl, { method: 'PUT', body: 'presigned body' });
    assert.equal(put.status, 200, await put.text());
    const getUrl = await getSignedUrl(c, new GetObjectCommand({ Bucket: 'signed', Key: 'p.txt' }), {
      expiresIn: 60,
    });
    const get = await fetch(getUrl);
    assert.equal(get.status, 200);
    assert.equal(await get.text(), 'presigned body');

    const tampered = await fetch(getUrl.replace('p.txt', 'q.txt'));
    assert.equal(tampered.status, 403);
    assert.match(await tampered.text(), /<Code>SignatureDoesNotMatch<\/Code>/);

    const shortUrl = await getSignedUrl(c, new GetObjectCommand({ Bucket: 'signed', Key: 'p.txt' }), {
      expiresIn: 1,
    });
    offsetMs = 5_000;
    try {
      const expired = await fetch(shortUrl);
      assert.equal(expired.status, 403);
      assert.match(await expired.text(), /<Code>AccessDenied<\/Code>/);
    } finally {
      offsetMs = 0;
    }
    const anonymous = await fetch(`${server.url}/signed/p.txt`);
    assert.equal(anonymous.status, 403);
    assert.match(await anonymous.text(), /<Code>AccessDenied<\/Code>.*<RequestId>/s);
  });

  it('puts and gets a validated bucket policy; Principal "*" lets anonymous callers read', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'public-data' }));
    await c.send(new PutObjectCommand({ Bucket: 'public-data', Key: 'readme', Body: 'open' }));
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::public-data/*' },
      ],
    });
    await c.send(new PutBucketPolicyCommand({ Bucket: 'public-data', Policy: policy }));
    const got = await c.send(new GetBucketPolicyCommand({ Bucket: 'public-data' }));
    assert.deepEqual(JSON.parse(got.Policy!), JSON.parse(policy));
    const anon = await fetch(`${server.url}/public-data/readme`);
    assert.equal(anon.status, 200);
    assert.equal(await anon.text(), 'open');
    // Virtual-host style: Host BUCKET.<base> names the bucket.
    const vhost = await raw('GET', '/readme', { host: 'public-data.s3.test' });
    assert.equal(vhost.status, 200);
    assert.equal(vhost.body, 'open');
    const anonList = await fetch(`${server.url}/public-data`);
    assert.equal(anonList.status, 403);
    const bad = await errorOf(
      c.send(
        new PutBucketPolicyCommand({
          Bucket: 'public-data',
          Policy: JSON.stringify({
            Version: '2012-10-17',
            Statement: [
              { Effect: 'Allow', Principal: '*', Action: 's3:GetObject', Resource: 'arn:aws:s3:::other/*' },
            ],
          }),
        }),
      ),
    );
    assert.equal(bad.name, 'MalformedPolicy');
  });

  it('seed 002: aiUser lists and reads ai-model-data and is refused writes and deletes', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'ai-model-data' }));
    await c.send(new PutObjectCommand({ Bucket: 'ai-model-data', Key: 'models/v1.bin', Body: 'weights' }));
    await c.send(new CreateBucketCommand({ Bucket: 'other-data' }));
    const u = s3(aiUser);
    const list = await u.send(new ListObjectsV2Command({ Bucket: 'ai-model-data' }));
    assert.deepEqual(
      list.Contents?.map((o) => o.Key),
      ['models/v1.bin'],
    );
    const got = await u.send(new GetObjectCommand({ Bucket: 'ai-model-data', Key: 'models/v1.bin' }));
    assert.equal(await got.Body!.transformToString(), 'weights');
    const put = await errorOf(
      u.send(new PutObjectCommand({ Bucket: 'ai-model-data', Key: 'x', Body: 'no' })),
    );
    assert.equal(put.name, 'AccessDenied');
    assert.equal(put.$metadata.httpStatusCode, 403);
    const del = await errorOf(
      u.send(new DeleteObjectCommand({ Bucket: 'ai-model-data', Key: 'models/v1.bin' })),
    );
    assert.equal(del.name, 'AccessDenied');
    const batch = await u.send(
      new DeleteObjectsCommand({ Bucket: 'ai-model-data', Delete: { Objects: [{ Key: 'models/v1.bin' }] } }),
    );
    assert.equal(batch.Errors?.[0]?.Code, 'AccessDenied');
    assert.equal(
      (await errorOf(u.send(new ListObjectsV2Command({ Bucket: 'other-data' })))).name,
      'AccessDenied',
    );
    assert.equal((await errorOf(u.send(new ListBucketsCommand({})))).name, 'AccessDenied');
    // A missing key reads as NoSuchKey to a caller who may list the bucket.
    assert.equal(
      (await errorOf(u.send(new GetObjectCommand({ Bucket: 'ai-model-data', Key: 'none' })))).name,
      'NoSuchKey',
    );
    const still = await c.send(new HeadObjectCommand({ Bucket: 'ai-model-data', Key: 'models/v1.bin' }));
    assert.equal(still.ContentLength, 7);
    // Every decision is on the audit trail (the writer flushes within 100 ms).
    let denied: { resource: string | null; errorCode: string | null }[] = [];
    for (let i = 0; i < 50 && denied.length === 0; i++) {
      await new Promise((r) => setTimeout(r, 50));
      const page = await server.store.queryAudit({
        action: 's3:PutObject',
        decision: 'implicitDeny',
        limit: 10,
      });
      denied = page.records.filter((r) => r.principal?.endsWith(':user/aiUser'));
    }
    assert.equal(denied[0]?.resource, 'arn:aws:s3:::ai-model-data/x');
    assert.equal(denied[0]?.errorCode, 'AccessDenied');
  });

  it('decides on s3:ExistingObjectTag, aws:PrincipalTag and s3:prefix conditions', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'tagged' }));
    await c.send(new PutObjectCommand({ Bucket: 'tagged', Key: 'ml.txt', Body: 'ml', Tagging: 'team=ml' }));
    await c.send(
      new PutObjectCommand({ Bucket: 'tagged', Key: 'ops.txt', Body: 'ops', Tagging: 'team=ops' }),
    );
    const r = s3(tagReader);
    const ok = await r.send(new GetObjectCommand({ Bucket: 'tagged', Key: 'ml.txt' }));
    assert.equal(await ok.Body!.transformToString(), 'ml');
    assert.equal(
      (await errorOf(r.send(new GetObjectCommand({ Bucket: 'tagged', Key: 'ops.txt' })))).name,
      'AccessDenied',
    );
    await r.send(new ListObjectsV2Command({ Bucket: 'tagged', Prefix: 'public/' }));
    assert.equal(
      (await errorOf(r.send(new ListObjectsV2Command({ Bucket: 'tagged', Prefix: 'private/' })))).name,
      'AccessDenied',
    );
  });

  it('refuses bad input: malformed XML, wrong Content-MD5, wrong trailing checksum, skewed clock', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'bad' }));
    const xmlClient = s3(admin);
    xmlClient.middlewareStack.add(
      (next) => async (args) => {
        const request = (args as { request: { body: unknown; headers: Record<string, string> } }).request;
        request.body = '<Delete><Object><Key>a</Key></Object';
        for (const h of Object.keys(request.headers))
          if (h.toLowerCase().startsWith('x-amz-checksum-') || h.toLowerCase() === 'content-md5')
            delete request.headers[h];
        request.headers['content-length'] = String((request.body as string).length);
        return next(args);
      },
      { step: 'build', priority: 'low' },
    );
    const mx = await errorOf(
      xmlClient.send(new DeleteObjectsCommand({ Bucket: 'bad', Delete: { Objects: [{ Key: 'a' }] } })),
    );
    assert.equal(mx.name, 'MalformedXML');

    const md5 = await errorOf(
      c.send(
        new PutObjectCommand({
          Bucket: 'bad',
          Key: 'md5',
          Body: 'abc',
          ContentMD5: createHash('md5').update('abd').digest('base64'),
        }),
      ),
    );
    assert.equal(md5.name, 'BadDigest');
    const crc = await errorOf(
      c.send(new PutObjectCommand({ Bucket: 'bad', Key: 'crc', Body: 'abc', ChecksumCRC32: 'AAAAAA==' })),
    );
    assert.equal(crc.name, 'BadDigest');

    // A trailer that does not match the body: the SDK frames a stream as aws-chunked with a
    // trailing CRC32; a byte of the data is changed on the wire after signing.
    const trailerClient = s3(admin);
    const modes: string[] = [];
    trailerClient.middlewareStack.add(
      (next) => async (args) => {
        const request = (args as { request: { headers: Record<string, string>; body: unknown } }).request;
        modes.push(request.headers['x-amz-content-sha256'] ?? '');
        const body = request.body as NodeJS.ReadableStream;
        const flip = new Transform({
          transform(chunk: Buffer, _encoding, callback) {
            callback(null, Buffer.from(chunk.toString('latin1').replace('abc', 'abd'), 'latin1'));
          },
        });
        request.body = body.pipe(flip);
        return next(args);
      },
      { step: 'finalizeRequest', priority: 'low' },
    );
    const trailer = await errorOf(
      trailerClient.send(
        new PutObjectCommand({
          Bucket: 'bad',
          Key: 'trailer',
          Body: Readable.from([Buffer.from('abc')]),
          ContentLength: 3,
        }),
      ),
    );
    assert.equal(modes[0], 'STREAMING-UNSIGNED-PAYLOAD-TRAILER');
    assert.equal(trailer.name, 'BadDigest');

    for (const key of ['md5', 'crc', 'trailer']) {
      assert.equal(
        (await errorOf(c.send(new HeadObjectCommand({ Bucket: 'bad', Key: key })))).$metadata.httpStatusCode,
        404,
      );
    }

    const skewed = s3(admin, { systemClockOffset: 20 * 60 * 1000, correctClockSkew: false });
    const skew = await errorOf(skewed.send(new ListObjectsV2Command({ Bucket: 'bad' })));
    assert.equal(skew.name, 'RequestTimeTooSkewed');
  });

  it('leaves no object when the body is shorter than Content-Length or the client disconnects', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'cut' }));
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Principal: '*', Action: 's3:PutObject', Resource: 'arn:aws:s3:::cut/*' },
      ],
    });
    await c.send(new PutBucketPolicyCommand({ Bucket: 'cut', Policy: policy }));
    const url = new URL(server.url);
    // Half-close after 10 of 100 declared bytes: the server sees the end of the body early.
    const short = await new Promise<string>((resolve) => {
      const sock = connect(Number(url.port), url.hostname, () => {
        sock.write(`PUT /cut/short HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 100\r\n\r\n0123456789`);
        sock.end();
      });
      let text = '';
      sock.on('data', (d) => {
        text += d.toString();
      });
      sock.on('close', () => resolve(text));
      sock.on('error', () => resolve(text));
    });
    assert.doesNotMatch(short, /^HTTP\/1\.1 200/);
    // Disconnect mid-upload.
    await new Promise<void>((resolve) => {
      const sock = connect(Number(url.port), url.hostname, () => {
        sock.write(`PUT /cut/gone HTTP/1.1\r\nHost: ${url.host}\r\nContent-Length: 1000000\r\n\r\n`);
        sock.write(Buffer.alloc(100_000, 7), () =>
          setTimeout(() => {
            sock.destroy();
            resolve();
          }, 50),
        );
      });
      sock.on('error', () => resolve());
    });
    await new Promise((r) => setTimeout(r, 200));
    for (const key of ['short', 'gone']) {
      assert.equal(
        (await errorOf(c.send(new HeadObjectCommand({ Bucket: 'cut', Key: key })))).$metadata.httpStatusCode,
        404,
      );
    }
    const tmp = await readdir(join(dir, 'objects', 'tmp')).catch(() => []);
    assert.deepEqual(tmp, []);
  });

  it('closes the object file when a client goes away mid-download', async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'downloads' }));
    await c.send(
      new PutObjectCommand({ Bucket: 'downloads', Key: 'big.bin', Body: randomBytes(8 * 1024 * 1024) }),
    );
    const blobs = join(dir, 'objects', 'blobs');
    // Descriptors of this process (the server runs in it) open on a blob of the object store.
    const openBlobs = async () => {
      let n = 0;
      for (const fd of await readdir('/proc/self/fd')) {
        const target = await readlink(`/proc/self/fd/${fd}`).catch(() => '');
        if (target.startsWith(blobs)) n++;
      }
      return n;
    };
    const url = new URL(await getSignedUrl(c, new GetObjectCommand({ Bucket: 'downloads', Key: 'big.bin' })));
    const during = await new Promise<number>((resolve, reject) => {
      const r = httpRequest(url, { agent: false }, (res) => {
        res.once('data', async () => {
          // Do not read on: the server is blocked on backpressure with the file open.
          res.pause();
          const n = await openBlobs();
          r.destroy();
          resolve(n);
        });
      });
      r.on('error', () => {});
      r.on('close', () => setTimeout(() => reject(new Error('closed before any data')), 5000).unref());
      r.end();
    });
    assert.equal(during, 1, 'the object file is open while it is sent');
    let after = -1;
    for (let i = 0; i < 50 && after !== 0; i++) {
      await new Promise((r) => setTimeout(r, 20));
      after = await openBlobs();
    }
    assert.equal(after, 0, 'the object file is closed once the client has gone');
  });

  it("answers 503, not 404, when an object's blob goes away between its row and its bytes", async () => {
    const c = s3(admin);
    await c.send(new CreateBucketCommand({ Bucket: 'vanishing' }));
    const sizes = { small: 100, large: 200_000 };
    for (const [key, size] of Object.entries(sizes)) {
      await c.send(new PutObjectCommand({ Bucket: 'vanishing', Key: key, Body: randomBytes(size) }));
      const ok = await fetch(await getSignedUrl(c, new GetObjectCommand({ Bucket: 'vanishing', Key: key })));
      assert.equal(ok.status, 200);
      assert.equal((await ok.arrayBuffer()).byteLength, size);
    }
    // What a concurrent overwrite does to a reader: the row it read names a blob that the new
    // version's commit has since removed. Emulated by removing these objects' blob files.
    for (const key of Object.keys(sizes)) {
      const id = (await server.store.getObject('vanishing', key))!.blobId;
      await rm(join(dir, 'objects', 'blobs', id.slice(0, 2), id.slice(2, 4), id));
    }
    for (const key of Object.keys(sizes)) {
      const gone = await fetch(
        await getSignedUrl(c, new GetObjectCommand({ Bucket: 'vanishing', Key: key })),
      );
      assert.equal(gone.status, 503, key);
      assert.match(await gone.text(), /<Code>ServiceUnavailable<\/Code>/);
    }
  });

  it('keeps other surfaces and reserved names apart', async () => {
    const health = await raw('GET', '/healthz');
    assert.equal(health.status, 200);
    const reserved = await raw('PUT', '/metrics');
    assert.equal(reserved.status, 400);
    assert.match(reserved.body, /<Code>InvalidBucketName<\/Code>.*reserved/s);
    const notImplemented = await raw('GET', '/data?cors');
    assert.match(notImplemented.body, /NotImplemented/);
    assert.ok(notImplemented.headers['x-amz-request-id']);
  });
});
