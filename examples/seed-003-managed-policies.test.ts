import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
} from '@aws-sdk/client-s3';
import { AssumeRoleCommand, GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import {
  applyExample,
  type ExampleServer,
  exampleFile,
  s3Client,
  secretAt,
  startExampleServer,
} from './example-server.js';

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

const denied = (err: Error & { $metadata?: { httpStatusCode?: number } }) =>
  err.name === 'AccessDenied' && err.$metadata?.httpStatusCode === 403;

describe('seed 003: a workflow assumes the role carrying the managed policy, with stock STS', () => {
  let ex: ExampleServer;
  let runner: Creds;
  let roleArn: string;
  const sts = (credentials: Creds) =>
    new STSClient({ endpoint: ex.server.url, region: 'us-east-1', credentials });
  before(async () => {
    ex = await startExampleServer();
    const applied = await applyExample(ex, exampleFile('seed-003-managed-policies.yaml'));
    assert.equal(applied.code, 0, applied.stderr);
    runner = secretAt(applied.secrets, 'users', 'aiWorkflowRunner', 'accessKeys', 'workflow') as Creds;
    const account = /^arn:aws:iam::(\d+):/.exec(ex.server.bootstrap.userArn!)![1];
    roleArn = `arn:aws:iam::${account}:role/aiServiceRole`;
    const admin = s3Client(ex, ex.admin);
    await admin.send(new PutObjectCommand({ Bucket: 'example-bucket', Key: 'prompts/a.txt', Body: 'hello' }));
  });
  after(() => ex?.close());

  async function assume(): Promise<Creds> {
    const out = await sts(runner).send(
      new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'nightly-workflow', DurationSeconds: 900 }),
    );
    const c = out.Credentials!;
    assert.ok(c.Expiration!.getTime() - Date.now() <= 900_000 + 5_000, 'short-lived');
    return {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    };
  }

  it("the runner's own key can do nothing on the data", async () => {
    await assert.rejects(
      s3Client(ex, runner).send(new GetObjectCommand({ Bucket: 'example-bucket', Key: 'prompts/a.txt' })),
      denied,
    );
  });

  it('the temporary credentials are the role session and can GetObject example-bucket/*', async () => {
    const session = await assume();
    const me = await sts(session).send(new GetCallerIdentityCommand({}));
    assert.match(me.Arn!, /:assumed-role\/aiServiceRole\/nightly-workflow$/);
    const got = await s3Client(ex, session).send(
      new GetObjectCommand({ Bucket: 'example-bucket', Key: 'prompts/a.txt' }),
    );
    assert.equal(await got.Body!.transformToString(), 'hello');
  });

  it('and nothing else: no list, put, delete, or other bucket', async () => {
    const s3 = s3Client(ex, await assume());
    await assert.rejects(s3.send(new ListObjectsV2Command({ Bucket: 'example-bucket' })), denied);
    await assert.rejects(
      s3.send(new PutObjectCommand({ Bucket: 'example-bucket', Key: 'prompts/b.txt', Body: 'x' })),
      denied,
    );
    await assert.rejects(
      s3.send(new DeleteObjectCommand({ Bucket: 'example-bucket', Key: 'prompts/a.txt' })),
      denied,
    );
    await assert.rejects(
      s3.send(new GetObjectCommand({ Bucket: 'other-bucket', Key: 'x' })),
      (err: Error) => denied(err) || err.name === 'NoSuchBucket',
    );
  });

  it('nobody else may assume the role (the trust policy names the runner)', async () => {
    await assert.rejects(
      sts(ex.admin).send(new AssumeRoleCommand({ RoleArn: roleArn, RoleSessionName: 'admin' })),
      (err: Error) => err.name === 'AccessDenied',
    );
  });
});
