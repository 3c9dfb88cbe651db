import { ScimError } from './scim-errors.js';
import {
  COMMON_ATTRIBUTES,
  type NormalizeOptions,
  type ScimAttribute,
  type ScimResource,
  type ScimResourceType,
  type ScimSchema,
  findExtension,
  findSubAttribute,
  getKey,
  isPlainObject,
  normalizeAttributeValue,
  resolveAttributePath,
} from './scim-schema.js';

/**
 * Validates and normalizes an incoming resource (POST body, PUT body, or the result of a PATCH)
 * into canonical form: canonical attribute names, typed values, `schemas` listing the core
 * schema and the extensions that carry data, and nothing else.
 *
 * - Undefined attributes and unknown `schemas` URNs (Entra ID sends
 *   `http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group`) are ignored:
 *   RFC 7644 §3.3 says the server "is free to alter and/or ignore POSTed content". With
 *   `unknownAttributes: 'reject'` they are refused with `invalidValue` instead.
 * - readOnly attributes (`id`, `meta`, `groups`) are ignored (RFC 7644 §3.5.1 for PUT:
 *   "readOnly … values provided SHALL be ignored"); the caller re-attaches the stored ones.
 * - Wrong types are refused with `invalidValue`; a missing `schemas` with `invalidSyntax`
 *   (RFC 7643 §3: REQUIRED); a missing required attribute with `invalidValue`.
 */
export function validateResource(
  type: ScimResourceType,
  input: unknown,
  options: NormalizeOptions & { requireSchemas?: boolean } = {},
): ScimResource {
  if (!isPlainObject(input)) {
    throw new ScimError('invalidSyntax', `The request body must be a JSON object describing a ${type.name}.`);
  }
  const schemas = getKey(input, 'schemas');
  if (schemas === undefined && options.requireSchemas !== false) {
    throw new ScimError('invalidSyntax', `The resource has no "schemas"; include ["${type.schema.id}"].`);
  }
  if (schemas !== undefined) {
    if (!Array.isArray(schemas) || schemas.some((s) => typeof s !== 'string')) {
      throw new ScimError('invalidSyntax', '"schemas" must be an array of schema URNs (strings).');
    }
    if (!schemas.some((s: string) => s.toLowerCase() === type.schema.id.toLowerCase())) {
      throw new ScimError('invalidSyntax', `"schemas" must include the core schema "${type.schema.id}".`);
    }
  }
  const out: ScimResource = { schemas: [type.schema.id] };
  const extensionSchemas = type.extensions.map((e) => e.schema);
  for (const [key, value] of Object.entries(input)) {
    if (key.toLowerCase() === 'schemas') continue;
    const extension = findExtension(type, key);
    if (extension) {
      if (value === null) continue;
      if (!isPlainObject(value)) {
        throw new ScimError(
          'invalidValue',
          `Extension "${extension.id}" must be an object; got ${typeof value}.`,
        );
      }
      const ext = normalizeObject(extension, value, options, extension.id);
      if (Object.keys(ext).length > 0) out[extension.id] = ext;
      continue;
    }
    const attribute = findTop(type.schema, key);
    if (!attribute) {
      if (options.unknownAttributes === 'reject' && !key.toLowerCase().startsWith('urn:')) {
        throw new ScimError('invalidValue', `"${key}" is not an attribute of ${type.name}.`);
      }
      if (options.unknownAttributes === 'reject' && key.toLowerCase().startsWith('urn:')) {
        throw new ScimError('invalidValue', `"${key}" is not a schema extension of ${type.name}.`);
      }
      continue;
    }
    if (attribute.mutability === 'readOnly') {
      if (options.readOnly === 'reject') {
        throw new ScimError('mutability', `Attribute "${attribute.name}" is readOnly.`);
      }
      continue;
    }
    const v = normalizeAttributeValue(attribute, value, attribute.name, options);
    if (v !== undefined) out[attribute.name] = v;
  }
  for (const schema of extensionSchemas) {
    if (out[schema.id] !== undefined) (out.schemas as string[]).push(schema.id);
  }
  checkRequired(type.schema, out, type.name);
  for (const { schema, required } of type.extensions) {
    if (required && out[schema.id] === undefined) {
      throw new ScimError('invalidValue', `The extension "${schema.id}" is required for ${type.name}.`);
    }
  }
  return out;
}

function findTop(schema: ScimSchema, key: string): ScimAttribute | undefined {
  const lower = key.toLowerCase();
  return (
    schema.attributes.find((a) => a.name.toLowerCase() === lower) ??
    COMMON_ATTRIBUTES.find((a) => a.name.toLowerCase() === lower)
  );
}

function normalizeObject(
  schema: ScimSchema,
  input: Record<string, unknown>,
  options: NormalizeOptions,
  label: string,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(input)) {
    const lower = key.toLowerCase();
    const attribute = schema.attributes.find((a) => a.name.toLowerCase() === lower);
    if (!attribute) {
      if (options.unknownAttributes === 'reject') {
        throw new ScimError('invalidValue', `"${key}" is not an attribute of ${label}.`);
      }
      continue;
    }
    if (attribute.mutability === 'readOnly') continue;
    const v = normalizeAttributeValue(attribute, value, `${label}:${attribute.name}`, options);
    if (v !== undefined) out[attribute.name] = v;
  }
  return out;
}

