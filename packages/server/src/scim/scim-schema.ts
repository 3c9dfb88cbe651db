import { ScimError } from './scim-errors.js';

/** Schema URNs of RFC 7643 used by aiam. */
export const SCIM_USER_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:User';
export const SCIM_GROUP_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Group';
export const SCIM_ENTERPRISE_USER_SCHEMA = 'urn:ietf:params:scim:schemas:extension:enterprise:2.0:User';

/** A plain SCIM resource as JSON: `schemas`, `id`, `meta` and the attributes of its schemas. */
export type ScimResource = Record<string, unknown>;

/** An attribute definition with the characteristics of RFC 7643 §2.2 and §7. */
export interface ScimAttribute {
  name: string;
  type: 'string' | 'boolean' | 'decimal' | 'integer' | 'dateTime' | 'reference' | 'binary' | 'complex';
  multiValued: boolean;
  description: string;
  required: boolean;
  caseExact: boolean;
  mutability: 'readOnly' | 'readWrite' | 'immutable' | 'writeOnly';
  returned: 'always' | 'never' | 'default' | 'request';
  uniqueness: 'none' | 'server' | 'global';
  subAttributes?: ScimAttribute[];
  referenceTypes?: string[];
  canonicalValues?: string[];
}

/** A schema (RFC 7643 §7): an id (URN) and its attributes. */
export interface ScimSchema {
  id: string;
  name: string;
  description: string;
  attributes: ScimAttribute[];
}

/** A resource type (RFC 7643 §6): its endpoint, core schema and extensions. */
export interface ScimResourceType {
  id: 'User' | 'Group';
  name: string;
  endpoint: string;
  description: string;
  schema: ScimSchema;
  extensions: { schema: ScimSchema; required: boolean }[];
}

/** The resource type names aiam serves. */
export type ScimResourceTypeName = ScimResourceType['id'];

type AttrOptions = Partial<Omit<ScimAttribute, 'name' | 'type'>>;

function attr(name: string, type: ScimAttribute['type'], options: AttrOptions = {}): ScimAttribute {
  return {
    name,
    type,
    multiValued: false,
    description: options.description ?? name,
    required: false,
    caseExact: false,
    mutability: 'readWrite',
    returned: 'default',
    uniqueness: 'none',
    ...options,
  };
}

function str(name: string, options: AttrOptions = {}): ScimAttribute {
  return attr(name, 'string', options);
}

/** The multi-valued complex shape shared by emails, phoneNumbers, ims, photos, … (RFC 7643 §2.4). */
function multi(
  name: string,
  description: string,
  valueType: ScimAttribute['type'] = 'string',
): ScimAttribute {
  return attr(name, 'complex', {
    multiValued: true,
    description,
    subAttributes: [
      attr('value', valueType, { description: `The ${name} value.` }),
      str('display', { description: 'A human-readable name, primarily used for display purposes.' }),
      str('type', { description: `A label indicating the ${name} value's function.` }),
      attr('primary', 'boolean', { description: 'Whether this is the primary value of the attribute.' }),
    ],
  });
}

/**
 * Attributes common to every resource (RFC 7643 §3.1). `id` is assigned by the service
 * provider and case-exact; `externalId` is the client's identifier, case-exact too.
 */
export const COMMON_ATTRIBUTES: ScimAttribute[] = [
  str('id', {
    caseExact: true,
    mutability: 'readOnly',
    returned: 'always',
    uniqueness: 'server',
    description: 'Unique identifier for the resource, assigned by the service provider.',
  }),
  str('externalId', {
    caseExact: true,
    description: 'An identifier for the resource as defined by the client.',
  }),
  attr('meta', 'complex', {
    mutability: 'readOnly',
    description: 'Resource metadata.',
    subAttributes: [
      str('resourceType', { caseExact: true, mutability: 'readOnly' }),
      attr('created', 'dateTime', { mutability: 'readOnly' }),
      attr('lastModified', 'dateTime', { mutability: 'readOnly' }),
      attr('location', 'reference', { caseExact: true, mutability: 'readOnly', referenceTypes: ['uri'] }),
      str('version', { caseExact: true, mutability: 'readOnly' }),
    ],
  }),
];

