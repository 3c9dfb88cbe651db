import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { S3Client } from '@aws-sdk/client-s3';
import { main } from '@aiam/cli';
import { type RunningServer, type StartServerOptions, startServer } from '@aiam/server';

/** An empty in-process aiam server for one scenario, with the administrator's environment. */
export interface ExampleServer {
  readonly server: RunningServer;
  /** A temporary directory removed by {@link ExampleServer.close}. */
  readonly dir: string;
  /** AIAM_ENDPOINT and the bootstrap administrator's shared-credentials file. */
  readonly env: Record<string, string>;
  /** The bootstrap administrator's key (read from the 0600 credentials file). */
  readonly admin: { accessKeyId: string; secretAccessKey: string };
  close(): Promise<void>;
}

/** Starts an empty server on a free port with a temporary data directory. */
export async function startExampleServer(
  options: Partial<Omit<StartServerOptions, 'dataDir' | 'port'>> = {},
): Promise<ExampleServer> {
  const dir = await mkdtemp(join(tmpdir(), 'aiam-example-'));
  const server = await startServer({ ...options, dataDir: join(dir, 'data'), port: 0 });
  const env = { AIAM_ENDPOINT: server.url, AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath };
  const ini = await readFile(server.bootstrap.credentialsPath, 'utf8');
  const admin = {
    accessKeyId: /aws_access_key_id\s*=\s*(\S+)/.exec(ini)![1]!,
    secretAccessKey: /aws_secret_access_key\s*=\s*(\S+)/.exec(ini)![1]!,
  };
  return {
    server,
    dir,
    env,
    admin,
    async close() {
      await server.close();
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** The outcome of `aiam apply`: exit code, what it printed, and the secrets it wrote. */
export interface AppliedExample {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  /** The --secrets-out document (nested like the config), or {} when none was written. */
  readonly secrets: Record<string, unknown>;
  /** Where --secrets-out pointed (absent when nothing new was secret). */
  readonly secretsPath: string;
}

/** Runs the CLI in process: `aiam ARGS` against `example` as the bootstrap administrator. */
export async function runCli(example: ExampleServer, args: string[]) {
  let stdout = '';
  let stderr = '';
  // The config commands resolve the endpoint and credentials from process.env (as a shell would).
  Object.assign(process.env, example.env);
  const code = await main(args, {
    stdout: {
      write: (t: string) => {
        stdout += t;
      },
    },
    stderr: {
      write: (t: string) => {
        stderr += t;
      },
    },
    readTextFile: (p: string) => readFile(p, 'utf8'),
    env: example.env,
  } as Parameters<typeof main>[1]);
  return { code, stdout, stderr };
}

/** `aiam apply -f FILE --yes --secrets-out PATH` against the example server. */
export async function applyExample(
  example: ExampleServer,
  file: string,
  options: { replace?: Record<string, string> } = {},
): Promise<AppliedExample> {
  // The files name fixed upstream addresses; a scenario serves its test upstream on a free port.
  if (options.replace) {
    let text = await readFile(file, 'utf8');
    for (const [from, to] of Object.entries(options.replace)) text = text.split(from).join(to);
    file = join(example.dir, basename(file));
    await writeFile(file, text);
  }
  const secretsPath = join(example.dir, `secrets-${Date.now()}-${Math.random().toString(36).slice(2)}.json`);
  const { code, stdout, stderr } = await runCli(example, [
    'apply',
    '-f',
    file,
    '--yes',
    '--secrets-out',
    secretsPath,
  ]);
  const secrets = await readFile(secretsPath, 'utf8').then(
    (t) => JSON.parse(t) as Record<string, unknown>,
    () => ({}),
  );
  return { code, stdout, stderr, secrets, secretsPath };
}

/** The secret at `path` in a --secrets-out document, e.g. `['users', 'u', 'accessKeys', 'k']`. */
export function secretAt(secrets: Record<string, unknown>, ...path: string[]): Record<string, string> {
  let node: unknown = secrets;
  for (const step of path) {
    node = (node as Record<string, unknown> | undefined)?.[step];
    if (node === undefined) throw new Error(`no secret at ${path.join('.')}`);
  }
  return node as Record<string, string>;
}

/** A stock S3 client for the example server (path style, as aiam serves S3 at its root). */
export function s3Client(
  example: ExampleServer,
  credentials: { accessKeyId: string; secretAccessKey: string; sessionToken?: string },
  headers: Record<string, string> = {},
): S3Client {
  const client = new S3Client({
    endpoint: example.server.url,
    region: 'us-east-1',
    forcePathStyle: true,
    credentials,
  });
  if (Object.keys(headers).length)
    client.middlewareStack.add(
      (next) => async (args) => {
        const req = args.request as { headers: Record<string, string> };
        Object.assign(req.headers, headers);
        return next(args);
      },
      { step: 'build', name: 'exampleHeaders' },
    );
  return client;
}

/** A request an upstream received. */
export interface SeenRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: string;
}

/** A test model server: answers OpenAI chat completions with its tag, and records every request. */
export interface TestUpstream {
  readonly url: string;
  readonly seen: SeenRequest[];
  close(): Promise<void>;
}

/** Starts a {@link TestUpstream} on a free port of 127.0.0.1. */
export async function startUpstream(tag: string): Promise<TestUpstream> {
  const seen: SeenRequest[] = [];
  const server = createServer(async (req, res) => {
    let body = '';
    for await (const c of req) body += c;
    seen.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body });
    const model =
      req.url === '/v1/chat/completions' ? (JSON.parse(body) as { model?: string }).model : undefined;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(
      JSON.stringify({
        id: 'c1',
        object: 'chat.completion',
        created: 1,
        model: model ?? tag,
        choices: [{ index: 0, message: { role: 'assistant', content: tag }, finish_reason: 'stop' }],
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    seen,
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}

/** The path of an example file next to this module. */
export function exampleFile(name: string): string {
  return join(import.meta.dirname, name);
}
