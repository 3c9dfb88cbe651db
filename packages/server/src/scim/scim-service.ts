import { randomUUID } from 'node:crypto';
import { isAiamError } from '@aiam/policy';
import type { Clock } from '../clock.js';
import { ScimError, toScimErrorResponse } from './scim-errors.js';
import { type ConditionalHeaders, checkPreconditions, etagForVersion } from './scim-etag.js';
import { compileScimFilter, toStoreQuery } from './scim-filter.js';
import {
  SCIM_LIST_LIMITS,
  type ListParams,
  buildListResponse,
  paginate,
  parseListParams,
  parseSearchRequest,
  sortResources,
} from './scim-list.js';
import { applyScimPatch } from './scim-patch.js';
import type { ScimRepository, StoredScimResource } from './scim-repository.js';
import { type Projection, parseAttributeList, projectResource, validateResource } from './scim-resource.js';
import {
  allSchemas,
  resourceTypeDocument,
  resourceTypesList,
  schemaDocument,
  schemasList,
  serviceProviderConfig,
} from './scim-discovery.js';
import {
  type NormalizeOptions,
  SCIM_RESOURCE_TYPES,
  type ScimResource,
  type ScimResourceType,
  type ScimResourceTypeName,
  isPlainObject,
} from './scim-schema.js';

/** A SCIM request as the HTTP layer hands it over: already authenticated and JSON-parsed. */
export interface ScimRequest {
  method: string;
  /** The path below the SCIM base URL, e.g. `/Users/42` (a query string here is ignored). */
  path: string;
  query?: URLSearchParams | Record<string, string | undefined>;
  headers?: ConditionalHeaders;
  body?: unknown;
}

/** What to send back. The HTTP layer writes status, headers and `body` as JSON. */
export interface ScimResponse {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
}

/** Options of the {@link ScimService}. */
export interface ScimServiceOptions {
  repository: ScimRepository;
  clock: Clock;
  /** The absolute SCIM base URL, for `meta.location` and `Location`, e.g. `https://aiam.example/scim/v2`. */
  baseUrl: string;
  newId?: () => string;
  /** Most resources a filter may be evaluated over in memory before `tooMany` (default 10,000). */
  maxScan?: number;
  normalize?: NormalizeOptions;
  listLimits?: typeof SCIM_LIST_LIMITS;
}

const SCIM_CONTENT_TYPE = 'application/scim+json; charset=utf-8';
const MAX_RETRIES = 3;

/**
 * The SCIM 2.0 service provider's protocol core over a {@link ScimRepository}: create, get,
 * replace, patch, delete, list/search of Users and Groups, discovery documents, ETags, and
 * SCIM error rendering. It knows nothing of HTTP servers; `handle` maps one request to one
 * response and never throws.
 */
export class ScimService {
  private readonly repo: ScimRepository;
  private readonly clock: Clock;
  private readonly baseUrl: string;
  private readonly newId: () => string;
  private readonly maxScan: number;
  private readonly normalize: NormalizeOptions;
  private readonly limits: typeof SCIM_LIST_LIMITS;

  constructor(options: ScimServiceOptions) {
    this.repo = options.repository;
    this.clock = options.clock;
    this.baseUrl = options.baseUrl.replace(/\/+$/, '');
    this.newId = options.newId ?? randomUUID;
    this.maxScan = options.maxScan ?? 10_000;
    this.normalize = options.normalize ?? {};
    this.limits = options.listLimits ?? SCIM_LIST_LIMITS;
  }

  /** Routes one request and renders errors in SCIM's shape (RFC 7644 §3.12). */
  async handle(request: ScimRequest): Promise<ScimResponse> {
    try {
      return await this.route(request);
    } catch (error) {
      const { status, body } = toScimErrorResponse(error);
      return { status, headers: { 'content-type': SCIM_CONTENT_TYPE }, body };
    }
  }

