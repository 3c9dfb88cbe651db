import { ScimError } from './scim-errors.js';
import { type FilterNode, compileValueFilter, parseValueFilter } from './scim-filter.js';
import { validateResource } from './scim-resource.js';
import {
  COMMON_ATTRIBUTES,
  type NormalizeOptions,
  type ScimAttribute,
  type ScimResource,
  type ScimResourceType,
  describeValueType,
  findExtension,
  findSubAttribute,
  getKey,
  isPlainObject,
  normalizeAttributeValue,
  resolveAttributePath,
} from './scim-schema.js';

/** The PatchOp message schema URN (RFC 7644 §3.5.2). */
export const SCIM_PATCH_OP_SCHEMA = 'urn:ietf:params:scim:api:messages:2.0:PatchOp';

/** One PATCH operation, with `op` already lower-cased. */
export interface PatchOperation {
  op: 'add' | 'replace' | 'remove';
  path?: string | undefined;
  value?: unknown;
}

/** Bounds on a PATCH request. */
export const SCIM_PATCH_LIMITS = { maxOperations: 1000, maxPathLength: 1024 };

/**
 * Parses and checks a PatchOp request body (RFC 7644 §3.5.2). `op` is matched
 * case-insensitively: Microsoft Entra ID sends "Add", "Replace", "Remove", and its docs ask
 * service providers not to require a case-sensitive match.
 */
export function parsePatchRequest(body: unknown): PatchOperation[] {
  if (!isPlainObject(body))
    throw new ScimError('invalidSyntax', 'The PATCH body must be a JSON object (a PatchOp message).');
  const schemas = getKey(body, 'schemas');
  if (
    !Array.isArray(schemas) ||
    !schemas.some((s) => typeof s === 'string' && s.toLowerCase() === SCIM_PATCH_OP_SCHEMA.toLowerCase())
  ) {
    throw new ScimError('invalidSyntax', `The PATCH body's "schemas" must be ["${SCIM_PATCH_OP_SCHEMA}"].`);
  }
  const ops = getKey(body, 'Operations');
  if (!Array.isArray(ops) || ops.length === 0) {
    throw new ScimError('invalidSyntax', 'The PATCH body needs a non-empty "Operations" array.');
  }
  if (ops.length > SCIM_PATCH_LIMITS.maxOperations) {
    throw new ScimError(
      'invalidSyntax',
      `The PATCH body has ${ops.length} operations; the limit is ${SCIM_PATCH_LIMITS.maxOperations}.`,
    );
  }
  return ops.map((raw, i) => {
    if (!isPlainObject(raw)) throw new ScimError('invalidSyntax', `Operations[${i}] must be an object.`);
    const op = getKey(raw, 'op');
    if (typeof op !== 'string' || !/^(add|replace|remove)$/i.test(op)) {
      throw new ScimError(
        'invalidSyntax',
        `Operations[${i}].op must be "add", "replace" or "remove"; got ${describeValueType(op)}${typeof op === 'string' ? ` "${op.slice(0, 20)}"` : ''}.`,
      );
    }
    const path = getKey(raw, 'path');
    if (path !== undefined && path !== null && typeof path !== 'string') {
      throw new ScimError('invalidPath', `Operations[${i}].path must be a string.`);
    }
    if (typeof path === 'string' && path.length > SCIM_PATCH_LIMITS.maxPathLength) {
      throw new ScimError(
        'invalidPath',
        `Operations[${i}].path is longer than ${SCIM_PATCH_LIMITS.maxPathLength} characters.`,
      );
    }
    const lower = op.toLowerCase() as PatchOperation['op'];
    const hasValue = Object.keys(raw).some((k) => k.toLowerCase() === 'value');
    if (lower !== 'remove' && !hasValue) {
      throw new ScimError('invalidValue', `Operations[${i}] (${lower}) needs a "value".`);
    }
    return {
      op: lower,
      path: typeof path === 'string' && path.trim() !== '' ? path.trim() : undefined,
      value: getKey(raw, 'value'),
    };
  });
}

