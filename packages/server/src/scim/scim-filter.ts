import { ScimError } from './scim-errors.js';
import {
  type ScimAttribute,
  type ScimResource,
  type ScimResourceType,
  findSubAttribute,
  getKey,
  isDateTime,
  isPlainObject,
  isUnassigned,
  readContainer,
  resolveAttributePath,
} from './scim-schema.js';

/** The comparison operators of RFC 7644 §3.4.2.2 (Table 3). */
export type CompareOp = 'eq' | 'ne' | 'co' | 'sw' | 'ew' | 'gt' | 'ge' | 'lt' | 'le';

/** A literal on the right of a comparison (`compValue` of RFC 7644 Figure 1). */
export type CompareValue = string | number | boolean | null;

/** An attribute path as written in a filter: `[urn:…:]attr[.sub]`. */
export interface FilterPath {
  /** The path as written (for messages), e.g. `name.familyName`. */
  text: string;
}

/**
 * A parsed filter: an immutable tagged union. `valuePath` (`emails[type eq "work"]`) carries
 * a filter whose paths are relative to each value of the multi-valued attribute.
 */
export type FilterNode =
  | { kind: 'compare'; path: FilterPath; op: CompareOp; value: CompareValue }
  | { kind: 'present'; path: FilterPath }
  | { kind: 'and' | 'or'; left: FilterNode; right: FilterNode }
  | { kind: 'not'; filter: FilterNode }
  | { kind: 'valuePath'; path: FilterPath; filter: FilterNode };

/** Bounds on filter text, so a hostile filter cannot exhaust the stack or the CPU. */
export const SCIM_FILTER_LIMITS = { maxLength: 4096, maxDepth: 32, maxNodes: 256 };

const COMPARE_OPS = new Set<string>(['eq', 'ne', 'co', 'sw', 'ew', 'gt', 'ge', 'lt', 'le']);

type Token =
  | { t: 'word'; v: string; at: number }
  | { t: 'string'; v: string; at: number }
  | { t: 'number'; v: number; at: number }
  | { t: '(' | ')' | '[' | ']'; at: number }
  | { t: 'end'; at: number };

// ATTRNAME = ALPHA *(nameChar), with URN prefixes (colons, dots in "2.0") and "$ref" (RFC 7643 §2.4).
const WORD = /[A-Za-z0-9:._$-]/;
const NUMBER = /^-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?$/;
const PATH = /^(urn:[A-Za-z0-9:._-]+:)?(\$ref|[A-Za-z][A-Za-z0-9_-]*)(\.(\$ref|[A-Za-z][A-Za-z0-9_-]*))?$/i;

function invalid(message: string): ScimError {
  return new ScimError('invalidFilter', message);
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ' || c === '\t' || c === '\n' || c === '\r') {
      i++;
    } else if (c === '(' || c === ')' || c === '[' || c === ']') {
      tokens.push({ t: c, at: i });
      i++;
    } else if (c === '"') {
      // A JSON string (RFC 7644 Figure 1: compValue uses JSON's string grammar, RFC 8259 §7).
      let j = i + 1;
      let closed = false;
      while (j < text.length) {
        const d = text[j]!;
        if (d === '\\') j += 2;
        else if (d === '"') {
          closed = true;
          break;
        } else j++;
      }
      if (!closed) throw invalid(`Unterminated string starting at position ${i + 1}.`);
      let value: unknown;
      try {
        value = JSON.parse(text.slice(i, j + 1));
      } catch {
        throw invalid(`Invalid string literal at position ${i + 1} (bad escape or control character).`);
      }
      tokens.push({ t: 'string', v: value as string, at: i });
      i = j + 1;
    } else if (WORD.test(c)) {
      let j = i;
      while (j < text.length && WORD.test(text[j]!)) j++;
      const word = text.slice(i, j);
      if (/^-?[0-9]/.test(word)) {
        if (!NUMBER.test(word)) throw invalid(`"${word}" at position ${i + 1} is not a valid number.`);
        tokens.push({ t: 'number', v: Number(word), at: i });
      } else tokens.push({ t: 'word', v: word, at: i });
      i = j;
    } else {
      throw invalid(`Unexpected character "${c}" at position ${i + 1}.`);
    }
  }
  tokens.push({ t: 'end', at: text.length });
  return tokens;
}

class Parser {
  private i = 0;
  private nodes = 0;
  constructor(private readonly tokens: Token[]) {}

