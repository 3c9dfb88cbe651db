import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
} from '@aws-sdk/client-s3';
import { type RunningServer, startServer } from '../app/start-server.js';
import { loadKeyring } from '../identity/keyring.js';
import { silentLogger } from '../observability/logger.js';
import { IamService } from '../services/iam-service.js';

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

async function adminKeyOf(server: RunningServer, dir: string): Promise<{ iam: IamService; admin: Creds }> {
  const { keyring } = await loadKeyring({ dataDir: dir, env: {} });
  const iam = new IamService({ store: server.store, keyring });
  const k = await iam.createAccessKey('admin');
  return { iam, admin: { accessKeyId: k.accessKey.accessKeyId, secretAccessKey: k.secretAccessKey } };
}

async function userKey(iam: IamService, name: string, document?: Record<string, unknown>): Promise<Creds> {
  const user = await iam.createUser({ name, path: '/' });
  if (document) {
    const policy = await iam.createPolicy({ name: `${name}-policy`, document });
    await iam.attachPolicy(user.arn, policy.arn);
  }
  const k = await iam.createAccessKey(name);
  return { accessKeyId: k.accessKey.accessKeyId, secretAccessKey: k.secretAccessKey };
}

const md5 = (b: Buffer | string) => createHash('md5').update(b).digest('hex');

/**
 * aiam A serves stock S3 clients and keeps its object bytes in aiam B (`AIAM_OBJECT_STORE`,
 * credentials from the process's AWS environment). A alone decides who may do what: B only
 * ever sees A's own key.
 */