/** A PATCH path split per RFC 7644 §3.5.2 (`PATH = attrPath / valuePath [subAttr]`). */
interface ParsedPath {
  extension: string | undefined;
  attribute: ScimAttribute;
  /** `name.givenName`, or `.value` after a value filter. */
  subAttribute: ScimAttribute | undefined;
  filter: { node: FilterNode; matches: (v: unknown) => boolean } | undefined;
}

function parsePatchPath(type: ScimResourceType, path: string): ParsedPath {
  const open = path.indexOf('[');
  if (open < 0) {
    const resolved = resolveAttributePath(type, path);
    if (!resolved) throw new ScimError('invalidPath', `"${path}" is not an attribute of ${type.name}.`);
    return { ...resolved, filter: undefined };
  }
  const close = findClosingBracket(path, open);
  if (close < 0) throw new ScimError('invalidPath', `"${path}" has an unclosed "[".`);
  const resolved = resolveAttributePath(type, path.slice(0, open));
  if (!resolved || resolved.subAttribute) {
    throw new ScimError(
      'invalidPath',
      `"${path.slice(0, open)}" in "${path}" is not a multi-valued attribute of ${type.name}.`,
    );
  }
  if (!resolved.attribute.multiValued || resolved.attribute.type !== 'complex') {
    throw new ScimError(
      'invalidPath',
      `"${resolved.attribute.name}" is not multi-valued; a value filter "[...]" cannot select from it.`,
    );
  }
  let node: FilterNode;
  let matches: (v: unknown) => boolean;
  try {
    node = parseValueFilter(path.slice(open + 1, close));
    matches = compileValueFilter(resolved.attribute, node);
  } catch (e) {
    // RFC 7644 §3.5.2: a malformed path is "invalidPath", even when its filter is the problem.
    throw new ScimError('invalidPath', `Invalid value filter in "${path}": ${(e as Error).message}`, {
      cause: e,
    });
  }
  const rest = path.slice(close + 1);
  let subAttribute: ScimAttribute | undefined;
  if (rest !== '') {
    const sub = rest.startsWith('.') ? findSubAttribute(resolved.attribute, rest.slice(1)) : undefined;
    if (!sub)
      throw new ScimError(
        'invalidPath',
        `"${rest}" after the value filter in "${path}" is not a sub-attribute of "${resolved.attribute.name}".`,
      );
    subAttribute = sub;
  }
  return {
    extension: resolved.extension,
    attribute: resolved.attribute,
    subAttribute,
    filter: { node, matches },
  };
}

function findClosingBracket(path: string, open: number): number {
  let inString = false;
  for (let i = open + 1; i < path.length; i++) {
    const c = path[i];
    if (inString) {
      if (c === '\\') i++;
      else if (c === '"') inString = false;
    } else if (c === '"') inString = true;
    else if (c === ']') return i;
  }
  return -1;
}

/** The result of a PATCH: the new resource and whether anything changed. */
export interface PatchResult {
  resource: ScimResource;
  changed: boolean;
}

/**
 * Applies a PatchOp request to a resource (RFC 7644 §3.5.2) and returns the validated result;
 * the input is not modified. All operations apply or none does (§3.5.2: "If an operation
 * fails, … the entire PATCH request SHALL be rolled back").
 *
 * Handles the forms identity providers send, as well as the RFC's:
 * - `op` in any case; `"value": "False"` for booleans (Entra ID without `aadOptscim062020`);
 * - replace/add without `path` whose value has dotted (`name.givenName`) and URN-prefixed
 *   (`urn:…:enterprise:2.0:User:employeeNumber`) keys, or extension objects;
 * - member adds as `[{ "value": "id" }]`, member removal by value array
 *   (`{"op":"Remove","path":"members","value":[{"value":"id"}]}`) and by filter
 *   (`members[value eq "id"]`);
 * - `replace emails[type eq "work"].value` when no work email exists yet creates one, as
 *   Entra ID expects when it maps `mail` to that path;
 * - Okta's group rename, `replace` with `{"id": …, "displayName": …}`: an unchanged `id` is
 *   ignored, a different one is a `mutability` error.
 */
