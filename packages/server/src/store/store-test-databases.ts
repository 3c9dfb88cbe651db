import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import pg from 'pg';
import { openStore } from './open-store.js';
import type { Store, StoreOptions } from './store.js';

/** One engine the contract suite runs against. */
export interface TestDatabase {
  id: 'sqlite' | 'postgres';
  /** Opens a fresh, empty store; `sharedWith` opens a second instance on the same data. */
  open(options?: StoreOptions & { sharedWith?: Store }): Promise<Store>;
  /** Opens `count` stores on one new, empty database at the same time (a cluster's first start). */
  openConcurrently(count: number, options?: StoreOptions): Promise<Store[]>;
  /** Closes every store opened and drops what was created (PostgreSQL schemas). */
  cleanup(): Promise<void>;
}

/** The PostgreSQL the tests use: AIAM_TEST_POSTGRES_URL or the local one. */
export const testPostgresUrl =
  process.env.AIAM_TEST_POSTGRES_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/**
 * The engines to test, like Backstage's TestDatabases: every contract test runs once per engine.
 * Each PostgreSQL store gets its own schema `aiam_test_<random>`, dropped at the end, so that
 * parallel runs never collide.
 */
export function testDatabases(): TestDatabase[] {
  return [sqliteDatabase(), postgresDatabase()];
}

function sqliteDatabase(): TestDatabase {
  const opened: Store[] = [];
  const shared = new Map<Store, string>();
  return {
    id: 'sqlite',
    async open(options = {}) {
      // Two instances of one in-memory database cannot exist, so sharing needs a file.
      const url = options.sharedWith
        ? shared.get(options.sharedWith)!
        : join(mkdtempSync(join(tmpdir(), 'aiam-store-')), 'aiam.db');
      const store = await openStore({ ...options, url });
      shared.set(store, url);
      opened.push(store);
      return store;
    },
    async openConcurrently(count, options = {}) {
      // One process cannot hold two busy-waiting connections to one file; see the contract suite.
      const first = await this.open(options);
      const rest = [];
      for (let i = 1; i < count; i++) rest.push(await this.open({ ...options, sharedWith: first }));
      return [first, ...rest];
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      for (const url of new Set(shared.values())) rmSync(dirname(url), { recursive: true, force: true });
    },
  };
}

function postgresDatabase(): TestDatabase {
  const opened: Store[] = [];
  const schemas = new Map<Store, string>();
  return {
    id: 'postgres',
    async open(options = {}) {
      const schema = options.sharedWith
        ? schemas.get(options.sharedWith)!
        : `aiam_test_${randomBytes(6).toString('hex')}`;
      const store = await openStore({ ...options, url: testPostgresUrl, schema });
      schemas.set(store, schema);
      opened.push(store);
      return store;
    },
    async openConcurrently(count, options = {}) {
      const schema = `aiam_test_${randomBytes(6).toString('hex')}`;
      const stores = await Promise.all(
        Array.from({ length: count }, () => openStore({ ...options, url: testPostgresUrl, schema })),
      );
      for (const store of stores) {
        schemas.set(store, schema);
        opened.push(store);
      }
      return stores;
    },
    async cleanup() {
      await Promise.all(opened.map((s) => s.close()));
      const client = new pg.Client({ connectionString: testPostgresUrl });
      await client.connect();
      try {
        for (const schema of new Set(schemas.values()))
          await client.query(`drop schema if exists ${schema} cascade`);
      } finally {
        await client.end();
      }
    },
  };
}
