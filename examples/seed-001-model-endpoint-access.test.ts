import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AiamApiError, MlClient, signRequest } from '@aiam/client';
import {
  applyExample,
  type ExampleServer,
  exampleFile,
  secretAt,
  startExampleServer,
  startUpstream,
  type TestUpstream,
} from './example-server.js';

type Creds = { accessKeyId: string; secretAccessKey: string };

describe('seed 001: a role assignment scoped to model version 1 opens version 1 only', () => {
  let ex: ExampleServer;
  let v1: TestUpstream;
  let v2: TestUpstream;
  let consumer: Creds;
  let token: string;

  before(async () => {
    ex = await startExampleServer();
    v1 = await startUpstream('v1');
    v2 = await startUpstream('v2');
    const applied = await applyExample(ex, exampleFile('seed-001-model-endpoint-access.yaml'), {
      replace: { 'http://127.0.0.1:8001': v1.url, 'http://127.0.0.1:8002': v2.url },
    });
    assert.equal(applied.code, 0, applied.stderr);
    consumer = secretAt(applied.secrets, 'users', 'modelConsumer', 'accessKeys', 'app') as Creds;
    // An endpoint token for the consumer (OAuth 2.0 client credentials, the request SigV4-signed).
    const url = new URL(`${ex.server.url}/oauth2/token`);
    const body = `grant_type=client_credentials&audience=${encodeURIComponent('urn:aiam:endpoints')}`;
    const { host: _host, ...headers } = signRequest({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      credentials: consumer,
      region: 'us-east-1',
      service: 'aiam',
      now: Date.now(),
    });
    const res = await fetch(url, { method: 'POST', headers, body });
    assert.equal(res.status, 200, await res.clone().text());
    token = ((await res.json()) as { access_token: string }).access_token;
  });
  after(async () => {
    await ex?.close();
    await v1?.close();
    await v2?.close();
  });

  const chat = (deployment: string, auth = `Bearer ${token}`) =>
    fetch(`${ex.server.url}/endpoints/mymodel-online/v1/chat/completions`, {
      method: 'POST',
      headers: {
        authorization: auth,
        'content-type': 'application/json',
        'azureml-model-deployment': deployment,
      },
      body: JSON.stringify({ model: 'myModel', messages: [{ role: 'user', content: 'hi' }] }),
    });

  it('reads model version 1 and is refused version 2 and the model as a whole', async () => {
    const ml = new MlClient({ endpoint: ex.server.url, credentials: consumer });
    const version = await ml.getModelVersion('mlWorkspace', 'myModel', '1');
    assert.equal(version.label, '1');
    assert.equal(version.artifactLocation, 's3://model-artifacts/myModel/1');
    assert.deepEqual(version.metadata, { framework: 'pytorch' });
    await assert.rejects(ml.getModelVersion('mlWorkspace', 'myModel', '2'), (err: Error) => {
      assert.ok(err instanceof AiamApiError, String(err));
      assert.equal(err.status, 403);
      return true;
    });
    await assert.rejects(ml.listModelVersions('mlWorkspace', 'myModel'), { status: 403 });
  });

  it('invokes the endpoint on version 1 (the upstream receives the call)', async () => {
    const res = await chat('v1');
    assert.equal(res.status, 200, await res.clone().text());
    const out = (await res.json()) as { choices: { message: { content: string } }[] };
    assert.equal(out.choices[0]!.message.content, 'v1');
    assert.equal(v1.seen.length, 1);
    assert.equal(v1.seen[0]!.headers.authorization, undefined, 'the caller token is not forwarded');
  });

  it('is refused the deployment serving version 2, and nothing reaches it', async () => {
    const res = await chat('v2');
    assert.equal(res.status, 403);
    const err = ((await res.json()) as { error: { reason: string; decisionId: string } }).error;
    assert.equal(err.reason, 'no-allow');
    assert.equal(v2.seen.length, 0);
  });

  it('is refused without a token or with a forged one', async () => {
    assert.equal((await chat('v1', '')).status, 401);
    assert.equal((await chat('v1', `Bearer ${token.slice(0, -4)}AAAA`)).status, 401);
  });
});
