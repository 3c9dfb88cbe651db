/**
 * The server side of the provisioning bench (`bench/provisioning-bench.ts` starts it in a child
 * process, so its peak memory is its own). `node … provisioning-bench-server.ts DATA_DIR [DB_URL]`
 * starts aiam (SQLite in DATA_DIR, or the PostgreSQL database DB_URL), creates a SCIM
 * provisioning token and prints one JSON line: the URL, the bootstrap administrator's access
 * key and the SCIM token. It serves until stdin closes or SIGTERM arrives.
 */
import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { type AppContext, createLogger, startServer } from '@aiam/server';
// The SCIM token service is not part of @aiam/server's public surface; the bench reaches it by path.
import { ScimTokenService } from '../packages/server/src/scim-api/index.js';

/** What the child prints once it listens. */
export interface ProvisioningServerReady {
  readonly url: string;
  readonly pid: number;
  readonly accessKeyId: string;
  readonly secretAccessKey: string;
  readonly scimToken: string;
}

function iniValue(text: string, key: string): string {
  const match = new RegExp(`^${key}\\s*=\\s*(\\S+)`, 'm').exec(text);
  if (!match?.[1]) throw new Error(`the bootstrap credentials file has no ${key}`);
  return match[1];
}

async function main(): Promise<void> {
  const [dataDir, databaseUrl] = process.argv.slice(2);
  if (!dataDir) throw new Error('usage: provisioning-bench-server.ts DATA_DIR [postgres://…]');
  let app: AppContext | undefined;
  const server = await startServer({
    dataDir,
    port: 0,
    ...(databaseUrl ? { databaseUrl } : {}),
    logger: createLogger({ level: 'error' }),
    env: { AIAM_LOG_LEVEL: 'error' },
    routes: (context) => {
      app = context;
      return [];
    },
  });
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    server.close().then(
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
  if (!app) throw new Error('startServer did not call the routes hook');
  const file = await readFile(server.bootstrap.credentialsPath, 'utf8');
  const scim = await new ScimTokenService({ store: server.store, hasher: app.hasher }).create({
    description: 'provisioning bench',
  });
  const ready: ProvisioningServerReady = {
    url: server.url,
    pid: process.pid,
    accessKeyId: iniValue(file, 'aws_access_key_id'),
    secretAccessKey: iniValue(file, 'aws_secret_access_key'),
    scimToken: scim.token,
  };
  process.stdout.write(`${JSON.stringify(ready)}\n`);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  main().catch((error: unknown) => {
    process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}
