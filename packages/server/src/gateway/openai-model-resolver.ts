import type { IncomingHttpHeaders, IncomingMessage } from 'node:http';
import { InputError, NotFoundError } from '../errors.js';
import { DEFAULT_MAX_INSPECTED_BODY_BYTES, readBoundedBody } from './bounded-body.js';
import { UnsupportedMediaTypeError } from './gateway-errors.js';
import { type FormPart, parseHeaderParameters, parseMultipartForm } from './multipart-form.js';
import { parseStrictJson } from './strict-json.js';

/**
 * Where a request can name a model. Every place is read; if two places name different models
 * the request is refused, never guessed (peers were bypassed exactly here: a body model
 * checked while a query model was served, BerriAI/litellm#41810; a path model never checked,
 * #9913, #41295, #26399).
 */
export type ModelPlace = 'path' | 'query' | 'header' | 'body' | 'batch-file';

/** One naming of a model, with where it was found (e.g. `query:model`, `body:body.model`). */
export interface ModelMention {
  readonly place: ModelPlace;
  readonly location: string;
  readonly model: string;
}

/** How the body of a route is read to find the model. */
export type RouteBody = 'none' | 'json' | 'form';

/** A recognised OpenAI-compatible route. */
export interface OpenAiRoute {
  /** The route's canonical name, e.g. `chat/completions`, `models/{model}`, `files`. */
  readonly name: string;
  /** True when the route runs a model and must name one; false for list/file/batch bookkeeping. */
  readonly requiresModel: boolean;
  readonly body: RouteBody;
  /** The model named by the path (`/v1/models/{m}`, `/openai/deployments/{m}/…`, `/v1/engines/{m}/…`). */
  readonly pathModel?: string;
}

/** The outcome: the route, and the one model the request names (undefined for model-less routes). */
export interface ModelResolution {
  readonly route: OpenAiRoute;
  readonly model: string | undefined;
  readonly mentions: readonly ModelMention[];
}

/** The inputs of {@link resolveOpenAiModel}: plain values, no server objects. */
export interface ModelRequest {
  readonly method: string;
  /** Path and query below the endpoint, starting with `/` (e.g. `/v1/chat/completions?x=1`). */
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  /** The whole body, for routes whose {@link OpenAiRoute.body} is not `none`. */
  readonly body?: Buffer;
}

/**
 * Request headers that some proxies and servers honour as the model. They are read like any
 * other place (and must agree with the rest); the gateway does not strip them.
 */
export const MODEL_HEADERS = ['model', 'x-model', 'x-model-id', 'x-model-name', 'openai-model'] as const;

const METHOD_OVERRIDE_HEADERS = ['x-http-method-override', 'x-http-method', 'x-method-override'] as const;

/** Member names that name a model in a JSON object or form. */
const MODEL_KEYS = ['model', 'model_id', 'modelId'] as const;
const MODEL_KEYS_LOWER = new Set(MODEL_KEYS.map((k) => k.toLowerCase()));

/**
 * A model name the gateway will authorize: ASCII letters, digits and `._:/@+=-`, starting
 * with a letter or digit, at most 256, no empty or dot path segments. Anything else (spaces,
 * control characters, non-ASCII look-alikes such as Cyrillic 'а' or full-width letters,
 * zero-width characters) is refused rather than normalised: normalising here while the
 * upstream compares differently would reopen the bypass.
 */
const MODEL_NAME = /^[A-Za-z0-9][A-Za-z0-9._:/@+=-]{0,255}$/;

function checkModelName(value: unknown, location: string): string {
  if (typeof value !== 'string') {
    throw new InputError(
      `The model named in ${location} must be a string, got ${value === null ? 'null' : typeof value}.`,
      {
        code: 'ERR_INVALID_MODEL_NAME',
      },
    );
  }
  const segments = value.split('/');
  if (!MODEL_NAME.test(value) || segments.some((s) => s === '' || s === '.' || s === '..')) {
    throw new InputError(
      `The model named in ${location} is not an acceptable model name: use ASCII letters, digits and . _ : / @ + = - only.`,
      { code: 'ERR_INVALID_MODEL_NAME' },
    );
  }
  return value;
}

type RouteSpec = { body: RouteBody; requiresModel: boolean; methods: readonly string[] };

const POST_JSON: RouteSpec = { body: 'json', requiresModel: true, methods: ['POST'] };
const POST_FORM: RouteSpec = { body: 'form', requiresModel: true, methods: ['POST'] };

