import assert from 'node:assert/strict';
import { request as httpRequest } from 'node:http';
import { after, before, describe, it } from 'node:test';
import { AccessModel, compilePolicy, parsePolicyOrThrow } from '@aiam/policy';
import { fixedClock } from '../clock.js';
import { NotFoundError } from '../errors.js';
import type { AuditEntry } from '../observability/audit-writer.js';
import { createLogger } from '../observability/logger.js';
import { MetricsRegistry } from '../observability/metrics.js';
import { AuthFailureLimiter } from './auth-failure-limiter.js';
import { type AuthenticatedPrincipal, BearerTokenAuthenticator } from './authenticator.js';
import { AccessModelAuthorizer, AccessModelHolder } from './authorizer.js';
import { HttpServer } from './http-server.js';
import { createRequestPipeline } from './request-pipeline.js';
import { type AuthorizedRequest, RouteTable } from './route-table.js';

const ACCT = '111122223333';
const userArn = (n: string) => `arn:aws:iam::${ACCT}:user/${n}`;
const caller = (name: string): AuthenticatedPrincipal => ({
  principal: { arn: userArn(name), account: ACCT },
  type: 'User',
  userName: name,
  userId: `AIDA${name.toUpperCase()}`,
  tags: { team: 'ml' },
  credentialId: `key-${name}`,
});
const TOKENS: Record<string, AuthenticatedPrincipal> = {
  'alice-token': caller('alice'),
  'bob-token': caller('bob'),
};

function model(): AccessModel {
  const doc = {
    Version: '2012-10-17',
    Statement: [
      { Effect: 'Allow', Action: ['iam:GetUser', 'iam:CreateUser', 'iam:DeleteUser'], Resource: '*' },
      // Only from loopback: proves aws:SourceIp reaches the engine.
      {
        Effect: 'Deny',
        Action: 'iam:DeleteUser',
        Resource: '*',
        Condition: { NotIpAddress: { 'aws:SourceIp': '10.0.0.0/8' } },
      },
    ],
  };
  const p = compilePolicy(parsePolicyOrThrow(doc, { kind: 'identity' }), { id: 'admin', kind: 'identity' });
  return AccessModel.build({ policies: [p], principals: [{ arn: userArn('alice'), policies: ['admin'] }] });
}

interface Harness {
  url: string;
  audit: AuditEntry[];
  logs: string[];
  server: HttpServer;
  metrics: MetricsRegistry;
  release: () => void;
}

async function start(): Promise<Harness> {
  const audit: AuditEntry[] = [];
  const logs: string[] = [];
  const metrics = new MetricsRegistry();
  const holder = new AccessModelHolder();
  holder.set(model(), 1);
  let release: () => void = () => {};
  const routes = new RouteTable().add(
    {
      method: 'GET',
      path: '/healthz',
      auth: 'none-public',
      publicReason: 'liveness probe; reveals nothing',
      handle: () => ({ status: 200, body: { status: 'ok' } }),
    },
    {
      method: 'GET',
      path: '/users/{name}',
      auth: ['bearer'],
      action: 'iam:GetUser',
      resource: (req) => userArn(req.params.name!),
      handle: (req: AuthorizedRequest) => {
        if (req.params.name === 'ghost') throw new NotFoundError('User "ghost" does not exist.');
        if (req.params.name === 'crash') throw new Error('database password=hunter2 leaked in message');
        return {
          status: 200,
          body: { name: req.params.name, caller: req.caller.principal.arn, decisionId: req.decisionId },
        };
      },
    },
    {
      method: 'POST',
      path: '/users',
      auth: 'bearer',
      action: 'iam:CreateUser',
      resource: (req) => userArn(String((req.json() as { name?: unknown })?.name ?? '')),
      maxBodyBytes: 1024,
      handle: (req) => ({ status: 201, body: { created: (req.json() as { name: string }).name } }),
    },
    {
      method: 'DELETE',
      path: '/users/{name}',
      auth: 'bearer',
      action: 'iam:DeleteUser',
      resource: (req) => userArn(req.params.name!),
      handle: () => ({ status: 204 }),
    },
    {
      method: 'POST',
      path: '/sts',
      auth: 'bearer',
      action: 'sts:GetCallerIdentity',
      resource: () => '*',
      renderError: (err, requestId) => {
        const code = err instanceof Error && 'code' in err ? String(err.code) : 'InternalFailure';
        return {
          status: 403,
          code,
          unexpected: false,
          response: {
            status: 403,
            text: `<ErrorResponse><Error><Code>${code}</Code></Error><RequestId>${requestId}</RequestId></ErrorResponse>`,
            contentType: 'text/xml',
          },
        };
      },
      handle: () => ({ status: 200, text: '<ok/>', contentType: 'text/xml' }),
    },
    {
      method: 'GET',
      path: '/slow',
      auth: 'none-public',
      publicReason: 'test route that waits for the test to release it',
      handle: () =>
        new Promise((resolve) => {
          release = () => resolve({ status: 200, body: { slow: 'done' } });
        }),
    },
  );
  let server: HttpServer | undefined;
  const pipeline = createRequestPipeline({
    routes,
    authenticators: [new BearerTokenAuthenticator(async (t) => TOKENS[t])],
    authorizer: new AccessModelAuthorizer(holder),
    audit: { record: (e) => audit.push(e) },
    limiter: new AuthFailureLimiter({ burst: 5, refillPerSecond: 0.01, clock: fixedClock(0) }),
    logger: createLogger({ level: 'debug', write: (l) => logs.push(l) }),
    metrics,
    isDraining: () => server?.draining ?? false,
  });
  server = new HttpServer(pipeline);
  const addr = await server.listen(0, '127.0.0.1');
  return { url: `http://127.0.0.1:${addr.port}`, audit, logs, server, metrics, release: () => release() };
}

