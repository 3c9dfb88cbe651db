import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { sql } from 'kysely';
import { createSqliteEngine } from './sqlite-engine.js';
import { createStore } from './store.js';

async function synchronousLevel(engine: ReturnType<typeof createSqliteEngine>): Promise<number> {
  const r = await sql<{ synchronous: number }>`pragma synchronous`.execute(engine.db);
  return Number(r.rows[0]!.synchronous);
}

/** Runs `fn` with an engine on a file database in a new temporary directory, then removes it. */
async function withFileEngine(
  options: Omit<Parameters<typeof createSqliteEngine>[0], 'path'>,
  fn: (engine: ReturnType<typeof createSqliteEngine>, dir: string, path: string) => Promise<void>,
): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'aiam-sqlite-engine-'));
  const path = join(dir, 'aiam.db');
  try {
    await fn(createSqliteEngine({ ...options, path }), dir, path);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

describe('SQLite engine', () => {
  it('commits audit appends without waiting for the disk, and everything else durably', async () => {
    await withFileEngine({}, async (engine) => {
      const store = await createStore(engine);
      assert.equal(await synchronousLevel(engine), 2, 'FULL before');
      const [id] = await store.appendAudit([{ time: 1, action: 'iam:GetUser', decision: 'allowed' }]);
      // Back to FULL once the append committed: the next access-data write is durable.
      assert.equal(await synchronousLevel(engine), 2, 'FULL after');
      assert.equal((await store.getAuditRecord(id!))?.action, 'iam:GetUser');
      // A failed append (a duplicate id) restores the level too.
      await assert.rejects(store.appendAudit([{ id: id!, time: 2 }]));
      assert.equal(await synchronousLevel(engine), 2, 'FULL after a rollback');
      await store.close();
    });
  });

  it('prepares each SQL text once and still runs statements of a changed schema', async () => {
    const engine = createSqliteEngine({ path: ':memory:' });
    try {
      await sql`create table t (a integer)`.execute(engine.db);
      await sql`insert into t values (1)`.execute(engine.db);
      const read = () => sql<{ a: number; b?: number }>`select * from t`.execute(engine.db);
      assert.deepEqual((await read()).rows, [{ a: 1 }]);
      await sql`alter table t add column b integer default 7`.execute(engine.db);
      // The cached `select *` is re-prepared by SQLite for the new schema.
      assert.deepEqual((await read()).rows, [{ a: 1, b: 7 }]);
    } finally {
      await engine.close();
    }
  });
});

describe('SQLite background checkpoints', () => {
  it('keeps the WAL checkpointed by its own thread, and leaves nothing behind when closed', async () => {
    await withFileEngine({}, async (engine, dir, path) => {
      const store = await createStore(engine);
      // The server's connection checkpoints only past the backstop (16 MiB): the thread does it.
      const auto = await sql<{ wal_autocheckpoint: number }>`pragma wal_autocheckpoint`.execute(engine.db);
      assert.equal(Number(auto.rows[0]!.wal_autocheckpoint), 4000);
      for (let i = 0; i < 20; i++) {
        await store.appendAudit(
          Array.from({ length: 100 }, (_, j) => ({
            time: i * 100 + j,
            action: 's3:GetObject',
            extra: { pad: 'x'.repeat(200) },
          })),
        );
      }
      // Only a checkpoint copies pages from the WAL into the database file, and this connection
      // runs none below the backstop: the file grows only if the thread does its work.
      const before = (await stat(path)).size;
      let after = before;
      for (let tries = 0; tries < 50 && after <= before; tries++) {
        await new Promise((r) => setTimeout(r, 100));
        after = (await stat(path)).size;
      }
      assert.ok(after > before, `the database file stayed at ${before} bytes: no checkpoint ran`);
      await store.close();
      assert.deepEqual((await readdir(dir)).sort(), ['aiam.db']);
    });
  });

  it('keeps the WAL bounded under a writer that never pauses', async () => {
    const backstop = 100;
    await withFileEngine({ walBackstopPages: backstop }, async (engine, _dir, path) => {
      const store = await createStore(engine);
      let largest = 0;
      // About 1,500 pages of audit rows, committed back to back with no pause for the thread.
      for (let i = 0; i < 300; i++) {
        await store.appendAudit(
          Array.from({ length: 10 }, (_, j) => ({
            time: i * 10 + j,
            action: 's3:GetObject',
            extra: { pad: 'x'.repeat(500) },
          })),
        );
        largest = Math.max(largest, (await stat(`${path}-wal`)).size);
      }
      // One transaction past the backstop at most (a WAL frame is a page plus a 24-byte header).
      assert.ok(largest < 2 * backstop * (4096 + 24), `the WAL reached ${largest} bytes`);
      await store.close();
    });
  });

  it('refuses a backstop that is not a positive whole number of pages', async () => {
    for (const walBackstopPages of [0, -1, 1.5, Number.NaN]) {
      await assert.rejects(
        withFileEngine({ walBackstopPages }, async () => {}),
        (e: unknown) => e instanceof RangeError && /walBackstopPages/.test(e.message),
      );
    }
  });
});