function checkRequired(schema: ScimSchema, resource: ScimResource, typeName: string): void {
  for (const attribute of schema.attributes) {
    if (attribute.required && attribute.mutability !== 'readOnly' && resource[attribute.name] === undefined) {
      throw new ScimError('invalidValue', `${typeName} attribute "${attribute.name}" is required.`);
    }
  }
}

/** Parsed `attributes` / `excludedAttributes` query parameters (RFC 7644 §3.4.2.5). */
export interface Projection {
  attributes?: string[] | undefined;
  excludedAttributes?: string[] | undefined;
}

/** Splits a comma-separated `attributes` parameter into paths; empty entries are dropped. */
export function parseAttributeList(value: string | undefined | null): string[] | undefined {
  if (value === undefined || value === null) return undefined;
  const list = value
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s.length > 0);
  return list.length > 0 ? list : undefined;
}

/**
 * Applies RFC 7643 §7 `returned` and RFC 7644 §3.4.2.5 `attributes`/`excludedAttributes` to a
 * resource for a response. `returned: always` attributes (id) are always present; `never`
 * ones never; `request` ones only when named. With `attributes`, only the named attributes
 * (plus `always` ones and `schemas`) are returned; `excludedAttributes` removes named
 * attributes except `always` ones. Paths that name no attribute are refused with
 * `invalidValue`, as a typo here would otherwise silently return the wrong shape.
 */
export function projectResource(
  type: ScimResourceType,
  resource: ScimResource,
  projection: Projection = {},
): ScimResource {
  const include = projection.attributes?.map((p) => resolveOrThrow(type, p));
  const exclude = projection.excludedAttributes?.map((p) => resolveOrThrow(type, p));
  const out: ScimResource = {};
  if (resource.schemas !== undefined) out.schemas = resource.schemas;
  const containers: [string | undefined, ScimAttribute[]][] = [
    [undefined, [...COMMON_ATTRIBUTES, ...type.schema.attributes]],
    ...type.extensions.map((e): [string, ScimAttribute[]] => [e.schema.id, e.schema.attributes]),
  ];
  for (const [extension, attributes] of containers) {
    const source = extension === undefined ? resource : resource[extension];
    if (!isPlainObject(source)) continue;
    const target: Record<string, unknown> = {};
    for (const attribute of attributes) {
      const value = source[attribute.name];
      if (value === undefined) continue;
      const kept = projectAttribute(attribute, value, extension, include, exclude);
      if (kept !== undefined) target[attribute.name] = kept;
    }
    if (extension === undefined) Object.assign(out, target);
    else if (Object.keys(target).length > 0) out[extension] = target;
  }
  if (Array.isArray(out.schemas)) {
    out.schemas = (out.schemas as string[]).filter((s) => s === type.schema.id || out[s] !== undefined);
  }
  return out;
}

type Resolved = NonNullable<ReturnType<typeof resolveAttributePath>>;

function resolveOrThrow(type: ScimResourceType, path: string): Resolved {
  const resolved = resolveAttributePath(type, path);
  if (!resolved)
    throw new ScimError(
      'invalidValue',
      `"${path}" in attributes/excludedAttributes is not an attribute of ${type.name}.`,
    );
  return resolved;
}

function projectAttribute(
  attribute: ScimAttribute,
  value: unknown,
  extension: string | undefined,
  include: Resolved[] | undefined,
  exclude: Resolved[] | undefined,
): unknown {
  if (attribute.returned === 'never') return undefined;
  if (attribute.returned === 'always') return value;
  const same = (r: Resolved) => r.attribute === attribute && r.extension === extension;
  if (include) {
    const hits = include.filter(same);
    if (hits.length === 0) return undefined;
    if (hits.some((h) => h.subAttribute === undefined)) return value;
    return pickSubs(attribute, value, new Set(hits.map((h) => h.subAttribute!.name)), true);
  }
  if (attribute.returned === 'request') return undefined;
  if (exclude) {
    const hits = exclude.filter(same);
    if (hits.some((h) => h.subAttribute === undefined)) return undefined;
    if (hits.length > 0)
      return pickSubs(attribute, value, new Set(hits.map((h) => h.subAttribute!.name)), false);
  }
  return value;
}

function pickSubs(attribute: ScimAttribute, value: unknown, names: Set<string>, keep: boolean): unknown {
  const pick = (v: unknown) => {
    if (!isPlainObject(v)) return v;
    const out: Record<string, unknown> = {};
    for (const [k, sv] of Object.entries(v)) {
      const sub = findSubAttribute(attribute, k);
      const always = sub?.returned === 'always';
      if (always || names.has(sub?.name ?? k) === keep) out[k] = sv;
    }
    return out;
  };
  if (Array.isArray(value)) {
    const list = value.map(pick).filter((v) => !isPlainObject(v) || Object.keys(v).length > 0);
    return list.length > 0 ? list : undefined;
  }
  const v = pick(value);
  return isPlainObject(v) && Object.keys(v).length === 0 ? undefined : v;
}
