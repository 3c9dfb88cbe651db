/**
 * The child processes of the gateway bench (`bench/gateway-bench.ts` starts each one pinned to a
 * core with `taskset`):
 * - `upstream`: a bare `node:http` server, `GET /json` answers a small JSON body and
 *   `GET /sse?n=N&delayMs=D` streams N server-sent events D ms apart, each stamped with the
 *   monotonic clock just before it is written ({@link renderEvent});
 * - `aiam DATA_DIR UPSTREAM_URL`: aiam with SQLite in DATA_DIR, a workspace and an endpoint
 *   (`authMode: 'key'`, `api: 'http'`) whose one deployment points at the upstream, made through
 *   the REST API with the bootstrap administrator's credentials;
 * - `node-proxy UPSTREAM_URL`: the least a Node.js gateway does, for scale: a bare `node:http`
 *   keep-alive reverse proxy (no authentication, authorization, audit or header hygiene);
 * - `sse-client URL KEY|- N`: reads one SSE stream, checks that the events are byte-identical to
 *   what the upstream rendered and in order, and prints each event's delay (arrival minus the
 *   upstream's stamp, both `CLOCK_MONOTONIC` of the same machine, so comparable across processes).
 * Servers print one JSON line when ready, then serve until stdin closes or SIGTERM arrives, so
 * they never outlive the bench.
 */
import { Agent, createServer, request } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { MlClient } from '@aiam/client';
import { createLogger, startServer } from '@aiam/server';

/** The endpoint name the bench creates; the gateway serves it at `/endpoints/${GATEWAY_ENDPOINT}/…`. */
export const GATEWAY_ENDPOINT = 'bench_endpoint';

/** The small JSON body of `GET /json`. */
export const JSON_BODY = JSON.stringify({ id: 'cmpl-bench', object: 'bench', ok: true, n: 42 });

/** What a server child prints once it listens. */
export interface GatewayBenchReady {
  readonly url: string;
  /** aiam only: the endpoint's primary key. */
  readonly key?: string;
}

/** What `sse-client` prints: per-event delays in microseconds, or the problem it found. */
export interface SseClientResult {
  readonly delaysUs?: readonly number[];
  readonly error?: string;
}

const PAD = 'x'.repeat(64);

/**
 * The bytes of event `seq` stamped `t` (ns of `process.hrtime.bigint()`): the client rebuilds
 * each event from its own seq and stamp with this function and compares bytes.
 */
export function renderEvent(seq: number, t: bigint): string {
  return `id: ${seq}\nevent: tick\ndata: {"seq":${seq},"t":"${t}","pad":"${PAD}"}\n\n`;
}

function stopOn(close: () => Promise<void>): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    close().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  // The parent holds our stdin: when it goes away (even killed), so do we.
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}