const bearer = (t: string) => ({ authorization: `Bearer ${t}` });

describe('request pipeline over HTTP', () => {
  let h: Harness;
  before(async () => {
    h = await start();
  });
  after(async () => {
    await h.server.close({ graceMs: 100 });
  });

  it('serves a public route without credentials and echoes the request id', async () => {
    const res = await fetch(`${h.url}/healthz`, { headers: { 'x-request-id': 'abc-123' } });
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: 'ok' });
    assert.equal(res.headers.get('x-request-id'), 'abc-123');
    assert.equal(res.headers.get('x-amz-request-id'), 'abc-123');
  });

  it('makes up a request id when the incoming one is unsafe', async () => {
    const res = await fetch(`${h.url}/healthz`, { headers: { 'x-request-id': 'bad id\twith spaces' } });
    assert.match(res.headers.get('x-request-id') ?? '', /^[0-9a-f-]{36}$/);
  });

  it('refuses a request without credentials with 401 and never says why', async () => {
    const res = await fetch(`${h.url}/users/alice`);
    assert.equal(res.status, 401);
    const body = (await res.json()) as { error: Record<string, unknown> };
    assert.equal(body.error.code, 'ERR_UNAUTHENTICATED');
    assert.equal(body.error.message, 'The request could not be authenticated.');
    assert.equal(body.error.requestId, res.headers.get('x-request-id'));
    assert.equal(res.headers.get('www-authenticate'), 'Bearer realm="aiam"');
    const bad = await fetch(`${h.url}/users/alice`, { headers: bearer('nope') });
    const badBody = await bad.text();
    assert.equal(bad.status, 401);
    assert.doesNotMatch(badBody, /unknown|inactive|expired|token/i);
    // The reason is in the audit trail instead.
    const rec = h.audit.find(
      (a) => a.decision === 'unauthenticated' && (a.extra as { reason: string }).reason.includes('unknown'),
    );
    assert.ok(rec, 'the failure is audited with its reason');
  });

  it('authorizes through the engine: allowed for alice, 403 with a decision id for bob', async () => {
    const ok = await fetch(`${h.url}/users/carol`, { headers: bearer('alice-token') });
    assert.equal(ok.status, 200);
    const okBody = (await ok.json()) as { caller: string; decisionId: string };
    assert.equal(okBody.caller, userArn('alice'));
    const allowed = h.audit.find((a) => a.id === okBody.decisionId);
    assert.equal(allowed?.decision, 'allowed');
    assert.equal(allowed?.action, 'iam:GetUser');
    assert.equal(allowed?.resource, userArn('carol'));

    const denied = await fetch(`${h.url}/users/carol`, { headers: bearer('bob-token') });
    assert.equal(denied.status, 403);
    const body = (await denied.json()) as { error: { code: string; message: string; decisionId: string } };
    assert.equal(body.error.code, 'ERR_ACCESS_DENIED');
    assert.match(body.error.message, /user\/bob is not authorized to perform iam:GetUser/);
    const rec = h.audit.find((a) => a.id === body.error.decisionId);
    assert.equal(rec?.decision, 'implicitDeny');
  });

  it('puts the source address into the context (a Deny on aws:SourceIp applies)', async () => {
    const res = await fetch(`${h.url}/users/carol`, { method: 'DELETE', headers: bearer('alice-token') });
    assert.equal(res.status, 403);
    const body = (await res.json()) as { error: { message: string } };
    assert.match(body.error.message, /explicit deny/);
  });

  it('maps domain errors and hides unexpected ones', async () => {
    const nf = await fetch(`${h.url}/users/ghost`, { headers: bearer('alice-token') });
    assert.equal(nf.status, 404);
    assert.deepEqual(((await nf.json()) as { error: { code: string } }).error.code, 'ERR_NOT_FOUND');
    const crash = await fetch(`${h.url}/users/crash`, { headers: bearer('alice-token') });
    assert.equal(crash.status, 500);
    const text = await crash.text();
    assert.doesNotMatch(text, /hunter2|database/);
    assert.equal((JSON.parse(text) as { error: { code: string } }).error.code, 'ERR_INTERNAL');
    const logged = h.logs.find((l) => l.includes('"request failed"'));
    assert.ok(logged, 'the failure is logged');
    assert.doesNotMatch(logged, /hunter2/, 'secrets in error messages are redacted from the log');
  });

  it("renders errors in a route's own protocol format", async () => {
    const res = await fetch(`${h.url}/sts`, { method: 'POST', headers: { 'x-request-id': 'sts-1' } });
    assert.equal(res.status, 403);
    assert.equal(res.headers.get('content-type'), 'text/xml');
    assert.equal(
      await res.text(),
      '<ErrorResponse><Error><Code>ERR_UNAUTHENTICATED</Code></Error><RequestId>sts-1</RequestId></ErrorResponse>',
    );
  });

  it('answers 404 and 405 with Allow', async () => {
    const nf = await fetch(`${h.url}/nothing/here`);
    assert.equal(nf.status, 404);
    assert.equal(((await nf.json()) as { error: { code: string } }).error.code, 'ERR_ROUTE_NOT_FOUND');
    const na = await fetch(`${h.url}/users/x`, { method: 'PUT', headers: bearer('alice-token') });
    assert.equal(na.status, 405);
    assert.equal(na.headers.get('allow'), 'DELETE, GET, HEAD');
  });

  it('parses JSON bodies and says where malformed JSON goes wrong', async () => {
    const ok = await fetch(`${h.url}/users`, {
      method: 'POST',
      headers: { ...bearer('alice-token'), 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'dave' }),
    });
    assert.equal(ok.status, 201);
    assert.deepEqual(await ok.json(), { created: 'dave' });

    const bad = await fetch(`${h.url}/users`, {
      method: 'POST',
      headers: { ...bearer('alice-token'), 'content-type': 'application/json' },
      body: '{\n  "name": "dave",\n}',
    });
    assert.equal(bad.status, 400);
    const err = (await bad.json()) as { error: { code: string; message: string } };
    assert.equal(err.error.code, 'ERR_JSON_SYNTAX');
    assert.match(err.error.message, /line 3, column 1/);

    const wrongType = await fetch(`${h.url}/users`, {
      method: 'POST',
      headers: { ...bearer('alice-token'), 'content-type': 'text/plain' },
      body: '{"name":"dave"}',
    });
    assert.equal(wrongType.status, 415);
  });

  it('refuses bodies over the limit with 413, declared or streamed', async () => {
    const big = JSON.stringify({ name: 'x'.repeat(2000) });
    const declared = await fetch(`${h.url}/users`, {
      method: 'POST',
      headers: { ...bearer('alice-token'), 'content-type': 'application/json' },
      body: big,
    });
    assert.equal(declared.status, 413);
    const body = (await declared.json()) as { error: { code: string; message: string } };
    assert.equal(body.error.code, 'ERR_PAYLOAD_TOO_LARGE');
    assert.match(body.error.message, /1024 bytes/);

    const streamed = await new Promise<number>((resolve, reject) => {
      const u = new URL(`${h.url}/users`);
      const req = httpRequest(
        {
          host: u.hostname,
          port: u.port,
          path: '/users',
          method: 'POST',
          headers: {
            ...bearer('alice-token'),
            'content-type': 'application/json',
            'transfer-encoding': 'chunked',
          },
        },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on('error', reject);
      req.write(big.slice(0, 800));
      req.write(big.slice(800));
      req.end();
    });
    assert.equal(streamed, 413);
  });

  it('counts requests in Prometheus format', () => {
    const text = h.metrics.render();
    assert.match(text, /aiam_http_requests_total\{route="GET \/healthz",method="GET",status="200"\} \d+/);
    assert.match(text, /aiam_authorization_decisions_total\{decision="allowed"\} \d+/);
    assert.match(text, /aiam_http_request_duration_seconds_bucket\{route="GET \/healthz",le="\+Inf"\} \d+/);
  });

  it('rate limits authentication failures per source with 429 and Retry-After', async () => {
    // The burst is 5 and earlier tests already failed some; keep failing until refused.
    let res: Response | undefined;
    for (let i = 0; i < 8; i++) {
      res = await fetch(`${h.url}/users/alice`, { headers: bearer('wrong') });
      if (res.status === 429) break;
      assert.equal(res.status, 401);
    }
    assert.equal(res?.status, 429);
    assert.ok(Number(res?.headers.get('retry-after')) >= 1);
    // Even a valid credential from that source now waits: the limiter runs before authentication.
    const valid = await fetch(`${h.url}/users/alice`, { headers: bearer('alice-token') });
    assert.equal(valid.status, 429);
    // Public routes are not limited.
    assert.equal((await fetch(`${h.url}/healthz`)).status, 200);
  });
});