/**
 * The core User schema (RFC 7643 §4.1). `password` is deliberately absent: aiam users
 * authenticate with access keys and federation, and a password sent by an identity provider
 * must not be stored anywhere; as an undefined attribute it is ignored (RFC 7644 §3.3).
 */
export const USER_SCHEMA: ScimSchema = {
  id: SCIM_USER_SCHEMA,
  name: 'User',
  description: 'User Account',
  attributes: [
    str('userName', {
      required: true,
      uniqueness: 'server',
      description: 'Unique identifier for the User, typically used by the user to directly authenticate.',
    }),
    attr('name', 'complex', {
      description: "The components of the user's real name.",
      subAttributes: [
        str('formatted'),
        str('familyName'),
        str('givenName'),
        str('middleName'),
        str('honorificPrefix'),
        str('honorificSuffix'),
      ],
    }),
    str('displayName', { description: 'The name of the User, suitable for display to end-users.' }),
    str('nickName'),
    attr('profileUrl', 'reference', { referenceTypes: ['external'] }),
    str('title'),
    str('userType'),
    str('preferredLanguage'),
    str('locale'),
    str('timezone'),
    attr('active', 'boolean', { description: "The User's administrative status." }),
    multi('emails', 'Email addresses for the user.'),
    multi('phoneNumbers', 'Phone numbers for the User.'),
    multi('ims', 'Instant messaging addresses for the User.'),
    multi('photos', 'URLs of photos of the User.', 'reference'),
    attr('addresses', 'complex', {
      multiValued: true,
      description: 'A physical mailing address for this User.',
      subAttributes: [
        str('formatted'),
        str('streetAddress'),
        str('locality'),
        str('region'),
        str('postalCode'),
        str('country'),
        str('type'),
        attr('primary', 'boolean'),
      ],
    }),
    attr('groups', 'complex', {
      multiValued: true,
      mutability: 'readOnly',
      description: 'A list of groups to which the user belongs.',
      subAttributes: [
        str('value', { mutability: 'readOnly' }),
        attr('$ref', 'reference', { mutability: 'readOnly', referenceTypes: ['User', 'Group'] }),
        str('display', { mutability: 'readOnly' }),
        str('type', { mutability: 'readOnly', canonicalValues: ['direct', 'indirect'] }),
      ],
    }),
    multi('entitlements', 'A list of entitlements for the User.'),
    multi('roles', 'A list of roles for the User.'),
    multi('x509Certificates', 'A list of certificates issued to the User.', 'binary'),
  ],
};

/** The enterprise User extension (RFC 7643 §4.3). */
export const ENTERPRISE_USER_SCHEMA: ScimSchema = {
  id: SCIM_ENTERPRISE_USER_SCHEMA,
  name: 'EnterpriseUser',
  description: 'Enterprise User',
  attributes: [
    str('employeeNumber'),
    str('costCenter'),
    str('organization'),
    str('division'),
    str('department'),
    attr('manager', 'complex', {
      description: "The User's manager.",
      subAttributes: [
        str('value', { description: 'The id of the SCIM resource representing the manager.' }),
        attr('$ref', 'reference', { referenceTypes: ['User'] }),
        str('displayName', { mutability: 'readOnly' }),
      ],
    }),
  ],
};

/** The core Group schema (RFC 7643 §4.2). */
export const GROUP_SCHEMA: ScimSchema = {
  id: SCIM_GROUP_SCHEMA,
  name: 'Group',
  description: 'Group',
  attributes: [
    // Required by aiam although RFC 7643 leaves it optional: Entra ID matches groups on it.
    str('displayName', { required: true, description: 'A human-readable name for the Group.' }),
    attr('members', 'complex', {
      multiValued: true,
      description: 'A list of members of the Group.',
      subAttributes: [
        str('value', { caseExact: true, mutability: 'immutable' }),
        attr('$ref', 'reference', { mutability: 'immutable', referenceTypes: ['User', 'Group'] }),
        str('display'),
        str('type', { canonicalValues: ['User', 'Group'] }),
      ],
    }),
  ],
};