export function applyScimPatch(
  type: ScimResourceType,
  resource: ScimResource,
  body: unknown,
  options: NormalizeOptions = {},
): PatchResult {
  const operations = parsePatchRequest(body);
  const working = structuredClone(resource);
  for (const operation of operations) applyOperation(type, working, operation, options);
  const validated = validateResource(type, working, { ...options, requireSchemas: false });
  // readOnly attributes (id, meta, groups) are not the client's to change: carry them over.
  const out: ScimResource = { schemas: validated.schemas };
  for (const attribute of [...COMMON_ATTRIBUTES, ...type.schema.attributes]) {
    if (attribute.mutability === 'readOnly' && resource[attribute.name] !== undefined)
      out[attribute.name] = resource[attribute.name];
  }
  Object.assign(out, validated, { schemas: validated.schemas });
  return { resource: out, changed: !jsonEqual(stripMeta(out), stripMeta(resource)) };
}

function stripMeta(r: ScimResource): ScimResource {
  const { meta: _meta, ...rest } = r;
  return rest;
}

function applyOperation(
  type: ScimResourceType,
  resource: ScimResource,
  operation: PatchOperation,
  options: NormalizeOptions,
): void {
  const { op, path, value } = operation;
  if (path === undefined) {
    if (op === 'remove') {
      // RFC 7644 §3.5.2.2: remove without "path" fails with noTarget.
      throw new ScimError('noTarget', 'A "remove" operation needs a "path".');
    }
    applyWithoutPath(type, resource, op, value, options);
    return;
  }
  const extension = findExtension(type, path);
  if (extension) {
    if (op === 'remove') {
      delete resource[extension.id];
      return;
    }
    if (!isPlainObject(value))
      throw new ScimError('invalidValue', `The value for "${extension.id}" must be an object.`);
    applyWithoutPath(type, resource, op, { [extension.id]: value }, options);
    return;
  }
  const parsed = parsePatchPath(type, path);
  checkMutability(parsed, path, op, resource, value);
  if (op === 'remove') removeAt(resource, parsed, value, path);
  else setAt(resource, parsed, op, value, path, options);
}

function applyWithoutPath(
  type: ScimResourceType,
  resource: ScimResource,
  op: 'add' | 'replace',
  value: unknown,
  options: NormalizeOptions,
): void {
  // RFC 7644 §3.5.2.1/§3.5.2.3: without "path", "value" is an object of attributes to set.
  if (!isPlainObject(value)) {
    throw new ScimError(
      'invalidValue',
      `"${op}" without a "path" needs an object "value"; got ${describeValueType(value)}.`,
    );
  }
  for (const [key, v] of Object.entries(value)) {
    if (key.toLowerCase() === 'schemas') continue;
    const extension = findExtension(type, key);
    if (extension) {
      if (v === null) {
        if (op === 'replace') delete resource[extension.id];
        continue;
      }
      if (!isPlainObject(v))
        throw new ScimError('invalidValue', `The value of "${extension.id}" must be an object.`);
      for (const [k2, v2] of Object.entries(v))
        applyKey(type, resource, op, `${extension.id}:${k2}`, v2, options);
      continue;
    }
    applyKey(type, resource, op, key, v, options);
  }
}

function applyKey(
  type: ScimResourceType,
  resource: ScimResource,
  op: 'add' | 'replace',
  key: string,
  value: unknown,
  options: NormalizeOptions,
): void {
  const resolved = resolveAttributePath(type, key);
  if (!resolved) {
    // Undefined attributes inside a value are ignored, as in POST (RFC 7644 §3.3).
    if (options.unknownAttributes === 'reject')
      throw new ScimError('invalidValue', `"${key}" is not an attribute of ${type.name}.`);
    return;
  }
  const parsed: ParsedPath = { ...resolved, filter: undefined };
  if (parsed.attribute.mutability === 'readOnly' || parsed.subAttribute?.mutability === 'readOnly') {
    const current = readAt(resource, parsed);
    if (value === undefined || jsonEqual(current, value) || parsed.attribute.name === 'meta') return;
    throw new ScimError('mutability', `Attribute "${key}" is readOnly and cannot be changed.`);
  }
  setAt(resource, parsed, op, value, key, options);
}

