import { type CliIo, type Command, UsageError } from '../cli-io.js';

const USAGE = `usage: aiam serve [--data-dir DIR] [--host H] [--port N] [--database URL] [--object-store URL]
                  [--metrics-public]

Starts the aiam server. On first start it creates DIR, a master key (DIR/master.key), an
administrator "admin" and its access key in DIR/bootstrap-credentials (AWS shared-credentials
INI, mode 0600). It prints the URL and that file's path, never the secret. SIGTERM or SIGINT
stops it gracefully: in-flight requests finish, the audit trail is flushed, the store closed.

options (environment variable in brackets):
  --data-dir DIR     data directory [AIAM_DATA_DIR]; default ./.aiam
  --host H           address to listen on [AIAM_HOST]; default 127.0.0.1
  --port N           TCP port [AIAM_PORT]; default 7477; 0 picks a free port
  --database URL     postgres://… to use PostgreSQL [AIAM_DATABASE_URL]; default SQLite in DIR
  --object-store URL s3://BUCKET/PREFIX?endpoint=URL&region=R keeps object bytes in an
                     upstream S3-compatible store [AIAM_OBJECT_STORE]; its credentials come
                     from the standard AWS environment or profile; default: files in DIR
  --metrics-public   serve /metrics without authentication [AIAM_METRICS_PUBLIC=true]
  [AIAM_TRUSTED_PROXIES]  comma-separated proxy addresses whose X-Forwarded-For is believed

Logs are JSON lines on stderr; AIAM_LOG_LEVEL=debug|info|warn|error|silent sets the level.
`;

/** The settings `aiam serve` resolved from flags, then environment, then defaults. */
export interface ServeSettings {
  dataDir: string;
  host: string;
  port: number;
  databaseUrl: string | undefined;
  metricsPublic: boolean;
  trustedProxies: string[];
  /** `--object-store` (else `AIAM_OBJECT_STORE`, which the server reads itself). */
  objectStore?: string;
}

const FLAGS: Record<string, keyof ServeSettings> = {
  '--data-dir': 'dataDir',
  '--host': 'host',
  '--port': 'port',
  '--database': 'databaseUrl',
  '--object-store': 'objectStore',
};

function parsePort(text: string, source: string): number {
  if (!/^\d{1,5}$/.test(text) || Number(text) > 65535) {
    throw new UsageError(
      `${source} must be a port number from 0 to 65535 (0 picks a free port), not "${text}"`,
    );
  }
  return Number(text);
}

/** Reads `aiam serve`'s flags and environment. Throws `UsageError` for anything it cannot use. */
export function readServeSettings(
  args: readonly string[],
  env: Readonly<Record<string, string | undefined>>,
): ServeSettings {
  const given: Partial<Record<keyof ServeSettings, string>> = {};
  let metricsPublic = env.AIAM_METRICS_PUBLIC === 'true' || env.AIAM_METRICS_PUBLIC === '1';
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '--metrics-public') {
      metricsPublic = true;
      continue;
    }
    const eq = arg.indexOf('=');
    const flag = eq > 0 ? arg.slice(0, eq) : arg;
    const key = Object.hasOwn(FLAGS, flag) ? FLAGS[flag] : undefined;
    if (key === undefined) throw new UsageError(`unknown option "${arg}"`);
    const value = eq > 0 ? arg.slice(eq + 1) : args[++i];
    if (value === undefined || value === '') throw new UsageError(`${flag} needs a value`);
    given[key] = value;
  }
  const port = given.port ?? env.AIAM_PORT;
  return {
    dataDir: given.dataDir ?? env.AIAM_DATA_DIR ?? '.aiam',
    host: given.host ?? env.AIAM_HOST ?? '127.0.0.1',
    port: port === undefined ? 7477 : parsePort(port, given.port !== undefined ? '--port' : 'AIAM_PORT'),
    databaseUrl: given.databaseUrl ?? (env.AIAM_DATABASE_URL || undefined),
    metricsPublic,
    trustedProxies: (env.AIAM_TRUSTED_PROXIES ?? '')
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
    ...(given.objectStore !== undefined ? { objectStore: given.objectStore } : {}),
  };
}

/** How `serve` learns it must stop: by default, the first SIGTERM or SIGINT. */
export type StopSignal = () => Promise<string>;

function processSignals(io: CliIo): StopSignal {
  return () =>
    new Promise((resolve) => {
      const stop = (signal: string) => {
        // A second signal while draining means "now": leave without waiting any longer.
        process.once('SIGINT', () => process.exit(130));
        process.once('SIGTERM', () => process.exit(143));
        io.stderr.write(`aiam: ${signal} received, shutting down\n`);
        resolve(signal);
      };
      process.once('SIGTERM', () => stop('SIGTERM'));
      process.once('SIGINT', () => stop('SIGINT'));
    });
}

/**
 * Runs the server until `stop` resolves, then shuts it down gracefully. The server package is
 * imported lazily, so the other commands never load it.
 */
export async function runServe(
  args: readonly string[],
  io: CliIo,
  options: { env?: Readonly<Record<string, string | undefined>>; stop?: StopSignal } = {},
): Promise<number> {
  if (args.includes('--help') || args.includes('-h')) {
    io.stdout.write(USAGE);
    return 0;
  }
  const env = options.env ?? process.env;
  const settings = readServeSettings(args, env);
  const { startServer, createLogger } = await import('@aiam/server');
  const logger = createLogger({ env, write: (line: string) => io.stderr.write(`${line}\n`) });
  const stopped = (options.stop ?? processSignals(io))();
  let server: Awaited<ReturnType<typeof startServer>>;
  try {
    server = await startServer({
      dataDir: settings.dataDir,
      host: settings.host,
      port: settings.port,
      databaseUrl: settings.databaseUrl,
      metricsPublic: settings.metricsPublic,
      trustedProxies: settings.trustedProxies,
      ...(settings.objectStore !== undefined ? { objectStore: settings.objectStore } : {}),
      env,
      logger,
    });
  } catch (err) {
    const code = (err as { code?: unknown })?.code;
    if (code === 'EADDRINUSE' || code === 'EACCES' || code === 'EADDRNOTAVAIL') {
      io.stderr.write(
        `aiam serve: cannot listen on ${settings.host}:${settings.port} (${String(code)}); choose another --port (0 picks a free one) or --host\n`,
      );
      return 1;
    }
    throw err;
  }
  const file = server.bootstrap.credentialsPath;
  io.stdout.write(
    [
      `aiam listening on ${server.url}`,
      `data directory: ${server.dataDir} (${server.store.kind})`,
      `administrator credentials: ${file}${server.bootstrap.wroteFile ? ' (created now)' : ''}`,
      `  try: AIAM_ENDPOINT=${server.url} AWS_SHARED_CREDENTIALS_FILE=${file} aiam …`,
      '',
    ].join('\n'),
  );
  await stopped;
  await server.close();
  io.stdout.write('aiam stopped\n');
  return 0;
}

/** `aiam serve`. */
export const serveCommand: Command = {
  summary: 'start the aiam server (first start creates the administrator)',
  usage: USAGE,
  run: (args, io) => runServe(args, io),
};
