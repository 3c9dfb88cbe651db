import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AiamClient, MlClient, signRequest } from '@aiam/client';
import { type RunningServer, startServer } from '../app/start-server.js';
import type { Clock } from '../clock.js';
import { ReverseProxy } from '../gateway/reverse-proxy.js';
import { loadKeyring } from '../identity/keyring.js';
import { silentLogger } from '../observability/logger.js';
import { IamService } from '../services/iam-service.js';
import { GATEWAY_TOKEN_AUDIENCE } from './gateway-surface.js';

interface Upstream {
  server: Server;
  url: string;
  /** What `/health` answers: 200 when true, 503 when false. */
  healthy: boolean;
  /** Requests other than `/health`, in arrival order. */
  seen: { method: string; path: string; model: string | undefined }[];
  /** One entry per `/stream` request: whether the upstream saw its request cancelled before it finished. */
  streams: { cancelled: boolean; chunks: number; closed: Promise<void> }[];
  /** Releases every request held on `/hold`. */
  release: () => void;
  /** How many `/health` probes arrived. */
  probes: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A test upstream: `/health` (controllable), `/hold` (answers when released), `/slow` (never
 * answers in time), `/stream` (SSE, one event every 50 ms for 5 s), anything else echoes.
 */
async function upstream(tag: string): Promise<Upstream> {
  const up: Upstream = {
    server: undefined as unknown as Server,
    url: '',
    healthy: true,
    seen: [],
    streams: [],
    release: () => {},
    probes: 0,
  };
  let held: (() => void)[] = [];
  up.release = () => {
    for (const r of held) r();
    held = [];
  };
  up.server = createServer(async (req, res) => {
    const url = req.url ?? '/';
    if (url === '/health') {
      up.probes++;
      res.writeHead(up.healthy ? 200 : 503).end();
      return;
    }
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    let model: string | undefined;
    if (body.startsWith('{')) model = (JSON.parse(body) as { model?: string }).model;
    up.seen.push({ method: req.method ?? '', path: url, model });
    if (url === '/hold') {
      await new Promise<void>((r) => held.push(r));
    } else if (url === '/slow') {
      await sleep(2_000);
    } else if (url === '/stream') {
      let finished = false;
      const entry = { cancelled: false, chunks: 0, closed: Promise.resolve() };
      entry.closed = new Promise<void>((r) =>
        res.on('close', () => {
          entry.cancelled = !finished;
          r();
        }),
      );
      up.streams.push(entry);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (let i = 0; i < 100 && !res.destroyed; i++) {
        res.write(`data: ${i}\n\n`);
        entry.chunks++;
        await sleep(50);
      }
      finished = true;
      res.end();
      return;
    }
    if (res.destroyed) return;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ tag, path: url }));
  });
  await new Promise<void>((r) => up.server.listen(0, '127.0.0.1', r));
  up.url = `http://127.0.0.1:${(up.server.address() as AddressInfo).port}`;
  return up;
}

/** Polls `check` until it holds (a probe period is 50 ms; a loaded machine may need longer). */
async function eventually(check: () => boolean, what: string): Promise<void> {
  for (const deadline = Date.now() + 5_000; !check(); await sleep(20)) {
    if (Date.now() > deadline) assert.fail(`timed out waiting until ${what}`);
  }
}

/** A URL on which nothing listens (a port bound, then released). */
async function refusingUrl(): Promise<string> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as AddressInfo).port;
  await new Promise((r) => s.close(r));
  return `http://127.0.0.1:${port}`;
}

