import { InputError } from '../errors.js';
import { createPostgresEngine } from './postgres-engine.js';
import { createSqliteEngine } from './sqlite-engine.js';
import { createStore, type Store, type StoreOptions } from './store.js';

/** Where the store lives, and engine options. */
export interface OpenStoreOptions extends StoreOptions {
  /**
   * `postgres://…` / `postgresql://…` for PostgreSQL; `sqlite:PATH`, a plain file path or
   * `:memory:` for the embedded engine.
   */
  url: string;
  /** PostgreSQL: the schema to use (created if missing); default `public`. */
  schema?: string;
  /** SQLite: `full` (default) or `normal` durability; see `SqliteEngineOptions`. */
  synchronous?: 'full' | 'normal';
}

/**
 * Opens (and migrates) the store at `url`.
 *
 * @example
 * const store = await openStore({ url: 'sqlite:./.aiam/aiam.db' });
 * const user = await store.createUser({ name: 'alice' });
 */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const { url } = options;
  if (!url)
    throw new InputError('the store needs a location: a file path, sqlite:PATH, :memory: or postgres://…');
  if (/^postgres(ql)?:\/\//.test(url)) {
    return createStore(createPostgresEngine({ url, schema: options.schema }), options);
  }
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new InputError(
      `unsupported store URL scheme in "${url.split('://')[0]}://": use postgres:// or sqlite:`,
    );
  }
  const path = url.startsWith('sqlite:') ? url.slice('sqlite:'.length) : url;
  if (!path) throw new InputError('sqlite: needs a path, e.g. sqlite:./aiam.db');
  return createStore(createSqliteEngine({ path, synchronous: options.synchronous }), options);
}