async function startUpstream(): Promise<GatewayBenchReady> {
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://upstream');
    if (req.method === 'GET' && url.pathname === '/json') {
      res.writeHead(200, {
        'content-type': 'application/json',
        'content-length': Buffer.byteLength(JSON_BODY),
      });
      res.end(JSON_BODY);
      return;
    }
    if (req.method === 'GET' && url.pathname === '/sse') {
      const n = Number(url.searchParams.get('n') ?? '100');
      const delayMs = Number(url.searchParams.get('delayMs') ?? '2');
      res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache' });
      res.flushHeaders();
      let seq = 0;
      const tick = () => {
        if (res.destroyed) return;
        res.write(renderEvent(seq, process.hrtime.bigint()));
        seq++;
        if (seq < n) setTimeout(tick, delayMs);
        else res.end();
      };
      setTimeout(tick, delayMs);
      return;
    }
    res.writeHead(404).end();
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stopOn(
    () =>
      new Promise((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function startAiam(dataDir: string, upstreamUrl: string): Promise<GatewayBenchReady> {
  const server = await startServer({
    dataDir,
    port: 0,
    logger: createLogger({ level: 'error' }),
    env: { AIAM_LOG_LEVEL: 'error' },
  });
  stopOn(() => server.close());
  const ml = new MlClient({
    endpoint: server.url,
    env: { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath },
  });
  await ml.createWorkspace({ name: 'bench_ws' });
  const created = await ml.createEndpoint('bench_ws', {
    name: GATEWAY_ENDPOINT,
    authMode: 'key',
    api: 'http',
  });
  const key = created.keys?.primary;
  if (!key) throw new Error('the endpoint was created without a primary key');
  await ml.createDeployment('bench_ws', GATEWAY_ENDPOINT, { name: 'blue', upstreamUrl, trafficWeight: 100 });
  return { url: server.url, key };
}

/** Reads one SSE stream with a raw `node:http` request (no parser in the way of the timing). */
function sseClient(url: string, key: string | undefined, n: number): Promise<SseClientResult> {
  return new Promise((resolve) => {
    const headers: Record<string, string> = { accept: 'text/event-stream' };
    if (key) headers.authorization = `Bearer ${key}`;
    const req = request(url, { headers, agent: false }, (res) => {
      if (res.statusCode !== 200) {
        resolve({ error: `status ${res.statusCode}` });
        res.resume();
        return;
      }
      const delaysUs: number[] = [];
      let buffer = '';
      let next = 0;
      let error: string | undefined;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        const now = process.hrtime.bigint();
        buffer += chunk;
        for (let end = buffer.indexOf('\n\n'); end >= 0 && !error; end = buffer.indexOf('\n\n')) {
          const raw = buffer.slice(0, end + 2);
          buffer = buffer.slice(end + 2);
          const m = /^id: (\d+)\n.*"t":"(\d+)"/s.exec(raw);
          if (!m) {
            error = `event ${next} is malformed: ${JSON.stringify(raw.slice(0, 120))}`;
            break;
          }
          const seq = Number(m[1]);
          const t = BigInt(m[2]!);
          if (seq !== next) error = `event ${seq} arrived where ${next} was expected (out of order or lost)`;
          else if (raw !== renderEvent(seq, t)) error = `event ${seq} differs from what the upstream sent`;
          else delaysUs.push(Number(now - t) / 1000);
          next++;
        }
      });
      res.on('end', () => {
        if (!error && buffer !== '') error = `${buffer.length} stray bytes after the last event`;
        if (!error && next !== n) error = `${next} events arrived, ${n} were sent`;
        resolve(error ? { error } : { delaysUs });
      });
      res.on('error', (e) => resolve({ error: e.message }));
    });
    req.on('error', (e) => resolve({ error: e.message }));
    req.end();
  });
}

async function startNodeProxy(upstreamUrl: string): Promise<GatewayBenchReady> {
  const upstream = new URL(upstreamUrl);
  const agent = new Agent({ keepAlive: true, maxSockets: 256, scheduling: 'lifo' });
  const server = createServer((req, res) => {
    const out = request(
      {
        hostname: upstream.hostname,
        port: upstream.port,
        method: req.method,
        path: req.url,
        headers: { ...req.headers, host: upstream.host },
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    out.on('error', () => res.destroy());
    req.pipe(out);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stopOn(
    () =>
      new Promise((resolve) => {
        agent.destroy();
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

async function main(): Promise<void> {
  const [mode, a, b, c] = process.argv.slice(2);
  if (mode === 'sse-client' && a && b && c) {
    const result = await sseClient(a, b === '-' ? undefined : b, Number(c));
    process.stdout.write(`${JSON.stringify(result)}\n`);
    return;
  }
  const ready =
    mode === 'upstream'
      ? await startUpstream()
      : mode === 'aiam' && a && b
        ? await startAiam(a, b)
        : mode === 'node-proxy' && a
          ? await startNodeProxy(a)
          : (() => {
              throw new Error(
                'usage: gateway-bench-server.ts upstream | aiam DATA_DIR UPSTREAM_URL | node-proxy UPSTREAM_URL | sse-client URL KEY|- N',
              );
            })();
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

// Run only as the child's entry point: `gateway-bench.ts` imports this module for its types.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
