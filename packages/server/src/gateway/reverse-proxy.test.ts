import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import http, { type IncomingMessage, type RequestListener, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import {
  type ForwardRequest,
  type ForwardResult,
  ReverseProxy,
  type ReverseProxyOptions,
} from './reverse-proxy.js';

interface Harness {
  upstreamUrl: string;
  gatewayUrl: string;
  results: ForwardResult[];
  upstreamConnections: () => number;
  close: () => Promise<void>;
}

const cleanups: Array<() => Promise<void>> = [];
after(async () => {
  for (const c of cleanups) await c();
});

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

/** An upstream written by the test, and the gateway in front of it, both on real sockets. */
async function harness(
  upstream: RequestListener,
  options: ReverseProxyOptions = {},
  extra: Partial<ForwardRequest> = {},
): Promise<Harness> {
  const upstreamServer = http.createServer(upstream);
  let connections = 0;
  const sockets = new Set<Socket>();
  upstreamServer.on('connection', (s: Socket) => {
    connections++;
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  const upstreamUrl = await listen(upstreamServer);
  const proxy = new ReverseProxy(options);
  const results: ForwardResult[] = [];
  const gateway = http.createServer((req, res) => {
    void proxy
      .forward({
        req,
        res,
        upstreamUrl: extra.upstreamUrl ?? upstreamUrl,
        path: req.url ?? '/',
        deploymentName: 'blue',
        ...extra,
      })
      .then((r) => results.push(r));
  });
  const gatewayUrl = await listen(gateway);
  const close = async (): Promise<void> => {
    proxy.close();
    for (const s of sockets) s.destroy();
    gateway.closeAllConnections();
    upstreamServer.closeAllConnections();
    await Promise.all([new Promise((r) => gateway.close(r)), new Promise((r) => upstreamServer.close(r))]);
  };
  cleanups.push(close);
  return { upstreamUrl, gatewayUrl, results, upstreamConnections: () => connections, close };
}

interface Reply {
  status: number;
  headers: http.IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

function request(
  url: string,
  options: http.RequestOptions & { body?: Buffer | string } = {},
): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = http.request(url, { agent: false, ...options }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          rawHeaders: res.rawHeaders,
          body: Buffer.concat(chunks),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

async function waitFor(check: () => boolean, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('ReverseProxy: forwarding and header hygiene', () => {
  it('forwards method, path and query, strips credentials and hop-by-hop fields, states the caller', async () => {
    let seen: IncomingMessage | undefined;
    const h = await harness(
      (req, res) => {
        seen = req;
        res.writeHead(201, {
          'content-type': 'application/json',
          connection: 'x-internal-hop',
          'x-internal-hop': 'secret',
          'keep-alive': 'timeout=77',
          'set-cookie': ['a=1', 'b=2'],
        });
        res.end('{"ok":true}');
      },
      {},
      { callerStatement: () => 'eyJ.caller.jwt', requestId: 'req-123' },
    );
    const reply = await request(`${h.gatewayUrl}/v1/things/7?x=1&y=%20z`, {
      method: 'PATCH',
      headers: {
        authorization: 'Bearer secret-key',
        'x-api-key': 'k1',
        'api-key': 'k2',
        cookie: 'session=abc',
        'x-amz-date': '20250101T000000Z',
        'x-amz-security-token': 'tok',
        'x-aiam-caller': 'forged',
        'x-aiam-anything': 'forged',
        'proxy-authorization': 'Basic x',
        connection: 'x-listed',
        'x-listed': 'hop',
        te: 'trailers',
        'x-forwarded-for': '6.6.6.6',
        forwarded: 'for=6.6.6.6',
        'x-custom': 'kept',
        accept: 'application/json',
      },
    });
    assert.equal(reply.status, 201);
    assert.equal(reply.body.toString(), '{"ok":true}');
    assert.ok(seen);
    assert.equal(seen.method, 'PATCH');
    assert.equal(seen.url, '/v1/things/7?x=1&y=%20z');
    for (const dropped of [
      'authorization',
      'x-api-key',
      'api-key',
      'cookie',
      'x-amz-date',
      'x-amz-security-token',
      'x-aiam-anything',
      'proxy-authorization',
      'x-listed',
      'te',
      'forwarded',
    ]) {
      assert.equal(seen.headers[dropped], undefined, `${dropped} must not reach the upstream`);
    }
    assert.equal(seen.headers['x-aiam-caller'], 'eyJ.caller.jwt');
    assert.equal(seen.headers['x-aiam-request-id'], 'req-123');
    assert.equal(seen.headers['x-custom'], 'kept');
    assert.equal(seen.headers['x-forwarded-for'], '127.0.0.1', 'an untrusted client cannot extend the chain');
    assert.equal(seen.headers['x-forwarded-proto'], 'http');
    assert.equal(seen.headers['x-forwarded-host'], new URL(h.gatewayUrl).host);
    assert.equal(seen.headers.host, new URL(h.upstreamUrl).host);
    // Response side: Connection and the fields it names, and Keep-Alive, are hop-by-hop.
    assert.equal(reply.headers['x-internal-hop'], undefined);
    assert.equal(reply.headers['keep-alive']?.includes('timeout=77') ?? false, false);
    assert.deepEqual(reply.headers['set-cookie'], ['a=1', 'b=2']);
    assert.equal(reply.headers['x-aiam-request-id'], 'req-123');
  });

  it('appends to X-Forwarded-For only when the peer is a trusted proxy', async () => {
    let seen: IncomingMessage | undefined;
    const h = await harness(
      (req, res) => {
        seen = req;
        res.end();
      },
      { trustedProxyAddresses: ['127.0.0.1'] },
    );
    await request(`${h.gatewayUrl}/`, {
      headers: {
        'x-forwarded-for': '203.0.113.9',
        'x-forwarded-proto': 'https',
        'x-forwarded-host': 'api.example.com',
      },
    });
    assert.equal(seen?.headers['x-forwarded-for'], '203.0.113.9, 127.0.0.1');
    assert.equal(seen?.headers['x-forwarded-proto'], 'https');
    assert.equal(seen?.headers['x-forwarded-host'], 'api.example.com');
  });

  it('keeps upstream connections alive across requests', async () => {
    const h = await harness((_req, res) => res.end('x'));
    for (let i = 0; i < 5; i++) assert.equal((await request(`${h.gatewayUrl}/`)).status, 200);
    assert.equal(h.upstreamConnections(), 1);
  });

  it('forwards a buffered body with its length, and passes upstream errors through untouched', async () => {
    let got = '';
    let length: string | undefined;
    const h = await harness(
      (req, res) => {
        length = req.headers['content-length'];
        req.setEncoding('utf8');
        req.on('data', (c: string) => {
          got += c;
        });
        req.on('end', () => {
          res.writeHead(418, { 'content-type': 'text/plain' });
          res.end('teapot');
        });
      },
      {},
      { body: Buffer.from('{"model":"m"}') },
    );
    const reply = await request(`${h.gatewayUrl}/v1/chat/completions`, {
      method: 'POST',
      headers: { 'transfer-encoding': 'chunked' },
      body: '{"model":"m"}',
    });
    assert.equal(reply.status, 418);
    assert.equal(reply.body.toString(), 'teapot');
    assert.equal(got, '{"model":"m"}');
    assert.equal(length, '13');
  });
});

describe('ReverseProxy: streaming', () => {
  it('streams a 50 MiB request body with backpressure, never buffering it (bytes identical)', async () => {
    const size = 50 * 1024 * 1024;
    let upstreamDigest = '';
    let upstreamBytes = 0;
    let paused = false;
    const h = await harness((req, res) => {
      const hash = createHash('sha256');
      req.on('data', (c: Buffer) => {
        upstreamBytes += c.length;
        hash.update(c);
        if (!paused && upstreamBytes > 10 * 1024 * 1024) {
          // A slow upstream: a proxy that buffers would let the client push on regardless.
          paused = true;
          req.pause();
          setTimeout(() => req.resume(), 400);
        }
      });
      req.on('end', () => {
        upstreamDigest = hash.digest('hex');
        res.end('done');
      });
    });
    const clientHash = createHash('sha256');
    let sent = 0;
    let maxInFlight = 0;
    const reply = await new Promise<Reply>((resolve, reject) => {
      const req = http.request(`${h.gatewayUrl}/upload`, { method: 'PUT', agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            headers: res.headers,
            rawHeaders: res.rawHeaders,
            body: Buffer.concat(chunks),
          }),
        );
      });
      req.on('error', reject);
      const pump = (): void => {
        while (sent < size) {
          const chunk = Buffer.alloc(64 * 1024, sent % 251);
          chunk.writeUInt32BE(sent, 0);
          clientHash.update(chunk);
          sent += chunk.length;
          maxInFlight = Math.max(maxInFlight, sent - upstreamBytes);
          if (!req.write(chunk)) {
            req.once('drain', pump);
            return;
          }
        }
        req.end();
      };
      pump();
    });
    assert.equal(reply.status, 200);
    assert.equal(upstreamBytes, size);
    assert.equal(upstreamDigest, clientHash.digest('hex'));
    // Only socket and stream buffers may sit between client and upstream, not the body.
    const inFlightMiB = maxInFlight / (1024 * 1024);
    assert.ok(inFlightMiB < 16, `${inFlightMiB.toFixed(1)} MiB were held between client and upstream`);
  });

  it('delivers each Server-Sent Event before the upstream writes the next, byte-identical and in order', async () => {
    const events = [
      'data: {"choices":[{"delta":{"content":"Hé"}}]}\n\n',
      ': keep-alive comment\n\n',
      'event: message\r\ndata: line one\r\ndata: line two\r\n\r\n',
      'data: {"choices":[{"delta":{"content":"€ and 🎉"}}]}\n\n',
      'data: [DONE]\n\n',
    ];
    const expected = Buffer.from(events.join(''));
    const writtenAt: number[] = [];
    let clientSawBytes = 0;
    const h = await harness(async (_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      let offset = 0;
      for (const event of events) {
        const bytes = Buffer.from(event);
        // Split inside the event (and inside multi-byte characters) to prove nothing re-frames.
        const cut = Math.floor(bytes.length / 2);
        writtenAt.push(Date.now());
        res.write(bytes.subarray(0, cut));
        res.write(bytes.subarray(cut));
        offset += bytes.length;
        const target = offset;
        // Wait until the client has the event (or 200 ms), then write the next.
        const deadline = Date.now() + 200;
        while (clientSawBytes < target && Date.now() < deadline) await new Promise((r) => setTimeout(r, 2));
        assert.ok(clientSawBytes >= target, 'the client must see an event before the next is written');
        await new Promise((r) => setTimeout(r, 20));
      }
      res.end();
    });
    const body = await new Promise<Buffer>((resolve, reject) => {
      http
        .get(`${h.gatewayUrl}/v1/chat/completions`, { agent: false }, (res) => {
          assert.equal(res.headers['content-type'], 'text/event-stream');
          const chunks: Buffer[] = [];
          res.on('data', (c: Buffer) => {
            chunks.push(c);
            clientSawBytes += c.length;
          });
          res.on('end', () => resolve(Buffer.concat(chunks)));
        })
        .on('error', reject);
    });
    assert.ok(body.equals(expected), 'events must pass byte-identical and in order');
    assert.equal(writtenAt.length, events.length);
  });

  it('cancels the upstream request when the client disconnects mid-stream', async () => {
    let upstreamClosed = false;
    let upstreamGotChunk = false;
    const h = await harness((req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: first\n\n');
      const tick = setInterval(() => res.write('data: more\n\n'), 20);
      res.on('close', () => {
        clearInterval(tick);
        upstreamClosed = true;
      });
      req.on('data', () => {
        upstreamGotChunk = true;
      });
    });
    await new Promise<void>((resolve, reject) => {
      const req = http.get(`${h.gatewayUrl}/stream`, { agent: false }, (res) => {
        res.once('data', () => {
          req.destroy();
          resolve();
        });
      });
      req.on('error', (e) =>
        e.message.includes('aborted') || e.message.includes('socket hang up') ? undefined : reject(e),
      );
    });
    await waitFor(() => upstreamClosed);
    await waitFor(() => h.results.length === 1);
    assert.equal(h.results[0]?.outcome, 'client-aborted');
    assert.equal(upstreamGotChunk, false);
  });
});

describe('ReverseProxy: client aborts during upload', () => {
  it('cancels the upstream request when the client disconnects mid-upload, and does not forward Expect', async () => {
    let upstreamClosed = false;
    let upstreamBytes = 0;
    let expectSeen: string | undefined = 'unset';
    const h = await harness((req, res) => {
      expectSeen = req.headers.expect;
      req.on('data', (c: Buffer) => {
        upstreamBytes += c.length;
      });
      res.on('close', () => {
        upstreamClosed = true;
      });
    });
    const req = http.request(`${h.gatewayUrl}/upload`, {
      method: 'POST',
      agent: false,
      headers: { 'transfer-encoding': 'chunked', expect: '100-continue' },
    });
    req.on('error', () => {});
    req.on('continue', () => req.write(Buffer.alloc(1024, 1)));
    await waitFor(() => upstreamBytes >= 1024);
    req.destroy();
    await waitFor(() => upstreamClosed);
    await waitFor(() => h.results.length === 1);
    assert.equal(h.results[0]?.outcome, 'client-aborted');
    assert.equal(expectSeen, undefined);
  });
});

describe('ReverseProxy: upstream failures', () => {
  it('maps a connection reset before the response to 502 JSON', async () => {
    const h = await harness((req) => req.socket.destroy());
    const reply = await request(`${h.gatewayUrl}/x`, { method: 'POST', body: 'hello' });
    assert.equal(reply.status, 502);
    const body = JSON.parse(reply.body.toString());
    assert.equal(body.error.code, 'ERR_BAD_GATEWAY');
    assert.match(body.error.message, /blue/);
    assert.equal(typeof body.error.requestId, 'string');
    assert.equal(reply.headers['x-aiam-request-id'], body.error.requestId);
    await waitFor(() => h.results.length === 1);
    assert.equal(h.results[0]?.outcome, 'upstream-failed');
  });

  it('maps a refused connection to 502 and does not leak the upstream address', async () => {
    const closed = http.createServer();
    const url = await listen(closed);
    await new Promise((r) => closed.close(r));
    const h = await harness((_req, res) => res.end(), {}, { upstreamUrl: url });
    const reply = await request(`${h.gatewayUrl}/x`);
    assert.equal(reply.status, 502);
    const text = reply.body.toString();
    assert.match(text, /connection refused/);
    assert.ok(!text.includes(new URL(url).port), 'the upstream address stays internal');
  });

  it('cuts the client stream when the upstream resets mid-response', async () => {
    const h = await harness((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: one\n\n');
      setTimeout(() => res.socket?.destroy(), 30);
    });
    const outcome = await new Promise<string>((resolve) => {
      http
        .get(`${h.gatewayUrl}/`, { agent: false }, (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve('ended'));
          res.on('error', () => resolve('aborted'));
          res.on('aborted', () => resolve('aborted'));
        })
        .on('error', () => resolve('aborted'));
    });
    assert.equal(outcome, 'aborted', 'a broken upstream stream must not look complete');
    await waitFor(() => h.results.length === 1);
    assert.equal(h.results[0]?.outcome, 'upstream-failed');
  });

  it('answers 504 when the upstream does not start answering in time', async () => {
    const h = await harness(() => {}, { firstByteTimeoutMs: 150 });
    const started = Date.now();
    const reply = await request(`${h.gatewayUrl}/slow`);
    assert.equal(reply.status, 504);
    assert.equal(JSON.parse(reply.body.toString()).error.code, 'ERR_GATEWAY_TIMEOUT');
    assert.ok(Date.now() - started < 2000);
    await waitFor(() => h.results.length === 1);
    assert.equal(h.results[0]?.outcome, 'timeout');
  });

  it('answers 504 when no connection is obtained in time (pool exhausted)', async () => {
    const h = await harness(() => {}, {
      maxSocketsPerUpstream: 1,
      connectTimeoutMs: 150,
      firstByteTimeoutMs: 600,
    });
    const hanging = request(`${h.gatewayUrl}/hang`).catch(() => undefined);
    await new Promise((r) => setTimeout(r, 50));
    const reply = await request(`${h.gatewayUrl}/second`);
    assert.equal(reply.status, 504);
    assert.match(JSON.parse(reply.body.toString()).error.message, /connected to within 150 ms/);
    await hanging;
  });

  it('cuts a response that goes silent longer than the idle timeout', async () => {
    const h = await harness(
      (_req, res) => {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        res.write('data: one\n\n');
      },
      { idleTimeoutMs: 150 },
    );
    const outcome = await new Promise<string>((resolve) => {
      http
        .get(`${h.gatewayUrl}/`, { agent: false }, (res) => {
          res.on('data', () => {});
          res.on('end', () => resolve('ended'));
          res.on('error', () => resolve('aborted'));
        })
        .on('error', () => resolve('aborted'));
    });
    assert.equal(outcome, 'aborted');
    await waitFor(() => h.results.length === 1);
    assert.equal(h.results[0]?.outcome, 'timeout');
  });
});
