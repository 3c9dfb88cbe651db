import { findAction } from '@aiam/policy';
import { z } from 'zod';
import { API_PREFIX, type ApiRoute } from './api-route.js';
import { NAMED_SCHEMAS, PAGE_ITEMS } from './api-schemas.js';

/** The OpenAPI version the document follows (its schemas are JSON Schema 2020-12). */
export const OPENAPI_VERSION = '3.1.0';

const ErrorBody = z.object({
  error: z.object({
    code: z.string().describe('Stable error code, e.g. ERR_NOT_FOUND.'),
    message: z.string(),
    requestId: z.string(),
    decisionId: z.string().optional().describe('On 403: quote it to `GET /api/v1/decisions/{id}`.'),
  }),
});

type JsonObject = Record<string, unknown>;

// zod writes JavaScript's safe-integer range on every int; it says nothing to a reader.
function tidy(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(tidy);
  if (value === null || typeof value !== 'object') return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (
      (k === 'minimum' && v === Number.MIN_SAFE_INTEGER) ||
      (k === 'maximum' && v === Number.MAX_SAFE_INTEGER)
    )
      continue;
    out[k] = tidy(v);
  }
  return out;
}

function jsonSchema(schema: z.ZodType, io: 'input' | 'output'): JsonObject {
  const out = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as JsonObject;
  delete out.$schema;
  return tidy(out) as JsonObject;
}

function responseSchema(schema: z.ZodType): JsonObject {
  const name = NAMED_SCHEMAS.get(schema);
  if (name) return { $ref: `#/components/schemas/${name}` };
  const item = PAGE_ITEMS.get(schema);
  const itemName = item && NAMED_SCHEMAS.get(item);
  if (itemName) {
    return {
      type: 'object',
      properties: {
        items: { type: 'array', items: { $ref: `#/components/schemas/${itemName}` } },
        nextCursor: { type: 'string', description: 'Present when more items follow; pass it as `cursor`.' },
      },
      required: ['items'],
    };
  }
  return jsonSchema(schema, 'output');
}

const ERRORS: Record<string, string> = {
  '400': 'Invalid request (the message names the field).',
  '401': 'Not authenticated.',
  '403': 'Not authorized; carries a decisionId.',
  '404': 'No such entity.',
  '409': 'Conflict with the current state, or a limit reached.',
  '412': 'If-Match names a stale version.',
};

function errorResponse(status: string): JsonObject {
  return { $ref: `#/components/responses/Error${status}` };
}

/**
 * Builds the OpenAPI 3.1 document of the control plane from its route declarations: every
 * operation with its path and query parameters, request and response schemas (zod's JSON
 * Schema), its IAM action (`x-aiam-action`), ETag/If-Match where it applies, and the errors
 * every protected route can answer. Deterministic: same routes, same bytes.
 */
export function buildOpenApiDocument(routes: readonly ApiRoute[], version = '0.1.0'): JsonObject {
  const paths: Record<string, JsonObject> = {};
  for (const route of routes) {
    const path = API_PREFIX + route.path;
    const parameters: JsonObject[] = [];
    for (const [where, schema] of [
      ['path', route.params],
      ['query', route.query],
    ] as const) {
      if (!schema) continue;
      const js = jsonSchema(schema, 'input') as {
        properties?: Record<string, JsonObject>;
        required?: string[];
      };
      for (const [name, prop] of Object.entries(js.properties ?? {})) {
        const { description, ...rest } = prop;
        parameters.push({
          name,
          in: where,
          required: where === 'path' || (js.required ?? []).includes(name),
          ...(typeof description === 'string' ? { description } : {}),
          schema: rest,
        });
      }
    }
    if (route.conditional) {
      parameters.push({
        name: 'If-Match',
        in: 'header',
        required: false,
        description: 'The ETag (W/"N") of the version you read; a stale one is refused with 412.',
        schema: { type: 'string' },
      });
    }
    const status = String(route.status ?? (route.response ? 200 : 204));
    const success: JsonObject = { description: route.summary };
    if (route.response) success.content = { 'application/json': { schema: responseSchema(route.response) } };
    if (route.conditional || route.method === 'GET')
      success.headers = { ETag: { description: 'The entity version, W/"N".', schema: { type: 'string' } } };
    const responses: JsonObject = {
      [status]: success,
      '400': errorResponse('400'),
      '401': errorResponse('401'),
      '403': errorResponse('403'),
      '404': errorResponse('404'),
    };
    if (route.method !== 'GET') responses['409'] = errorResponse('409');
    if (route.conditional) responses['412'] = errorResponse('412');
    const op: JsonObject = {
      operationId: route.operationId,
      summary: route.summary,
      tags: [route.tag],
      'x-aiam-action': route.action,
      ...(findAction(route.action)?.accessLevel
        ? { 'x-aiam-access-level': findAction(route.action)!.accessLevel }
        : {}),
      ...(parameters.length ? { parameters } : {}),
      ...(route.body
        ? {
            requestBody: {
              required: true,
              content: { 'application/json': { schema: jsonSchema(route.body, 'input') } },
            },
          }
        : {}),
      responses,
    };
    paths[path] ??= {};
    paths[path][route.method.toLowerCase()] = op;
  }
  const sortedPaths = Object.fromEntries(
    Object.keys(paths)
      .sort()
      .map((p) => [p, paths[p]]),
  );
  return {
    openapi: OPENAPI_VERSION,
    info: {
      title: 'aiam control plane',
      version,
      description:
        'Identity and access management for AI models and data. Every operation is authorized by the policy engine on the action named in x-aiam-action; sign requests with AWS Signature V4 (service "aiam") or send an aiam bearer key.',
    },
    servers: [{ url: '/' }],
    security: [{ sigv4: [] }, { bearer: [] }],
    components: {
      securitySchemes: {
        sigv4: {
          type: 'apiKey',
          in: 'header',
          name: 'Authorization',
          description: 'AWS Signature Version 4 (service "aiam", any region).',
        },
        bearer: { type: 'http', scheme: 'bearer' },
      },
      schemas: {
        Error: jsonSchema(ErrorBody, 'output'),
        ...Object.fromEntries(
          [...NAMED_SCHEMAS].map(([schema, name]) => [name, jsonSchema(schema, 'output')] as const),
        ),
      },
      responses: Object.fromEntries(
        Object.entries(ERRORS).map(([code, description]) => [
          `Error${code}`,
          {
            description,
            content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
          },
        ]),
      ),
    },
    paths: sortedPaths,
  };
}