/** Routes that run a model, reachable also below `/openai/deployments/{m}/` and `/v1/engines/{m}/`. */
const MODEL_ROUTES: Record<string, RouteSpec> = {
  'chat/completions': POST_JSON,
  completions: POST_JSON,
  embeddings: POST_JSON,
  responses: POST_JSON,
  messages: POST_JSON,
  'messages/count_tokens': POST_JSON,
  moderations: POST_JSON,
  'images/generations': POST_JSON,
  'audio/speech': POST_JSON,
  rerank: POST_JSON,
  score: POST_JSON,
  classify: POST_JSON,
  pooling: POST_JSON,
  tokenize: POST_JSON,
  detokenize: POST_JSON,
  invocations: POST_JSON,
  'audio/transcriptions': POST_FORM,
  'audio/translations': POST_FORM,
  'images/edits': POST_FORM,
  'images/variations': POST_FORM,
};

/** Bookkeeping routes that name no model by themselves (a model named anyway is still checked). */
const MODEL_LESS_ROUTES: Array<{ pattern: RegExp; name: string; spec: RouteSpec }> = [
  { pattern: /^models$/, name: 'models', spec: { body: 'none', requiresModel: false, methods: ['GET'] } },
  { pattern: /^files$/, name: 'files', spec: { body: 'form', requiresModel: false, methods: ['POST'] } },
  { pattern: /^files$/, name: 'files', spec: { body: 'none', requiresModel: false, methods: ['GET'] } },
  {
    pattern: /^files\/[^/]+$/,
    name: 'files/{id}',
    spec: { body: 'none', requiresModel: false, methods: ['GET', 'DELETE'] },
  },
  {
    pattern: /^files\/[^/]+\/content$/,
    name: 'files/{id}/content',
    spec: { body: 'none', requiresModel: false, methods: ['GET'] },
  },
  { pattern: /^batches$/, name: 'batches', spec: { body: 'json', requiresModel: false, methods: ['POST'] } },
  { pattern: /^batches$/, name: 'batches', spec: { body: 'none', requiresModel: false, methods: ['GET'] } },
  {
    pattern: /^batches\/[^/]+$/,
    name: 'batches/{id}',
    spec: { body: 'none', requiresModel: false, methods: ['GET'] },
  },
  {
    pattern: /^batches\/[^/]+\/cancel$/,
    name: 'batches/{id}/cancel',
    spec: { body: 'none', requiresModel: false, methods: ['POST'] },
  },
  {
    pattern: /^responses\/[^/]+$/,
    name: 'responses/{id}',
    spec: { body: 'none', requiresModel: false, methods: ['GET', 'DELETE'] },
  },
  {
    pattern: /^responses\/[^/]+\/(cancel|input_items)$/,
    name: 'responses/{id}/…',
    spec: { body: 'none', requiresModel: false, methods: ['GET', 'POST'] },
  },
  {
    pattern: /^fine_tuning\/jobs$/,
    name: 'fine_tuning/jobs',
    spec: { body: 'json', requiresModel: true, methods: ['POST'] },
  },
  {
    pattern: /^fine_tuning\/jobs$/,
    name: 'fine_tuning/jobs',
    spec: { body: 'none', requiresModel: false, methods: ['GET'] },
  },
  {
    pattern: /^fine_tuning\/jobs\/[^/]+(\/(cancel|events|checkpoints))?$/,
    name: 'fine_tuning/jobs/{id}',
    spec: { body: 'none', requiresModel: false, methods: ['GET', 'POST'] },
  },
  {
    pattern: /^(health|ping|version)$/,
    name: 'health',
    spec: { body: 'none', requiresModel: false, methods: ['GET'] },
  },
];

function unknownRoute(method: string, path: string): never {
  throw new NotFoundError(
    `${method} ${path} is not a route of an OpenAI-compatible endpoint that the gateway can check; only known routes are forwarded.`,
    { code: 'ERR_UNKNOWN_ROUTE' },
  );
}

/**
 * Splits and vets the path: refuses encoded slashes, backslashes and dots, dot segments,
 * empty segments, `;` parameters and non-ASCII, then percent-decodes each segment (servers
 * such as Starlette route on the decoded path, so the gateway must too).
 */
