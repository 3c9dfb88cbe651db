import { ScimError } from './scim-errors.js';
import { type Projection, parseAttributeList } from './scim-resource.js';
import {
  type ScimResource,
  type ScimResourceType,
  getKey,
  isPlainObject,
  readContainer,
  resolveAttributePath,
} from './scim-schema.js';

/** The ListResponse message schema URN (RFC 7644 §3.4.2). */
export const SCIM_LIST_RESPONSE_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:ListResponse';

/** Paging defaults and bounds. `maxCount` is also advertised in ServiceProviderConfig. */
export const SCIM_LIST_LIMITS = { defaultCount: 100, maxCount: 200 };

/** Query parameters of a list or search request, checked and clamped. */
export interface ListParams extends Projection {
  filter: string | undefined;
  /** 1-based (RFC 7644 §3.4.2.4). */
  startIndex: number;
  /** Page size after clamping to `[0, maxCount]`; 0 asks for totalResults only. */
  count: number;
  sortBy: string | undefined;
  sortOrder: 'ascending' | 'descending';
}

type QueryInput = URLSearchParams | Record<string, string | string[] | undefined>;

function param(query: QueryInput, name: string): string | undefined {
  if (query instanceof URLSearchParams) {
    for (const [k, v] of query) if (k.toLowerCase() === name.toLowerCase()) return v;
    return undefined;
  }
  const v = getKey(query as Record<string, unknown>, name);
  if (Array.isArray(v)) return typeof v[0] === 'string' ? v[0] : undefined;
  return typeof v === 'string' ? v : v === undefined || v === null ? undefined : String(v);
}

function integer(raw: string | number | undefined, name: string): number | undefined {
  if (raw === undefined || raw === '') return undefined;
  const text = String(raw).trim();
  if (!/^[+-]?\d+$/.test(text)) {
    throw new ScimError('invalidValue', `"${name}" must be an integer; got "${text.slice(0, 40)}".`);
  }
  const n = Number(text);
  // Digits beyond the safe range are still well-formed; clamp rather than refuse.
  return Number.isSafeInteger(n) ? n : n > 0 ? Number.MAX_SAFE_INTEGER : Number.MIN_SAFE_INTEGER;
}

/**
 * Reads list parameters from a GET query (names case-insensitive) with RFC 7644 §3.4.2.4's
 * rules: a startIndex below 1 is 1; a negative count is 0; a count above `maxCount` is
 * capped (the response's itemsPerPage shows the real page size, which the RFC allows: the
 * provider "MAY return fewer results"). Non-numeric values are `invalidValue`.
 */
export function parseListParams(query: QueryInput, limits = SCIM_LIST_LIMITS): ListParams {
  return fromRaw(
    {
      filter: param(query, 'filter'),
      startIndex: param(query, 'startIndex'),
      count: param(query, 'count'),
      sortBy: param(query, 'sortBy'),
      sortOrder: param(query, 'sortOrder'),
      attributes: parseAttributeList(param(query, 'attributes')),
      excludedAttributes: parseAttributeList(param(query, 'excludedAttributes')),
    },
    limits,
  );
}

/**
 * Reads a POST `/.search` body (RFC 7644 §3.4.3), whose parameters are the list parameters
 * as JSON (`attributes` as an array).
 */
export function parseSearchRequest(body: unknown, limits = SCIM_LIST_LIMITS): ListParams {
  if (!isPlainObject(body))
    throw new ScimError('invalidSyntax', 'A search request body must be a JSON object.');
  const str = (name: string): string | undefined => {
    const v = getKey(body, name);
    if (v === undefined || v === null) return undefined;
    if (typeof v !== 'string' && typeof v !== 'number')
      throw new ScimError('invalidValue', `"${name}" must be a string.`);
    return String(v);
  };
  const list = (name: string): string[] | undefined => {
    const v = getKey(body, name);
    if (v === undefined || v === null) return undefined;
    if (typeof v === 'string') return parseAttributeList(v);
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) {
      throw new ScimError('invalidValue', `"${name}" must be an array of attribute paths.`);
    }
    return v.length > 0 ? (v as string[]) : undefined;
  };
  return fromRaw(
    {
      filter: str('filter'),
      startIndex: str('startIndex'),
      count: str('count'),
      sortBy: str('sortBy'),
      sortOrder: str('sortOrder'),
      attributes: list('attributes'),
      excludedAttributes: list('excludedAttributes'),
    },
    limits,
  );
}