  private peek(): Token {
    return this.tokens[this.i]!;
  }
  private next(): Token {
    return this.tokens[this.i++]!;
  }
  private isWord(word: string): boolean {
    const tok = this.peek();
    return tok.t === 'word' && tok.v.toLowerCase() === word;
  }
  private count(): void {
    if (++this.nodes > SCIM_FILTER_LIMITS.maxNodes) {
      throw invalid(`The filter has more than ${SCIM_FILTER_LIMITS.maxNodes} expressions.`);
    }
  }

  parseFilter(depth: number, inValuePath: boolean): FilterNode {
    if (depth > SCIM_FILTER_LIMITS.maxDepth) {
      throw invalid(`The filter nests deeper than ${SCIM_FILTER_LIMITS.maxDepth} levels.`);
    }
    // Precedence (RFC 7644 §3.4.2.2): grouping, then not, then and, then or.
    let left = this.parseAnd(depth, inValuePath);
    while (this.isWord('or')) {
      this.next();
      this.count();
      left = { kind: 'or', left, right: this.parseAnd(depth, inValuePath) };
    }
    return left;
  }

  private parseAnd(depth: number, inValuePath: boolean): FilterNode {
    let left = this.parseUnary(depth, inValuePath);
    while (this.isWord('and')) {
      this.next();
      this.count();
      left = { kind: 'and', left, right: this.parseUnary(depth, inValuePath) };
    }
    return left;
  }

  private parseUnary(depth: number, inValuePath: boolean): FilterNode {
    this.count();
    const tok = this.peek();
    if (this.isWord('not')) {
      this.next();
      if (this.peek().t !== '(') throw invalid(`"not" at position ${tok.at + 1} must be followed by "(".`);
      return { kind: 'not', filter: this.parseGroup(depth, inValuePath) };
    }
    if (tok.t === '(') return this.parseGroup(depth, inValuePath);
    if (tok.t !== 'word') throw invalid(`Expected an attribute path at position ${tok.at + 1}.`);
    this.next();
    if (!PATH.test(tok.v))
      throw invalid(`"${tok.v}" at position ${tok.at + 1} is not a valid attribute path.`);
    const path: FilterPath = { text: tok.v };
    const after = this.peek();
    if (after.t === '[') {
      // Errata 4690: value filters do not nest.
      if (inValuePath)
        throw invalid(`Value filters cannot be nested ("${tok.v}[" at position ${after.at + 1}).`);
      this.next();
      const filter = this.parseFilter(depth + 1, true);
      const close = this.next();
      if (close.t !== ']') throw invalid(`Expected "]" at position ${close.at + 1}.`);
      const sub = this.peek();
      if (sub.t === 'word' && sub.v.startsWith('.')) {
        // `emails[type eq "work"].value eq "x"`: not in RFC 7644 Figure 1, but Microsoft Entra ID
        // requires it for matching users; it means `emails[type eq "work" and value eq "x"]`.
        this.next();
        const inner = this.parseComparison({ t: 'word', v: sub.v.slice(1), at: sub.at + 1 });
        return { kind: 'valuePath', path, filter: { kind: 'and', left: filter, right: inner } };
      }
      return { kind: 'valuePath', path, filter };
    }
    return this.parseComparison(tok);
  }

  private parseComparison(tok: Extract<Token, { t: 'word' }>): FilterNode {
    if (!PATH.test(tok.v))
      throw invalid(`"${tok.v}" at position ${tok.at + 1} is not a valid attribute path.`);
    const path: FilterPath = { text: tok.v };
    const after = this.peek();
    if (after.t !== 'word')
      throw invalid(`Expected an operator after "${tok.v}" at position ${after.at + 1}.`);
    const op = after.v.toLowerCase();
    this.next();
    if (op === 'pr') return { kind: 'present', path };
    if (!COMPARE_OPS.has(op)) {
      throw invalid(
        `"${after.v}" at position ${after.at + 1} is not an operator (eq ne co sw ew gt ge lt le pr).`,
      );
    }
    const v = this.next();
    let value: CompareValue;
    if (v.t === 'string' || v.t === 'number') value = v.v;
    else if (v.t === 'word' && /^(true|false|null)$/i.test(v.v)) {
      // ABNF literals are case-insensitive (RFC 5234 §2.3), so TRUE and True are true too.
      const lower = v.v.toLowerCase();
      value = lower === 'null' ? null : lower === 'true';
    } else {
      const shown = v.t === 'word' ? `"${v.v}"` : v.t === 'end' ? 'the end of the filter' : `"${v.t}"`;
      throw invalid(
        `Expected a value (a "quoted string", number, true, false or null) after "${after.v}" at position ${v.at + 1}; found ${shown}.`,
      );
    }
    return { kind: 'compare', path, op: op as CompareOp, value };
  }

