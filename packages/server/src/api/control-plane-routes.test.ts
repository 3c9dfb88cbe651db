import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AiamApiError, AiamClient, type AwsCredentials, resolveCredentials, signRequest } from '@aiam/client';
import { startServer, type RunningServer } from '../app/start-server.js';
import { isPublicRoute } from '../http/route-table.js';
import { createLogger } from '../observability/logger.js';

const S3_READ = {
  Version: '2012-10-17',
  Statement: [
    {
      Effect: 'Allow',
      Action: ['s3:GetObject', 's3:ListBucket'],
      Resource: ['arn:aws:s3:::ai-model-data', 'arn:aws:s3:::ai-model-data/*'],
    },
  ],
};

async function expectApiError(p: Promise<unknown>, status: number, code?: string): Promise<AiamApiError> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AiamApiError, `expected AiamApiError, got ${String(err)}`);
    assert.equal(err.status, status, err.message);
    if (code) assert.equal(err.code, code);
    assert.ok(err.requestId, 'every error carries the request id');
    return err;
  }
  assert.fail(`expected HTTP ${status}`);
}

describe('control-plane API (in-process server, typed client)', () => {
  let dir: string;
  let server: RunningServer;
  let admin: AiamClient;
  const logLines: string[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-api-'));
    server = await startServer({
      dataDir: dir,
      port: 0,
      logger: createLogger({ level: 'debug', write: (line: string) => logLines.push(line) }),
      // Lets the route walk come from many addresses, so the auth-failure limiter (per source)
      // does not turn its 401s into 429s.
      trustedProxies: ['127.0.0.1'],
    });
    admin = new AiamClient({
      endpoint: server.url,
      env: { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath },
    });
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a user, attaches a policy; the new key can do only what the policy allows', async () => {
    const user = await admin.createUser({ name: 'aiUser', tags: { Project: 'AIModel' } });
    assert.equal(user.arn.endsWith(':user/aiUser'), true);
    await admin.createPolicy({ name: 'aiDataAccessPolicy', document: S3_READ });
    await admin.attachPolicy('user', 'aiUser', 'aiDataAccessPolicy');
    const created = await admin.createAccessKey('aiUser');
    assert.match(created.secretAccessKey, /^[A-Za-z0-9/+]{40}$/);

    const listed = await admin.listAccessKeys('aiUser');
    assert.equal(listed.items.length, 1);
    assert.ok(!JSON.stringify(listed).includes(created.secretAccessKey), 'list never shows the secret');
    assert.ok(!logLines.join('\n').includes(created.secretAccessKey), 'the secret is never logged');

    const asUser = new AiamClient({
      endpoint: server.url,
      credentials: { accessKeyId: created.accessKey.accessKeyId, secretAccessKey: created.secretAccessKey },
    });
    const sim = await asUser
      .simulate({
        principal: 'user/aiUser',
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::ai-model-data/x',
      })
      .catch((e) => e);
    // The user has no iam:SimulatePrincipalPolicy: refused with a decision id that explains why.
    const denied = await expectApiError(Promise.reject(sim), 403, 'ERR_ACCESS_DENIED');
    assert.ok(denied.decisionId);
    const trace = await admin.explainDecision(denied.decisionId!);
    assert.equal(trace.decision, 'implicitDeny');
    assert.equal(trace.action, 'iam:SimulatePrincipalPolicy');
    assert.match(trace.explanation, /./);

    const read = await admin.simulate({
      principal: 'user/aiUser',
      action: 's3:GetObject',
      resource: 'arn:aws:s3:::ai-model-data/x',
    });
    assert.equal(read.decision, 'allowed');
    const write = await admin.simulate({
      principal: 'user/aiUser',
      action: 's3:PutObject',
      resource: 'arn:aws:s3:::ai-model-data/x',
    });
    assert.equal(write.decision, 'implicitDeny');
    await expectApiError(asUser.createUser({ name: 'mallory' }), 403, 'ERR_ACCESS_DENIED');
  });

  it('decides on request tags and lets a caller explain only decisions about resources it may explain', async () => {
    await admin.createUser({ name: 'ops' });
    await admin.putInlinePolicy('user', 'ops', 'scoped', {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: 'iam:CreateUser',
          Resource: '*',
          Condition: { StringEquals: { 'aws:RequestTag/team': 'ml' } },
        },
        { Effect: 'Allow', Action: 'aiam:ExplainDecision', Resource: 'arn:aws:iam::*:user/ml-*' },
      ],
    });
    const key = await admin.createAccessKey('ops');
    const ops = new AiamClient({
      endpoint: server.url,
      credentials: { accessKeyId: key.accessKey.accessKeyId, secretAccessKey: key.secretAccessKey },
    });
    await ops.createUser({ name: 'ml-ann', tags: { team: 'ml' } });
    const untagged = await expectApiError(ops.createUser({ name: 'ml-bob' }), 403);
    const otherTeam = await expectApiError(
      ops.createUser({ name: 'fin-cy', tags: { team: 'finance' } }),
      403,
    );
    // ml-bob's refusal is about user/ml-bob: ops may see why. fin-cy's is not: ops may not.
    const trace = await ops.explainDecision(untagged.decisionId!);
    assert.equal(trace.resource.endsWith(':user/ml-bob'), true);
    assert.equal(trace.decision, 'implicitDeny');
    await expectApiError(ops.explainDecision(otherTeam.decisionId!), 403);
    await expectApiError(admin.explainDecision('no-such-decision'), 404, 'ERR_NOT_FOUND');
  });

  it('ETag / If-Match: a stale version is refused with 412, the current one succeeds', async () => {
    const g = await admin.createGroup({ name: 'ml-team' });
    const updated = await admin.updateGroup('ml-team', { path: '/ml/' }, { ifMatch: g.version });
    assert.equal(updated.version, g.version + 1);
    await expectApiError(
      admin.updateGroup('ml-team', { path: '/x/' }, { ifMatch: g.version }),
      412,
      'ERR_PRECONDITION_FAILED',
    );
    await expectApiError(admin.deleteGroup('ml-team', { ifMatch: g.version }), 412);
    await admin.deleteGroup('ml-team', { ifMatch: updated.version });
    await expectApiError(admin.getGroup('ml-team'), 404, 'ERR_NOT_FOUND');
    const res = await fetch(`${server.url}/api/v1/openapi.json`);
    assert.equal(res.status, 200);
  });

  it('refuses unknown fields, bad JSON and bad query parameters with a 400 naming the problem', async () => {
    const typo = await expectApiError(
      admin.call('createUser', { body: { name: 'bob', tag: { a: 'b' } } }),
      400,
      'ERR_INVALID_INPUT',
    );
    assert.match(typo.message, /unknown field "tag"/);
    const bad = await expectApiError(admin.call('createUser', { body: { name: 'bad name!' } }), 400);
    assert.match(bad.message, /body\.name/);
    const q = await expectApiError(admin.call('listUsers', { query: { limit: 0 } }), 400);
    assert.match(q.message, /query\.limit/);
    const extra = await expectApiError(admin.call('listUsers', { query: { colour: 'red' } }), 400);
    assert.match(extra.message, /unknown field "colour"/);
  });

  it('answers malformed JSON with a 400 naming line and column, and reads carry an ETag', async () => {
    const creds = await resolveCredentials({
      env: { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath },
    });
    const url = new URL(`${server.url}/api/v1/users`);
    const body = '{"name": "carol",\n  "path": }';
    const headers = signRequest({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      body,
      credentials: creds,
      region: 'us-east-1',
      service: 'aiam',
      now: Date.now(),
    });
    const { host: _host, ...send } = headers;
    const res = await fetch(url, { method: 'POST', headers: send, body });
    assert.equal(res.status, 400);
    const error = ((await res.json()) as { error: { code: string; message: string } }).error;
    assert.match(error.message, /line 2/);

    const getUrl = new URL(`${server.url}/api/v1/users/admin`);
    const signed = signRequest({
      method: 'GET',
      url: getUrl,
      headers: {},
      body: '',
      credentials: creds,
      region: 'us-east-1',
      service: 'aiam',
      now: Date.now(),
    });
    const { host: _h, ...getHeaders } = signed;
    const got = await fetch(getUrl, { headers: getHeaders });
    const user = (await got.json()) as { version: number };
    assert.equal(got.headers.get('etag'), `W/"${user.version}"`);
  });

  it('pages lists with limit and cursor', async () => {
    for (const n of ['p1', 'p2', 'p3']) await admin.createUser({ name: n, path: '/paged/' });
    const first = await admin.listUsers({ pathPrefix: '/paged/', limit: 2 });
    assert.deepEqual(
      first.items.map((u) => u.name),
      ['p1', 'p2'],
    );
    assert.ok(first.nextCursor);
    const second = await admin.listUsers({ pathPrefix: '/paged/', limit: 2, cursor: first.nextCursor! });
    assert.deepEqual(
      second.items.map((u) => u.name),
      ['p3'],
    );
    assert.equal(second.nextCursor, undefined);
    await expectApiError(admin.listUsers({ cursor: 'garbage' }), 400);
  });

  it('every /api/v1 route has an action; unauthenticated calls are 401 and unauthorized ones 403', async () => {
    const { accessKey, secretAccessKey } = await (async () => {
      await admin.createUser({ name: 'nobody' });
      return admin.createAccessKey('nobody');
    })();
    const nobodyCreds = { accessKeyId: accessKey.accessKeyId, secretAccessKey };
    const api = server.routes.routes.filter((r) => r.path.startsWith('/api/v1/'));
    assert.ok(api.length > 60, `expected the whole API, found ${api.length} routes`);
    for (const route of api) {
      if (isPublicRoute(route)) {
        assert.equal(route.path, '/api/v1/openapi.json', `${route.label} must not be public`);
        continue;
      }
      assert.match(route.action, /^[a-z0-9-]+:[A-Za-z]+$/, route.label);
      const path = route.path.replace(/\{(\w+)\}/g, (_, p: string) =>
        p === 'issuer'
          ? encodeURIComponent('https://issuer.example')
          : p === 'accessKeyId'
            ? 'AKIAEXAMPLEEXAMPLE12'
            : p === 'versionId'
              ? 'v1'
              : 'x',
      );
      const anon = await fetch(server.url + path, {
        method: route.method,
        headers: { 'x-forwarded-for': `10.9.${api.indexOf(route) >> 8}.${api.indexOf(route) & 255}` },
      });
      assert.equal(anon.status, 401, `${route.label} without credentials`);
      const body = (await anon.json()) as { error: { code: string } };
      assert.equal(body.error.code, 'ERR_UNAUTHENTICATED');
      // A signed request by a principal without grants: denied before anything is validated.
      const url = new URL(server.url + path);
      const denied = await signedCall(nobodyCreds, route.method, url);
      assert.equal(denied.status, 403, `${route.label} by a principal with no grants`);
    }
  });
});

/** Sends a request signed with `creds` for any method and path (the route-table walk). */
async function signedCall(creds: AwsCredentials, method: string, url: URL): Promise<{ status: number }> {
  const body = method === 'GET' || method === 'DELETE' ? '' : '{}';
  const headers = signRequest({
    method,
    url,
    headers: body ? { 'content-type': 'application/json' } : {},
    body,
    credentials: creds,
    region: 'us-east-1',
    service: 'aiam',
    now: Date.now(),
  });
  const { host: _host, ...send } = headers;
  const res = await fetch(url, { method, headers: send, ...(body ? { body } : {}) });
  await res.arrayBuffer();
  return { status: res.status };
}
