// The public surface of the store: one interface, two engines (SQLite, PostgreSQL).
export type { DatabaseSchema } from './database-schema.js';
export { type Migration, migrations } from './migrations.js';
export { type OpenStoreOptions, openStore } from './open-store.js';
export { createPostgresEngine, type PostgresEngineOptions } from './postgres-engine.js';
export { createSqliteEngine, type SqliteEngineOptions } from './sqlite-engine.js';
export {
  createStore,
  isReadOperation,
  type MigrationResult,
  type Store,
  type StoreOptions,
  type StoreTransaction,
} from './store.js';
export type { StoreEngine } from './store-engine.js';
export { isUniqueViolation, STORE_LIMITS, StoreOperations } from './store-operations.js';
export type * from './store-types.js';
export type * from './data-plane-types.js';
export type * from './ml-registry-types.js';
export { MAX_LIST_KEYS } from './data-plane-operations.js';
export { hasSystemIdentity, parseModelRef } from './ml-registry-operations.js';
export { compareCodePoints, prefixUpperBound } from './operations-core.js';
export { timeOrderedId } from './time-ordered-id.js';
export type {
  NewScimResourceRecord,
  ScimRecordQuery,
  ScimRecordType,
  ScimResourcePatch,
  ScimResourceRecord,
} from './scim-resource-operations.js';