  private parseGroup(depth: number, inValuePath: boolean): FilterNode {
    const open = this.next();
    const inner = this.parseFilter(depth + 1, inValuePath);
    const close = this.next();
    if (close.t !== ')')
      throw invalid(
        `Expected ")" to close "(" at position ${open.at + 1}; found ${close.t === 'end' ? 'the end' : `position ${close.at + 1}`}.`,
      );
    return inner;
  }

  expectEnd(): void {
    const tok = this.peek();
    if (tok.t !== 'end')
      throw invalid(`Unexpected input at position ${tok.at + 1}; expected "and", "or" or the end.`);
  }
}

/**
 * Parses a SCIM filter (RFC 7644 §3.4.2.2, Figure 1, with errata 4690) into a {@link FilterNode}
 * tree. Operators, `and`/`or`/`not` and attribute names are case-insensitive. Throws
 * `ScimError('invalidFilter')` with the position of the problem.
 *
 * @example parseScimFilter('emails[type eq "work" and value co "@example.com"] or userName sw "j"')
 */
export function parseScimFilter(text: string): FilterNode {
  if (typeof text !== 'string' || text.trim() === '') throw invalid('The filter is empty.');
  if (text.length > SCIM_FILTER_LIMITS.maxLength) {
    throw invalid(
      `The filter is ${text.length} characters long; the limit is ${SCIM_FILTER_LIMITS.maxLength}.`,
    );
  }
  const parser = new Parser(tokenize(text));
  const node = parser.parseFilter(0, false);
  parser.expectEnd();
  return node;
}

/**
 * Parses a value-filter body alone (the part inside `[...]`), for PATCH paths
 * (`members[value eq "x"]`).
 */
export function parseValueFilter(text: string): FilterNode {
  const parser = new Parser(tokenize(text));
  const node = parser.parseFilter(1, true);
  parser.expectEnd();
  return node;
}

/** A filter checked against a resource type, ready to evaluate. */
export interface CompiledFilter {
  readonly node: FilterNode;
  /** True when the resource matches. */
  matches(resource: ScimResource): boolean;
}

type Getter = (target: Record<string, unknown>) => unknown[];
type Pred = (target: Record<string, unknown>) => boolean;

/**
 * Parses a filter and checks it against a resource type's schema, then returns an evaluator.
 * Unknown attributes, and operator/type combinations RFC 7644 §3.4.2.2 forbids (`gt` on a
 * boolean or binary; `co`/`sw`/`ew` on a non-string; a malformed date for a dateTime), are
 * refused with `invalidFilter` up front, not silently evaluated to false. String comparisons
 * follow the attribute's `caseExact` (RFC 7643 §2.2): `userName eq "JOHN"` matches "john".
 */
export function compileScimFilter(type: ScimResourceType, filter: string | FilterNode): CompiledFilter {
  const node = typeof filter === 'string' ? parseScimFilter(filter) : filter;
  const pred = compileNode(type, node, undefined);
  return { node, matches: (resource) => pred(resource) };
}

/** Compiles a value filter relative to the sub-attributes of a complex attribute (PATCH paths). */
export function compileValueFilter(parent: ScimAttribute, node: FilterNode): (value: unknown) => boolean {
  const pred = compileNode(undefined, node, parent);
  return (value) => isPlainObject(value) && pred(value);
}

interface Target {
  attribute: ScimAttribute;
  get: Getter;
}

function resolveTarget(
  type: ScimResourceType | undefined,
  parent: ScimAttribute | undefined,
  path: FilterPath,
): Target {
  if (parent) {
    const sub = findSubAttribute(parent, path.text);
    if (!sub) throw invalid(`"${path.text}" is not a sub-attribute of "${parent.name}".`);
    return { attribute: sub, get: (t) => values(getKey(t, sub.name)) };
  }
  const resolved = resolveAttributePath(type!, path.text);
  if (!resolved) throw invalid(`"${path.text}" is not an attribute of ${type!.name}.`);
  const { extension, attribute, subAttribute } = resolved;
  const top: Getter = (t) => {
    const container = readContainer(t, extension);
    return container ? values(getKey(container, attribute.name)) : [];
  };
  if (!subAttribute) return { attribute, get: top };
  return {
    attribute: subAttribute,
    get: (t) => top(t).flatMap((v) => (isPlainObject(v) ? values(getKey(v, subAttribute.name)) : [])),
  };
}

function values(v: unknown): unknown[] {
  if (v === undefined || v === null) return [];
  return Array.isArray(v) ? v : [v];
}

