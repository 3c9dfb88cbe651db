import { Kysely, PostgresDialect, sql } from 'kysely';
import pg from 'pg';
import { InputError } from '../errors.js';
import type { DatabaseSchema } from './database-schema.js';
import type { StoreEngine } from './store-engine.js';

/** Options of the PostgreSQL engine. */
export interface PostgresEngineOptions {
  /** `postgres://user@host:port/db` */
  url: string;
  /** The schema holding aiam's tables (created if missing); default `public`. */
  schema?: string;
  /** Pool size; default 10. */
  maxConnections?: number;
}

const INT8_OID = 20;

// int8 columns hold milliseconds and counters, far below 2^53: read them as numbers, not strings.
// Passed per pool so that other users of `pg` in the process keep their own parsers.
const types = {
  getTypeParser: ((oid: number, format?: string) =>
    oid === INT8_OID
      ? (v: string) => Number(v)
      : pg.types.getTypeParser(oid, format as 'text')) as typeof pg.types.getTypeParser,
};

/**
 * The scale-out engine: several aiam nodes share one database. Writers serialize on the
 * revision row (taken last in each transaction, so commit order equals revision order), and
 * each commit NOTIFYs a channel that the other nodes LISTEN on to invalidate their caches.
 */
export function createPostgresEngine(options: PostgresEngineOptions): StoreEngine {
  const schema = options.schema ?? 'public';
  if (!/^[a-z_][a-z0-9_]{0,40}$/.test(schema)) {
    throw new InputError(
      `schema name "${schema}" is invalid: use lower-case letters, digits and _ (41 at most)`,
    );
  }
  const channel = schema === 'public' ? 'aiam_changes' : `aiam_changes_${schema}`;
  const connection = {
    connectionString: options.url,
    types,
    options: `-c search_path=${schema}`,
  };
  const pool = new pg.Pool({ ...connection, max: options.maxConnections ?? 10 });
  // An idle client's error (server restart) must not crash the process; the pool replaces it.
  pool.on('error', () => {});
  const db = new Kysely<DatabaseSchema>({ dialect: new PostgresDialect({ pool }) });

  return {
    kind: 'postgres',
    db,
    types: { int8: 'bigint', blob: 'bytea', binaryText: 'text collate "C"' },
    beginWrite: 'begin',
    beginRead: 'begin isolation level repeatable read read only',
    relaxedCommit: { afterBegin: 'set local synchronous_commit = off' },
    prepareMigration: async (conn) => {
      // Two nodes starting at once: the second waits here until the first has committed.
      await sql`select pg_advisory_xact_lock(hashtext(${`aiam.migrate.${schema}`}))`.execute(conn);
      await sql.raw(`create schema if not exists ${schema}`).execute(conn);
    },
    notify: async (conn, payload) => {
      await sql`select pg_notify(${channel}, ${payload})`.execute(conn);
    },
    listen: async (onPayload, onLost) => {
      let stopped = false;
      let client: pg.Client | undefined;
      let retry: NodeJS.Timeout | undefined;
      const scheduleReconnect = (): void => {
        if (stopped) return;
        retry = setTimeout(() => {
          // Notifications sent while disconnected are lost: once back, tell the store to resync.
          connect().then(onLost, scheduleReconnect);
        }, 1000);
        retry.unref();
      };
      const connect = async (): Promise<void> => {
        const c = new pg.Client(connection);
        c.on('notification', (m) => {
          if (m.channel === channel && m.payload) onPayload(m.payload);
        });
        c.on('error', () => {
          if (client !== c) return;
          client = undefined;
          c.end().catch(() => {});
          scheduleReconnect();
        });
        try {
          await c.connect();
          await c.query(`listen ${channel}`);
        } catch (error) {
          await c.end().catch(() => {});
          throw error;
        }
        if (stopped) await c.end();
        else client = c;
      };
      await connect();
      return async () => {
        stopped = true;
        if (retry) clearTimeout(retry);
        await client?.end().catch(() => {});
      };
    },
    close: () => db.destroy(),
  };
}
