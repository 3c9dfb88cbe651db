import { randomInt, randomUUID } from 'node:crypto';
import { type Kysely, sql } from 'kysely';
import { type Clock, systemClock } from '../clock.js';
import { ConflictError, InputError, ServiceUnavailableError } from '../errors.js';
import type { DatabaseSchema } from './database-schema.js';
import { migrations } from './migrations.js';
import type { StoreEngine } from './store-engine.js';
import { type OperationsContext, StoreOperations } from './store-operations.js';
import type { AccessSnapshot, StoreChange } from './store-types.js';

/** The operations available inside `store.transaction(fn)`. */
export type StoreTransaction = StoreOperations;

/** What `migrate()` did: the migrations applied now (empty when the schema was current). */
export interface MigrationResult {
  applied: string[];
}

type Operations = Omit<StoreOperations, 'getAccountId'>;

/**
 * The store: every operation of `StoreOperations` (each mutation in its own transaction, each
 * read on its own), plus transactions, the revision, change notification and lifecycle.
 */
export type Store = Operations & {
  readonly kind: 'sqlite' | 'postgres';
  /** The 12-digit account id, fixed at first start. */
  readonly accountId: string;
  /**
   * Runs `fn` in one write transaction: all of its changes commit together or none do. On
   * commit the revision is bumped once (if anything changed) and listeners are told. An error
   * thrown inside aborts the whole transaction (on PostgreSQL the transaction cannot continue
   * after a failed statement, so do not catch store errors inside `fn` to carry on).
   */
  transaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** Runs `fn` in a read-only transaction that sees one consistent snapshot. */
  readTransaction<T>(fn: (tx: StoreTransaction) => Promise<T>): Promise<T>;
  /** Reads the access data and its revision in one consistent snapshot. */
  loadAccessSnapshot(): Promise<AccessSnapshot>;
  /**
   * Calls `listener` after every committed change: in-process, and on PostgreSQL also for
   * changes committed by other nodes. Returns the function that stops it.
   */
  subscribeChanges(listener: (change: StoreChange) => void): Promise<() => Promise<void>>;
  /** Applies pending schema migrations; idempotent, safe to run from several nodes at once. */
  migrate(): Promise<MigrationResult>;
  close(): Promise<void>;
};

/** Options shared by both engines. */
export interface StoreOptions {
  clock?: Clock;
  /** The account id to use on first start (tests, imports); default: 12 random digits. */
  accountId?: string;
}

const READ_PREFIXES = ['get', 'list', 'find', 'query', 'load'];

/**
 * Largest notification this store sends: PostgreSQL refuses a NOTIFY payload of 8,000 bytes or
 * more. A change whose `changedUsers` would not fit goes to other nodes without them (they
 * reload); this node's own listeners still get them.
 */
const MAX_NOTIFY_BYTES = 7_900;

/** True when a StoreOperations method only reads (the naming convention the Store relies on). */
export function isReadOperation(name: string): boolean {
  return READ_PREFIXES.some((p) => name.startsWith(p));
}

function mapEngineError(error: unknown): unknown {
  const code = (error as { code?: unknown })?.code;
  if (code === 'SQLITE_BUSY' || code === 'SQLITE_BUSY_SNAPSHOT') {
    return new ServiceUnavailableError('the store is busy with another writer; retry shortly', {
      cause: error,
    });
  }
  // PostgreSQL deadlock or serialization failure: the transaction was rolled back as a whole.
  if (code === '40P01' || code === '40001') {
    return new ConflictError('a concurrent change conflicted with this one; read again and retry', {
      cause: error,
    });
  }
  return error;
}

