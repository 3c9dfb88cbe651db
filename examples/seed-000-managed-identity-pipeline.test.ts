import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { AiamClient, MlClient } from '@aiam/client';
import {
  type AppliedExample,
  applyExample,
  type ExampleServer,
  exampleFile,
  runCli,
  s3Client,
  secretAt,
  startExampleServer,
  startUpstream,
  type TestUpstream,
} from './example-server.js';

// The workload: a stock S3 client that finds its credentials on its own (container provider).
const WORKLOAD = `
import { writeFileSync } from 'node:fs';
import { S3Client, GetObjectCommand, PutObjectCommand } from '@aws-sdk/client-s3';
const s3 = new S3Client({ endpoint: process.env.AIAM_ENDPOINT, region: 'us-east-1', forcePathStyle: true });
const attempt = (p) => p.then(async (r) => ({ ok: true, body: r.Body ? await r.Body.transformToString() : '' }),
  (e) => ({ ok: false, name: e.name, status: e.$metadata?.httpStatusCode }));
writeFileSync(process.argv[1], JSON.stringify({
  secretsInEnv: Object.keys(process.env).filter((k) => /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)$/.test(k)),
  read: await attempt(s3.send(new GetObjectCommand({ Bucket: 'training-data', Key: 'batch/0001.jsonl' }))),
  write: await attempt(s3.send(new PutObjectCommand({ Bucket: 'training-data', Key: 'batch/evil', Body: 'x' }))),
  other: await attempt(s3.send(new GetObjectCommand({ Bucket: 'ai-pipeline-artifacts', Key: 'myModel/1/model.bin' }))),
}));
`;

/** The ARN aiam gives the endpoint's system-assigned identity (in the administrator's account). */
function endpointIdentityArn(ex: ExampleServer): string {
  const account = /^arn:aws:iam::(\d+):/.exec(ex.server.bootstrap.userArn!)![1];
  return `arn:aiam:iam::${account}:managed-identity/workspace/ml_workspace/endpoint/online_endpoint`;
}

type Attempt = { ok: boolean; body?: string; name?: string; status?: number };

describe('seed 000: managed identities of a workspace and a key-authenticated endpoint', () => {
  let ex: ExampleServer;
  let up: TestUpstream;
  let applied: AppliedExample;
  let ml: MlClient;

  before(async () => {
    ex = await startExampleServer();
    up = await startUpstream('blue');
    applied = await applyExample(ex, exampleFile('seed-000-managed-identity-pipeline.yaml'), {
      replace: { 'http://127.0.0.1:8001': up.url },
    });
    assert.equal(applied.code, 0, applied.stderr);
    ml = new MlClient({ endpoint: ex.server.url, credentials: ex.admin });
    const admin = s3Client(ex, ex.admin);
    await admin.send(
      new PutObjectCommand({ Bucket: 'training-data', Key: 'batch/0001.jsonl', Body: '{"text":"hi"}\n' }),
    );
    await admin.send(
      new PutObjectCommand({ Bucket: 'ai-pipeline-artifacts', Key: 'myModel/1/model.bin', Body: 'w' }),
    );
  });
  after(async () => {
    await ex?.close();
    await up?.close();
  });

  it('the workspace and the endpoint exist, each owning a system-assigned managed identity', async () => {
    const ws = await ml.getWorkspace('ml_workspace');
    const ep = await ml.getEndpoint('ml_workspace', 'online_endpoint');
    assert.equal(ep.authMode, 'key');
    const iam = new AiamClient({ endpoint: ex.server.url, credentials: ex.admin });
    const identities = (await iam.listManagedIdentities()).items;
    const owned = (arn: string) => identities.filter((i) => i.ownerArn === arn && i.kind === 'system');
    assert.equal(owned(ws.arn).length, 1, 'the workspace has its identity');
    assert.equal(owned(ep.arn).length, 1, 'the endpoint has its identity');
    assert.equal(owned(ep.arn)[0]!.arn, endpointIdentityArn(ex));
  });

  it('the workspace and endpoint records say identity type SystemAssigned', async () => {
    assert.equal((await ml.getWorkspace('ml_workspace')).identity.type, 'SystemAssigned');
    assert.equal((await ml.getEndpoint('ml_workspace', 'online_endpoint')).identity.type, 'SystemAssigned');
  });

  it('serves the endpoint with its keys; regenerating one slot retires only that key', async () => {
    const keys = secretAt(
      applied.secrets,
      'workspaces',
      'ml_workspace',
      'endpoints',
      'online_endpoint',
      'keys',
    );
    assert.ok(!applied.stdout.includes(keys.primary!) && !applied.stdout.includes(keys.secondary!));
    const call = (key: string) =>
      fetch(`${ex.server.url}/endpoints/online_endpoint/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'myModel', messages: [{ role: 'user', content: 'hi' }] }),
      });
    const before = up.seen.length;
    assert.equal((await call(keys.primary!)).status, 200);
    assert.equal((await call(keys.secondary!)).status, 200);
    assert.equal(up.seen.length, before + 2, 'the upstream received both calls');
    assert.equal(up.seen.at(-1)!.headers.authorization, undefined, 'the key is not forwarded');
    const fresh = await ml.regenerateEndpointKey('ml_workspace', 'online_endpoint', 'primary');
    assert.equal(fresh.slot, 'primary');
    const newPrimary = fresh.key;
    assert.ok(newPrimary.startsWith('aiam_ek_') && newPrimary !== keys.primary);
    assert.equal((await call(keys.primary!)).status, 401, 'the old primary is refused');
    assert.equal((await call(newPrimary)).status, 200);
    assert.equal((await call(keys.secondary!)).status, 200, 'the secondary still works');
    assert.equal((await call('aiam_ek_not-a-key')).status, 401);
    assert.equal(up.seen.length, before + 4);
  });

  it('a workload running as the endpoint identity reads training data, and nothing else, with no stored secret', async () => {
    const out = join(ex.dir, 'workload.json');
    // `aiam run --identity ARN -- node …`, as the administrator, in process.
    const run = await runCli(ex, [
      'run',
      '--identity',
      endpointIdentityArn(ex),
      '--endpoint',
      ex.server.url,
      '--',
      process.execPath,
      '--input-type=module',
      '-e',
      WORKLOAD,
      out,
    ]);
    assert.equal(run.code, 0, run.stderr);
    const r = JSON.parse(await readFile(out, 'utf8')) as Record<string, Attempt> & { secretsInEnv: string[] };
    assert.deepEqual(r.secretsInEnv, [], 'no key in the environment, and no credentials file either');
    assert.deepEqual(r.read, { ok: true, body: '{"text":"hi"}\n' });
    assert.deepEqual(r.write, { ok: false, name: 'AccessDenied', status: 403 }, 'DataReader cannot write');
    assert.deepEqual(r.other, { ok: false, name: 'AccessDenied', status: 403 }, 'not granted on this bucket');
  });

  it('a second apply changes nothing and issues no new keys', async () => {
    const again = await applyExample(ex, exampleFile('seed-000-managed-identity-pipeline.yaml'), {
      replace: { 'http://127.0.0.1:8001': up.url },
    });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stdout, /No changes/);
  });
});
