import { spawn } from 'node:child_process';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { devNull } from 'node:os';
import { type AwsCredentials, resolveCredentials, signRequest } from '@aiam/client';
import { AiamError } from '@aiam/policy';
import { type CliIo, type Command, UsageError } from '../cli-io.js';

const USAGE = `usage: aiam run --identity NAME [--endpoint URL] -- COMMAND [ARG…]

Runs COMMAND as managed identity NAME. aiam authenticates with your own credentials (the AWS
chain: AWS_ACCESS_KEY_ID…, AWS_SHARED_CREDENTIALS_FILE, AWS_PROFILE), asks the server for a
short-lived authorization bound to NAME (you need iam:AssignManagedIdentity on it), and serves
the identity's temporary credentials, refreshed before they expire, on a loopback address.
COMMAND gets AWS_CONTAINER_CREDENTIALS_FULL_URI and AWS_CONTAINER_AUTHORIZATION_TOKEN (the
container-credentials protocol every AWS SDK reads), AIAM_ENDPOINT and AWS_ENDPOINT_URL, and no
long-lived secret: your keys, profile and credentials files are removed from its environment.
Signals are forwarded; aiam exits with COMMAND's status.

options (environment variable in brackets):
  --identity NAME   the managed identity (name or ARN)
  --endpoint URL    the aiam server [AIAM_ENDPOINT]; default http://127.0.0.1:7477
`;

const AUTHORIZATIONS_PATH = '/workload/v1/authorizations';
// Refresh this long before expiry: the SDKs themselves refresh 5 minutes ahead, and must find
// fresh credentials when they do.
const CREDENTIALS_MARGIN_MS = 10 * 60_000;
const AUTHORIZATION_MARGIN_MS = 2 * 60_000;
// What the child must not inherit: long-lived credentials and anything that would make its SDK
// pick another source ahead of the container provider.
const STRIPPED = [
  'AWS_ACCESS_KEY_ID',
  'AWS_SECRET_ACCESS_KEY',
  'AWS_SESSION_TOKEN',
  'AWS_PROFILE',
  'AWS_DEFAULT_PROFILE',
  'AWS_WEB_IDENTITY_TOKEN_FILE',
  'AWS_ROLE_ARN',
  'AWS_ROLE_SESSION_NAME',
  'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI',
  'AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE',
];
const SIGNALS: NodeJS.Signals[] = ['SIGINT', 'SIGTERM', 'SIGHUP', 'SIGQUIT', 'SIGUSR1', 'SIGUSR2'];

/** The request a workload's credentials could not be obtained for. */
export class WorkloadCredentialsError extends AiamError {
  constructor(message: string) {
    super('ERR_WORKLOAD_CREDENTIALS', message);
  }
}

/** Options of {@link runAsIdentity} (the testable core of `aiam run`). */
export interface RunAsIdentityOptions {
  readonly identity: string;
  readonly endpoint: string;
  readonly command: readonly string[];
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly credentials: AwsCredentials;
  readonly io: CliIo;
  readonly fetch?: typeof fetch;
  readonly now?: () => number;
}

interface Authorization {
  token: string;
  expiresAt: number;
  credentialsUrl: string;
}

interface ServedCredentials {
  body: string;
  expiresAt: number;
}

/**
 * Runs `command` with the managed identity's credentials served over the container-credentials
 * protocol from a loopback server in this process; resolves to the command's exit status.
 */