function checkMutability(
  parsed: ParsedPath,
  path: string,
  op: string,
  resource: ScimResource,
  value: unknown,
): void {
  const readOnly =
    parsed.attribute.mutability === 'readOnly' || parsed.subAttribute?.mutability === 'readOnly';
  if (!readOnly) return;
  if (op !== 'remove' && jsonEqual(readAt(resource, parsed), value)) return;
  throw new ScimError(
    'mutability',
    `Attribute "${path}" is readOnly; it cannot be ${op === 'remove' ? 'removed' : 'set'}.`,
  );
}

function readAt(resource: ScimResource, parsed: ParsedPath): unknown {
  const container = parsed.extension === undefined ? resource : resource[parsed.extension];
  if (!isPlainObject(container)) return undefined;
  const v = container[parsed.attribute.name];
  if (!parsed.subAttribute) return v;
  return isPlainObject(v) ? v[parsed.subAttribute.name] : undefined;
}

function containerFor(resource: ScimResource, extension: string | undefined): Record<string, unknown> {
  if (extension === undefined) return resource;
  let c = resource[extension];
  if (!isPlainObject(c)) {
    c = {};
    resource[extension] = c;
  }
  return c as Record<string, unknown>;
}

function setAt(
  resource: ScimResource,
  parsed: ParsedPath,
  op: 'add' | 'replace',
  value: unknown,
  path: string,
  options: NormalizeOptions,
): void {
  const { attribute, subAttribute, filter } = parsed;
  const container = containerFor(resource, parsed.extension);
  const key = attribute.name;
  if (filter) {
    const list = Array.isArray(container[key]) ? (container[key] as unknown[]) : [];
    const hits = list.map((v, i) => (filter.matches(v) ? i : -1)).filter((i) => i >= 0);
    if (hits.length === 0) {
      const seed = eqSeed(filter.node);
      if (!seed || !subAttribute) {
        throw new ScimError('noTarget', `The value filter in "${path}" matched no value of "${key}".`);
      }
      // Entra ID replaces emails[type eq "work"].value on users that have no work email yet.
      const element = normalizeAttributeValue(
        attribute,
        { ...seed, [subAttribute.name]: value },
        path,
        options,
      );
      container[key] = [...list, ...((element as unknown[] | undefined) ?? [])];
      return;
    }
    if (subAttribute) {
      const v = normalizeAttributeValue({ ...subAttribute, multiValued: false }, value, path, options);
      for (const i of hits) {
        const el = { ...(list[i] as Record<string, unknown>) };
        if (v === undefined) delete el[subAttribute.name];
        else el[subAttribute.name] = v;
        if (subAttribute.name === 'primary' && v === true) clearPrimary(list);
        list[i] = el;
      }
    } else {
      const v = normalizeAttributeValue({ ...attribute, multiValued: false }, value, path, options);
      if (isPlainObject(v) && v.primary === true) clearPrimary(list);
      for (const i of hits) list[i] = v;
    }
    container[key] = list.filter((v) => v !== undefined);
    return;
  }
  if (subAttribute) {
    if (attribute.multiValued) {
      throw new ScimError(
        'invalidPath',
        `"${path}" names a sub-attribute of multi-valued "${key}"; select values with a filter, e.g. ${key}[type eq "work"].${subAttribute.name}.`,
      );
    }
    const v = normalizeAttributeValue({ ...subAttribute, multiValued: false }, value, path, options);
    const current = isPlainObject(container[key]) ? { ...(container[key] as Record<string, unknown>) } : {};
    if (v === undefined) delete current[subAttribute.name];
    else current[subAttribute.name] = v;
    container[key] = current;
    return;
  }
  const v = normalizeAttributeValue(attribute, value, path, options);
  if (v === undefined) {
    // Setting an unassigned value (null, [], "") clears the attribute (RFC 7643 §2.5).
    if (op === 'replace') delete container[key];
    return;
  }
  if (attribute.multiValued) {
    const incoming = v as unknown[];
    if (op === 'replace') {
      container[key] = incoming;
      return;
    }
    // RFC 7644 §3.5.2.1: add appends to a multi-valued attribute; values already present are
    // not duplicated; a new primary value demotes the old one (RFC 7643 §2.4).
    const list = Array.isArray(container[key]) ? [...(container[key] as unknown[])] : [];
    if (incoming.some((x) => isPlainObject(x) && x.primary === true)) clearPrimary(list);
    for (const item of incoming) {
      const at = list.findIndex((existing) => sameValue(existing, item));
      if (at >= 0)
        list[at] =
          isPlainObject(item) && isPlainObject(list[at]) ? { ...(list[at] as object), ...item } : item;
      else list.push(item);
    }
    container[key] = list;
    return;
  }
  if (attribute.type === 'complex' && isPlainObject(container[key]) && isPlainObject(v)) {
    // RFC 7644 §3.5.2.3: sub-attributes not given in the value are left unchanged.
    container[key] = { ...(container[key] as Record<string, unknown>), ...v };
    return;
  }
  container[key] = v;
}