/** Builds a Store on an engine and migrates it. */
export async function createStore(engine: StoreEngine, options: StoreOptions = {}): Promise<Store> {
  const clock = options.clock ?? systemClock;
  const origin = randomUUID();
  const listeners = new Set<(change: StoreChange) => void>();
  let accountId = '';
  let stopListening: (() => Promise<void>) | undefined;
  let closed = false;

  const emit = (change: StoreChange): void => {
    for (const l of listeners) {
      try {
        l(change);
      } catch {
        // A faulty listener must not break the writer or the other listeners.
      }
    }
  };

  const context = (writable: boolean): OperationsContext => ({
    accountId,
    clock,
    touched: new Set(),
    changedUsers: new Set(),
    writable,
    insertAuditRows: engine.insertAuditRows,
  });

  const inTransaction = async <T>(
    begin: string,
    writable: boolean,
    fn: (tx: StoreOperations, conn: Kysely<DatabaseSchema>) => Promise<T>,
    relaxed = false,
  ): Promise<T> => {
    if (closed) throw new ServiceUnavailableError('the store is closed');
    const relax = relaxed ? engine.relaxedCommit : undefined;
    return engine.db.connection().execute(async (conn) => {
      if (relax?.beforeBegin) await sql.raw(relax.beforeBegin).execute(conn);
      try {
        return await transact(conn);
      } finally {
        if (relax?.afterEnd) await sql.raw(relax.afterEnd).execute(conn);
      }
    });

    async function transact(conn: Kysely<DatabaseSchema>): Promise<T> {
      await sql.raw(begin).execute(conn);
      const ctx = context(writable);
      let change: StoreChange | undefined;
      try {
        // Inside the try: should it fail, the transaction is rolled back like any other.
        if (relax?.afterBegin) await sql.raw(relax.afterBegin).execute(conn);
        const value = await fn(new StoreOperations(conn, ctx), conn);
        if (ctx.touched.size > 0) {
          // Last statement before commit: the row lock on aiam_meta is held only briefly, and
          // since writers take it in commit order, revisions increase in commit order.
          const r = await sql<{
            revision: number;
          }>`update aiam_meta set revision = revision + 1 where id = 1 returning revision`.execute(conn);
          change = { revision: Number(r.rows[0]!.revision), kinds: [...ctx.touched].sort() };
          if (ctx.changedUsers !== null) change.changedUsers = [...ctx.changedUsers];
          let payload = JSON.stringify({ ...change, origin });
          if (Buffer.byteLength(payload) > MAX_NOTIFY_BYTES) {
            payload = JSON.stringify({ revision: change.revision, kinds: change.kinds, origin });
          }
          await engine.notify(conn, payload);
        }
        await sql.raw('commit').execute(conn);
        // Delivered before the connection is handed on. On SQLite (one connection) nobody can
        // then read this revision before this process has heard of its change; on PostgreSQL
        // another connection can, while the commit's reply is on its way (access views wait).
        if (change) emit(change);
        return value;
      } catch (error) {
        await sql
          .raw('rollback')
          .execute(conn)
          .catch(() => {});
        throw mapEngineError(error);
      } finally {
        ctx.writable = false;
      }
    }
  };

  const migrate = async (): Promise<MigrationResult> =>
    engine.db.connection().execute(async (conn) => {
      await sql.raw(engine.beginWrite).execute(conn);
      try {
        await engine.prepareMigration(conn);
        await sql
          .raw(
            'create table if not exists aiam_migrations (name text primary key, applied_at bigint not null)',
          )
          .execute(conn);
        const done = new Set(
          (await conn.selectFrom('aiam_migrations').select('name').execute()).map((r) => r.name),
        );
        const applied: string[] = [];
        for (const m of migrations) {
          if (done.has(m.name)) continue;
          for (const statement of m.statements(engine.types)) await sql.raw(statement).execute(conn);
          await conn
            .insertInto('aiam_migrations')
            .values({ name: m.name, applied_at: clock.now() })
            .execute();
          applied.push(m.name);
        }
        const id =
          options.accountId ??
          String(randomInt(100_000, 1_000_000)) + String(randomInt(0, 1_000_000)).padStart(6, '0');
        if (!/^\d{12}$/.test(id)) throw new InputError(`account id "${id}" must be 12 digits`);
        await conn
          .insertInto('settings')
          .values({ key: 'account_id', value: id, version: 1, updated_at: clock.now() })
          .onConflict((oc) => oc.column('key').doNothing())
          .execute();
        const row = await conn
          .selectFrom('settings')
          .select('value')
          .where('key', '=', 'account_id')
          .executeTakeFirstOrThrow();
        accountId = row.value;
        await sql.raw('commit').execute(conn);
        return { applied };
      } catch (error) {
        await sql
          .raw('rollback')
          .execute(conn)
          .catch(() => {});
        throw mapEngineError(error);
      }
    });

  const store = {
    kind: engine.kind,
    get accountId() {
      return accountId;
    },
    transaction: <T>(fn: (tx: StoreTransaction) => Promise<T>) => inTransaction(engine.beginWrite, true, fn),
    readTransaction: <T>(fn: (tx: StoreTransaction) => Promise<T>) =>
      inTransaction(engine.beginRead, false, fn),
    loadAccessSnapshot: () => inTransaction(engine.beginRead, false, (tx) => tx.loadAccessSnapshot()),
    subscribeChanges: async (listener: (change: StoreChange) => void) => {
      listeners.add(listener);
      if (!stopListening && engine.kind === 'postgres') {
        const fromOthers = (payload: string): void => {
          try {
            const {
              revision,
              kinds,
              changedUsers,
              origin: from,
            } = JSON.parse(payload) as StoreChange & {
              origin: string;
            };
            if (from === origin) return;
            // Taken only in its exact shape: anything else reads as "anything may have changed".
            const users =
              Array.isArray(changedUsers) && changedUsers.every((a) => typeof a === 'string')
                ? { changedUsers }
                : {};
            emit({ revision, kinds, ...users });
          } catch {
            // Not ours: ignore.
          }
        };
        const onLost = (): void => {
          store
            .getRevision()
            .then((revision) => emit({ revision, kinds: ['*'] }))
            .catch(() => {});
        };
        stopListening = await engine.listen(fromOthers, onLost);
      }
      return async () => {
        listeners.delete(listener);
        if (listeners.size === 0 && stopListening) {
          const stop = stopListening;
          stopListening = undefined;
          await stop();
        }
      };
    },
    migrate,
    close: async () => {
      if (closed) return;
      closed = true;
      listeners.clear();
      await stopListening?.();
      await engine.close();
    },
  } as unknown as Store;

  const direct = (writable: boolean): StoreOperations => new StoreOperations(engine.db, context(writable));
  const names = new Set<string>();
  // The operations are a chain of classes (one per area of the schema): expose every level.
  for (let p = StoreOperations.prototype; p && p !== Object.prototype; p = Object.getPrototypeOf(p)) {
    for (const name of Object.getOwnPropertyNames(p)) names.add(name);
  }
  for (const name of names) {
    if (name === 'constructor' || name === 'getAccountId' || name === 'loadAccessSnapshot') continue;
    const call = (ops: StoreOperations, args: unknown[]) =>
      (ops as unknown as Record<string, (...a: unknown[]) => Promise<unknown>>)[name]!(...args);
    Object.defineProperty(store, name, {
      enumerable: true,
      value: isReadOperation(name)
        ? (...args: unknown[]) => call(direct(false), args)
        : (...args: unknown[]) =>
            // Audit appends may commit without waiting for the disk (StoreEngine.relaxedCommit).
            inTransaction(engine.beginWrite, true, (tx) => call(tx, args), name === 'appendAudit'),
    });
  }

  try {
    await migrate();
  } catch (error) {
    await engine.close().catch(() => {});
    throw error;
  }
  return store;
}
