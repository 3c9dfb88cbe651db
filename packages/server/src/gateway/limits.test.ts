import assert from 'node:assert/strict';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { InputError, RateLimitedError } from '../errors.js';
import { writeGatewayError } from './gateway-errors.js';
import { GatewayLimiter, type LimitLease, releaseOnClose } from './limits.js';

const P = 'arn:aiam:iam::acct:user/alice';
const E = 'arn:aiam:ml::acct:endpoint/chat';

function refused(fn: () => unknown): RateLimitedError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof RateLimitedError, `expected RateLimitedError, got ${error}`);
    return error;
  }
  assert.fail('expected the request to be refused');
}

describe('GatewayLimiter: requests per second at the boundary', () => {
  it('limit 10 rps: the 10th request in the same instant is admitted, the 11th refused with Retry-After 1', () => {
    const clock = fixedClock(0);
    const limiter = new GatewayLimiter({ clock });
    for (let i = 1; i <= 10; i++) limiter.acquire(P, E, { requestsPerSecond: 10 });
    const error = refused(() => limiter.acquire(P, E, { requestsPerSecond: 10 }));
    assert.equal(error.retryAfterSeconds, 1);
    assert.equal(error.code, 'ERR_RATE_LIMITED');
  });

  it('refills continuously: one more token exactly 100 ms later, not at 99 ms', () => {
    const clock = fixedClock(0);
    const limiter = new GatewayLimiter({ clock });
    for (let i = 0; i < 10; i++) limiter.acquire(P, E, { requestsPerSecond: 10 });
    clock.set(99);
    refused(() => limiter.acquire(P, E, { requestsPerSecond: 10 }));
    clock.set(100);
    limiter.acquire(P, E, { requestsPerSecond: 10 });
    refused(() => limiter.acquire(P, E, { requestsPerSecond: 10 }));
  });

  it('never admits more than burst + floor(W × R) in a window of W seconds', () => {
    const clock = fixedClock(0);
    const limiter = new GatewayLimiter({ clock });
    let admitted = 0;
    // 3 rps (a rate whose interval, 333.3 ms, is not a whole number of ms), hammered every 7 ms for 2 s.
    for (let t = 0; t <= 2000; t += 7) {
      clock.set(t);
      try {
        limiter.acquire(P, E, { requestsPerSecond: 3 });
        admitted++;
      } catch (error) {
        assert.ok(error instanceof RateLimitedError);
      }
    }
    assert.ok(admitted <= 3 + Math.floor(2 * 3), `admitted ${admitted}`);
    assert.ok(admitted >= 3 + Math.floor(2 * 3) - 1, `admitted ${admitted}`);
  });

  it('gives a whole-second Retry-After, rounded up', () => {
    const clock = fixedClock(0);
    const limiter = new GatewayLimiter({ clock });
    limiter.acquire(P, E, { requestsPerSecond: 0.25 });
    assert.equal(refused(() => limiter.acquire(P, E, { requestsPerSecond: 0.25 })).retryAfterSeconds, 4);
    clock.set(2500);
    assert.equal(refused(() => limiter.acquire(P, E, { requestsPerSecond: 0.25 })).retryAfterSeconds, 2);
  });

  it('honours burst separately from the rate, and keeps pairs apart', () => {
    const clock = fixedClock(0);
    const limiter = new GatewayLimiter({ clock });
    for (let i = 0; i < 5; i++) limiter.acquire(P, E, { requestsPerSecond: 1, burst: 5 });
    refused(() => limiter.acquire(P, E, { requestsPerSecond: 1, burst: 5 }));
    limiter.acquire('arn:aiam:iam::acct:user/bob', E, { requestsPerSecond: 1, burst: 5 });
    limiter.acquire(P, `${E}-2`, { requestsPerSecond: 1, burst: 5 });
  });

  it('refuses nonsense limits with an InputError', () => {
    const limiter = new GatewayLimiter();
    assert.throws(() => limiter.acquire(P, E, { requestsPerSecond: 0 }), InputError);
    assert.throws(() => limiter.acquire(P, E, { requestsPerSecond: Number.NaN }), InputError);
    assert.throws(() => limiter.acquire(P, E, { maxConcurrent: 0 }), InputError);
    assert.throws(() => limiter.acquire(P, E, { burst: 1.5, requestsPerSecond: 1 }), InputError);
  });
});