  private async route(req: ScimRequest): Promise<ScimResponse> {
    const method = req.method.toUpperCase();
    const path = req.path.split('?')[0]!.replace(/\/+$/, '');
    const segments = path
      .split('/')
      .filter((s) => s !== '')
      .map(safeDecode);
    const query = req.query ?? {};
    const headers = req.headers ?? {};
    const [first, second, ...rest] = segments;
    if (rest.length > 0 || first === undefined) throw notFound(path);
    const projection = (): Projection => {
      const p = parseListParams(query, this.limits);
      return { attributes: p.attributes, excludedAttributes: p.excludedAttributes };
    };
    switch (first.toLowerCase()) {
      case 'serviceproviderconfig':
        if (second !== undefined) throw notFound(path);
        return this.readOnly(method, serviceProviderConfig(this.baseUrl));
      case 'resourcetypes': {
        if (second === undefined) return this.readOnly(method, resourceTypesList(this.baseUrl));
        const type = Object.values(SCIM_RESOURCE_TYPES).find(
          (t) => t.id.toLowerCase() === second.toLowerCase(),
        );
        if (!type) throw notFound(path);
        return this.readOnly(method, resourceTypeDocument(type, this.baseUrl));
      }
      case 'schemas': {
        if (second === undefined) return this.readOnly(method, schemasList(this.baseUrl));
        const schema = allSchemas().find((s) => s.id.toLowerCase() === second.toLowerCase());
        if (!schema) throw notFound(path);
        return this.readOnly(method, schemaDocument(schema, this.baseUrl));
      }
      case 'users':
      case 'groups': {
        const type: ScimResourceTypeName = first.toLowerCase() === 'users' ? 'User' : 'Group';
        if (second === undefined) {
          if (method === 'GET') return this.list(type, parseListParams(query, this.limits));
          if (method === 'POST') return this.create(type, req.body, projection());
          throw notAllowed(method, path);
        }
        if (second === '.search') {
          if (method !== 'POST') throw notAllowed(method, path);
          return this.list(type, parseSearchRequest(req.body, this.limits));
        }
        switch (method) {
          case 'GET':
            return this.get(type, second, projection(), headers);
          case 'PUT':
            return this.replace(type, second, req.body, projection(), headers);
          case 'PATCH':
            return this.patch(type, second, req.body, query, headers);
          case 'DELETE':
            return this.delete(type, second, headers);
          default:
            throw notAllowed(method, path);
        }
      }
      default:
        throw notFound(path);
    }
  }

  private readOnly(method: string, body: unknown): ScimResponse {
    if (method !== 'GET') throw notAllowed(method, 'this endpoint');
    return { status: 200, headers: { 'content-type': SCIM_CONTENT_TYPE }, body };
  }

  /** POST /Users, /Groups (RFC 7644 §3.3): 201 with the resource, Location and ETag. */
  async create(
    typeName: ScimResourceTypeName,
    body: unknown,
    projection: Projection = {},
  ): Promise<ScimResponse> {
    const type = SCIM_RESOURCE_TYPES[typeName];
    const resource = validateResource(type, body, this.normalize);
    await this.checkMembers(type, resource, undefined);
    const stored = await this.repo.create(typeName, this.newId(), resource, this.now());
    return this.resourceResponse(type, stored, 201, projection, true);
  }

  /** GET /Users/{id} (RFC 7644 §3.4.1), with If-None-Match -> 304. */
  async get(
    typeName: ScimResourceTypeName,
    id: string,
    projection: Projection = {},
    headers: ConditionalHeaders = {},
  ): Promise<ScimResponse> {
    const type = SCIM_RESOURCE_TYPES[typeName];
    const stored = await this.load(typeName, id);
    if (checkPreconditions('GET', headers, stored.version) === 'not-modified') {
      return { status: 304, headers: { etag: etagForVersion(stored.version) } };
    }
    return this.resourceResponse(type, stored, 200, projection, false);
  }

  /** PUT (RFC 7644 §3.5.1): replaces every readWrite attribute; readOnly ones are kept. */
  async replace(
    typeName: ScimResourceTypeName,
    id: string,
    body: unknown,
    projection: Projection = {},
    headers: ConditionalHeaders = {},
  ): Promise<ScimResponse> {
    const type = SCIM_RESOURCE_TYPES[typeName];
    const resource = validateResource(type, body, this.normalize);
    if (isPlainObject(body) && typeof body.id === 'string' && body.id !== id) {
      throw new ScimError(
        'mutability',
        `The body's id "${body.id.slice(0, 80)}" differs from the URL's; id is readOnly.`,
      );
    }
    const stored = await this.load(typeName, id);
    checkPreconditions('PUT', headers, stored.version);
    await this.checkMembers(type, resource, stored.resource);
    const updated = await this.repo.replace(typeName, id, resource, stored.version, this.now());
    return this.resourceResponse(type, updated, 200, projection, false);
  }