describe('graceful shutdown', () => {
  it('lets an in-flight request finish and refuses new connections', async () => {
    const h = await start();
    const pending = fetch(`${h.url}/slow`);
    await new Promise((r) => setTimeout(r, 50));
    const closing = h.server.close({ graceMs: 5000 });
    await new Promise((r) => setTimeout(r, 20));
    await assert.rejects(fetch(`${h.url}/healthz`));
    h.release();
    const res = await pending;
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { slow: 'done' });
    assert.equal(res.headers.get('connection'), 'close');
    assert.deepEqual(await closing, { forced: false });
  });

  it('cuts requests that outlive the grace period', async () => {
    const h = await start();
    const pending = fetch(`${h.url}/slow`).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(await h.server.close({ graceMs: 50 }), { forced: true });
    assert.ok((await pending) instanceof Error);
  });
});

describe('source address behind proxies', () => {
  async function echoServer(trustedProxies?: string[]) {
    const routes = new RouteTable().add({
      method: 'GET',
      path: '/whoami',
      auth: 'none-public',
      publicReason: 'test route echoing the source address',
      handle: (req) => ({ status: 200, body: { ip: req.sourceIp, secure: req.secureTransport } }),
    });
    const server = new HttpServer(
      createRequestPipeline({
        routes,
        authenticators: [],
        authorizer: new AccessModelAuthorizer(new AccessModelHolder()),
        audit: { record: () => {} },
        limiter: new AuthFailureLimiter(),
        trustedProxies,
      }),
    );
    const { port } = await server.listen(0, '127.0.0.1');
    return { server, url: `http://127.0.0.1:${port}/whoami` };
  }
  const spoof = { 'x-forwarded-for': '198.51.100.9, 10.1.1.1', 'x-forwarded-proto': 'https' };

  it('ignores X-Forwarded-For from an untrusted peer', async () => {
    const { server, url } = await echoServer();
    const body = await (await fetch(url, { headers: spoof })).json();
    await server.close();
    assert.deepEqual(body, { ip: '127.0.0.1', secure: false });
  });

  it('takes the first untrusted hop from the right when the peer is a trusted proxy', async () => {
    const { server, url } = await echoServer(['127.0.0.1', '10.1.1.1']);
    const body = await (await fetch(url, { headers: spoof })).json();
    await server.close();
    assert.deepEqual(body, { ip: '198.51.100.9', secure: true });
  });
});