function compileNode(
  type: ScimResourceType | undefined,
  node: FilterNode,
  parent: ScimAttribute | undefined,
): Pred {
  switch (node.kind) {
    case 'and': {
      const l = compileNode(type, node.left, parent);
      const r = compileNode(type, node.right, parent);
      return (t) => l(t) && r(t);
    }
    case 'or': {
      const l = compileNode(type, node.left, parent);
      const r = compileNode(type, node.right, parent);
      return (t) => l(t) || r(t);
    }
    case 'not': {
      const inner = compileNode(type, node.filter, parent);
      return (t) => !inner(t);
    }
    case 'valuePath': {
      const target = resolveTarget(type, parent, node.path);
      if (target.attribute.type !== 'complex') {
        throw invalid(`"${node.path.text}" is not a complex attribute; a value filter "[...]" needs one.`);
      }
      const inner = compileNode(undefined, node.filter, target.attribute);
      return (t) => target.get(t).some((v) => isPlainObject(v) && inner(v));
    }
    case 'present': {
      const target = resolveTarget(type, parent, node.path);
      return (t) => target.get(t).some((v) => !isUnassigned(v));
    }
    case 'compare':
      return compileCompare(type, parent, node);
  }
}

function compileCompare(
  type: ScimResourceType | undefined,
  parent: ScimAttribute | undefined,
  node: Extract<FilterNode, { kind: 'compare' }>,
): Pred {
  let target = resolveTarget(type, parent, node.path);
  if (target.attribute.type === 'complex') {
    // RFC 7644 §3.4.2.2: for a complex multi-valued attribute without a sub-attribute, the
    // comparison applies to its "value" sub-attribute (`emails co "@example.com"`).
    const valueSub = findSubAttribute(target.attribute, 'value');
    if (!valueSub)
      throw invalid(`"${node.path.text}" is complex; compare one of its sub-attributes instead.`);
    const outer = target.get;
    target = {
      attribute: valueSub,
      get: (t) => outer(t).flatMap((v) => (isPlainObject(v) ? values(getKey(v, 'value')) : [])),
    };
  }
  const { attribute, get } = target;
  const { op } = node;
  if (node.value === null) {
    // RFC 7644 leaves null comparisons undefined; "eq null" reads naturally as "has no value".
    if (op === 'eq') return (t) => !get(t).some((v) => !isUnassigned(v));
    if (op === 'ne') return (t) => get(t).some((v) => !isUnassigned(v));
    throw invalid(`"${op}" cannot compare with null; use "pr" or "eq null".`);
  }
  const cmp = comparator(attribute, op, node.value, node.path.text);
  // RFC 7644 §3.4.2.2: a multi-valued attribute matches when any value does; "ne" is the
  // negation of "eq" so that `emails.type ne "work"` excludes every resource with a work email.
  if (op === 'ne') {
    const eq = comparator(attribute, 'eq', node.value, node.path.text);
    return (t) => !get(t).some(eq);
  }
  return (t) => get(t).some(cmp);
}

function comparator(
  attribute: ScimAttribute,
  op: CompareOp,
  raw: CompareValue,
  label: string,
): (v: unknown) => boolean {
  switch (attribute.type) {
    case 'boolean': {
      if (op !== 'eq' && op !== 'ne')
        throw invalid(`"${op}" is not allowed on boolean attribute "${label}".`);
      const want =
        typeof raw === 'boolean'
          ? raw
          : typeof raw === 'string' && /^(true|false)$/i.test(raw)
            ? raw.toLowerCase() === 'true'
            : undefined;
      if (want === undefined) throw invalid(`"${label}" is boolean; compare it with true or false.`);
      return (v) => v === want || (typeof v === 'string' && v.toLowerCase() === String(want));
    }
    case 'binary':
      if (op !== 'eq' && op !== 'ne') throw invalid(`"${op}" is not allowed on binary attribute "${label}".`);
      if (typeof raw !== 'string') throw invalid(`"${label}" is binary; compare it with a base64 string.`);
      return (v) => v === raw;
    case 'integer':
    case 'decimal': {
      if (typeof raw !== 'number') throw invalid(`"${label}" is a number; compare it with a number.`);
      if (op === 'co' || op === 'sw' || op === 'ew')
        throw invalid(`"${op}" is not allowed on numeric attribute "${label}".`);
      return (v) => typeof v === 'number' && order(op, v - raw);
    }
    case 'dateTime': {
      if (typeof raw !== 'string' || !isDateTime(raw)) {
        throw invalid(`"${label}" is a dateTime; compare it with a string like "2025-01-31T12:00:00Z".`);
      }
      if (op === 'co' || op === 'sw' || op === 'ew')
        throw invalid(`"${op}" is not allowed on dateTime attribute "${label}".`);
      const want = Date.parse(raw);
      return (v) => typeof v === 'string' && !Number.isNaN(Date.parse(v)) && order(op, Date.parse(v) - want);
    }
    default: {
      // string and reference. A number or boolean literal is compared as its text, since IdPs
      // send `employeeNumber eq 1234`.
      const fold = (s: string) => (attribute.caseExact ? s : s.toLowerCase());
      const want = fold(String(raw));
      return (v) => {
        if (typeof v !== 'string') return false;
        const have = fold(v);
        switch (op) {
          case 'co':
            return have.includes(want);
          case 'sw':
            return have.startsWith(want);
          case 'ew':
            return have.endsWith(want);
          default:
            return order(op, have < want ? -1 : have > want ? 1 : 0);
        }
      };
    }
  }
}

