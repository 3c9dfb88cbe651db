import Database from 'better-sqlite3';
import { Kysely, SqliteDialect } from 'kysely';
import type { DatabaseSchema } from './database-schema.js';
import { type SqliteCheckpointer, startSqliteCheckpointer } from './sqlite-checkpointer.js';
import type { AuditRowValues, StoreEngine } from './store-engine.js';

const AUDIT_COLUMNS = [
  'id',
  'time',
  'request_id',
  'principal',
  'action',
  'resource',
  'decision',
  'matched_statements',
  'source_ip',
  'user_agent',
  'error_code',
  'extra',
] as const;
/** Rows per multi-row audit INSERT: 600 parameters, well under SQLite's limit (32766). */
const AUDIT_ROWS_PER_STATEMENT = 50;

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
  /** Checkpoint the WAL in a background thread (default true for a file database). */
  backgroundCheckpoints?: boolean;
  /**
   * With background checkpoints, the WAL size (in pages) past which the committing connection
   * checkpoints itself all the same (default 4,000, about 16 MiB).
   */
  walBackstopPages?: number;
}

/** How often the background thread checkpoints the WAL. */
const CHECKPOINT_INTERVAL_MS = 250;

/**
 * The embedded engine. WAL mode lets readers run while one writer commits; every write
 * transaction starts with BEGIN IMMEDIATE so that it holds the write lock from its first
 * statement and never fails half-way trying to upgrade a read lock.
 */
export function createSqliteEngine(options: SqliteEngineOptions): StoreEngine {
  const database = new Database(options.path);
  database.pragma('journal_mode = WAL');
  // FULL by default: a revoked key or a disabled user must stay so after a power cut, and
  // control-plane writes are rare. Audit batches commit at NORMAL (`relaxedCommit` below).
  database.pragma(`synchronous = ${options.synchronous === 'normal' ? 'NORMAL' : 'FULL'}`);
  database.pragma(`busy_timeout = ${Math.trunc(options.busyTimeoutMs ?? 5000)}`);
  database.pragma('foreign_keys = ON');
  // A file database checkpoints its WAL in a thread of its own, not in the commit that
  // happens to cross the threshold on the event loop (see sqlite-checkpointer.ts).
  let checkpointer: SqliteCheckpointer | undefined;
  if (options.path !== ':memory:' && options.path !== '' && options.backgroundCheckpoints !== false) {
    // Not 0: a backstop. Against a writer that never pauses, the thread's PASSIVE checkpoints
    // never reach the end of the WAL, and SQLite only starts the WAL over once one has: it
    // grew by gigabytes a minute. Past this size the committing connection checkpoints
    // itself, with nothing left to copy but what arrived since the thread's last pass.
    const backstop = options.walBackstopPages ?? 4000;
    if (!Number.isSafeInteger(backstop) || backstop < 1) {
      database.close();
      throw new RangeError(`walBackstopPages must be a whole number of pages, at least 1; got ${backstop}`);
    }
    database.pragma(`wal_autocheckpoint = ${backstop}`);
    checkpointer = startSqliteCheckpointer(options.path, CHECKPOINT_INTERVAL_MS, () => {
      // The thread failed: checkpoint as SQLite does by default rather than let the WAL grow.
      if (database.open) database.pragma('wal_autocheckpoint = 1000');
    });
  }
  const db = new Kysely<DatabaseSchema>({
    dialect: new SqliteDialect({ database: withStatementCache(database) }),
  });
  // Audit appends run on every batch of decisions under load: prepared once (lazily, after the
  // migrations created the table) instead of Kysely building, compiling and preparing a
  // 500-row INSERT per batch (~7% of the server's CPU). Their commits do not wait for the disk
  // (`relaxedCommit`, set around the batch's transaction on this one connection).
  const columns = `insert into audit_records (${AUDIT_COLUMNS.join(', ')}) values `;
  const tuple = `(${AUDIT_COLUMNS.map(() => '?').join(', ')})`;
  let insertOne: Database.Statement | undefined;
  let insertMany: Database.Statement | undefined;
  const params: unknown[] = [];
  const insertAuditRows = (rows: readonly AuditRowValues[]): void => {
    let i = 0;
    if (rows.length >= AUDIT_ROWS_PER_STATEMENT) {
      insertMany ??= database.prepare(
        columns + Array.from({ length: AUDIT_ROWS_PER_STATEMENT }, () => tuple).join(', '),
      );
      for (; i + AUDIT_ROWS_PER_STATEMENT <= rows.length; i += AUDIT_ROWS_PER_STATEMENT) {
        params.length = 0;
        for (let j = i; j < i + AUDIT_ROWS_PER_STATEMENT; j++) pushAuditRow(params, rows[j]!);
        insertMany.run(params);
      }
    }
    if (i < rows.length) insertOne ??= database.prepare(columns + tuple);
    for (; i < rows.length; i++) {
      params.length = 0;
      pushAuditRow(params, rows[i]!);
      insertOne!.run(params);
    }
    params.length = 0;
  };
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
    insertAuditRows,
    // The safety level cannot change inside a transaction: set it around one, on the single
    // connection whose transactions never interleave.
    ...(options.synchronous === 'normal'
      ? {}
      : {
          relaxedCommit: {
            beforeBegin: 'pragma synchronous = NORMAL',
            afterEnd: 'pragma synchronous = FULL',
          },
        }),
    close: async () => {
      await checkpointer?.stop();
      await db.destroy();
    },
  };
}

/** Most prepared statements kept per connection; past it the cache starts over. */
const MAX_CACHED_STATEMENTS = 512;

/**
 * The connection as Kysely sees it, with its statements prepared once per SQL text: Kysely's
 * SQLite driver calls `prepare` for every query, and preparing cost more than running the
 * lookups on the request path (about 5% of an S3 GET's CPU). A statement still running (an
 * open `iterate`) is never handed out twice; SQLite re-prepares cached statements itself when a
 * migration changes the schema.
 */
function withStatementCache(database: Database.Database): {
  prepare(sql: string): Database.Statement;
  close(): void;
} {
  const cache = new Map<string, Database.Statement>();
  return {
    prepare(sql: string): Database.Statement {
      const cached = cache.get(sql);
      if (cached !== undefined && !cached.busy) return cached;
      const statement = database.prepare(sql);
      if (cache.size >= MAX_CACHED_STATEMENTS) cache.clear();
      cache.set(sql, statement);
      return statement;
    },
    close(): void {
      cache.clear();
      database.close();
    },
  };
}

function pushAuditRow(params: unknown[], r: AuditRowValues): void {
  params.push(
    r.id,
    r.time,
    r.request_id,
    r.principal,
    r.action,
    r.resource,
    r.decision,
    r.matched_statements,
    r.source_ip,
    r.user_agent,
    r.error_code,
    r.extra,
  );
}