  /**
   * PATCH (RFC 7644 §3.5.2). Users answer 200 with the resource; groups answer 204 unless
   * `attributes` is asked for, since a group's member list can be large and Entra ID's
   * guidance is a 204. Without If-Match, a concurrent write is retried on the new version.
   */
  async patch(
    typeName: ScimResourceTypeName,
    id: string,
    body: unknown,
    query: ScimRequest['query'] = {},
    headers: ConditionalHeaders = {},
  ): Promise<ScimResponse> {
    const type = SCIM_RESOURCE_TYPES[typeName];
    const params = parseListParams(query, this.limits);
    for (let attempt = 0; ; attempt++) {
      const stored = await this.load(typeName, id);
      checkPreconditions('PATCH', headers, stored.version);
      // Patch the full representation, so that an unchanged readOnly id in a value (Okta's
      // group rename) is recognised as unchanged; the store gets it back without id and meta.
      const patched = applyScimPatch(type, this.toScim(type, stored), body, this.normalize);
      const { id: _id, meta: _meta, ...resource } = patched.resource;
      const changed = patched.changed;
      let result = stored;
      if (changed) {
        await this.checkMembers(type, resource, stored.resource);
        try {
          result = await this.repo.replace(typeName, id, resource, stored.version, this.now(), {
            patch: true,
          });
        } catch (error) {
          const retry =
            isAiamError(error) &&
            error.code === 'ERR_PRECONDITION_FAILED' &&
            !headers.ifMatch &&
            attempt < MAX_RETRIES;
          if (retry) continue;
          throw error;
        }
      }
      if (typeName === 'Group' && !params.attributes) {
        return { status: 204, headers: { etag: etagForVersion(result.version) } };
      }
      return this.resourceResponse(type, result, 200, params, false);
    }
  }

  /** DELETE (RFC 7644 §3.6): 204. */
  async delete(
    typeName: ScimResourceTypeName,
    id: string,
    headers: ConditionalHeaders = {},
  ): Promise<ScimResponse> {
    const stored = await this.load(typeName, id);
    checkPreconditions('DELETE', headers, stored.version);
    await this.repo.delete(typeName, id, headers.ifMatch ? stored.version : undefined);
    return { status: 204, headers: {} };
  }

  /**
   * List and search (RFC 7644 §3.4.2, §3.4.3). Without filter and sort, the store pages. With
   * them, the filter's indexable part narrows candidates in the store and the whole filter is
   * evaluated in memory over at most `maxScan` candidates; beyond that the answer is
   * `tooMany`, with a hint to filter on an indexed attribute.
   */
  async list(typeName: ScimResourceTypeName, params: ListParams): Promise<ScimResponse> {
    const type = SCIM_RESOURCE_TYPES[typeName];
    const projection = { attributes: params.attributes, excludedAttributes: params.excludedAttributes };
    let page: StoredScimResource[];
    let total: number;
    if (!params.filter && !params.sortBy) {
      const found = await this.repo.find(
        typeName,
        { kind: 'all' },
        { offset: params.startIndex - 1, limit: params.count },
      );
      page = params.count === 0 ? [] : found.resources;
      total = found.total;
    } else {
      const filter = params.filter ? compileScimFilter(type, params.filter) : undefined;
      const found = await this.repo.find(typeName, toStoreQuery(type, filter?.node), {
        offset: 0,
        limit: this.maxScan + 1,
      });
      if (found.total > this.maxScan) {
        throw new ScimError(
          'tooMany',
          `The query would evaluate ${found.total} ${type.name} resources; the limit is ${this.maxScan}. Add an "eq" on id, externalId or ${typeName === 'User' ? 'userName' : 'displayName'} (with "and").`,
        );
      }
      let matched = found.resources.map((s) => ({ s, r: this.toScim(type, s) }));
      if (filter) matched = matched.filter(({ r }) => filter.matches(r));
      if (params.sortBy) {
        const order = new Map(matched.map((m) => [m.r, m.s]));
        const sorted = sortResources(
          type,
          matched.map((m) => m.r),
          params.sortBy,
          params.sortOrder,
        );
        matched = sorted.map((r) => ({ r, s: order.get(r)! }));
      }
      total = matched.length;
      page = paginate(matched, params).map((m) => m.s);
    }
    const resources = await Promise.all(
      page.map(async (s) =>
        projectResource(type, await this.withGroups(type, this.toScim(type, s)), projection),
      ),
    );
    return {
      status: 200,
      headers: { 'content-type': SCIM_CONTENT_TYPE },
      body: buildListResponse(resources, total, params.startIndex),
    };
  }

