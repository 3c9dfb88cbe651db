import { type Expression, type ExpressionBuilder, type Selectable, type SqlBool, sql } from 'kysely';
import { ConflictError, InputError, NotFoundError } from '../errors.js';
import type { DatabaseSchema } from './database-schema.js';
import { MlRegistryOperations } from './ml-registry-operations.js';
import { beginMutation, insertUnique, staleOrMissing } from './operations-core.js';

type Row = Selectable<DatabaseSchema['scim_resources']>;

/** Ids per query of `findScimMembers`: well under SQLite's and PostgreSQL's parameter limits. */
const MEMBERS_PER_QUERY = 5000;

/** The two SCIM resource types the store keeps documents of. */
export type ScimRecordType = 'User' | 'Group';

/** What a SCIM id in a group's `members` stands for (`findScimMembers`). */
export interface ScimMember {
  id: string;
  resourceType: ScimRecordType;
  /** For a User: its aiam user's id and name, null when that user is gone. */
  userId: string | null;
  userName: string | null;
}

/**
 * A SCIM resource as provisioned: the aiam principal it stands for (`principalId`: the user's or
 * group's unique id), the indexed attributes and the full SCIM document as JSON text.
 */
export interface ScimResourceRecord {
  resourceType: ScimRecordType;
  /** The SCIM `id` (chosen by the service, not the aiam principal id). */
  id: string;
  principalId: string;
  /** userName (User) or displayName (Group); unique per type, case-insensitively. */
  name: string;
  /** Unique per type, exactly. */
  externalId: string | null;
  /** The canonical SCIM resource, as JSON text. */
  document: string;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createScimResource` takes. */
export type NewScimResourceRecord = Omit<ScimResourceRecord, 'version' | 'updatedAt'>;

/** What `updateScimResource` may change. */
export type ScimResourcePatch = Pick<ScimResourceRecord, 'name' | 'externalId' | 'document' | 'updatedAt'>;

/** Candidates by index: equality on id, externalId or name (userName/displayName), and/or. */
export type ScimRecordQuery =
  | { kind: 'all' }
  | { kind: 'eq'; attribute: 'id' | 'externalId' | 'name'; value: string; caseExact: boolean }
  | { kind: 'and' | 'or'; queries: ScimRecordQuery[] };

const toRecord = (r: Row): ScimResourceRecord => ({
  resourceType: r.resource_type as ScimRecordType,
  id: r.id,
  principalId: r.principal_id,
  name: r.name,
  externalId: r.external_id,
  document: r.document,
  version: Number(r.version),
  createdAt: Number(r.created_at),
  updatedAt: Number(r.updated_at),
});

const MAX_QUERY_DEPTH = 16;

function condition(
  eb: ExpressionBuilder<DatabaseSchema, 'scim_resources'>,
  q: ScimRecordQuery,
  depth: number,
): Expression<SqlBool> {
  if (depth > MAX_QUERY_DEPTH) throw new InputError('the SCIM query is nested too deeply');
  switch (q.kind) {
    case 'all':
      return eb.lit(true);
    case 'and':
      return eb.and(q.queries.map((x) => condition(eb, x, depth + 1)));
    case 'or':
      return eb.or(q.queries.map((x) => condition(eb, x, depth + 1)));
    case 'eq': {
      if (q.attribute === 'id')
        return q.caseExact ? eb('id', '=', q.value) : eb(eb.fn('lower', ['id']), '=', q.value.toLowerCase());
      if (q.attribute === 'name')
        return q.caseExact ? eb('name', '=', q.value) : eb('name_key', '=', q.value.toLowerCase());
      return q.caseExact
        ? eb('external_id', '=', q.value)
        : eb(eb.fn('lower', ['external_id']), '=', q.value.toLowerCase());
    }
  }
}

/**
 * SCIM documents of provisioned users and groups (the attributes aiam's own tables do not
 * model: name, emails, enterprise extension…), each bound to the aiam principal it provisions.
 * The SCIM layer writes them in the same transaction as the principal, so the two never drift.
 */
export class ScimResourceOperations extends MlRegistryOperations {
  /** A SCIM resource by type and SCIM id. */
  async getScimResource(type: ScimRecordType, id: string): Promise<ScimResourceRecord | undefined> {
    const r = await this.db
      .selectFrom('scim_resources')
      .selectAll()
      .where('resource_type', '=', type)
      .where('id', '=', id)
      .executeTakeFirst();
    return r && toRecord(r);
  }

  /**
   * What the SCIM ids a group's `members` name stand for: the resource type of each id found
   * and, for a User, its aiam user's id and name (null when that user is gone). Ids found for
   * both types come back twice. A few queries however many ids, so that a PATCH adding one
   * member to a large group does not cost a query per member.
   */
  async findScimMembers(ids: readonly string[]): Promise<ScimMember[]> {
    const out: ScimMember[] = [];
    for (let i = 0; i < ids.length; i += MEMBERS_PER_QUERY) {
      const rows = await this.db
        .selectFrom('scim_resources')
        .leftJoin('users', (j) =>
          j
            .onRef('users.id', '=', 'scim_resources.principal_id')
            .on('scim_resources.resource_type', '=', 'User'),
        )
        .select([
          'scim_resources.id as id',
          'scim_resources.resource_type as resource_type',
          'users.id as user_id',
          'users.name as user_name',
        ])
        .where('scim_resources.id', 'in', ids.slice(i, i + MEMBERS_PER_QUERY))
        .execute();
      for (const r of rows) {
        out.push({
          id: r.id,
          resourceType: r.resource_type as ScimRecordType,
          userId: r.user_id,
          userName: r.user_name,
        });
      }
    }
    return out;
  }

  /** The SCIM resources bound to these aiam principal ids. */
  async findScimResourcesByPrincipal(principalIds: readonly string[]): Promise<ScimResourceRecord[]> {
    if (principalIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('scim_resources')
      .selectAll()
      .where('principal_id', 'in', [...principalIds])
      .orderBy('seq')
      .execute();
    return rows.map(toRecord);
  }

  /** Matches of `query`, in creation order, one page of them, with the total. */
  async findScimResources(
    type: ScimRecordType,
    query: ScimRecordQuery,
    page: { offset: number; limit: number },
  ): Promise<{ records: ScimResourceRecord[]; total: number }> {
    const where = (eb: ExpressionBuilder<DatabaseSchema, 'scim_resources'>) =>
      eb.and([eb('resource_type', '=', type), condition(eb, query, 0)]);
    const count = await this.db
      .selectFrom('scim_resources')
      .select((eb) => eb.fn.countAll<number>().as('n'))
      .where(where)
      .executeTakeFirstOrThrow();
    const total = Number(count.n);
    if (page.limit <= 0 || page.offset >= total) return { records: [], total };
    const rows = await this.db
      .selectFrom('scim_resources')
      .selectAll()
      .where(where)
      .orderBy('seq')
      .limit(page.limit)
      .offset(page.offset)
      .execute();
    return { records: rows.map(toRecord), total };
  }

  /** Stores a new SCIM resource (version 1); a taken id, name or externalId is a ConflictError. */
  async createScimResource(input: NewScimResourceRecord): Promise<ScimResourceRecord> {
    beginMutation(this.ctx, 'scim-resource');
    await this.#checkUnique(input.resourceType, input.id, input.name, input.externalId);
    // `seq` orders resources by creation for SCIM pagination. Two concurrent creates on
    // PostgreSQL would both read the same max(seq) and the loser would fail on the unique
    // index, so take the store's meta row lock first: creates serialize here (every writer
    // takes this lock at commit anyway). On SQLite writers are already serialized.
    await sql`update aiam_meta set revision = revision where id = 1`.execute(this.db);
    const last = await this.db
      .selectFrom('scim_resources')
      .select((eb) => eb.fn.max<number | null>('seq').as('seq'))
      .executeTakeFirst();
    const row: Row = {
      resource_type: input.resourceType,
      id: input.id,
      principal_id: input.principalId,
      name: input.name,
      name_key: input.name.toLowerCase(),
      external_id: input.externalId,
      document: input.document,
      version: 1,
      seq: Number(last?.seq ?? 0) + 1,
      created_at: input.createdAt,
      updated_at: input.createdAt,
    };
    await insertUnique(`SCIM ${input.resourceType} "${input.id}"`, () =>
      this.db.insertInto('scim_resources').values(row).execute(),
    );
    return toRecord(row);
  }

  /** Writes a new version at `expectedVersion` (stale: PreconditionFailedError). */
  async updateScimResource(
    type: ScimRecordType,
    id: string,
    expectedVersion: number,
    patch: ScimResourcePatch,
  ): Promise<ScimResourceRecord> {
    beginMutation(this.ctx, 'scim-resource');
    const current = await this.getScimResource(type, id);
    if (!current || current.version !== expectedVersion)
      return staleOrMissing(`SCIM ${type} "${id}"`, current, expectedVersion);
    await this.#checkUnique(type, id, patch.name, patch.externalId);
    const r = await insertUnique(`SCIM ${type} "${patch.name}"`, () =>
      this.db
        .updateTable('scim_resources')
        .set({
          name: patch.name,
          name_key: patch.name.toLowerCase(),
          external_id: patch.externalId,
          document: patch.document,
          version: expectedVersion + 1,
          updated_at: patch.updatedAt,
        })
        .where('resource_type', '=', type)
        .where('id', '=', id)
        .where('version', '=', expectedVersion)
        .returningAll()
        .executeTakeFirst(),
    );
    if (!r)
      return staleOrMissing(`SCIM ${type} "${id}"`, await this.getScimResource(type, id), expectedVersion);
    return toRecord(r);
  }

  /** Removes a SCIM resource's document (the caller removes its principal in the same transaction). */
  async deleteScimResource(type: ScimRecordType, id: string): Promise<void> {
    beginMutation(this.ctx, 'scim-resource');
    const r = await this.db
      .deleteFrom('scim_resources')
      .where('resource_type', '=', type)
      .where('id', '=', id)
      .executeTakeFirst();
    if (Number(r.numDeletedRows) === 0) throw new NotFoundError(`SCIM ${type} "${id}" does not exist`);
  }

  // RFC 7643 §4.1.1/§4.1.2: userName and displayName are unique case-insensitively per type;
  // externalId exactly. Checked before writing so the error names the attribute.
  async #checkUnique(
    type: ScimRecordType,
    id: string,
    name: string,
    externalId: string | null,
  ): Promise<void> {
    const attribute = type === 'User' ? 'userName' : 'displayName';
    const byName = await this.db
      .selectFrom('scim_resources')
      .select('id')
      .where('resource_type', '=', type)
      .where('name_key', '=', name.toLowerCase())
      .where('id', '!=', id)
      .executeTakeFirst();
    if (byName) throw new ConflictError(`${attribute} "${name}" is already taken by another ${type}`);
    if (externalId === null) return;
    const byExternal = await this.db
      .selectFrom('scim_resources')
      .select('id')
      .where('resource_type', '=', type)
      .where('external_id', '=', externalId)
      .where('id', '!=', id)
      .executeTakeFirst();
    if (byExternal) throw new ConflictError(`externalId "${externalId}" is already taken by another ${type}`);
  }
}
