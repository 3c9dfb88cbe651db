/**
 * The server children of the S3 bench (`bench/s3-bench.ts` pins each to core 1):
 * - `aiam DATA_DIR FILES_DIR`: aiam with SQLite in DATA_DIR; uploads every file of FILES_DIR into
 *   bucket `bench` with the bootstrap administrator's access key and prints a presigned GET URL
 *   of each (valid for an hour, so wrk can replay it for the whole run);
 * - `node-static FILES_DIR`: a bare `node:http` static-file server (stat, then a read stream).
 * Each prints one JSON line when ready, then serves until stdin closes or SIGTERM arrives.
 */
import { createReadStream } from 'node:fs';
import { readdir, readFile, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createLogger, startServer } from '@aiam/server';

/** The bucket the bench fills. */
export const S3_BENCH_BUCKET = 'bench';

/** What a child prints once it listens. */
export interface S3BenchReady {
  readonly url: string;
  /** aiam only: file name → presigned GET URL. */
  readonly presigned?: Readonly<Record<string, string>>;
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
  process.stdin.on('end', stop);
  process.stdin.on('close', stop);
  process.stdin.resume();
}

function iniValue(text: string, key: string): string {
  const match = new RegExp(`^${key}\\s*=\\s*(\\S+)`, 'm').exec(text);
  if (!match?.[1]) throw new Error(`the bootstrap credentials file has no ${key}`);
  return match[1];
}

async function startAiam(dataDir: string, filesDir: string): Promise<S3BenchReady> {
  const server = await startServer({
    dataDir,
    port: 0,
    logger: createLogger({ level: 'error' }),
    env: { AIAM_LOG_LEVEL: 'error' },
  });
  stopOn(() => server.close());
  const file = await readFile(server.bootstrap.credentialsPath, 'utf8');
  const client = new S3Client({
    endpoint: server.url,
    region: 'us-east-1',
    forcePathStyle: true,
    maxAttempts: 1,
    credentials: {
      accessKeyId: iniValue(file, 'aws_access_key_id'),
      secretAccessKey: iniValue(file, 'aws_secret_access_key'),
    },
  });
  await client.send(new CreateBucketCommand({ Bucket: S3_BENCH_BUCKET }));
  const presigned: Record<string, string> = {};
  for (const name of await readdir(filesDir)) {
    const body = await readFile(join(filesDir, name));
    await client.send(new PutObjectCommand({ Bucket: S3_BENCH_BUCKET, Key: name, Body: body }));
    presigned[name] = await getSignedUrl(
      client,
      new GetObjectCommand({ Bucket: S3_BENCH_BUCKET, Key: name }),
      {
        expiresIn: 3600,
      },
    );
  }
  client.destroy();
  return { url: server.url, presigned };
}

async function startNodeStatic(filesDir: string): Promise<S3BenchReady> {
  const server = createServer(async (req, res) => {
    const name = basename(decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname));
    const path = join(filesDir, name);
    try {
      const info = await stat(path);
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': info.size });
      createReadStream(path).pipe(res);
    } catch {
      res.writeHead(404).end();
    }
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

async function main(): Promise<void> {
  const [mode, a, b] = process.argv.slice(2);
  const ready =
    mode === 'aiam' && a && b
      ? await startAiam(a, b)
      : mode === 'node-static' && a
        ? await startNodeStatic(a)
        : (() => {
            throw new Error('usage: s3-bench-server.ts aiam DATA_DIR FILES_DIR | node-static FILES_DIR');
          })();
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

// Run only as the child's entry point: `s3-bench.ts` imports this module for its types.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
