/**
 * The server side of the HTTP bench (`bench/http-bench.ts` starts it in a child process pinned
 * to one core). `node … http-bench-server.ts bare` answers the bench route with `node:http` and
 * nothing else; `… aiam DATA_DIR` starts aiam with SQLite in DATA_DIR and prepares the three
 * credentials the bench replays: the bootstrap administrator's access key (SigV4), a bearer key
 * of the administrator and an aiam JWT for the API. Either prints one JSON line, then serves
 * until stdin closes or SIGTERM arrives, so it never outlives the bench.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { type AppContext, createLogger, startServer } from '@aiam/server';

/** The authenticated no-op route both servers answer. */
export const BENCH_PATH = '/api/v1/server-info';

/** What the child prints once it listens. */
export interface BenchServerReady {
  readonly url: string;
  /** aiam only. */
  readonly credentials?: {
    readonly accessKeyId: string;
    readonly secretAccessKey: string;
    readonly bearerKey: string;
    readonly jwt: string;
  };
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

async function startBare(busyMicros = 0): Promise<BenchServerReady> {
  // The same answer aiam gives, as a constant: what a server with no authentication,
  // authorization or audit costs.
  const body = JSON.stringify({
    accountId: '000000000000',
    caller: { arn: 'arn:aws:iam::000000000000:user/admin', type: 'User', userId: 'AIDAEXAMPLE' },
  });
  const server = createServer((req, res) => {
    if (busyMicros > 0) {
      // A fixed amount of work per request, for scale: what N µs of anything costs in requests/s.
      const until = performance.now() + busyMicros / 1000;
      while (performance.now() < until);
    }
    if (req.method === 'GET' && req.url === BENCH_PATH) {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
      res.end(body);
    } else {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  stopOn(() => new Promise((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` };
}

function iniValue(text: string, key: string): string {
  const match = new RegExp(`^${key}\\s*=\\s*(\\S+)`, 'm').exec(text);
  if (!match?.[1]) throw new Error(`the bootstrap credentials file has no ${key}`);
  return match[1];
}

async function startAiam(dataDir: string): Promise<BenchServerReady> {
  let app: AppContext | undefined;
  const server = await startServer({
    dataDir,
    port: 0,
    logger: createLogger({ level: 'error' }),
    env: { AIAM_LOG_LEVEL: 'error' },
    routes: (context) => {
      app = context;
      return [];
    },
  });
  stopOn(() => server.close());
  if (!app) throw new Error('startServer did not call the routes hook');
  const file = await readFile(server.bootstrap.credentialsPath, 'utf8');
  const accessKeyId = iniValue(file, 'aws_access_key_id');
  const secretAccessKey = iniValue(file, 'aws_secret_access_key');
  const userArn = server.bootstrap.userArn;
  if (!userArn) throw new Error('no bootstrap administrator');

  // A bearer key owned by the administrator, stored as its peppered hash like any other.
  const bearerKey = `aiam_bench_${randomBytes(32).toString('base64url')}`;
  await server.store.createBearerKey({
    id: `bench-${randomBytes(8).toString('hex')}`,
    hash: app.hasher.hash(bearerKey),
    ownerArn: userArn,
    purpose: 'bench',
  });
  // An aiam JWT for the API, from the server's own token endpoint (client_credentials).
  const res = await fetch(`${server.url}/oauth2/token`, {
    method: 'POST',
    headers: { authorization: `Bearer ${bearerKey}`, 'content-type': 'application/x-www-form-urlencoded' },
    body: 'grant_type=client_credentials&audience=urn%3Aaiam%3Aapi&expires_in=3600',
  });
  if (res.status !== 200) throw new Error(`the token endpoint answered ${res.status}: ${await res.text()}`);
  const { access_token: jwt } = (await res.json()) as { access_token: string };
  return { url: server.url, credentials: { accessKeyId, secretAccessKey, bearerKey, jwt } };
}

async function main(): Promise<void> {
  const [mode, dataDir] = process.argv.slice(2);
  const ready =
    mode === 'bare'
      ? await startBare()
      : mode === 'bare-busy' && dataDir
        ? await startBare(Number(dataDir))
        : mode === 'aiam' && dataDir
          ? await startAiam(dataDir)
          : (() => {
              throw new Error('usage: http-bench-server.ts bare | bare-busy MICROS | aiam DATA_DIR');
            })();
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

// Run only as the child's entry point: `http-bench.ts` imports this module for its types.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