function order(op: CompareOp, diff: number): boolean {
  switch (op) {
    case 'eq':
      return diff === 0;
    case 'ne':
      return diff !== 0;
    case 'gt':
      return diff > 0;
    case 'ge':
      return diff >= 0;
    case 'lt':
      return diff < 0;
    case 'le':
      return diff <= 0;
    default:
      return false;
  }
}

/** The attributes a store indexes for SCIM lookups (what Entra ID and Okta match on). */
export type IndexedAttribute = 'id' | 'externalId' | 'userName' | 'displayName';

/**
 * A description of candidates a store can fetch by index: equality on an indexed attribute,
 * and/or of those, or everything (the filter narrows nothing the store indexes).
 * `caseExact: false` asks for a case-insensitive match (userName, displayName).
 */
export type ScimStoreQuery =
  | { kind: 'all' }
  | { kind: 'eq'; attribute: IndexedAttribute; value: string; caseExact: boolean }
  | { kind: 'and' | 'or'; queries: ScimStoreQuery[] };

/**
 * Translates the indexable part of a filter into a {@link ScimStoreQuery}. The result is a
 * superset of the matches: `and` keeps the indexable side(s), `or` needs both sides
 * indexable, anything else is `all`. The caller always re-evaluates the full filter on the
 * candidates, so a store that answers `all` for every query is correct, only slower.
 */
export function toStoreQuery(type: ScimResourceType, node: FilterNode | undefined): ScimStoreQuery {
  if (!node) return { kind: 'all' };
  switch (node.kind) {
    case 'compare': {
      if (node.op !== 'eq' || typeof node.value !== 'string') return { kind: 'all' };
      const resolved = resolveAttributePath(type, node.path.text);
      if (!resolved || resolved.extension !== undefined || resolved.subAttribute) return { kind: 'all' };
      const name = resolved.attribute.name;
      const indexed: IndexedAttribute[] =
        type.id === 'User' ? ['id', 'externalId', 'userName'] : ['id', 'externalId', 'displayName'];
      if (!indexed.includes(name as IndexedAttribute)) return { kind: 'all' };
      return {
        kind: 'eq',
        attribute: name as IndexedAttribute,
        value: node.value,
        caseExact: resolved.attribute.caseExact,
      };
    }
    case 'and': {
      const parts = [toStoreQuery(type, node.left), toStoreQuery(type, node.right)].filter(
        (q) => q.kind !== 'all',
      );
      if (parts.length === 0) return { kind: 'all' };
      return parts.length === 1 ? parts[0]! : { kind: 'and', queries: parts };
    }
    case 'or': {
      const l = toStoreQuery(type, node.left);
      const r = toStoreQuery(type, node.right);
      if (l.kind === 'all' || r.kind === 'all') return { kind: 'all' };
      return { kind: 'or', queries: [l, r] };
    }
    default:
      return { kind: 'all' };
  }
}

/**
 * Evaluates a {@link ScimStoreQuery} against a resource in memory: the reference semantics a
 * store implementation must match (used by the in-memory repository and contract tests).
 */
export function matchesStoreQuery(query: ScimStoreQuery, resource: ScimResource): boolean {
  switch (query.kind) {
    case 'all':
      return true;
    case 'and':
      return query.queries.every((q) => matchesStoreQuery(q, resource));
    case 'or':
      return query.queries.some((q) => matchesStoreQuery(q, resource));
    case 'eq': {
      const v = resource[query.attribute];
      if (typeof v !== 'string') return false;
      return query.caseExact ? v === query.value : v.toLowerCase() === query.value.toLowerCase();
    }
  }
}