function fromRaw(
  raw: {
    filter: string | undefined;
    startIndex: string | undefined;
    count: string | undefined;
    sortBy: string | undefined;
    sortOrder: string | undefined;
    attributes: string[] | undefined;
    excludedAttributes: string[] | undefined;
  },
  limits: typeof SCIM_LIST_LIMITS,
): ListParams {
  const startIndex = Math.max(1, integer(raw.startIndex, 'startIndex') ?? 1);
  const requested = integer(raw.count, 'count');
  const count =
    requested === undefined ? limits.defaultCount : Math.min(Math.max(0, requested), limits.maxCount);
  const order = raw.sortOrder?.trim().toLowerCase();
  if (order !== undefined && order !== 'ascending' && order !== 'descending') {
    throw new ScimError(
      'invalidValue',
      `"sortOrder" must be "ascending" or "descending"; got "${raw.sortOrder!.slice(0, 20)}".`,
    );
  }
  if (raw.attributes && raw.excludedAttributes) {
    throw new ScimError('invalidValue', 'Use either "attributes" or "excludedAttributes", not both.');
  }
  return {
    filter: raw.filter !== undefined && raw.filter.trim() !== '' ? raw.filter : undefined,
    startIndex,
    count,
    sortBy: raw.sortBy?.trim() || undefined,
    sortOrder: order === 'descending' ? 'descending' : 'ascending',
    attributes: raw.attributes,
    excludedAttributes: raw.excludedAttributes,
  };
}

/** A ListResponse body (RFC 7644 §3.4.2). */
export interface ScimListResponse {
  schemas: [typeof SCIM_LIST_RESPONSE_SCHEMA];
  totalResults: number;
  startIndex: number;
  itemsPerPage: number;
  Resources: ScimResource[];
}

/** Builds a ListResponse for one page. `Resources` is present (empty) even with no results, as Entra ID expects. */
export function buildListResponse(
  page: ScimResource[],
  totalResults: number,
  startIndex: number,
): ScimListResponse {
  return {
    schemas: [SCIM_LIST_RESPONSE_SCHEMA],
    totalResults,
    startIndex,
    itemsPerPage: page.length,
    Resources: page,
  };
}

/** Cuts one page out of a fully evaluated result set. */
export function paginate<T>(items: readonly T[], params: Pick<ListParams, 'startIndex' | 'count'>): T[] {
  if (params.count === 0 || params.startIndex > items.length) return [];
  return items.slice(params.startIndex - 1, params.startIndex - 1 + params.count);
}

/**
 * Sorts resources by an attribute path (RFC 7644 §3.4.2.3), honouring caseExact. A
 * multi-valued attribute sorts by its primary value, else its first. Resources without a
 * value sort last in either order. Unknown `sortBy` is `invalidValue`.
 */
export function sortResources(
  type: ScimResourceType,
  resources: readonly ScimResource[],
  sortBy: string,
  sortOrder: 'ascending' | 'descending',
): ScimResource[] {
  const resolved = resolveAttributePath(type, sortBy);
  if (!resolved)
    throw new ScimError(
      'invalidValue',
      `"sortBy" names no attribute of ${type.name}: "${sortBy.slice(0, 80)}".`,
    );
  const leaf = resolved.subAttribute ?? resolved.attribute;
  const key = (r: ScimResource): unknown => {
    const container = readContainer(r, resolved.extension);
    let v = container ? getKey(container, resolved.attribute.name) : undefined;
    if (Array.isArray(v)) v = v.find((x) => isPlainObject(x) && x.primary === true) ?? v[0];
    if (resolved.subAttribute) v = isPlainObject(v) ? getKey(v, resolved.subAttribute.name) : undefined;
    else if (isPlainObject(v)) v = getKey(v, 'value');
    if (typeof v === 'string') return leaf.caseExact ? v : v.toLowerCase();
    return v === null ? undefined : v;
  };
  const sign = sortOrder === 'descending' ? -1 : 1;
  return resources
    .map((r) => ({ r, k: key(r) }))
    .sort((a, b) => {
      if (a.k === undefined) return b.k === undefined ? 0 : 1;
      if (b.k === undefined) return -1;
      const ka = a.k as string | number | boolean;
      const kb = b.k as string | number | boolean;
      return ka < kb ? -sign : ka > kb ? sign : 0;
    })
    .map((x) => x.r);
}
