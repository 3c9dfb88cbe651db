import assert from 'node:assert/strict';
import http, { type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { NotAllowedError } from '../errors.js';
import { DeploymentSelector } from './deployment-selector.js';
import {
  EndpointGateway,
  type GatewayDeployment,
  type GatewayEndpoint,
  type GatewayOutcome,
} from './endpoint-gateway.js';
import { GatewayLimiter } from './limits.js';
import { ReverseProxy } from './reverse-proxy.js';

/** An OpenAI-compatible test upstream serving one model, streaming SSE with a delay between events. */
function openAiUpstream(model: string, log: IncomingMessage[], marks: Record<string, number>): Server {
  return http.createServer((req, res) => {
    log.push(req);
    if (req.method === 'GET' && req.url === '/v1/models') {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ object: 'list', data: [{ id: model, object: 'model' }] }));
      return;
    }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', async () => {
      const body = JSON.parse(Buffer.concat(chunks).toString()) as { model: string; stream?: boolean };
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ id: 'c1', object: 'chat.completion', model: body.model, served_by: model }));
        return;
      }
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: 'Hel' } }], model })}\n\n`);
      await new Promise((r) => setTimeout(r, 200));
      marks.secondWrittenAt = performance.now();
      res.write(`data: ${JSON.stringify({ choices: [{ delta: { content: 'lo' } }], model })}\n\n`);
      res.end('data: [DONE]\n\n');
    });
  });
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return (server.address() as AddressInfo).port;
}

describe('EndpointGateway: the forwarding core end to end', () => {
  const llamaLog: IncomingMessage[] = [];
  const mistralLog: IncomingMessage[] = [];
  const marks: Record<string, number> = {};
  const servers: Server[] = [];
  const outcomes: GatewayOutcome[] = [];
  let base = '';
  let endpoint: GatewayEndpoint;
  let http503Endpoint: GatewayEndpoint;
  const proxy = new ReverseProxy({ firstByteTimeoutMs: 2000 });
  const limiter = new GatewayLimiter({ clock: fixedClock(0) });

  before(async () => {
    const llama = openAiUpstream('llama', llamaLog, marks);
    const mistral = openAiUpstream('mistral', mistralLog, marks);
    servers.push(llama, mistral);
    const [lp, mp] = [await listen(llama), await listen(mistral)];
    const dead = http.createServer();
    const deadPort = await listen(dead);
    await new Promise((r) => dead.close(r));
    const deployments: GatewayDeployment[] = [
      { name: 'llama-blue', upstreamUrl: `http://127.0.0.1:${lp}`, trafficWeight: 60, model: 'llama' },
      { name: 'mistral-blue', upstreamUrl: `http://127.0.0.1:${mp}`, trafficWeight: 40, model: 'mistral' },
    ];
    endpoint = {
      resourceName: 'arn:aiam:ml::acct:endpoint/chat',
      api: 'openai',
      selector: new DeploymentSelector(deployments, { random: () => 0 }),
      limits: { maxConcurrent: 1 },
      maxInspectedBodyBytes: 64 * 1024,
    };
    http503Endpoint = {
      resourceName: 'arn:aiam:ml::acct:endpoint/dead',
      api: 'http',
      selector: new DeploymentSelector(
        [{ name: 'dead', upstreamUrl: `http://127.0.0.1:${deadPort}`, trafficWeight: 100 }],
        {
          failureThreshold: 2,
          clock: fixedClock(0),
        },
      ),
    };
    const gateway = new EndpointGateway(proxy, limiter);
    const front = http.createServer(async (req, res) => {
      const match = /^\/endpoints\/([^/]+)(\/.*)$/.exec(req.url ?? '');
      const target = match?.[1] === 'dead' ? http503Endpoint : endpoint;
      const principal = String(req.headers['x-test-principal'] ?? 'alice');
      outcomes.push(
        await gateway.handle(target, {
          req,
          res,
          path: match?.[2] ?? '/',
          principal,
          authorize: ({ model }) => {
            if (principal === 'alice' && model === 'mistral') {
              throw new NotAllowedError('alice may not invoke mistral.', { decisionId: 'dec-42' });
            }
          },
          callerStatement: ({ deployment, model }) => `jwt:${principal}:${deployment.name}:${model ?? '-'}`,
        }),
      );
    });
    servers.push(front);
    base = `http://127.0.0.1:${await listen(front)}/endpoints/chat`;
  });

  after(async () => {
    proxy.close();
    for (const s of servers) {
      s.closeAllConnections();
      await new Promise((r) => s.close(r));
    }
  });

  it('streams a chat completion: the first event reaches the client before the upstream writes the second', async () => {
    const res = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Bearer aiam_ek_secret' },
      body: JSON.stringify({ model: 'llama', stream: true, messages: [{ role: 'user', content: 'hi' }] }),
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('content-type'), 'text/event-stream');
    const reader = (res.body as ReadableStream<Uint8Array>).getReader();
    const received: Buffer[] = [];
    let firstAt = 0;
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      if (firstAt === 0) firstAt = performance.now();
      received.push(Buffer.from(value));
    }
    assert.ok(firstAt > 0 && marks.secondWrittenAt !== undefined);
    assert.ok(
      firstAt < (marks.secondWrittenAt as number),
      'the first event must arrive before the second is written',
    );
    const text = Buffer.concat(received).toString();
    assert.equal(
      text,
      `data: {"choices":[{"delta":{"content":"Hel"}}],"model":"llama"}\n\ndata: {"choices":[{"delta":{"content":"lo"}}],"model":"llama"}\n\ndata: [DONE]\n\n`,
    );
    const seen = llamaLog.at(-1) as IncomingMessage;
    assert.equal(seen.headers.authorization, undefined);
    assert.equal(seen.headers['x-aiam-caller'], 'jwt:alice:llama-blue:llama');
  });

  it('routes by the model the request names, and authorizes that model (403 with a decision id)', async () => {
    const asBob = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'x-test-principal': 'bob' },
      body: JSON.stringify({ model: 'mistral', messages: [] }),
    });
    assert.equal(asBob.status, 200);
    assert.equal(((await asBob.json()) as { served_by: string }).served_by, 'mistral');
    const before = mistralLog.length;
    const asAlice = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'mistral', messages: [] }),
    });
    assert.equal(asAlice.status, 403);
    const body = (await asAlice.json()) as { error: { code: string; decisionId: string } };
    assert.equal(body.error.code, 'ERR_ACCESS_DENIED');
    assert.equal(body.error.decisionId, 'dec-42');
    assert.equal(mistralLog.length, before, 'a refused request never reaches the upstream');
  });

  it('refuses the query-string bypass and a pin to a deployment serving another model before any upstream sees them', async () => {
    const counts = [llamaLog.length, mistralLog.length];
    const bypass = await fetch(`${base}/v1/chat/completions?model=mistral`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama', messages: [] }),
    });
    assert.equal(bypass.status, 400);
    assert.equal(((await bypass.json()) as { error: { code: string } }).error.code, 'ERR_AMBIGUOUS_MODEL');
    const pinned = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'azureml-model-deployment': 'mistral-blue' },
      body: JSON.stringify({ model: 'llama', messages: [] }),
    });
    assert.equal(pinned.status, 400);
    assert.equal(
      ((await pinned.json()) as { error: { code: string } }).error.code,
      'ERR_DEPLOYMENT_MISMATCH',
    );
    const unknown = await fetch(`${base}/bedrock/model/mistral/invoke`, { method: 'POST', body: '{}' });
    assert.equal(unknown.status, 404);
    const missing = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'gpt-9', messages: [] }),
    });
    assert.equal(missing.status, 404);
    assert.equal(((await missing.json()) as { error: { code: string } }).error.code, 'ERR_NO_DEPLOYMENT');
    const big = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama', pad: 'x'.repeat(70 * 1024) }),
    });
    assert.equal(big.status, 413);
    assert.deepEqual([llamaLog.length, mistralLog.length], counts);
  });

  it('forwards model-less routes (GET /v1/models) to a deployment chosen by weight', async () => {
    const res = await fetch(`${base}/v1/models`);
    assert.equal(res.status, 200);
    assert.equal(((await res.json()) as { data: Array<{ id: string }> }).data[0]?.id, 'llama');
  });

  it('answers 429 with Retry-After for a second concurrent request, and frees the slot when the first ends', async () => {
    const first = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama', stream: true, messages: [] }),
    });
    const second = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama', messages: [] }),
    });
    assert.equal(second.status, 429);
    assert.equal(second.headers.get('retry-after'), '1');
    await first.text();
    await new Promise((r) => setTimeout(r, 20));
    const third = await fetch(`${base}/v1/chat/completions`, {
      method: 'POST',
      body: JSON.stringify({ model: 'llama', messages: [] }),
    });
    assert.equal(third.status, 200);
  });

  it('maps a dead deployment to 502, then takes it out of rotation (503)', async () => {
    const dead = base.replace('/endpoints/chat', '/endpoints/dead');
    assert.equal((await fetch(`${dead}/anything`)).status, 502);
    assert.equal((await fetch(`${dead}/anything`)).status, 502);
    const third = await fetch(`${dead}/anything`);
    assert.equal(third.status, 503);
    const body = (await third.json()) as { error: { code: string; requestId: string } };
    assert.equal(body.error.code, 'ERR_UNAVAILABLE');
    assert.ok(body.error.requestId.length > 0);
    assert.ok(outcomes.some((o) => o.kind === 'forwarded' && o.result.outcome === 'upstream-failed'));
  });
});