export async function runAsIdentity(options: RunAsIdentityOptions): Promise<number> {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const endpoint = options.endpoint.replace(/\/+$/, '');
  const region = options.env.AWS_REGION || options.env.AWS_DEFAULT_REGION || 'us-east-1';

  const authorize = async (): Promise<Authorization> => {
    const url = new URL(`${endpoint}${AUTHORIZATIONS_PATH}`);
    const body = JSON.stringify({ identity: options.identity });
    const headers = signRequest({
      method: 'POST',
      url,
      headers: { 'content-type': 'application/json' },
      body,
      credentials: options.credentials,
      region,
      service: 'aiam',
      now: now(),
    });
    const { host: _host, ...sendable } = headers;
    const res = await doFetch(url, { method: 'POST', headers: sendable, body });
    const text = await res.text();
    if (res.status !== 201)
      throw new WorkloadCredentialsError(`cannot run as ${options.identity}: ${explain(res.status, text)}`);
    const parsed = JSON.parse(text) as {
      authorizationToken?: unknown;
      expiration?: unknown;
      credentialsPath?: unknown;
    };
    if (
      typeof parsed.authorizationToken !== 'string' ||
      typeof parsed.expiration !== 'string' ||
      typeof parsed.credentialsPath !== 'string' ||
      !parsed.credentialsPath.startsWith('/')
    )
      throw new WorkloadCredentialsError(`the server at ${endpoint} answered an unexpected authorization`);
    return {
      token: parsed.authorizationToken,
      expiresAt: Date.parse(parsed.expiration),
      credentialsUrl: `${endpoint}${parsed.credentialsPath}`,
    };
  };

  let authorization = await authorize();
  let cached: ServedCredentials | undefined;
  let refreshing: Promise<ServedCredentials> | undefined;
  const refresh = async (): Promise<ServedCredentials> => {
    if (authorization.expiresAt - now() < AUTHORIZATION_MARGIN_MS) authorization = await authorize();
    const res = await doFetch(authorization.credentialsUrl, {
      headers: { authorization: authorization.token },
    });
    const text = await res.text();
    if (res.status !== 200)
      throw new WorkloadCredentialsError(
        `credentials for ${options.identity} refused: ${explain(res.status, text)}`,
      );
    const c = JSON.parse(text) as Record<string, unknown>;
    if (
      typeof c.AccessKeyId !== 'string' ||
      typeof c.SecretAccessKey !== 'string' ||
      typeof c.Token !== 'string' ||
      typeof c.Expiration !== 'string'
    )
      throw new WorkloadCredentialsError(
        'the server answered credentials without the container-protocol fields',
      );
    return { body: text, expiresAt: Date.parse(c.Expiration) };
  };
  const current = async (): Promise<ServedCredentials> => {
    if (cached && cached.expiresAt - now() > CREDENTIALS_MARGIN_MS) return cached;
    refreshing ??= refresh().finally(() => {
      refreshing = undefined;
    });
    cached = await refreshing;
    return cached;
  };
  // Fail before starting the command when the identity cannot be used at all.
  await current();

  const localToken = randomBytes(32).toString('base64url');
  const server = await listenLoopback(async (req, res) => {
    const given = Buffer.from(String(req.headers.authorization ?? ''));
    const expected = Buffer.from(localToken);
    if (req.method !== 'GET' || req.url !== '/credentials') return reply(res, 404, { message: 'not found' });
    if (given.length !== expected.length || !timingSafeEqual(given, expected))
      return reply(res, 401, { message: 'invalid authorization token' });
    try {
      const c = await current();
      res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' });
      res.end(c.body);
    } catch (err) {
      options.io.stderr.write(`aiam run: ${(err as Error).message}\n`);
      reply(res, 503, { message: 'credentials are not available right now' });
    }
  });
  const port = (server.address() as AddressInfo).port;
  // Keep credentials fresh in the background too, so a long-idle command never waits.
  const timer = setInterval(() => {
    current().catch((err) => options.io.stderr.write(`aiam run: ${(err as Error).message}\n`));
  }, 60_000);
  timer.unref();

  const env: Record<string, string> = {};
  for (const [k, v] of Object.entries(options.env)) if (v !== undefined && !STRIPPED.includes(k)) env[k] = v;
  Object.assign(env, {
    AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${port}/credentials`,
    AWS_CONTAINER_AUTHORIZATION_TOKEN: localToken,
    // Shared files could hold long-lived keys the SDK would prefer to the container provider.
    AWS_SHARED_CREDENTIALS_FILE: devNull,
    AWS_CONFIG_FILE: devNull,
    AIAM_ENDPOINT: endpoint,
    AWS_ENDPOINT_URL: endpoint,
    AWS_REGION: region,
  });

  const [file, ...args] = options.command as [string, ...string[]];
  const child = spawn(file, args, { env, stdio: 'inherit' });
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  for (const s of SIGNALS) process.on(s, forward);
  try {
    return await new Promise<number>((resolve, reject) => {
      child.once('error', (err) =>
        reject(new WorkloadCredentialsError(`cannot start ${file}: ${(err as Error).message}`)),
      );
      child.once('exit', (code, signal) => {
        // The shell convention: a command killed by signal N exits with 128 + N.
        resolve(code ?? 128 + (signal ? signalNumber(signal) : 0));
      });
    });
  } finally {
    for (const s of SIGNALS) process.off(s, forward);
    clearInterval(timer);
    await new Promise<void>((r) => server.close(() => r()));
  }
}

/** `aiam run --identity NAME -- CMD…`. */
export const runCommand: Command = {
  summary: 'run a command as a managed identity, with refreshed temporary credentials',
  usage: USAGE,
  async run(argv: string[], io: CliIo): Promise<number> {
    const sep = argv.indexOf('--');
    const flags = sep < 0 ? argv : argv.slice(0, sep);
    const command = sep < 0 ? [] : argv.slice(sep + 1);
    let identity: string | undefined;
    let endpoint = process.env.AIAM_ENDPOINT || 'http://127.0.0.1:7477';
    for (let i = 0; i < flags.length; i++) {
      const [flag, inline] = flags[i]!.split(/=(.*)/s, 2) as [string, string | undefined];
      if (flag === '--help' || flag === '-h') {
        io.stdout.write(USAGE);
        return 0;
      }
      const value = inline ?? flags[++i];
      if (value === undefined) throw new UsageError(`${flag} needs a value`);
      if (flag === '--identity') identity = value;
      else if (flag === '--endpoint') endpoint = value;
      else throw new UsageError(`unknown option ${flag}`);
    }
    if (!identity) throw new UsageError('--identity NAME is required');
    if (command.length === 0) throw new UsageError('give the command to run after --');
    let url: URL;
    try {
      url = new URL(endpoint);
    } catch {
      throw new UsageError(`the endpoint "${endpoint}" is not a URL`);
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:')
      throw new UsageError(`the endpoint must be http(s); got ${endpoint}`);
    const credentials = await resolveCredentials({ env: process.env });
    return runAsIdentity({ identity, endpoint, command, env: process.env, credentials, io });
  },
};

function listenLoopback(handler: (req: IncomingMessage, res: ServerResponse) => void): Promise<Server> {
  return new Promise((resolve, reject) => {
    const server = createServer((req, res) => {
      handler(req, res);
    });
    server.once('error', reject);
    // Loopback only: the AWS SDKs accept plain http for the full URI only on loopback addresses.
    server.listen(0, '127.0.0.1', () => resolve(server));
  });
}

function reply(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}

function explain(status: number, text: string): string {
  try {
    const body = JSON.parse(text) as { error?: { message?: string; code?: string } };
    if (body.error?.message) return `${body.error.message} (HTTP ${status})`;
  } catch {
    // not JSON: fall through
  }
  return `HTTP ${status}`;
}

function signalNumber(signal: NodeJS.Signals): number {
  const numbers: Partial<Record<NodeJS.Signals, number>> = {
    SIGHUP: 1,
    SIGINT: 2,
    SIGQUIT: 3,
    SIGKILL: 9,
    SIGTERM: 15,
  };
  return numbers[signal] ?? 1;
}