function decodePath(path: string): string[] {
  if (!path.startsWith('/') || /%(2f|5c|2e|00)|[\\;#]|[^\x21-\x7e]/i.test(path)) {
    throw new InputError(
      'The request path contains characters the gateway does not forward (encoded /, \\ or ., ;, or non-ASCII).',
      {
        code: 'ERR_INVALID_PATH',
      },
    );
  }
  const segments = path.slice(1).split('/');
  return segments.map((segment) => {
    if (segment === '' || segment === '.' || segment === '..') {
      throw new InputError('The request path has an empty or dot segment; send the canonical path.', {
        code: 'ERR_INVALID_PATH',
      });
    }
    try {
      return decodeURIComponent(segment);
    } catch {
      throw new InputError('The request path has a malformed percent-escape.', { code: 'ERR_INVALID_PATH' });
    }
  });
}

function routeFromSpec(
  name: string,
  spec: RouteSpec,
  method: string,
  path: string,
  pathModel?: string,
): OpenAiRoute {
  if (!spec.methods.includes(method)) unknownRoute(method, path);
  return {
    name,
    body: spec.body,
    requiresModel: spec.requiresModel || pathModel !== undefined,
    ...(pathModel !== undefined ? { pathModel: checkModelName(pathModel, 'the path') } : {}),
  };
}

/**
 * Recognises an OpenAI-compatible route (with or without a `/v1` or `/openai/v1` prefix, and
 * the Azure `/openai/deployments/{model}/…` and legacy `/v1/engines/{model}/…` forms).
 * Anything else is refused (NotFoundError, ERR_UNKNOWN_ROUTE): a route the gateway cannot
 * read the model of must not reach a model.
 */
export function classifyOpenAiRoute(method: string, url: string): OpenAiRoute {
  const m = method.toUpperCase();
  const q = url.indexOf('?');
  const path = q < 0 ? url : url.slice(0, q);
  let segments = decodePath(path);
  if (segments[0] === 'openai' && segments[1] === 'deployments' && segments.length >= 4) {
    const rest = segments.slice(3).join('/');
    const spec = MODEL_ROUTES[rest];
    if (!spec) unknownRoute(m, path);
    return routeFromSpec(rest, spec, m, path, segments[2]);
  }
  if (segments[0] === 'openai' && segments[1] === 'v1') segments = segments.slice(2);
  else if (segments[0] === 'v1') segments = segments.slice(1);
  if (segments[0] === 'engines' && segments.length >= 3) {
    const rest = segments.slice(2).join('/');
    const spec = MODEL_ROUTES[rest];
    if (!spec) unknownRoute(m, path);
    return routeFromSpec(rest, spec, m, path, segments[1]);
  }
  if (segments[0] === 'models' && segments.length >= 2) {
    // Model ids may contain '/', e.g. GET /v1/models/meta-llama/Llama-3.1-8B-Instruct.
    return routeFromSpec(
      'models/{model}',
      { body: 'none', requiresModel: true, methods: ['GET', 'DELETE'] },
      m,
      path,
      segments.slice(1).join('/'),
    );
  }
  const rest = segments.join('/');
  const spec = MODEL_ROUTES[rest];
  if (spec) return routeFromSpec(rest, spec, m, path);
  const candidates = MODEL_LESS_ROUTES.filter((r) => r.pattern.test(rest));
  if (candidates.length === 0) unknownRoute(m, path);
  const match = candidates.find((r) => r.spec.methods.includes(m));
  if (!match) unknownRoute(m, path);
  return routeFromSpec(match.name, match.spec, m, path);
}

/** True when the request carries a body (RFC 9112 §6.3: Transfer-Encoding or a non-zero Content-Length). */
export function requestHasBody(headers: IncomingHttpHeaders): boolean {
  if (headers['transfer-encoding'] !== undefined) return true;
  const length = headers['content-length'];
  return length !== undefined && length !== '0';
}

function mentionsInObject(value: unknown, prefix: string, place: ModelPlace, out: ModelMention[]): void {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new InputError(`${prefix === '' ? 'The JSON body' : `'${prefix}'`} must be an object.`, {
      code: 'ERR_INVALID_BODY',
    });
  }
  const record = value as Record<string, unknown>;
  for (const key of Object.keys(record)) {
    const lower = key.toLowerCase();
    if (MODEL_KEYS_LOWER.has(lower) && !(MODEL_KEYS as readonly string[]).includes(key)) {
      // 'Model' or 'MODEL': some parsers fold case, some do not; refuse rather than guess.
      throw new InputError(
        `The body names a model under '${prefix}${key}'; use the exact member name 'model'.`,
        {
          code: 'ERR_AMBIGUOUS_MODEL',
        },
      );
    }
  }
  for (const key of MODEL_KEYS) {
    if (Object.hasOwn(record, key)) {
      const location = `${place}:${prefix}${key}`;
      out.push({ place, location, model: checkModelName(record[key], location) });
    }
  }
  // Nested request shapes: batch lines ({"body":{"model":…}}) and SDK pass-through (extra_body).
  for (const nested of ['body', 'extra_body']) {
    const inner = record[nested];
    if (typeof inner === 'object' && inner !== null && !Array.isArray(inner)) {
      mentionsInObject(inner, `${prefix}${nested}.`, place, out);
    }
  }
}

