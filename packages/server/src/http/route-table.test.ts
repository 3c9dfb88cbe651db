import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { describe, it } from 'node:test';
import { AccessModel } from '@aiam/policy';
import { AuthFailureLimiter } from './auth-failure-limiter.js';
import { BearerTokenAuthenticator } from './authenticator.js';
import { AccessModelAuthorizer, AccessModelHolder } from './authorizer.js';
import { HttpServer } from './http-server.js';
import { createRequestPipeline } from './request-pipeline.js';
import { type RouteDefinition, RouteDefinitionError, RouteTable } from './route-table.js';

const ok = () => ({ status: 200 });

describe('RouteTable (fail closed by construction)', () => {
  const protectedRoute = {
    method: 'GET',
    path: '/users/{name}',
    auth: 'sigv4',
    action: 'iam:GetUser',
    resource: () => 'arn:aws:iam::111122223333:user/x',
    handle: ok,
  } as const;

  it('accepts a protected route with a catalogued action and a public route with a reason', () => {
    const t = new RouteTable().add(protectedRoute, {
      method: 'GET',
      path: '/healthz',
      auth: 'none-public',
      publicReason: 'liveness probe, constant answer',
      handle: ok,
    });
    assert.deepEqual(
      t.routes.map((r) => [r.label, r.schemes]),
      [
        ['GET /users/{name}', ['sigv4']],
        ['GET /healthz', []],
      ],
    );
  });

  const refuse = (route: Record<string, unknown>, pattern: RegExp) =>
    assert.throws(
      () => new RouteTable().add(route as unknown as RouteDefinition),
      (e: unknown) => {
        assert.ok(e instanceof RouteDefinitionError);
        assert.match(e.message, pattern);
        return true;
      },
    );

  it('refuses a route without an action, a resource or an authentication scheme', () => {
    const { action: _a, ...noAction } = protectedRoute;
    refuse(noAction, /must declare the action/);
    const { resource: _r, ...noResource } = protectedRoute;
    refuse(noResource, /resource ARN/);
    const { auth: _s, ...noAuth } = protectedRoute;
    refuse(noAuth, /must authenticate/);
    refuse({ ...protectedRoute, auth: [] }, /must authenticate/);
    refuse({ ...protectedRoute, auth: 'basic' }, /must authenticate/);
    const { handle: _h, ...noHandler } = protectedRoute;
    refuse(noHandler, /no handler/);
  });

  it('refuses wildcard, malformed and uncatalogued actions', () => {
    refuse({ ...protectedRoute, action: 'iam:*' }, /service:Action/);
    refuse({ ...protectedRoute, action: 'GetUser' }, /service:Action/);
    refuse({ ...protectedRoute, action: 'iam:GetUsr' }, /catalog does not define/);
    refuse({ ...protectedRoute, action: 'nosuch:Thing' }, /service the catalog does not define/);
  });

  it('refuses a public route that does not say why it is public', () => {
    refuse({ method: 'GET', path: '/x', auth: 'none-public', handle: ok }, /publicReason/);
    refuse({ method: 'GET', path: '/x', auth: 'none-public', publicReason: ' ', handle: ok }, /publicReason/);
  });

  it('refuses at build time a pipeline whose routes need a missing authenticator', () => {
    const routes = new RouteTable().add(protectedRoute);
    assert.throws(
      () =>
        createRequestPipeline({
          routes,
          authenticators: [new BearerTokenAuthenticator(async () => undefined)],
          authorizer: new AccessModelAuthorizer(new AccessModelHolder()),
          audit: { record: () => {} },
          limiter: new AuthFailureLimiter(),
        }),
      /needs a sigv4 authenticator/,
    );
  });

  it('denies everything while no access model is loaded', () => {
    const authorizer = new AccessModelAuthorizer(new AccessModelHolder());
    const outcome = authorizer.authorize({
      principal: { arn: 'arn:aws:iam::111122223333:user/a', account: '111122223333' },
      action: 'iam:GetUser',
      resource: '*',
      context: new Map(),
    });
    assert.equal(outcome.decision.decision, 'implicitDeny');
    const holder = new AccessModelHolder();
    assert.equal(holder.set(AccessModel.build({}), 5), true);
    assert.equal(holder.set(AccessModel.build({}), 4), false, 'an older model never replaces a newer');
  });
});

describe('HttpServer client errors', () => {
  it('answers a request whose body does not arrive in time with a JSON 408', async () => {
    const server = new HttpServer(
      async (req, res) => {
        req.resume();
        req.on('end', () => res.end('ok'));
      },
      { headersTimeoutMs: 200, requestTimeoutMs: 300, timeoutCheckIntervalMs: 50 },
    );
    const { port } = await server.listen(0, '127.0.0.1');
    const started = Date.now();
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write('POST / HTTP/1.1\r\nhost: x\r\ncontent-length: 100\r\n\r\n{"partial":');
      });
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    await server.close();
    assert.match(reply, /^HTTP\/1\.1 408 /);
    assert.match(reply, /"code":"ERR_REQUEST_TIMEOUT"/);
    assert.ok(Date.now() - started < 5000);
  });

  it('answers oversized headers with a JSON 431', async () => {
    const server = new HttpServer(
      async (_req, res) => {
        res.end('ok');
      },
      { maxHeaderSize: 1024 },
    );
    const { port } = await server.listen(0, '127.0.0.1');
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(port, '127.0.0.1', () => {
        socket.write(`GET / HTTP/1.1\r\nhost: x\r\nx-big: ${'a'.repeat(4000)}\r\n\r\n`);
      });
      let data = '';
      socket.on('data', (d) => (data += d));
      socket.on('end', () => resolve(data));
      socket.on('error', reject);
    });
    await server.close();
    assert.match(reply, /^HTTP\/1\.1 431 /);
    assert.match(reply, /"code":"ERR_HEADERS_TOO_LARGE"/);
  });
});
