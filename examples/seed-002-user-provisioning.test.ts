import assert from 'node:assert/strict';
import { stat } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import {
  type AppliedExample,
  applyExample,
  type ExampleServer,
  exampleFile,
  s3Client,
  secretAt,
  startExampleServer,
} from './example-server.js';

describe('seed 002: a provisioned user reads ai-model-data with a stock S3 client', () => {
  let ex: ExampleServer;
  let applied: AppliedExample;
  let key: { accessKeyId: string; secretAccessKey: string };
  before(async () => {
    ex = await startExampleServer();
    applied = await applyExample(ex, exampleFile('seed-002-user-provisioning.yaml'));
    assert.equal(applied.code, 0, applied.stderr);
    key = secretAt(applied.secrets, 'users', 'aiUser', 'accessKeys', 'aiAccessKey') as typeof key;
    // Data the user should be able to read, written by the administrator.
    await s3Client(ex, ex.admin).send(
      new PutObjectCommand({ Bucket: 'ai-model-data', Key: 'train/part-0.csv', Body: 'a,b\n1,2\n' }),
    );
  });
  after(() => ex?.close());

  it('returns the key secret once, in the 0600 secrets file and never on stdout or stderr', async () => {
    assert.match(key.accessKeyId, /^AKIA/);
    assert.ok(key.secretAccessKey.length >= 20);
    assert.ok(!applied.stdout.includes(key.secretAccessKey));
    assert.ok(!applied.stderr.includes(key.secretAccessKey));
    assert.match(applied.stdout, /1 new secret written to /);
    assert.equal((await stat(applied.secretsPath)).mode & 0o777, 0o600);
  });

  it('lists the bucket and reads an object with the key', async () => {
    const s3 = s3Client(ex, key);
    const list = await s3.send(new ListObjectsV2Command({ Bucket: 'ai-model-data' }));
    assert.deepEqual(
      list.Contents?.map((o) => o.Key),
      ['train/part-0.csv'],
    );
    const got = await s3.send(new GetObjectCommand({ Bucket: 'ai-model-data', Key: 'train/part-0.csv' }));
    assert.equal(await got.Body!.transformToString(), 'a,b\n1,2\n');
  });

  it('is refused PutObject, and the object is not written', async () => {
    const s3 = s3Client(ex, key);
    await assert.rejects(
      s3.send(new PutObjectCommand({ Bucket: 'ai-model-data', Key: 'train/evil.csv', Body: 'x' })),
      (err: Error & { $metadata?: { httpStatusCode?: number } }) =>
        err.name === 'AccessDenied' && err.$metadata?.httpStatusCode === 403,
    );
    await assert.rejects(
      s3Client(ex, ex.admin).send(new GetObjectCommand({ Bucket: 'ai-model-data', Key: 'train/evil.csv' })),
      { name: 'NoSuchKey' },
    );
  });

  it('is refused on any other bucket', async () => {
    await assert.rejects(
      s3Client(ex, key).send(new ListObjectsV2Command({ Bucket: 'some-other-bucket' })),
      (err: Error) => err.name === 'AccessDenied' || err.name === 'NoSuchBucket',
    );
  });

  it('a second apply changes nothing', async () => {
    const again = await applyExample(ex, exampleFile('seed-002-user-provisioning.yaml'));
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /No changes/);
    assert.deepEqual(again.secrets, {});
  });
});