/** The resource types aiam serves over SCIM. */
export const SCIM_RESOURCE_TYPES: Record<ScimResourceTypeName, ScimResourceType> = {
  User: {
    id: 'User',
    name: 'User',
    endpoint: '/Users',
    description: 'User Account',
    schema: USER_SCHEMA,
    extensions: [{ schema: ENTERPRISE_USER_SCHEMA, required: false }],
  },
  Group: {
    id: 'Group',
    name: 'Group',
    endpoint: '/Groups',
    description: 'Group',
    schema: GROUP_SCHEMA,
    extensions: [],
  },
};

/**
 * An attribute path resolved against a resource type: which schema holds it (`extension` is the
 * URN for extension attributes, undefined for core and common ones), the attribute and, for
 * `name.givenName`, the sub-attribute.
 */
export interface ResolvedPath {
  extension: string | undefined;
  attribute: ScimAttribute;
  subAttribute: ScimAttribute | undefined;
}

function findAttribute(list: readonly ScimAttribute[], name: string): ScimAttribute | undefined {
  const lower = name.toLowerCase();
  return list.find((a) => a.name.toLowerCase() === lower);
}

/** Finds a sub-attribute of a complex attribute by name, case-insensitively (RFC 7643 §2.1). */
export function findSubAttribute(attribute: ScimAttribute, name: string): ScimAttribute | undefined {
  return attribute.subAttributes ? findAttribute(attribute.subAttributes, name) : undefined;
}

/** The extension schema of a resource type whose URN matches `urn`, case-insensitively. */
export function findExtension(type: ScimResourceType, urn: string): ScimSchema | undefined {
  const lower = urn.toLowerCase();
  return type.extensions.find((e) => e.schema.id.toLowerCase() === lower)?.schema;
}

/**
 * Splits an attribute path (`[URN ":"] attr ["." sub]`, RFC 7644 §3.10) into its parts.
 * URNs contain dots (`…:2.0:User`), so the schema is everything before the last colon.
 */
export function splitAttributePath(path: string): {
  urn: string | undefined;
  name: string;
  sub: string | undefined;
} {
  let urn: string | undefined;
  let rest = path;
  if (path.toLowerCase().startsWith('urn:')) {
    const colon = path.lastIndexOf(':');
    urn = path.slice(0, colon);
    rest = path.slice(colon + 1);
  }
  const dot = rest.indexOf('.');
  if (dot < 0) return { urn, name: rest, sub: undefined };
  return { urn, name: rest.slice(0, dot), sub: rest.slice(dot + 1) };
}

/**
 * Resolves an attribute path against a resource type, or returns undefined when it names no
 * defined attribute. Names are case-insensitive (RFC 7643 §2.1); the core schema URN may
 * prefix core attributes (`urn:…:core:2.0:User:userName`).
 */
export function resolveAttributePath(type: ScimResourceType, path: string): ResolvedPath | undefined {
  const { urn, name, sub } = splitAttributePath(path);
  let attribute: ScimAttribute | undefined;
  let extension: string | undefined;
  if (urn === undefined || urn.toLowerCase() === type.schema.id.toLowerCase()) {
    attribute = findAttribute(type.schema.attributes, name) ?? findAttribute(COMMON_ATTRIBUTES, name);
    if (!attribute && urn === undefined) {
      // An unprefixed name that only one extension defines resolves to it (Entra ID queries
      // `manager eq "…"`); the core schema wins any clash, as RFC 7644 §3.10 makes it the default.
      const hits = type.extensions.filter((e) => findAttribute(e.schema.attributes, name));
      if (hits.length === 1) {
        extension = hits[0]!.schema.id;
        attribute = findAttribute(hits[0]!.schema.attributes, name);
      }
    }
  } else {
    const schema = findExtension(type, urn);
    if (!schema) return undefined;
    extension = schema.id;
    attribute = findAttribute(schema.attributes, name);
  }
  if (!attribute) return undefined;
  if (sub === undefined) return { extension, attribute, subAttribute: undefined };
  if (sub.includes('.')) return undefined;
  const subAttribute = findSubAttribute(attribute, sub);
  return subAttribute ? { extension, attribute, subAttribute } : undefined;
}