describe('gateway limits, upstream failures, health and per-version authorization (in-process server)', () => {
  let dir: string;
  let server: RunningServer;
  let admin: AiamClient;
  let ml: MlClient;
  let iam: IamService;
  let a: Upstream;
  let b: Upstream;
  /** When set, the server's clock stands still at this instant (the limiter reads it). */
  let frozenAt: number | undefined;
  const clock: Clock = { now: () => frozenAt ?? Date.now() };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-gw-res-'));
    server = await startServer({
      dataDir: dir,
      port: 0,
      env: {},
      logger: silentLogger,
      clock,
      gateway: {
        proxy: new ReverseProxy({ connectTimeoutMs: 1_000, firstByteTimeoutMs: 300 }),
        healthProbeIntervalMs: 50,
        healthProbeMaxBackoffMs: 100,
        healthProbeTimeoutMs: 500,
      },
    });
    const env = { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath };
    admin = new AiamClient({ endpoint: server.url, env });
    ml = new MlClient({ endpoint: server.url, env });
    const { keyring } = await loadKeyring({ dataDir: dir, env: {} });
    iam = new IamService({ store: server.store, keyring });
    a = await upstream('a');
    b = await upstream('b');
    await ml.createWorkspace({ name: 'ws' });
    for (const model of ['alpha', 'beta']) {
      await ml.createModel('ws', { name: model });
      await ml.createModelVersion('ws', model, { version: '1' });
    }
  });
  after(async () => {
    a?.release();
    b?.release();
    await server?.close();
    for (const u of [a, b]) if (u) await new Promise((r) => u.server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  /** A key-mode endpoint with one deployment per upstream given; returns its primary and secondary keys. */
  async function keyEndpoint(
    name: string,
    deployments: { name: string; url: string; weight?: number; probe?: string }[],
    limits?: { requestsPerSecond?: number; burst?: number; maxConcurrent?: number },
  ): Promise<{ primary: string; secondary: string }> {
    const created = await ml.createEndpoint('ws', {
      name,
      authMode: 'key',
      api: 'http',
      ...(limits ? { limits } : {}),
    });
    for (const d of deployments) {
      await ml.createDeployment('ws', name, {
        name: d.name,
        upstreamUrl: d.url,
        trafficWeight: d.weight ?? 100,
        ...(d.probe ? { healthProbePath: d.probe } : {}),
      });
    }
    return { primary: created.keys?.primary ?? '', secondary: created.keys?.secondary ?? '' };
  }

  const call = (endpoint: string, path: string, key: string, init: RequestInit = {}) =>
    fetch(`${server.url}/endpoints/${endpoint}${path}`, {
      ...init,
      headers: { authorization: `Bearer ${key}`, ...(init.headers as Record<string, string> | undefined) },
    });

  async function errorOf(res: Response): Promise<{ code: string; message: string; requestId: string }> {
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    return ((await res.json()) as { error: { code: string; message: string; requestId: string } }).error;
  }

  it('requests per second, per principal and endpoint: the burst passes, the next is 429 with Retry-After until exactly one interval later', async () => {
    const keys = await keyEndpoint('rate', [{ name: 'd', url: a.url }], { requestsPerSecond: 1, burst: 2 });
    frozenAt = Date.now();
    try {
      assert.equal((await call('rate', '/x', keys.primary)).status, 200);
      assert.equal((await call('rate', '/x', keys.primary)).status, 200);
      const refused = await call('rate', '/x', keys.primary);
      assert.equal(refused.status, 429);
      assert.equal(refused.headers.get('retry-after'), '1');
      assert.match((await errorOf(refused)).message, /requests per second/);
      // The other key is another principal: its own bucket.
      assert.equal((await call('rate', '/x', keys.secondary)).status, 200);
      frozenAt += 999;
      const early = await call('rate', '/x', keys.primary);
      assert.equal(early.status, 429, 'one millisecond before a whole token is back');
      assert.equal(early.headers.get('retry-after'), '1');
      frozenAt += 1;
      assert.equal((await call('rate', '/x', keys.primary)).status, 200, 'exactly one interval later');
      assert.equal((await call('rate', '/x', keys.primary)).status, 429, 'and only one');
    } finally {
      frozenAt = undefined;
    }
  });

  it('concurrent requests: the Nth in flight is admitted, the (N+1)th is 429; a finished one frees its slot', async () => {
    const keys = await keyEndpoint('conc', [{ name: 'd', url: a.url }], { maxConcurrent: 2 });
    const held = [call('conc', '/hold', keys.primary), call('conc', '/hold', keys.primary)];
    for (let i = 0; i < 100 && a.seen.filter((s) => s.path === '/hold').length < 2; i++) await sleep(10);
    const refused = await call('conc', '/x', keys.primary);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '1');
    assert.match((await errorOf(refused)).message, /in flight/);
    assert.equal(
      (await call('conc', '/x', keys.secondary)).status,
      200,
      'another principal has its own slots',
    );
    a.release();
    for (const r of await Promise.all(held)) {
      assert.equal(r.status, 200);
      await r.arrayBuffer();
    }
    assert.equal((await call('conc', '/x', keys.primary)).status, 200);
  });

  it('upstream refused: 502 JSON; after repeated failures the deployment leaves rotation: 503 JSON', async () => {
    const keys = await keyEndpoint('down', [{ name: 'd', url: await refusingUrl() }]);
    for (let i = 0; i < 3; i++) {
      const res = await call('down', '/x', keys.primary);
      assert.equal(res.status, 502);
      const error = await errorOf(res);
      assert.ok(error.requestId);
      assert.doesNotMatch(error.message, /127\.0\.0\.1/, 'the upstream address is not disclosed');
    }
    const res = await call('down', '/x', keys.primary);
    assert.equal(res.status, 503);
    assert.ok((await errorOf(res)).message.length > 0);
  });

  it('slow upstream: 504 JSON once the first-byte timeout passes', async () => {
    const keys = await keyEndpoint('slow', [{ name: 'd', url: b.url }]);
    const started = Date.now();
    const res = await call('slow', '/slow', keys.primary);
    assert.equal(res.status, 504);
    assert.ok((await errorOf(res)).requestId);
    assert.ok(Date.now() - started < 1_500, 'answered at the timeout, not when the upstream finished');
  });

  it('a client disconnecting mid-stream cancels the upstream request', async () => {
    const keys = await keyEndpoint('stream', [{ name: 'd', url: a.url }]);
    const before = a.streams.length;
    await new Promise<void>((resolve, reject) => {
      const req = request(
        `${server.url}/endpoints/stream/stream`,
        { headers: { authorization: `Bearer ${keys.primary}` } },
        (res) => {
          assert.equal(res.statusCode, 200);
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        },
      );
      req.on('error', () => {});
      req.on('close', () => resolve());
      req.on('timeout', () => reject(new Error('no stream')));
      req.end();
    });
    const entry = a.streams[before];
    assert.ok(entry, 'the stream reached the upstream');
    await Promise.race([entry.closed, sleep(2_000)]);
    assert.equal(entry.cancelled, true, 'the upstream request was closed before the stream finished');
    assert.ok(entry.chunks < 20, `the upstream stopped early (${entry.chunks} chunks)`);
  });

  it('active health probe: an unhealthy deployment leaves rotation and comes back when it recovers', async () => {
    const keys = await keyEndpoint('probed', [
      { name: 'pa', url: a.url, weight: 50, probe: '/health' },
      { name: 'pb', url: b.url, weight: 50, probe: '/health' },
    ]);
    const tags = async (n: number): Promise<Set<string>> => {
      const seen = new Set<string>();
      for (let i = 0; i < n; i++) {
        const res = await call('probed', '/who', keys.primary);
        assert.equal(res.status, 200);
        seen.add(((await res.json()) as { tag: string }).tag);
      }
      return seen;
    };
    assert.deepEqual([...(await tags(30))].sort(), ['a', 'b']);
    // A probe that started before a flip may report the old state: wait for two after it.
    const probedTwice = async (ups: Upstream[], what: string) => {
      const from = ups.map((u) => u.probes);
      await eventually(() => ups.every((u, i) => u.probes >= (from[i] ?? 0) + 2), what);
    };
    a.healthy = false;
    await probedTwice([a], 'deployment pa failed its probe');
    assert.deepEqual([...(await tags(30))], ['b'], 'no request reaches the unhealthy deployment');
    a.healthy = true;
    await probedTwice([a], 'deployment pa passed its probe');
    assert.deepEqual(
      [...(await tags(30))].sort(),
      ['a', 'b'],
      'the recovered deployment is back in rotation',
    );
    // Both down: no healthy deployment is a 503.
    a.healthy = false;
    b.healthy = false;
    await probedTwice([a, b], 'both deployments failed their probes');
    const res = await call('probed', '/who', keys.primary);
    assert.equal(res.status, 503);
    assert.ok((await errorOf(res)).message.length > 0);
    a.healthy = true;
    b.healthy = true;
    await probedTwice([a, b], 'both deployments passed their probes');
  });

  describe('token mode', () => {
    let token: string;

    const tokenFor = async (user: string): Promise<string> => {
      const key = await admin.createAccessKey(user);
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
      const res = await fetch(url, { method: 'POST', headers: send, body });
      assert.equal(res.status, 200, await res.clone().text());
      return ((await res.json()) as { access_token: string }).access_token;
    };

    before(async () => {
      await ml.createEndpoint('ws', { name: 'oai', authMode: 'token', api: 'openai' });
      await ml.createDeployment('ws', 'oai', {
        name: 'da',
        upstreamUrl: a.url,
        model: 'alpha:1',
        trafficWeight: 50,
      });
      await ml.createDeployment('ws', 'oai', {
        name: 'db',
        upstreamUrl: b.url,
        model: 'beta:1',
        trafficWeight: 50,
      });
      await admin.createUser({ name: 'carol' });
      await admin.putInlinePolicy('user', 'carol', 'tokens', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'sts:GetWebIdentityToken', Resource: '*' }],
      });
      await admin.createRoleAssignment({
        principal: 'user/carol',
        role: 'EndpointInvoker',
        scope: 'workspace/ws/endpoint/oai',
      });
      // Carol may use alpha version 1, not beta version 1.
      await admin.createRoleAssignment({
        principal: 'user/carol',
        role: 'EndpointInvoker',
        scope: 'workspace/ws/model/alpha/version/1',
      });
      token = await tokenFor('carol');
    });

    const invoke = (path: string, init: RequestInit = {}, bearer = token) =>
      fetch(`${server.url}/endpoints/oai${path}`, {
        ...init,
        headers: {
          authorization: `Bearer ${bearer}`,
          ...(init.headers as Record<string, string> | undefined),
        },
      });

    async function assertRefused(res: Response, upstreamBefore: number): Promise<void> {
      assert.equal(res.status, 403, await res.clone().text());
      const error = ((await res.json()) as { error: { decisionId: string } }).error;
      assert.match(error.decisionId, /^[0-9a-f-]{36}$/);
      assert.equal(b.seen.length, upstreamBefore, 'nothing reached the beta deployment');
    }

    it('the model named in the query resolves to its deployment and is authorized per model version', async () => {
      const chat = (model: string) =>
        invoke(`/v1/chat/completions?model=${model}`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ messages: [] }),
        });
      const ok = await chat('alpha');
      assert.equal(ok.status, 200, await ok.clone().text());
      assert.equal(((await ok.json()) as { tag: string }).tag, 'a');
      await assertRefused(await chat('beta'), b.seen.length);
    });

    it('the model named in the path resolves to its deployment and is authorized per model version', async () => {
      const ok = await invoke('/v1/models/alpha');
      assert.equal(ok.status, 200, await ok.clone().text());
      assert.equal(((await ok.json()) as { tag: string }).tag, 'a');
      const deployments = await invoke('/openai/deployments/alpha/chat/completions', {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ messages: [] }),
      });
      assert.equal(deployments.status, 200, await deployments.clone().text());
      await assertRefused(await invoke('/v1/models/beta'), b.seen.length);
      await assertRefused(
        await invoke('/openai/deployments/beta/chat/completions', {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ messages: [] }),
        }),
        b.seen.length,
      );
    });

    it('the model named in a multipart body resolves to its deployment and is authorized per model version', async () => {
      const transcribe = (model: string) => {
        const form = new FormData();
        form.append('model', model);
        form.append('file', new Blob([Buffer.alloc(2048, 1)], { type: 'audio/wav' }), 'speech.wav');
        return invoke('/v1/audio/transcriptions', { method: 'POST', body: form });
      };
      const ok = await transcribe('alpha');
      assert.equal(ok.status, 200, await ok.clone().text());
      assert.equal(((await ok.json()) as { tag: string }).tag, 'a');
      await assertRefused(await transcribe('beta'), b.seen.length);
    });

    it('a deprovisioned caller (user disabled through the IAM service) is refused on the next request', async () => {
      await admin.createUser({ name: 'dave' });
      await admin.putInlinePolicy('user', 'dave', 'tokens', {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: 'sts:GetWebIdentityToken', Resource: '*' }],
      });
      await admin.createRoleAssignment({
        principal: 'user/dave',
        role: 'EndpointInvoker',
        scope: 'workspace/ws',
      });
      const daveToken = await tokenFor('dave');
      const chat = () =>
        invoke(
          '/v1/chat/completions',
          {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ model: 'alpha', messages: [] }),
          },
          daveToken,
        );
      const ok = await chat();
      assert.equal(ok.status, 200, await ok.clone().text());
      const dave = await iam.getUser('dave');
      await iam.updateUser('dave', dave.version, { status: 'disabled' });
      const refused = await chat();
      assert.equal(refused.status, 401, await refused.clone().text());
    });
  });
});

describe('gateway health probes stop when the server closes', () => {
  it('no probe reaches a deployment after close', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aiam-gw-close-'));
    const up = await upstream('c');
    try {
      const server = await startServer({
        dataDir: dir,
        port: 0,
        env: {},
        logger: silentLogger,
        gateway: { healthProbeIntervalMs: 20 },
      });
      const ml = new MlClient({
        endpoint: server.url,
        env: { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath },
      });
      await ml.createWorkspace({ name: 'ws' });
      const created = await ml.createEndpoint('ws', { name: 'e', authMode: 'key', api: 'http' });
      await ml.createDeployment('ws', 'e', {
        name: 'd',
        upstreamUrl: up.url,
        trafficWeight: 100,
        healthProbePath: '/health',
      });
      const res = await fetch(`${server.url}/endpoints/e/x`, {
        headers: { authorization: `Bearer ${created.keys?.primary}` },
      });
      assert.equal(res.status, 200);
      await eventually(() => up.probes >= 2, 'the deployment is probed');
      await server.close();
      await sleep(30); // a probe already in flight may still land
      const atClose = up.probes;
      await sleep(200);
      assert.equal(up.probes, atClose, 'no probe after close');
    } finally {
      await new Promise((r) => up.server.close(r));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
