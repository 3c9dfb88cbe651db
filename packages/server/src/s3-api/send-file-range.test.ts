import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { closeSync, openSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, get, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { FileSendError, sendFileRange } from './send-file-range.js';

/**
 * A server that sends `span` of `path` with the Content-Length the caller names, and reports
 * how each send ended, so the tests see both sides of the exchange.
 */
function serve(path: string, span: { start: number; length: number; declared?: number }) {
  const outcomes: (Error | 'ok')[] = [];
  const server = createServer(async (_req, res) => {
    const fd = openSync(path, 'r');
    res.writeHead(200, { 'content-length': span.declared ?? span.length });
    try {
      await sendFileRange(res, fd, span.start, span.length);
      outcomes.push('ok');
    } catch (error) {
      outcomes.push(error as Error);
      res.destroy();
    } finally {
      closeSync(fd);
    }
  });
  return { server, outcomes };
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
}

function fetchAll(url: string): Promise<{ status: number; body: Buffer; complete: boolean }> {
  return new Promise((resolve) => {
    get(url, { agent: false }, (res: IncomingMessage) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      const done = () =>
        resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), complete: res.complete });
      res.on('end', done);
      res.on('error', done);
      res.on('aborted', done);
    }).on('error', () => resolve({ status: 0, body: Buffer.alloc(0), complete: false }));
  });
}

describe('sendFileRange', () => {
  let dir: string;
  let path: string;
  // Three and a half pooled buffers: the loop crosses chunk boundaries and ends mid-buffer.
  const bytes = randomBytes(3.5 * 1024 * 1024);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-send-file-'));
    path = join(dir, 'blob');
    await writeFile(path, bytes);
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('sends a whole file and a range byte for byte', async () => {
    for (const span of [
      { start: 0, length: bytes.length },
      { start: 1024 * 1024 - 7, length: 2 * 1024 * 1024 + 13 },
      { start: 5, length: 0 },
    ]) {
      const { server, outcomes } = serve(path, span);
      const url = await listen(server);
      try {
        // Twice: the second response reuses pooled buffers and must not carry stale bytes.
        for (let i = 0; i < 2; i++) {
          const got = await fetchAll(url);
          assert.equal(got.status, 200);
          assert.ok(got.complete);
          assert.ok(got.body.equals(bytes.subarray(span.start, span.start + span.length)));
        }
        assert.deepEqual(outcomes, ['ok', 'ok']);
      } finally {
        server.close();
      }
    }
  });

  it('refuses to end a response whose file is shorter than announced', async () => {
    const { server, outcomes } = serve(path, { start: bytes.length - 10, length: 100 });
    const url = await listen(server);
    try {
      const got = await fetchAll(url);
      assert.equal(got.complete, false, 'the client must not see a complete, short body');
      assert.equal(outcomes.length, 1);
      assert.ok(outcomes[0] instanceof FileSendError);
      assert.match((outcomes[0] as Error).message, /shorter/);
    } finally {
      server.close();
    }
  });

  it('stops reading when the client goes away mid-response', async () => {
    const { server, outcomes } = serve(path, { start: 0, length: bytes.length });
    const url = await listen(server);
    try {
      await new Promise<void>((resolve) => {
        const req = get(url, { agent: false }, (res) => {
          res.once('data', () => {
            req.destroy();
            resolve();
          });
        });
      });
      for (let i = 0; i < 100 && outcomes.length === 0; i++) await new Promise((r) => setTimeout(r, 10));
      assert.equal(outcomes.length, 1);
      assert.ok(outcomes[0] instanceof Error && outcomes[0] !== ('ok' as unknown));
    } finally {
      server.close();
    }
  });
});

describe('sendFileRange with a response already gone', () => {
  it('settles at once instead of waiting for a drain that never comes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aiam-send-file-gone-'));
    const path = join(dir, 'blob');
    await writeFile(path, randomBytes(4 * 1024 * 1024));
    let outcome: unknown;
    const server = createServer(async (req, res) => {
      // The client disconnects while the request is being authorized.
      req.socket.destroy();
      await new Promise((r) => setTimeout(r, 20));
      const fd = openSync(path, 'r');
      try {
        await sendFileRange(res, fd, 0, 4 * 1024 * 1024);
        outcome = 'ok';
      } catch (error) {
        outcome = error;
      } finally {
        closeSync(fd);
      }
    });
    const url = await listen(server);
    try {
      await fetchAll(url);
      for (let i = 0; i < 100 && outcome === undefined; i++) await new Promise((r) => setTimeout(r, 10));
      assert.ok(outcome instanceof FileSendError, `settled with ${String(outcome)}`);
    } finally {
      server.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