/** Reads the container object of a path's schema: the resource itself, or its extension object. */
export function readContainer(
  resource: ScimResource,
  extension: string | undefined,
): Record<string, unknown> | undefined {
  if (extension === undefined) return resource;
  const value = getKey(resource, extension);
  return isPlainObject(value) ? value : undefined;
}

/** Reads `obj[name]` with a case-insensitive key match (RFC 7643 §2.1), exact match first. */
export function getKey(obj: Record<string, unknown>, name: string): unknown {
  if (Object.hasOwn(obj, name)) return obj[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(obj)) if (key.toLowerCase() === lower) return obj[key];
  return undefined;
}

/** True for a non-null, non-array object. */
export function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** Limits on incoming resources, so a single request cannot exhaust memory or the store. */
export const SCIM_VALUE_LIMITS = {
  /** Characters in one string value. */
  maxStringLength: 8192,
  /** Values of one multi-valued attribute (a group's members included). */
  maxMultiValues: 10_000,
};

// RFC 7643 §2.3.5: xsd:dateTime, a date and a time with an optional offset.
const DATE_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})?$/;
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/** True when `value` is an xsd:dateTime that names a real instant. */
export function isDateTime(value: string): boolean {
  return DATE_TIME.test(value) && !Number.isNaN(Date.parse(value));
}

/**
 * Converts one value to an attribute's type, or throws `invalidValue` naming the attribute.
 * Booleans also come as the strings "True"/"False": Microsoft Entra ID sends them so in PATCH
 * (its documented non-compliance, fixed only behind the `aadOptscim062020` flag), so they
 * are accepted case-insensitively.
 */
export function coerceSimpleValue(attribute: ScimAttribute, value: unknown, label: string): unknown {
  switch (attribute.type) {
    case 'boolean':
      if (typeof value === 'boolean') return value;
      if (typeof value === 'string' && /^(true|false)$/i.test(value.trim())) {
        return value.trim().toLowerCase() === 'true';
      }
      break;
    case 'integer':
      if (typeof value === 'number' && Number.isSafeInteger(value)) return value;
      break;
    case 'decimal':
      if (typeof value === 'number' && Number.isFinite(value)) return value;
      break;
    case 'dateTime':
      if (typeof value === 'string' && isDateTime(value)) return value;
      break;
    case 'binary':
      if (typeof value === 'string' && BASE64.test(value)) return checkLength(value, label);
      break;
    case 'string':
    case 'reference':
      if (typeof value === 'string') return checkLength(value, label);
      break;
    case 'complex':
      break;
  }
  throw new ScimError(
    'invalidValue',
    `Attribute "${label}" must be of type ${attribute.type}; got ${describeValueType(value)}.`,
  );
}

function checkLength(value: string, label: string): string {
  if (value.length > SCIM_VALUE_LIMITS.maxStringLength) {
    throw new ScimError(
      'invalidValue',
      `Attribute "${label}" is ${value.length} characters long; the limit is ${SCIM_VALUE_LIMITS.maxStringLength}.`,
    );
  }
  return value;
}

/** A short description of a JSON value for error messages (never the value itself, it may be secret). */
export function describeValueType(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  if (typeof value === 'string') return 'a string';
  return typeof value === 'object' ? 'an object' : `a ${typeof value}`;
}

/**
 * True when a value is unassigned in the sense of RFC 7643 §2.5: null, an empty array, an empty
 * string or an object with no assigned sub-attribute. Unassigned values are dropped.
 */
export function isUnassigned(value: unknown): boolean {
  if (value === null || value === undefined || value === '') return true;
  if (Array.isArray(value)) return value.length === 0;
  if (isPlainObject(value)) return Object.values(value).every(isUnassigned);
  return false;
}