describe('aiam in front of an upstream S3 store (another aiam)', () => {
  let dirA: string;
  let dirB: string;
  let a: RunningServer;
  let b: RunningServer;
  let adminA: Creds;
  let adminB: Creds;
  let reader: Creds;
  let stranger: Creds;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  const clients: S3Client[] = [];
  const s3 = (server: RunningServer, credentials: Creds) => {
    const c = new S3Client({
      endpoint: server.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials,
      maxAttempts: 1,
    });
    clients.push(c);
    return c;
  };
  const codeOf = (p: Promise<unknown>) =>
    p.then(
      () => 'ok',
      (e: { name: string }) => e.name,
    );
  /** The objects B holds for A: key -> bytes. */
  const upstreamContents = async () => {
    const c = s3(b, adminB);
    const listed = await c.send(new ListObjectsV2Command({ Bucket: 'aiam-objects' }));
    const out = new Map<string, Buffer>();
    for (const o of listed.Contents ?? []) {
      const got = await c.send(new GetObjectCommand({ Bucket: 'aiam-objects', Key: o.Key! }));
      out.set(o.Key!, Buffer.from(await got.Body!.transformToByteArray()));
    }
    return out;
  };

  before(async () => {
    dirB = await mkdtemp(join(tmpdir(), 'aiam-b-'));
    b = await startServer({ dataDir: dirB, port: 0, env: {}, logger: silentLogger, s3: { fsync: false } });
    ({ admin: adminB } = await adminKeyOf(b, dirB));
    await s3(b, adminB).send(new CreateBucketCommand({ Bucket: 'aiam-objects' }));

    // A reaches B with B's administrator key, from the standard AWS environment variables.
    process.env.AWS_ACCESS_KEY_ID = adminB.accessKeyId;
    process.env.AWS_SECRET_ACCESS_KEY = adminB.secretAccessKey;
    dirA = await mkdtemp(join(tmpdir(), 'aiam-a-'));
    a = await startServer({
      dataDir: dirA,
      port: 0,
      env: { AIAM_OBJECT_STORE: `s3://aiam-objects/front/?endpoint=${encodeURIComponent(b.url)}` },
      logger: silentLogger,
    });
    const { iam, admin } = await adminKeyOf(a, dirA);
    adminA = admin;
    reader = await userKey(iam, 'reader', {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['s3:GetObject', 's3:ListBucket'],
          Resource: ['arn:aws:s3:::data/*', 'arn:aws:s3:::data'],
        },
      ],
    });
    stranger = await userKey(iam, 'stranger');
    await s3(a, adminA).send(new CreateBucketCommand({ Bucket: 'data' }));
  });

  after(async () => {
    for (const c of clients) c.destroy();
    await a?.close();
    await b?.close();
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    for (const d of [dirA, dirB]) if (d) await rm(d, { recursive: true, force: true });
  });

  it('puts, gets, lists and reads ranges through A, with the bytes in B under opaque keys', async () => {
    const c = s3(a, adminA);
    const body = 'weights for the model, layer by layer\n'.repeat(500);
    const put = await c.send(
      new PutObjectCommand({ Bucket: 'data', Key: 'models/llm/../v1 ü.bin', Body: body }),
    );
    assert.equal(put.ETag, `"${md5(body)}"`);
    const got = await c.send(new GetObjectCommand({ Bucket: 'data', Key: 'models/llm/../v1 ü.bin' }));
    assert.equal(await got.Body!.transformToString(), body);
    const range = await c.send(
      new GetObjectCommand({ Bucket: 'data', Key: 'models/llm/../v1 ü.bin', Range: 'bytes=12-20' }),
    );
    assert.equal(await range.Body!.transformToString(), 'the model');
    const listed = await c.send(new ListObjectsV2Command({ Bucket: 'data', Prefix: 'models/' }));
    assert.deepEqual(
      listed.Contents?.map((o) => [o.Key, o.Size]),
      [['models/llm/../v1 ü.bin', body.length]],
    );

    const upstream = await upstreamContents();
    const holding = [...upstream].filter(([, bytes]) => bytes.toString() === body);
    assert.equal(holding.length, 1, 'the bytes live in B exactly once');
    assert.match(holding[0]![0], /^front\/blobs\/[0-9a-f]{32}$/);
    assert.ok(![...upstream.keys()].some((k) => k.includes('models')), 'object keys never reach B');

    await c.send(
      new CopyObjectCommand({
        Bucket: 'data',
        Key: 'models/copy',
        CopySource: 'data/models/llm/..%2Fv1%20%C3%BC.bin',
      }),
    );
    const copied = await c.send(
      new GetObjectCommand({ Bucket: 'data', Key: 'models/copy', Range: 'bytes=12-20' }),
    );
    assert.equal(await copied.Body!.transformToString(), 'the model');
  });

  it('completes multipart uploads from a stock client into one upstream object', async () => {
    const c = s3(a, adminA);
    const p1 = Buffer.alloc(5 * 1024 * 1024, 'x');
    const p2 = Buffer.from('and the tail');
    const { UploadId } = await c.send(
      new CreateMultipartUploadCommand({ Bucket: 'data', Key: 'big/checkpoint' }),
    );
    const r1 = await c.send(
      new UploadPartCommand({ Bucket: 'data', Key: 'big/checkpoint', UploadId, PartNumber: 1, Body: p1 }),
    );
    const r2 = await c.send(
      new UploadPartCommand({ Bucket: 'data', Key: 'big/checkpoint', UploadId, PartNumber: 2, Body: p2 }),
    );
    const done = await c.send(
      new CompleteMultipartUploadCommand({
        Bucket: 'data',
        Key: 'big/checkpoint',
        UploadId,
        MultipartUpload: {
          Parts: [
            { PartNumber: 1, ETag: r1.ETag },
            { PartNumber: 2, ETag: r2.ETag },
          ],
        },
      }),
    );
    const expected = md5(Buffer.concat([p1, p2].map((p) => createHash('md5').update(p).digest())));
    assert.equal(done.ETag, `"${expected}-2"`);
    const tail = await c.send(
      new GetObjectCommand({ Bucket: 'data', Key: 'big/checkpoint', Range: `bytes=${p1.length - 2}-` }),
    );
    assert.equal(await tail.Body!.transformToString(), 'xxand the tail');
    const upstream = await upstreamContents();
    const whole = Buffer.concat([p1, p2]);
    assert.ok([...upstream.values()].some((bytes) => bytes.equals(whole)));
    assert.ok(![...upstream.keys()].some((k) => k.includes('/parts/')), 'no part objects left behind');
  });

  it("enforces A's policies although B would allow A's credentials", async () => {
    await s3(a, adminA).send(
      new PutObjectCommand({ Bucket: 'data', Key: 'shared.txt', Body: 'for readers' }),
    );
    const asReader = s3(a, reader);
    const got = await asReader.send(new GetObjectCommand({ Bucket: 'data', Key: 'shared.txt' }));
    assert.equal(await got.Body!.transformToString(), 'for readers');
    assert.equal(
      await codeOf(asReader.send(new PutObjectCommand({ Bucket: 'data', Key: 'x', Body: 'no' }))),
      'AccessDenied',
    );
    assert.equal(
      await codeOf(asReader.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'shared.txt' }))),
      'AccessDenied',
    );
    const asStranger = s3(a, stranger);
    assert.equal(
      await codeOf(asStranger.send(new GetObjectCommand({ Bucket: 'data', Key: 'shared.txt' }))),
      'AccessDenied',
    );
    assert.equal(await codeOf(asStranger.send(new ListObjectsV2Command({ Bucket: 'data' }))), 'AccessDenied');
    // A's users are unknown to B: their keys open nothing there.
    assert.equal(
      await codeOf(s3(b, reader).send(new ListObjectsV2Command({ Bucket: 'aiam-objects' }))),
      'InvalidAccessKeyId',
    );
  });

  it('deletes through A remove the bytes from B', async () => {
    const c = s3(a, adminA);
    const body = `short-lived ${Date.now()}`;
    await c.send(new PutObjectCommand({ Bucket: 'data', Key: 'tmp/once', Body: body }));
    assert.ok([...(await upstreamContents()).values()].some((v) => v.toString() === body));
    await c.send(new DeleteObjectCommand({ Bucket: 'data', Key: 'tmp/once' }));
    assert.equal(
      await codeOf(c.send(new GetObjectCommand({ Bucket: 'data', Key: 'tmp/once' }))),
      'NoSuchKey',
    );
    // The old blob is deleted just after the metadata commit, off the request's path.
    for (let i = 0; i < 50; i++) {
      if (![...(await upstreamContents()).values()].some((v) => v.toString() === body)) return;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.fail('the blob is still in B');
  });
});
