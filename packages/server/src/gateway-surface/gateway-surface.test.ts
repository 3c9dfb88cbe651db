import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AiamClient, MlClient, signRequest } from '@aiam/client';
import { createRemoteJWKSet, jwtVerify } from 'jose';
import OpenAI from 'openai';
import { type RunningServer, startServer } from '../app/start-server.js';
import { StoreOperations } from '../store/store-operations.js';
import { GATEWAY_TOKEN_AUDIENCE } from './gateway-surface.js';

interface Upstream {
  server: Server;
  url: string;
  /** Resolves with the time the upstream wrote its last byte of a stream. */
  finishedAt: number[];
  seen: { path: string; headers: Record<string, string | string[] | undefined> }[];
}

/** An OpenAI-compatible upstream streaming SSE chunks with delays; other paths echo. */
async function openAiUpstream(tag: string, delayMs = 60): Promise<Upstream> {
  const up: Upstream = { server: undefined as unknown as Server, url: '', finishedAt: [], seen: [] };
  up.server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    up.seen.push({ path: req.url ?? '', headers: req.headers });
    if (req.url === '/v1/chat/completions') {
      const parsed = JSON.parse(body) as { model: string; stream?: boolean };
      if (!parsed.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            id: 'c1',
            object: 'chat.completion',
            created: 1,
            model: parsed.model,
            choices: [{ index: 0, message: { role: 'assistant', content: tag }, finish_reason: 'stop' }],
          }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      for (const word of ['Hello', ' from', ` ${tag}`]) {
        const chunk = {
          id: 'c1',
          object: 'chat.completion.chunk',
          created: 1,
          model: parsed.model,
          choices: [{ index: 0, delta: { content: word }, finish_reason: null }],
        };
        res.write(`data: ${JSON.stringify(chunk)}\n\n`);
        await new Promise((r) => setTimeout(r, delayMs));
      }
      up.finishedAt.push(Date.now());
      res.end('data: [DONE]\n\n');
      return;
    }
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ tag, path: req.url }));
  });
  await new Promise<void>((r) => up.server.listen(0, '127.0.0.1', r));
  up.url = `http://127.0.0.1:${(up.server.address() as AddressInfo).port}`;
  return up;
}