/** How to treat input attributes that no schema defines. */
export type UnknownAttributePolicy = 'ignore' | 'reject';

/** Options for {@link normalizeAttributeValue} and the resource validator. */
export interface NormalizeOptions {
  /** RFC 7644 §3.3 lets the service provider ignore posted content; default 'ignore'. */
  unknownAttributes?: UnknownAttributePolicy;
  /** Drop readOnly attributes silently (POST/PUT, RFC 7644 §3.3, §3.5.1) instead of refusing them. */
  readOnly?: 'ignore' | 'reject';
}

/**
 * Normalizes the value of one attribute to its canonical form: canonical sub-attribute names,
 * typed values, arrays for multi-valued attributes, unassigned values dropped. Returns
 * undefined for an unassigned value. IdP leniencies, each deliberate: a single object for a
 * multi-valued attribute becomes a one-element array; a one-element array for a single-valued
 * complex attribute is unwrapped (Entra ID sends `manager` as `[{"value": …}]`); a bare string
 * for a complex attribute with a `value` sub-attribute becomes `{ value }`.
 */
export function normalizeAttributeValue(
  attribute: ScimAttribute,
  value: unknown,
  label: string,
  options: NormalizeOptions = {},
): unknown {
  if (isUnassigned(value)) return undefined;
  if (attribute.multiValued) {
    const list = Array.isArray(value) ? value : [value];
    if (list.length > SCIM_VALUE_LIMITS.maxMultiValues) {
      throw new ScimError(
        'invalidValue',
        `Attribute "${label}" has ${list.length} values; the limit is ${SCIM_VALUE_LIMITS.maxMultiValues}.`,
      );
    }
    const out: unknown[] = [];
    for (const item of list) {
      const v = normalizeSingle(attribute, item, label, options);
      if (v !== undefined) out.push(v);
    }
    if (attribute.type === 'complex') {
      const primaries = out.filter((v) => isPlainObject(v) && v.primary === true).length;
      // RFC 7643 §2.4: the primary value "true" MUST appear no more than once.
      if (primaries > 1) {
        throw new ScimError('invalidValue', `Attribute "${label}" has more than one value marked primary.`);
      }
    }
    return out.length > 0 ? out : undefined;
  }
  if (Array.isArray(value)) {
    if (attribute.type === 'complex' && value.length === 1)
      return normalizeSingle(attribute, value[0], label, options);
    throw new ScimError('invalidValue', `Attribute "${label}" is single-valued; got an array.`);
  }
  return normalizeSingle(attribute, value, label, options);
}

function normalizeSingle(
  attribute: ScimAttribute,
  value: unknown,
  label: string,
  options: NormalizeOptions,
): unknown {
  if (isUnassigned(value)) return undefined;
  if (attribute.type !== 'complex') return coerceSimpleValue(attribute, value, label);
  let obj = value;
  if (!isPlainObject(obj)) {
    if (findSubAttribute(attribute, 'value') && typeof obj === 'string') {
      obj = { value: String(obj) };
    } else {
      throw new ScimError(
        'invalidValue',
        `Attribute "${label}" must be a complex value (an object); got ${describeValueType(value)}.`,
      );
    }
  }
  const out: Record<string, unknown> = {};
  for (const [key, raw] of Object.entries(obj as Record<string, unknown>)) {
    const sub = findSubAttribute(attribute, key);
    if (!sub) {
      if (options.unknownAttributes === 'reject') {
        throw new ScimError('invalidValue', `Attribute "${label}" has no sub-attribute "${key}".`);
      }
      continue;
    }
    if (sub.mutability === 'readOnly' && attribute.mutability !== 'readOnly' && options.readOnly !== 'reject')
      continue;
    const v = normalizeSingle({ ...sub, multiValued: false }, raw, `${label}.${sub.name}`, options);
    if (v !== undefined) out[sub.name] = v;
  }
  return Object.keys(out).length > 0 ? out : undefined;
}