function mentionsInJson(body: Buffer, out: ModelMention[]): void {
  const value = parseStrictJson(body);
  if (Array.isArray(value)) {
    // Array (batch) forms: every element is a request and every element's model counts.
    value.forEach((element, i) => {
      mentionsInObject(element, `[${i}].`, 'body', out);
    });
  } else mentionsInObject(value, '', 'body', out);
}

function formFieldMentions(
  fields: Array<{ name: string; value: string | Buffer; isFile: boolean }>,
  out: ModelMention[],
): void {
  for (const field of fields) {
    const lower = field.name.trim().toLowerCase();
    if (!MODEL_KEYS_LOWER.has(lower)) continue;
    if (!(MODEL_KEYS as readonly string[]).includes(field.name)) {
      throw new InputError(
        `The form names a model under '${field.name}'; use the exact field name 'model'.`,
        {
          code: 'ERR_AMBIGUOUS_MODEL',
        },
      );
    }
    if (field.isFile) {
      throw new InputError(`The form field '${field.name}' must be a plain value, not a file.`, {
        code: 'ERR_INVALID_MODEL_NAME',
      });
    }
    const text =
      typeof field.value === 'string' ? field.value : decodeUtf8(field.value, `form:${field.name}`);
    const location = `body:${field.name}`;
    out.push({ place: 'body', location, model: checkModelName(text, location) });
  }
}

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
function decodeUtf8(bytes: Buffer, location: string): string {
  try {
    return UTF8.decode(bytes);
  } catch {
    throw new InputError(`The value of ${location} is not valid UTF-8.`, { code: 'ERR_INVALID_MODEL_NAME' });
  }
}

/**
 * The models a batch input file names: each JSONL line is `{custom_id, method, url, body}`
 * and `body.model` is the model that line runs. All lines must name one and the same model.
 */
function batchFileMentions(file: FormPart, out: ModelMention[]): void {
  const lines = file.data.toString('latin1').split('\n');
  let offset = 0;
  lines.forEach((line, i) => {
    const bytes = file.data.subarray(offset, offset + line.length);
    offset += line.length + 1;
    if (line.trim() === '') return;
    const value = parseStrictJson(bytes, `Line ${i + 1} of the batch file`);
    const before = out.length;
    mentionsInObject(value, '', 'batch-file', out);
    for (let j = before; j < out.length; j++) {
      const mention = out[j] as ModelMention;
      out[j] = {
        ...mention,
        location: `batch-file:line ${i + 1}:${mention.location.slice('batch-file:'.length)}`,
      };
    }
    if (out.length === before) {
      throw new InputError(`Line ${i + 1} of the batch file names no model (body.model).`, {
        code: 'ERR_MODEL_REQUIRED',
      });
    }
  });
}

function mentionsInForm(body: Buffer, contentType: string, routeName: string, out: ModelMention[]): void {
  const { value: mediaType } = parseHeaderParameters(contentType);
  if (mediaType === 'application/x-www-form-urlencoded') {
    const text = decodeUtf8(body, 'the form body');
    const fields = [...new URLSearchParams(text)].map(([name, value]) => ({ name, value, isFile: false }));
    formFieldMentions(fields, out);
    return;
  }
  if (mediaType !== 'multipart/form-data') {
    throw new UnsupportedMediaTypeError(
      `This route takes multipart/form-data, not '${mediaType || 'no content type'}'.`,
    );
  }
  const parts = parseMultipartForm(body, contentType);
  formFieldMentions(
    parts.map((p) => ({ name: p.name, value: p.data, isFile: p.filename !== undefined })),
    out,
  );
  if (routeName === 'files') {
    const purpose = parts.filter((p) => p.name === 'purpose');
    const files = parts.filter((p) => p.name === 'file');
    if (purpose.length > 1 || files.length > 1) {
      throw new InputError("Send the 'purpose' and 'file' fields once each.", { code: 'ERR_INVALID_BODY' });
    }
    if (purpose[0] && purpose[0].data.toString('latin1') === 'batch' && files[0])
      batchFileMentions(files[0], out);
  }
}

