import { SCIM_LIST_LIMITS, buildListResponse, type ScimListResponse } from './scim-list.js';
import { SCIM_FILTER_LIMITS } from './scim-filter.js';
import { SCIM_PATCH_LIMITS } from './scim-patch.js';
import {
  COMMON_ATTRIBUTES,
  SCIM_RESOURCE_TYPES,
  type ScimAttribute,
  type ScimResource,
  type ScimResourceType,
  type ScimSchema,
} from './scim-schema.js';

const SPC_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ServiceProviderConfig';
const RT_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:ResourceType';
const SCHEMA_SCHEMA = 'urn:ietf:params:scim:schemas:core:2.0:Schema';

/** Trims a trailing slash so `${base}/Users` never doubles it. */
function base(baseUrl: string): string {
  return baseUrl.replace(/\/+$/, '');
}

/**
 * The `/ServiceProviderConfig` document (RFC 7643 §5): what aiam supports. Bulk and password
 * change are not offered (aiam stores no passwords); authentication is a bearer provisioning
 * token.
 */
export function serviceProviderConfig(baseUrl: string): ScimResource {
  return {
    schemas: [SPC_SCHEMA],
    documentationUri: 'https://datatracker.ietf.org/doc/html/rfc7644',
    patch: { supported: true },
    bulk: { supported: false, maxOperations: 0, maxPayloadSize: 0 },
    filter: { supported: true, maxResults: SCIM_LIST_LIMITS.maxCount },
    changePassword: { supported: false },
    sort: { supported: true },
    etag: { supported: true },
    authenticationSchemes: [
      {
        type: 'oauthbearertoken',
        name: 'Provisioning token',
        description:
          'A bearer token created with `aiam scim-token create`; it can do nothing but provisioning.',
        primary: true,
      },
    ],
    meta: { resourceType: 'ServiceProviderConfig', location: `${base(baseUrl)}/ServiceProviderConfig` },
    // Not part of RFC 7643; informative, so clients can see the bounds before they hit them.
    'urn:aiam:params:scim:limits': {
      maxFilterLength: SCIM_FILTER_LIMITS.maxLength,
      maxPatchOperations: SCIM_PATCH_LIMITS.maxOperations,
    },
  };
}

/** One `/ResourceTypes/{id}` document (RFC 7643 §6). */
export function resourceTypeDocument(type: ScimResourceType, baseUrl: string): ScimResource {
  return {
    schemas: [RT_SCHEMA],
    id: type.id,
    name: type.name,
    endpoint: type.endpoint,
    description: type.description,
    schema: type.schema.id,
    schemaExtensions: type.extensions.map((e) => ({ schema: e.schema.id, required: e.required })),
    meta: { resourceType: 'ResourceType', location: `${base(baseUrl)}/ResourceTypes/${type.id}` },
  };
}

/** The `/ResourceTypes` list. */
export function resourceTypesList(baseUrl: string): ScimListResponse {
  const docs = Object.values(SCIM_RESOURCE_TYPES).map((t) => resourceTypeDocument(t, baseUrl));
  return buildListResponse(docs, docs.length, 1);
}

function attributeDocument(a: ScimAttribute): Record<string, unknown> {
  const doc: Record<string, unknown> = {
    name: a.name,
    type: a.type,
    multiValued: a.multiValued,
    description: a.description,
    required: a.required,
    caseExact: a.caseExact,
    mutability: a.mutability,
    returned: a.returned,
    uniqueness: a.uniqueness,
  };
  if (a.canonicalValues) doc.canonicalValues = a.canonicalValues;
  if (a.referenceTypes) doc.referenceTypes = a.referenceTypes;
  if (a.subAttributes) doc.subAttributes = a.subAttributes.map(attributeDocument);
  return doc;
}

/**
 * One `/Schemas/{urn}` document (RFC 7643 §7). The common attributes (id, externalId, meta)
 * are not listed: RFC 7643 §3.1 defines them for every resource outside any schema.
 */
export function schemaDocument(schema: ScimSchema, baseUrl: string): ScimResource {
  return {
    schemas: [SCHEMA_SCHEMA],
    id: schema.id,
    name: schema.name,
    description: schema.description,
    attributes: schema.attributes.map(attributeDocument),
    meta: { resourceType: 'Schema', location: `${base(baseUrl)}/Schemas/${schema.id}` },
  };
}

/** Every schema aiam serves, once each. */
export function allSchemas(): ScimSchema[] {
  const seen = new Map<string, ScimSchema>();
  for (const t of Object.values(SCIM_RESOURCE_TYPES)) {
    seen.set(t.schema.id, t.schema);
    for (const e of t.extensions) seen.set(e.schema.id, e.schema);
  }
  return [...seen.values()];
}

/** The `/Schemas` list (Entra ID requires a ListResponse here). */
export function schemasList(baseUrl: string): ScimListResponse {
  const docs = allSchemas().map((s) => schemaDocument(s, baseUrl));
  return buildListResponse(docs, docs.length, 1);
}

/** The common attributes, for documentation tools that want them. */
export const COMMON_ATTRIBUTE_DOCUMENTS = COMMON_ATTRIBUTES.map(attributeDocument);
