import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { DatabaseSchema } from './database-schema.js';
import type { StoreEngine } from './store-engine.js';

/** Options of the embedded engine. */
export interface SqliteEngineOptions {
  /** A file path, or `:memory:`. */
  path: string;
  /** How long a writer waits for another process's write lock before failing (ms). */
  busyTimeoutMs?: number;
  /**
   * `full` (default): a committed transaction survives power loss. `normal`: in WAL mode still
   * never corrupts or half-applies, but the last commits may roll back after a power cut.
   */
  synchronous?: 'full' | 'normal';
}

/**
 * The embedded engine. WAL mode lets readers run while one writer commits; every write
 * transaction starts with BEGIN IMMEDIATE so that it holds the write lock from its first
 * statement and never fails half-way trying to upgrade a read lock.
 */
export function createSqliteEngine(options: SqliteEngineOptions): StoreEngine {
  const database = new Database(options.path);
  database.pragma('journal_mode = WAL');
  // FULL by default: a revoked key or a disabled user must stay so after a power cut, and
  // control-plane writes are rare; audit appends are batched, so the fsync per commit is cheap.
  database.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  database.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
  database.pragma('foreign_keys = ON');
  const db = new Kysely<DatabaseSchema>({ dialect: new SqliteDialect({ database }) });
  return {
    kind: 'sqlite',
    db,
    types: { int8: 'integer', blob: 'blob', binaryText: 'text' },
    beginWrite: 'begin immediate',
    beginRead: 'begin',
    prepareMigration: async () => {
      // BEGIN IMMEDIATE already excludes every other writer, in this process and others.
    },
    notify: async () => {
      // One process owns an embedded store: listeners are called in-process after commit.
    },
    listen: async () => async () => {},
    close: () => db.destroy(),
  };
}