/**
 * Reads every place a request can name a model and returns the one model it names. Refuses
 * (InputError, 400) when places disagree, a value is not a string or not a plain model name,
 * the JSON has duplicate members, or a model-running route names no model; refuses unknown
 * routes (NotFoundError, 404) and bodies on routes that take none.
 *
 * Places read: the path (`/v1/models/{m}`, `/openai/deployments/{m}/…`, `/v1/engines/{m}/…`);
 * every `model` query parameter (any letter case); the headers in {@link MODEL_HEADERS};
 * JSON bodies' `model`/`model_id`/`modelId`, also under `body.` (batch lines) and
 * `extra_body.`, and in every element of an array body; form fields of those names
 * (multipart or urlencoded); and, for a `purpose=batch` upload to `/v1/files`, every line's
 * `body.model`. `POST /v1/batches` names only a file id: it resolves to no model, and the
 * caller must be authorized for the whole endpoint (see docs/gateway.md).
 */
export function resolveOpenAiModel(request: ModelRequest): ModelResolution {
  const route = classifyOpenAiRoute(request.method, request.url);
  for (const name of METHOD_OVERRIDE_HEADERS) {
    // Some frameworks run a different method than the one the gateway classified.
    if (request.headers[name] !== undefined) {
      throw new InputError(`The ${name} header is not accepted on this endpoint; send the real method.`, {
        code: 'ERR_INVALID_HEADER',
      });
    }
  }
  const encoding = request.headers['content-encoding'];
  if (route.body !== 'none' && encoding !== undefined && encoding.trim().toLowerCase() !== 'identity') {
    // A compressed body cannot be inspected, and an upstream that inflates it would read another model.
    throw new UnsupportedMediaTypeError(
      `This route takes an uncompressed body, not Content-Encoding '${encoding}'.`,
    );
  }
  const mentions: ModelMention[] = [];
  if (route.pathModel !== undefined)
    mentions.push({ place: 'path', location: 'path', model: route.pathModel });
  const q = request.url.indexOf('?');
  if (q >= 0) {
    for (const [name, value] of new URLSearchParams(request.url.slice(q + 1))) {
      if (!MODEL_KEYS_LOWER.has(name.trim().toLowerCase())) continue;
      const location = `query:${name}`;
      mentions.push({ place: 'query', location, model: checkModelName(value, location) });
    }
  }
  for (const name of MODEL_HEADERS) {
    const value = request.headers[name];
    if (value === undefined) continue;
    for (const v of Array.isArray(value) ? value : [value]) {
      const location = `header:${name}`;
      mentions.push({ place: 'header', location, model: checkModelName(v, location) });
    }
  }
  if (route.body === 'none') {
    if (requestHasBody(request.headers) || (request.body !== undefined && request.body.length > 0)) {
      throw new InputError(`${route.name} takes no request body.`, { code: 'ERR_INVALID_BODY' });
    }
  } else {
    const body = request.body ?? Buffer.alloc(0);
    if (route.body === 'json') {
      if (body.length > 0 || route.requiresModel) mentionsInJson(body, mentions);
    } else {
      mentionsInForm(body, request.headers['content-type'] ?? '', route.name, mentions);
    }
  }
  const distinct = new Set(mentions.map((m) => m.model));
  if (distinct.size > 1) {
    const where = mentions.map((m) => `${m.location}='${m.model}'`).join(', ');
    throw new InputError(`The request names more than one model (${where}); name exactly one.`, {
      code: 'ERR_AMBIGUOUS_MODEL',
    });
  }
  const model = mentions[0]?.model;
  if (model === undefined && route.requiresModel) {
    throw new InputError(`${route.name} must name a model (the 'model' field).`, {
      code: 'ERR_MODEL_REQUIRED',
    });
  }
  return { route, model, mentions };
}

/**
 * Classifies the route, reads the body when the route needs it (bounded: PayloadTooLargeError,
 * 413, beyond `maxBodyBytes`), and resolves the model. The returned `body` is the exact bytes
 * to forward (pass it as `ForwardRequest.body`); it is undefined when the body was not read.
 */
export async function readAndResolveOpenAiModel(
  req: IncomingMessage,
  url: string,
  maxBodyBytes = DEFAULT_MAX_INSPECTED_BODY_BYTES,
): Promise<ModelResolution & { body: Buffer | undefined }> {
  const method = req.method ?? 'GET';
  const route = classifyOpenAiRoute(method, url);
  const body =
    route.body !== 'none' && requestHasBody(req.headers)
      ? await readBoundedBody(req, maxBodyBytes)
      : undefined;
  const resolution = resolveOpenAiModel({ method, url, headers: req.headers, ...(body ? { body } : {}) });
  return { ...resolution, body };
}