  /** Parses an `attributes`/`excludedAttributes` pair from raw strings (for callers outside `handle`). */
  static projection(attributes?: string, excludedAttributes?: string): Projection {
    return {
      attributes: parseAttributeList(attributes),
      excludedAttributes: parseAttributeList(excludedAttributes),
    };
  }

  private async load(typeName: ScimResourceTypeName, id: string): Promise<StoredScimResource> {
    const stored = await this.repo.get(typeName, id);
    if (!stored)
      throw new ScimError(undefined, `${typeName} "${id.slice(0, 100)}" not found.`, { status: 404 });
    return stored;
  }

  /** Group members must name existing users or groups (only newly added ones are looked up). */
  private async checkMembers(
    type: ScimResourceType,
    resource: ScimResource,
    previous: ScimResource | undefined,
  ): Promise<void> {
    if (type.id !== 'Group') return;
    const before = new Set(
      ((previous?.members as { value?: string }[] | undefined) ?? []).map((m) => m.value),
    );
    for (const member of (resource.members as { value?: unknown }[] | undefined) ?? []) {
      if (typeof member.value !== 'string' || member.value === '') {
        throw new ScimError('invalidValue', 'Every group member needs a "value": the id of a User or Group.');
      }
      if (before.has(member.value)) continue;
      const found =
        (await this.repo.get('User', member.value)) ?? (await this.repo.get('Group', member.value));
      if (!found)
        throw new ScimError(
          'invalidValue',
          `Group member "${member.value.slice(0, 100)}" is not the id of a User or Group.`,
        );
    }
  }

  private toScim(type: ScimResourceType, stored: StoredScimResource): ScimResource {
    const { schemas, ...attributes } = stored.resource;
    return {
      schemas: schemas ?? [type.schema.id],
      id: stored.id,
      ...attributes,
      meta: {
        resourceType: type.id,
        created: stored.created,
        lastModified: stored.lastModified,
        location: `${this.baseUrl}${type.endpoint}/${encodeURIComponent(stored.id)}`,
        version: etagForVersion(stored.version),
      },
    };
  }

  /** Attaches the readOnly `groups` of a user (RFC 7643 §4.1.2) when the repository can list them. */
  private async withGroups(type: ScimResourceType, resource: ScimResource): Promise<ScimResource> {
    if (type.id !== 'User' || !this.repo.groupsOf) return resource;
    const groups = await this.repo.groupsOf(resource.id as string);
    if (groups.length === 0) return resource;
    const meta = resource.meta;
    const { meta: _meta, ...rest } = resource;
    return {
      ...rest,
      groups: groups.map((g) => ({
        value: g.id,
        $ref: `${this.baseUrl}/Groups/${encodeURIComponent(g.id)}`,
        display: g.displayName,
        type: 'direct',
      })),
      meta,
    };
  }

  private async resourceResponse(
    type: ScimResourceType,
    stored: StoredScimResource,
    status: number,
    projection: Projection,
    withLocation: boolean,
  ): Promise<ScimResponse> {
    const full = await this.withGroups(type, this.toScim(type, stored));
    const headers: Record<string, string> = {
      'content-type': SCIM_CONTENT_TYPE,
      etag: etagForVersion(stored.version),
    };
    if (withLocation) headers.location = (full.meta as { location: string }).location;
    return { status, headers, body: projectResource(type, full, projection) };
  }

  private now(): string {
    return new Date(this.clock.now()).toISOString();
  }
}

function notFound(path: string): ScimError {
  return new ScimError(undefined, `No SCIM endpoint at "${path.slice(0, 100)}".`, { status: 404 });
}

function notAllowed(method: string, path: string): ScimError {
  return new ScimError(undefined, `${method.slice(0, 10)} is not supported on ${path.slice(0, 100)}.`, {
    status: 405,
  });
}

function safeDecode(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch {
    throw new ScimError(undefined, 'The request path is not valid percent-encoding.', { status: 404 });
  }
}
