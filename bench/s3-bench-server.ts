/**
 * The server children of the S3 bench (`bench/s3-bench.ts` pins each to core 1):
 * - `aiam DATA_DIR FILES_DIR`: aiam with SQLite in DATA_DIR; uploads every file of FILES_DIR into
 *   bucket `bench` with the bootstrap administrator's access key and prints a presigned GET URL
 *   of each (valid for an hour, so wrk can replay it for the whole run);
 *   It also fills bucket `bench-list` with 200 keys and prints a presigned ListObjectsV2 URL of it,
 *   and a presigned PutObject URL (`bench/put-target`) for wrk to replay with a body;
 * - `node-static FILES_DIR`: a bare `node:http` static-file server (stat, then a read stream);
 *   a PUT writes the body durably as aiam does (temporary file, fsync, rename).
 * Each prints one JSON line when ready, then serves until stdin closes or SIGTERM arrives.
 */
import { randomUUID } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  CreateBucketCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';
import { createLogger, startServer } from '@aiam/server';

/** The bucket the bench fills. */
export const S3_BENCH_BUCKET = 'bench';
/** The bucket the listing bench pages through, and how many keys it holds. */
export const S3_LIST_BUCKET = 'bench-list';
export const S3_LIST_KEYS = 200;

/** What a child prints once it listens. */
export interface S3BenchReady {
  readonly url: string;
  /** aiam only: file name → presigned GET URL. */
  readonly presigned?: Readonly<Record<string, string>>;
  /** aiam only: a presigned ListObjectsV2 of `S3_LIST_BUCKET` (all its keys on one page). */
  readonly listUrl?: string;
  /** aiam only: a presigned PutObject URL (unsigned payload), replayed with a body. */
  readonly putUrl?: string;
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
    // A presigned PUT must not carry a checksum of an empty body: wrk replays it with one.
    requestChecksumCalculation: 'WHEN_REQUIRED',
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
  await client.send(new CreateBucketCommand({ Bucket: S3_LIST_BUCKET }));
  for (let i = 0; i < S3_LIST_KEYS; i++) {
    const key = `shard-${String(i).padStart(4, '0')}.jsonl`;
    await client.send(new PutObjectCommand({ Bucket: S3_LIST_BUCKET, Key: key, Body: key }));
  }
  const listUrl = await getSignedUrl(client, new ListObjectsV2Command({ Bucket: S3_LIST_BUCKET }), {
    expiresIn: 3600,
  });
  const putUrl = await getSignedUrl(
    client,
    new PutObjectCommand({ Bucket: S3_BENCH_BUCKET, Key: 'put-target' }),
    {
      expiresIn: 3600,
    },
  );
  client.destroy();
  return { url: server.url, presigned, listUrl, putUrl };
}

async function startNodeStatic(filesDir: string): Promise<S3BenchReady> {
  const server = createServer(async (req, res) => {
    if (req.method === 'PUT') {
      // As durable as aiam's PutObject: a temporary file, fsync, then rename into place.
      const tmp = join(filesDir, `.put-${randomUUID()}`);
      const handle = await open(tmp, 'w');
      try {
        for await (const chunk of req) await handle.write(chunk as Buffer);
        await handle.sync();
        await handle.close();
        await rename(tmp, join(filesDir, 'put-target'));
        res.writeHead(200, { 'content-length': 0 }).end();
      } catch {
        // The client went away mid-body (wrk stopping): drop the partial file, as aiam does.
        await handle.close().catch(() => {});
        await rm(tmp, { force: true });
        res.destroy();
      }
      return;
    }
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