describe('inference gateway on /endpoints/{name}/… (in-process server)', () => {
  let dir: string;
  let server: RunningServer;
  let admin: AiamClient;
  let ml: MlClient;
  let v1: Upstream;
  let v2: Upstream;
  let keys: { primary?: string; secondary?: string } = {};

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-gw-'));
    server = await startServer({ dataDir: dir, port: 0 });
    const env = { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath };
    admin = new AiamClient({ endpoint: server.url, env });
    ml = new MlClient({ endpoint: server.url, env });
    v1 = await openAiUpstream('v1');
    v2 = await openAiUpstream('v2');
    await ml.createWorkspace({ name: 'ml_workspace', identity: { type: 'SystemAssigned' } });
    await ml.createModel('ml_workspace', { name: 'myModel' });
    await ml.createModelVersion('ml_workspace', 'myModel', { version: '1' });
    await ml.createModelVersion('ml_workspace', 'myModel', { version: '2' });
    const created = await ml.createEndpoint('ml_workspace', {
      name: 'online_endpoint',
      authMode: 'key',
      api: 'openai',
      identity: { type: 'SystemAssigned' },
    });
    keys = created.keys ?? {};
    await ml.createDeployment('ml_workspace', 'online_endpoint', {
      name: 'blue',
      upstreamUrl: v1.url,
      model: 'myModel:1',
      trafficWeight: 100,
    });
  });
  after(async () => {
    await server?.close();
    for (const u of [v1, v2]) await new Promise((r) => u?.server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  it('streams a chat completion through the gateway with the openai SDK, chunk by chunk', async () => {
    assert.match(keys.primary ?? '', /^aiam_ek_/);
    const client = new OpenAI({
      baseURL: `${server.url}/endpoints/online_endpoint/v1`,
      apiKey: keys.primary ?? '',
    });
    const stream = await client.chat.completions.create({
      model: 'myModel',
      messages: [{ role: 'user', content: 'hi' }],
      stream: true,
    });
    const arrivals: number[] = [];
    let text = '';
    for await (const chunk of stream) {
      arrivals.push(Date.now());
      text += chunk.choices[0]?.delta.content ?? '';
    }
    assert.equal(text, 'Hello from v1');
    const finished = v1.finishedAt.at(-1) ?? 0;
    assert.ok(arrivals[0]! < finished, 'the first chunk arrived before the upstream finished');
    const seen = v1.seen.at(-1)!;
    assert.equal(seen.headers.authorization, undefined, "the caller's key never reaches the upstream");
    // The caller statement verifies with aiam's JWKS and names caller, endpoint and deployment.
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    const { payload } = await jwtVerify(String(seen.headers['x-aiam-caller']), jwks, {
      audience: created('online_endpoint'),
    });
    assert.equal(payload.sub, `${created('online_endpoint')}/key/primary`);
    assert.equal(payload.deployment, `${created('online_endpoint')}/deployment/blue`);
    assert.match(String(payload.model_version), /workspace\/ml_workspace\/model\/myModel\/version\/1$/);
  });

  it('refuses a missing or wrong key with a generic 401', async () => {
    for (const auth of [undefined, 'Bearer aiam_ek_nottherightkeyatall000000000000000000000', 'Basic x']) {
      const res = await fetch(`${server.url}/endpoints/online_endpoint/v1/models`, {
        headers: auth ? { authorization: auth } : {},
      });
      assert.equal(res.status, 401);
      const body = (await res.json()) as { error: { message: string } };
      assert.equal(body.error.message, 'The request could not be authenticated.');
    }
    const unknown = await fetch(`${server.url}/endpoints/nope/v1/models`, {
      headers: { authorization: `Bearer ${keys.primary}` },
    });
    assert.equal(unknown.status, 404);
  });

  it('rotates keys without a failed request; the replaced key is refused on the next request', async () => {
    const call = (key: string) =>
      fetch(`${server.url}/endpoints/online_endpoint/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'myModel', messages: [] }),
      });
    assert.equal((await call(keys.secondary ?? '')).status, 200);
    let stop = false;
    const statuses: number[] = [];
    const traffic = (async () => {
      while (!stop) statuses.push((await call(keys.secondary ?? '')).status);
    })();
    const old = keys.primary ?? '';
    const { key: fresh } = await ml.regenerateEndpointKey('ml_workspace', 'online_endpoint', 'primary');
    await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await traffic;
    assert.ok(statuses.length > 0 && statuses.every((s) => s === 200), `secondary kept working: ${statuses}`);
    assert.notEqual(fresh, old);
    assert.equal((await call(old)).status, 401, 'the replaced primary is refused at once');
    assert.equal((await call(fresh)).status, 200);
    const listed = await ml.listEndpointKeys('ml_workspace', 'online_endpoint');
    assert.deepEqual(
      listed.items.map((k) => k.slot),
      ['primary', 'secondary'],
    );
    assert.ok(!JSON.stringify(listed).includes(fresh), 'keys are never listed');
  });

  it('key mode is decided by the engine: a deny assignment on the endpoint refuses key callers', async () => {
    const call = () =>
      fetch(`${server.url}/endpoints/online_endpoint/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.secondary}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'myModel', messages: [] }),
      });
    assert.equal((await call()).status, 200);
    const deny = await admin.createDenyAssignment({
      name: 'freeze-online-endpoint',
      scope: 'workspace/ml_workspace/endpoint/online_endpoint',
      principals: ['*'],
      permissions: { dataActions: ['ml:InvokeEndpoint'] },
    });
    try {
      const refused = await call();
      assert.equal(refused.status, 403);
      const err = (
        (await refused.json()) as { error: { decisionId: string; policyKind: string; reason: string } }
      ).error;
      assert.equal(err.reason, 'explicit-deny');
      assert.equal(err.policyKind, 'deny-assignment');
      const trace = JSON.stringify(await admin.explainDecision(err.decisionId));
      assert.match(trace, /online_endpoint\/key\/secondary/, 'the key slot is the principal decided');
      assert.match(trace, /freeze-online-endpoint|deny/i);
    } finally {
      await admin.deleteDenyAssignment(deny.id);
    }
    assert.equal((await call()).status, 200, 'the key works again once the deny assignment is gone');
  });

  it('token mode: a role assignment on model version 1 grants version 1, not version 2', async () => {
    await ml.createEndpoint('ml_workspace', { name: 'tok', authMode: 'token', api: 'openai' });
    await ml.createDeployment('ml_workspace', 'tok', {
      name: 'one',
      upstreamUrl: v1.url,
      model: 'myModel:1',
      trafficWeight: 100,
    });
    await ml.createDeployment('ml_workspace', 'tok', {
      name: 'two',
      upstreamUrl: v2.url,
      model: 'myModel:2',
      trafficWeight: 0,
    });
    await admin.createUser({ name: 'alice' });
    await admin.putInlinePolicy('user', 'alice', 'tokens', {
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 'sts:GetWebIdentityToken', Resource: '*' }],
    });
    await admin.createRoleAssignment({
      principal: 'user/alice',
      role: 'EndpointInvoker',
      scope: 'workspace/ml_workspace/endpoint/tok',
    });
    await admin.createRoleAssignment({
      principal: 'user/alice',
      role: 'EndpointInvoker',
      scope: 'workspace/ml_workspace/model/myModel/version/1',
    });
    const key = await admin.createAccessKey('alice');
    const credentials = { accessKeyId: key.accessKey.accessKeyId, secretAccessKey: key.secretAccessKey };
    const url = new URL(`${server.url}/oauth2/token`);
    const body = `grant_type=client_credentials&audience=${encodeURIComponent(GATEWAY_TOKEN_AUDIENCE)}`;
    const headers = signRequest({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body,
      credentials,
      region: 'us-east-1',
      service: 'aiam',
      now: Date.now(),
    });
    const { host: _h, ...send } = headers;
    const tokenRes = await fetch(url, { method: 'POST', headers: send, body });
    assert.equal(tokenRes.status, 200, await tokenRes.clone().text());
    const token = ((await tokenRes.json()) as { access_token: string }).access_token;

    const chat = (model: string, extra: Record<string, string> = {}) =>
      fetch(`${server.url}/endpoints/tok/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json', ...extra },
        body: JSON.stringify({ model, messages: [] }),
      });
    // Both deployments serve the model "myModel": pin by header to reach version 2.
    const ok = await chat('myModel', { 'azureml-model-deployment': 'one' });
    assert.equal(ok.status, 200, await ok.clone().text());
    const refused = await chat('myModel', { 'azureml-model-deployment': 'two' });
    assert.equal(refused.status, 403);
    const err = (
      (await refused.json()) as { error: { decisionId: string; policyKind: string; reason: string } }
    ).error;
    assert.match(err.decisionId, /^[0-9a-f-]{36}$/);
    assert.equal(err.reason, 'no-allow');
    assert.equal(err.policyKind, 'none');
    assert.equal(v2.seen.length, 0, 'nothing reached version 2');
    const trace = await admin.explainDecision(err.decisionId);
    assert.match(JSON.stringify(trace), /version\/2/);
    // A key is no way in on a token endpoint.
    const withKey = await fetch(`${server.url}/endpoints/tok/v1/models`, {
      headers: { authorization: `Bearer ${keys.secondary}` },
    });
    assert.equal(withKey.status, 401);
  });

  it('a steady stream to one endpoint reads nothing from the store and signs one caller statement', async () => {
    const call = () =>
      fetch(`${server.url}/endpoints/online_endpoint/v1/chat/completions`, {
        method: 'POST',
        headers: { authorization: `Bearer ${keys.secondary}`, 'content-type': 'application/json' },
        body: JSON.stringify({ model: 'myModel', messages: [] }),
      });
    assert.equal((await call()).status, 200, 'warm: endpoint and key resolved at this revision');
    // Count every store operation except the audit append (telemetry writes are expected). The
    // store's own methods are fixed properties; each call runs on a StoreOperations instance.
    const calls: string[] = [];
    const restore: (() => void)[] = [];
    for (let o = StoreOperations.prototype; o && o !== Object.prototype; o = Object.getPrototypeOf(o)) {
      const proto = o as unknown as Record<string, unknown>;
      for (const name of Object.getOwnPropertyNames(proto)) {
        const fn = proto[name];
        if (name === 'constructor' || name === 'appendAudit' || typeof fn !== 'function') continue;
        proto[name] = function (this: unknown, ...args: unknown[]) {
          calls.push(name);
          return (fn as (...a: unknown[]) => unknown).apply(this, args);
        };
        restore.push(() => {
          proto[name] = fn;
        });
      }
    }
    const before = v1.seen.length;
    try {
      for (let i = 0; i < 50; i++) assert.equal((await call()).status, 200);
    } finally {
      for (const r of restore) r();
    }
    assert.deepEqual(calls, [], 'no store reads per request');
    assert.ok(restore.length > 50, 'the store operations were wrapped');
    const seen = v1.seen.slice(before);
    assert.equal(seen.length, 50);
    const statements = new Set(seen.map((s) => String(s.headers['x-aiam-caller'])));
    assert.equal(statements.size, 1, 'one statement reused across the stream');
    const requestIds = new Set(seen.map((s) => String(s.headers['x-aiam-request-id'])));
    assert.equal(requestIds.size, 50, 'each request keeps its own request id header');
    const jwks = createRemoteJWKSet(new URL(`${server.url}/.well-known/jwks.json`));
    const [statement] = statements;
    const { payload } = await jwtVerify(String(statement), jwks, { audience: created('online_endpoint') });
    assert.equal(payload.request_id, undefined, 'the request id is no claim of a reusable statement');
    assert.equal(payload.sub, `${created('online_endpoint')}/key/secondary`);
    assert.ok(typeof payload.jti === 'string' && payload.jti.length > 0);

    // Any change of access data (here a deny assignment, then its removal) retires the statement.
    const deny = await admin.createDenyAssignment({
      name: 'retire-statement',
      scope: 'workspace/ml_workspace/endpoint/online_endpoint',
      principals: ['*'],
      permissions: { dataActions: ['ml:InvokeEndpoint'] },
    });
    assert.equal((await call()).status, 403, 'revoked at once despite the cached statement');
    await admin.deleteDenyAssignment(deny.id);
    assert.equal((await call()).status, 200);
    const fresh = String(v1.seen.at(-1)?.headers['x-aiam-caller']);
    assert.notEqual(fresh, statement, 'a new statement after the access model changed');
  });

  it('seed 000: system-assigned identities live and die with their workspace and endpoint', async () => {
    const ws = await ml.createWorkspace({ name: 'seed0', identity: { type: 'SystemAssigned' } });
    assert.ok(ws.identity, 'the workspace got its identity');
    const ep = await ml.createEndpoint('seed0', {
      name: 'seed0_ep',
      authMode: 'key',
      identity: { type: 'SystemAssigned' },
    });
    assert.ok(ep.identity && ep.keys?.primary && ep.keys.secondary);
    assert.equal((await admin.getManagedIdentity(ep.identity.name)).arn, ep.identity.arn);
    await ml.deleteEndpoint('seed0', 'seed0_ep');
    await assert.rejects(admin.getManagedIdentity(ep.identity.name), /not/i);
    await ml.deleteWorkspace('seed0');
    await assert.rejects(admin.getManagedIdentity(ws.identity.name), /not/i);
  });

  function created(endpoint: string): string {
    return `arn:aiam:ml::${server.store.accountId}:workspace/ml_workspace/endpoint/${endpoint}`;
  }
});
