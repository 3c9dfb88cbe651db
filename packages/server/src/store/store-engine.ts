import type { Kysely } from 'kysely';
import type { DatabaseSchema } from './database-schema.js';
import type { DialectTypes } from './migrations.js';

/** The column values of one `audit_records` row. */
export type AuditRowValues = DatabaseSchema['audit_records'];

/**
 * What differs between the two engines; everything else (every query) is shared and goes
 * through Kysely. One implementation per engine: `sqlite-engine.ts`, `postgres-engine.ts`.
 */
export interface StoreEngine {
  readonly kind: 'sqlite' | 'postgres';
  readonly db: Kysely<DatabaseSchema>;
  readonly types: DialectTypes;
  /** Opens a write transaction (SQLite takes the write lock up front: no upgrade deadlocks). */
  readonly beginWrite: string;
  /** Opens a read transaction that sees one consistent snapshot. */
  readonly beginRead: string;
  /** Runs inside the migration transaction, before anything else: serializes concurrent migrators. */
  prepareMigration(conn: Kysely<DatabaseSchema>): Promise<void>;
  /** Inside a committing write transaction: tells other nodes (delivered on commit only). */
  notify(conn: Kysely<DatabaseSchema>, payload: string): Promise<void>;
  /**
   * Starts receiving other nodes' notifications; `onLost` is called when some may have been
   * missed (the channel dropped and was re-established). Returns a stop function.
   */
  listen(onPayload: (payload: string) => void, onLost: () => void): Promise<() => Promise<void>>;
  /**
   * SQLite only: inserts audit rows with statements prepared once per store. Synchronous, on
   * the engine's single connection, so call it only inside a write transaction (the rows are
   * part of it). Absent on PostgreSQL, where appends go through Kysely.
   */
  readonly insertAuditRows?: (rows: readonly AuditRowValues[]) => void;
  /**
   * Statements that let an audit append commit without waiting for the disk (SQLite:
   * `synchronous = NORMAL` around the transaction; PostgreSQL: `synchronous_commit = off` in
   * it). The commit stays atomic and ordered; a power cut may lose the last batches, as it
   * loses the records still queued in memory. Access data always commits durably.
   */
  readonly relaxedCommit?: {
    readonly beforeBegin?: string;
    readonly afterBegin?: string;
    readonly afterEnd?: string;
  };
  close(): Promise<void>;
}