function removeAt(resource: ScimResource, parsed: ParsedPath, value: unknown, path: string): void {
  const { attribute, subAttribute, filter } = parsed;
  const container = parsed.extension === undefined ? resource : resource[parsed.extension];
  if (!isPlainObject(container)) {
    if (filter) throw new ScimError('noTarget', `The value filter in "${path}" matched no value.`);
    return;
  }
  const key = attribute.name;
  const current = container[key];
  if (filter) {
    const list = Array.isArray(current) ? current : [];
    const hits = new Set(list.map((v, i) => (filter.matches(v) ? i : -1)).filter((i) => i >= 0));
    // RFC 7644 §3.12: noTarget when the path's filter yields no match.
    if (hits.size === 0)
      throw new ScimError('noTarget', `The value filter in "${path}" matched no value of "${key}".`);
    container[key] = subAttribute
      ? list.map((v, i) => (hits.has(i) ? withoutKey(v, subAttribute.name) : v))
      : list.filter((_, i) => !hits.has(i));
  } else if (subAttribute) {
    container[key] = Array.isArray(current)
      ? current.map((v) => withoutKey(v, subAttribute.name))
      : withoutKey(current, subAttribute.name);
  } else if (attribute.multiValued && value !== undefined && value !== null) {
    // Entra ID (without aadOptscim062020) removes members by listing them in "value".
    const doomed = Array.isArray(value) ? value : [value];
    const list = Array.isArray(current) ? current : [];
    container[key] = list.filter((existing) => !doomed.some((d) => sameValue(existing, d)));
  } else {
    delete container[key];
  }
  const after = container[key];
  if (
    after === undefined ||
    (Array.isArray(after) && after.length === 0) ||
    (isPlainObject(after) && Object.keys(after).length === 0)
  ) {
    delete container[key];
  }
  if (parsed.extension !== undefined && Object.keys(container).length === 0)
    delete resource[parsed.extension];
}

function withoutKey(v: unknown, key: string): unknown {
  if (!isPlainObject(v)) return v;
  const { [key]: _gone, ...rest } = v;
  return rest;
}

function clearPrimary(list: unknown[]): void {
  for (let i = 0; i < list.length; i++) {
    const el = list[i];
    if (isPlainObject(el) && el.primary === true) list[i] = { ...el, primary: false };
  }
}

/** Two values of a multi-valued attribute are the same value when their `value`s are equal. */
function sameValue(a: unknown, b: unknown): boolean {
  if (isPlainObject(a) && isPlainObject(b) && a.value !== undefined && getKey(b, 'value') !== undefined) {
    return a.value === getKey(b, 'value');
  }
  return jsonEqual(a, b);
}

/** For `type eq "work"` (and conjunctions of such), the sub-attribute values a new element gets. */
function eqSeed(node: FilterNode): Record<string, unknown> | undefined {
  if (node.kind === 'compare' && node.op === 'eq' && node.value !== null)
    return { [node.path.text]: node.value };
  if (node.kind === 'and') {
    const l = eqSeed(node.left);
    const r = eqSeed(node.right);
    return l && r ? { ...l, ...r } : undefined;
  }
  return undefined;
}

/** Structural JSON equality (key order ignored). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b))
    return a.length === b.length && a.every((v, i) => jsonEqual(v, b[i]));
  if (isPlainObject(a) && isPlainObject(b)) {
    const ka = Object.keys(a).filter((k) => a[k] !== undefined);
    const kb = Object.keys(b).filter((k) => b[k] !== undefined);
    return ka.length === kb.length && ka.every((k) => jsonEqual(a[k], b[k]));
  }
  return false;
}