describe('GatewayLimiter: concurrent requests', () => {
  it('limit 2: the 2nd concurrent request is admitted, the 3rd refused; release frees a slot once', () => {
    const limiter = new GatewayLimiter({ clock: fixedClock(0) });
    const a = limiter.acquire(P, E, { maxConcurrent: 2 });
    limiter.acquire(P, E, { maxConcurrent: 2 });
    assert.equal(refused(() => limiter.acquire(P, E, { maxConcurrent: 2 })).retryAfterSeconds, 1);
    a.release();
    a.release(); // idempotent: a second release must not free a second slot
    limiter.acquire(P, E, { maxConcurrent: 2 });
    refused(() => limiter.acquire(P, E, { maxConcurrent: 2 }));
  });

  it('a request refused for concurrency consumes no token, and one refused for rate takes no slot', () => {
    const clock = fixedClock(0);
    const limiter = new GatewayLimiter({ clock });
    const limits = { requestsPerSecond: 2, maxConcurrent: 1 };
    const lease = limiter.acquire(P, E, limits);
    refused(() => limiter.acquire(P, E, limits)); // concurrency
    lease.release();
    limiter.acquire(P, E, limits).release(); // the second token is still there
    refused(() => limiter.acquire(P, E, limits)); // rate: bucket empty
    clock.set(500);
    limiter.acquire(P, E, limits); // a slot is free: the rate refusal did not take it
  });

  it('forgets idle pairs only once their bucket would be full again', () => {
    const clock = fixedClock(0);
    const limiter = new GatewayLimiter({ clock, sweepIntervalMs: 1000 });
    for (let i = 0; i < 10; i++) limiter.acquire(P, E, { requestsPerSecond: 1, burst: 10 });
    clock.set(5000);
    limiter.acquire('other', E, { requestsPerSecond: 1 });
    assert.equal(limiter.size, 2, 'a half-refilled bucket must not be reset by forgetting it');
    clock.set(20_000);
    limiter.acquire('other', E, { requestsPerSecond: 1 });
    assert.equal(limiter.size, 1);
  });
});

describe('GatewayLimiter over HTTP', () => {
  it('answers 429 with an integer Retry-After and frees the slot when the client aborts', async () => {
    const limiter = new GatewayLimiter();
    const held: Array<http.ServerResponse> = [];
    let leases = 0;
    const server = http.createServer((req, res) => {
      let lease: LimitLease;
      try {
        lease = limiter.acquire(P, E, { maxConcurrent: 1 });
      } catch (error) {
        writeGatewayError(res, error, 'rid-1');
        return;
      }
      leases++;
      releaseOnClose(lease, res);
      if (req.url === '/hold') {
        res.writeHead(200);
        res.flushHeaders();
        held.push(res);
      } else res.end('ok');
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const holder = http.get(`${base}/hold`, { agent: false });
    holder.on('error', () => {});
    await new Promise((r) => holder.on('response', r));
    const second = await fetch(`${base}/x`);
    assert.equal(second.status, 429);
    assert.equal(second.headers.get('retry-after'), '1');
    const body = (await second.json()) as { error: { code: string; requestId: string } };
    assert.equal(body.error.code, 'ERR_RATE_LIMITED');
    assert.equal(body.error.requestId, 'rid-1');
    holder.destroy(); // client abort frees the slot
    await new Promise((r) => held[0]?.once('close', r));
    const third = await fetch(`${base}/x`);
    assert.equal(third.status, 200);
    assert.equal(leases, 2);
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });
});
