import { InputError } from '../errors.js';

/** HTTP methods a route can declare. */
export type HttpMethod = 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE' | 'OPTIONS';

/** Every method, for validation. */
export const HTTP_METHODS: readonly HttpMethod[] = [
  'GET',
  'HEAD',
  'POST',
  'PUT',
  'PATCH',
  'DELETE',
  'OPTIONS',
];

/** A template that is not well formed (`/users/{name`, two params of one name, …). */
export class RouteTemplateError extends Error {
  override readonly name = 'RouteTemplateError';
}

/** What the router found for a request. */
export type RouteMatch<T> =
  | { readonly kind: 'found'; readonly value: T; readonly params: Readonly<Record<string, string>> }
  | { readonly kind: 'not-found' }
  | { readonly kind: 'method-not-allowed'; readonly allow: readonly string[] };

type Segment = { readonly literal: string } | { readonly param: string; readonly greedy: boolean };

interface Compiled<T> {
  readonly template: string;
  readonly segments: readonly Segment[];
  readonly greedy: boolean;
  readonly byMethod: Map<string, T>;
  /** Literal segments count: more literal = more specific, tried first. */
  readonly specificity: number;
}

const PARAM = /^\{([a-zA-Z_][a-zA-Z0-9_]*)(\+)?\}$/;

function compileTemplate(template: string): Segment[] {
  if (!template.startsWith('/')) throw new RouteTemplateError(`route "${template}" must start with "/"`);
  const parts = template === '/' ? [''] : template.slice(1).split('/');
  const names = new Set<string>();
  return parts.map((part, i) => {
    const m = PARAM.exec(part);
    if (m) {
      const name = m[1]!;
      if (names.has(name)) throw new RouteTemplateError(`route "${template}" names {${name}} twice`);
      names.add(name);
      const greedy = m[2] === '+';
      if (greedy && i !== parts.length - 1) {
        throw new RouteTemplateError(`route "${template}": only the last segment may be {${name}+}`);
      }
      return { param: name, greedy };
    }
    if (/[{}]/.test(part))
      throw new RouteTemplateError(`route "${template}" has a malformed segment "${part}"`);
    return { literal: part };
  });
}

/**
 * A router over path templates (`/users/{name}`, `/objects/{key+}` for the rest of the path),
 * compiled once. Static paths are found with one map read; templated ones by segment count,
 * most literal segments first, so `/users/me` wins over `/users/{name}`. Parameter values are
 * percent-decoded; an undecodable one is an `InputError` (400), not a crash.
 *
 * @example
 * const r = new Router<string>();
 * r.add('GET', '/users/{name}', 'getUser');
 * r.match('GET', '/users/alice'); // { kind: 'found', value: 'getUser', params: { name: 'alice' } }
 * r.match('PUT', '/users/alice'); // { kind: 'method-not-allowed', allow: ['GET', 'HEAD'] }
 */
export class Router<T> {
  readonly #static = new Map<string, Compiled<T>>();
  readonly #bySegments = new Map<number, Compiled<T>[]>();
  readonly #greedy: Compiled<T>[] = [];
  readonly #templates = new Map<string, Compiled<T>>();

  /** Adds a route. Throws `RouteTemplateError` for a bad template or a duplicate method + path. */
  add(method: HttpMethod, template: string, value: T): void {
    if (!HTTP_METHODS.includes(method)) throw new RouteTemplateError(`unknown method "${method}"`);
    const segments = compileTemplate(template);
    // Two templates differing only in parameter names would shadow each other.
    const shape = segments.map((s) => ('literal' in s ? s.literal : s.greedy ? '{+}' : '{}')).join('/');
    let compiled = this.#templates.get(shape);
    if (compiled === undefined) {
      const greedy = segments.some((s) => 'param' in s && s.greedy);
      compiled = {
        template,
        segments,
        greedy,
        byMethod: new Map(),
        specificity: segments.filter((s) => 'literal' in s).length,
      };
      this.#templates.set(shape, compiled);
      if (segments.every((s) => 'literal' in s)) this.#static.set(template, compiled);
      else if (greedy) this.#insert(this.#greedy, compiled);
      else {
        const list = this.#bySegments.get(segments.length) ?? [];
        this.#insert(list, compiled);
        this.#bySegments.set(segments.length, list);
      }
    } else if (compiled.template !== template) {
      throw new RouteTemplateError(`route "${template}" has the same shape as "${compiled.template}"`);
    }
    if (compiled.byMethod.has(method))
      throw new RouteTemplateError(`route ${method} ${template} is defined twice`);
    compiled.byMethod.set(method, value);
  }

  /** Finds the route for `method` and a raw (still percent-encoded) `path` without its query. */
  match(method: string, path: string): RouteMatch<T> {
    const hit = this.#static.get(path);
    if (hit !== undefined) return this.#pick(hit, method, EMPTY);
    const parts = path === '/' ? [''] : path.slice(1).split('/');
    if (path.charCodeAt(0) !== 0x2f) return NOT_FOUND;
    for (const c of this.#bySegments.get(parts.length) ?? []) {
      const params = this.#bind(c, parts);
      if (params) return this.#pick(c, method, params);
    }
    for (const c of this.#greedy) {
      if (parts.length < c.segments.length) continue;
      const params = this.#bind(c, parts);
      if (params) return this.#pick(c, method, params);
    }
    return NOT_FOUND;
  }

  /** Every route as [method, template, value], in insertion order per template. */
  *entries(): Iterable<[HttpMethod, string, T]> {
    for (const c of this.#templates.values()) {
      for (const [m, v] of c.byMethod) yield [m as HttpMethod, c.template, v];
    }
  }

  #insert(list: Compiled<T>[], c: Compiled<T>): void {
    list.push(c);
    list.sort((a, b) => b.specificity - a.specificity);
  }

  #bind(c: Compiled<T>, parts: readonly string[]): Record<string, string> | undefined {
    let params: Record<string, string> | undefined;
    const segs = c.segments;
    for (let i = 0; i < segs.length; i++) {
      const s = segs[i]!;
      if ('literal' in s) {
        if (parts[i] !== s.literal) return undefined;
        continue;
      }
      const raw = s.greedy ? parts.slice(i).join('/') : parts[i]!;
      if (raw === '') return undefined;
      params ??= {};
      params[s.param] = decode(raw, s.param);
    }
    return params ?? {};
  }

  #pick(c: Compiled<T>, method: string, params: Record<string, string>): RouteMatch<T> {
    const value = c.byMethod.get(method) ?? (method === 'HEAD' ? c.byMethod.get('GET') : undefined);
    if (value !== undefined) return { kind: 'found', value, params };
    const allow = [...c.byMethod.keys()];
    if (c.byMethod.has('GET') && !c.byMethod.has('HEAD')) allow.push('HEAD');
    return { kind: 'method-not-allowed', allow: allow.sort() };
  }
}

const EMPTY: Record<string, string> = Object.freeze({}) as Record<string, string>;
const NOT_FOUND = { kind: 'not-found' } as const;

function decode(raw: string, name: string): string {
  if (raw.indexOf('%') < 0) return raw;
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new InputError(`The path parameter "${name}" is not valid percent-encoded UTF-8.`);
  }
}
