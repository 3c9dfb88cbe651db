import type { Kysely } from 'kysely';
import { ConflictError, InputError, NotFoundError, PreconditionFailedError } from '../errors.js';
import type { DatabaseSchema } from './database-schema.js';
import type { OperationsContext } from './store-operations.js';
import { SESSION_REVOCATION_PREFIX, type Tags } from './store-types.js';

/**
 * The connection and context every operations class shares. `StoreOperations` is a chain of
 * classes (one per area of the schema) over this core; the `Store` exposes every public
 * method of the chain, so helpers live in this module as functions, never as methods.
 */
export abstract class OperationsCore {
  protected readonly db: Kysely<DatabaseSchema>;
  protected readonly ctx: OperationsContext;

  constructor(db: Kysely<DatabaseSchema>, ctx: OperationsContext) {
    this.db = db;
    this.ctx = ctx;
  }
}

/**
 * Kinds whose rows no access view reads (`loadAccessSnapshot`, settings): writing them leaves
 * `changedUsers` as it is. An operation that also changes access data marks that kind too
 * (deleting a bucket removes its policy: `resource-policy`). Caches of these rows (decrypted
 * key secrets, verified bearer keys, trusted issuers) key on the view's revision, which moves
 * with every change, so a disabled key still fails on the very next request.
 */
const OUTSIDE_ACCESS_VIEW = new Set([
  'access-key',
  'bearer-key',
  'session',
  'signing-key',
  'trusted-issuer',
  'bucket',
  'workspace',
  'model',
  'endpoint',
  'deployment',
  'domain',
  'scim-resource',
  'scim-group-mapping',
]);

/**
 * Marks a mutation (refused outside a write transaction); `kind` null does not bump the revision.
 * Every kind of access data ends the transaction's claim to change only users (`changedUsers`).
 */
export function beginMutation(ctx: OperationsContext, kind: string | null): number {
  if (!ctx.writable) throw new Error('a mutation ran outside a write transaction');
  if (kind) {
    ctx.touched.add(kind);
    if (!OUTSIDE_ACCESS_VIEW.has(kind)) ctx.changedUsers = null;
  }
  return ctx.clock.now();
}

/**
 * Marks a mutation whose only effect on access data is on the user `arn` itself, so that an
 * access view may re-read that user instead of everything (`StoreChange.changedUsers`): the
 * creation of a user with nothing attached, a change of a user's row that keeps its ARN and
 * boundary, its deletion, a change of its group memberships, or of its session-revocation time.
 */
export function beginUserChange(ctx: OperationsContext, kind: string, arn: string): number {
  const users = ctx.changedUsers;
  const now = beginMutation(ctx, kind);
  if (users !== null) {
    users.add(arn);
    ctx.changedUsers = users;
  }
  return now;
}

/** The IAM user ARN a session-revocation setting is about, if it is about a user. */
export function revokedUserOf(settingKey: string): string | undefined {
  if (!settingKey.startsWith(SESSION_REVOCATION_PREFIX)) return undefined;
  const arn = settingKey.slice(SESSION_REVOCATION_PREFIX.length);
  return /^arn:aws:iam::\d{12}:user\//.test(arn) ? arn : undefined;
}

/** True for a unique or primary-key violation, on either engine. */
function isUnique(error: unknown): boolean {
  const code = (error as { code?: unknown })?.code;
  return code === '23505' || code === 'SQLITE_CONSTRAINT_UNIQUE' || code === 'SQLITE_CONSTRAINT_PRIMARYKEY';
}

/** Runs an insert; a duplicate becomes a ConflictError naming `what`. */
export async function insertUnique<T>(what: string, run: () => Promise<T>, code?: string): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (isUnique(error)) throw new ConflictError(`${what} already exists`, { cause: error, code });
    throw error;
  }
}

/** After an update matched no row: NotFound if the row is gone, else the version was stale. */
export function staleOrMissing(
  what: string,
  current: { version: number } | undefined,
  expected: number,
): never {
  if (!current) throw new NotFoundError(`${what} does not exist`);
  throw new PreconditionFailedError(
    `${what} has changed (version ${current.version}, you sent ${expected}); read it again and retry`,
  );
}

/** AWS tag limits: at most 50 per resource, keys 1..128 and values 0..256 characters. */
export function checkTagSet(tags: Tags): void {
  if (tags === null || typeof tags !== 'object' || Array.isArray(tags))
    throw new InputError('tags must be an object of string values');
  const entries = Object.entries(tags);
  if (entries.length > 50) throw new InputError('at most 50 tags are allowed on one resource');
  for (const [k, v] of entries) {
    if (k.length < 1 || k.length > 128 || typeof v !== 'string' || v.length > 256) {
      throw new InputError(`tag "${k}" is invalid: keys are 1..128 characters, values are strings of 0..256`);
    }
  }
}

/** One of `allowed`, or an InputError naming them. */
export function checkOneOf<T extends string>(what: string, value: T, allowed: readonly T[]): void {
  if (!allowed.includes(value))
    throw new InputError(`${what} must be one of ${allowed.join(', ')}, not "${value}"`);
}

/** JSON text of a value (null for undefined). */
export function toJson(value: unknown): string {
  return JSON.stringify(value ?? null);
}

/** The value of JSON text. */
export function fromJson<T>(text: string | null): T {
  return (text === null ? null : JSON.parse(text)) as T;
}

/**
 * The least string greater than every string that starts with `prefix`, in code-point order
 * (= UTF-8 byte order, the order of the key columns): `[prefix, bound)` is exactly the set of
 * strings with that prefix. Undefined when no such string exists (prefix of U+10FFFF only).
 */
export function prefixUpperBound(prefix: string): string | undefined {
  const points = Array.from(prefix, (c) => c.codePointAt(0) as number);
  while (points.length > 0) {
    const last = points.pop() as number;
    if (last === 0x10ffff) continue;
    // Skip the surrogate block: those code points cannot appear in valid UTF-8 text.
    const next = last + 1 === 0xd800 ? 0xe000 : last + 1;
    return String.fromCodePoint(...points, next);
  }
  return undefined;
}

/** Compares two strings in code-point order (JS `<` compares UTF-16 units, which differs past U+FFFF). */
export function compareCodePoints(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
