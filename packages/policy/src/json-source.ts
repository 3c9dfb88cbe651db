import { AiamError } from './errors.js';
import type { PathElement } from './finding.js';

/** A place in JSON text: 0-based offset, 1-based line and column (columns count UTF-16 units). */
export interface SourcePosition {
  offset: number;
  line: number;
  column: number;
}

/** Where a value sits in the text: from its first character to just past its last. */
export interface SourceSpan {
  start: SourcePosition;
  end: SourcePosition;
}

/** Thrown for text that is not JSON (RFC 8259); says where, as `line L, column C`. */
export class JsonSyntaxError extends AiamError {
  readonly position: SourcePosition;

  constructor(reason: string, position: SourcePosition) {
    super('ERR_JSON_SYNTAX', `${reason} at line ${position.line}, column ${position.column}`);
    this.position = position;
  }
}

/** JSON text decoded, with the span of every value, so findings and statements can point into it. */
export interface JsonSource {
  value: unknown;
  /** The span of the value at `path`, or undefined when there is no such value. */
  spanOf(path: readonly PathElement[]): SourceSpan | undefined;
  /** Line and column of a 0-based offset. */
  positionAt(offset: number): SourcePosition;
}

function pathKey(path: readonly PathElement[]): string {
  return path.map((el) => ('index' in el ? `[${el.index}]` : `.${JSON.stringify(el.value)}`)).join('');
}

const MAX_DEPTH = 512;

/**
 * Decodes JSON text like `JSON.parse` (same values, same last-key-wins rule for duplicate keys),
 * and also records where each value is. Errors carry a line and column a person can go to.
 */
export function parseJsonSource(text: string): JsonSource {
  const lineStarts = [0];
  for (let i = 0; i < text.length; i++) if (text.charCodeAt(i) === 10) lineStarts.push(i + 1);
  const positionAt = (offset: number): SourcePosition => {
    let lo = 0;
    let hi = lineStarts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (lineStarts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    return { offset, line: lo + 1, column: offset - lineStarts[lo]! + 1 };
  };
  const spans = new Map<string, [number, number]>();
  let pos = 0;
  const fail = (reason: string, at = pos): never => {
    throw new JsonSyntaxError(reason, positionAt(at));
  };
  const skipWs = () => {
    while (pos < text.length) {
      const c = text.charCodeAt(pos);
      if (c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09) pos++;
      else break;
    }
  };
  const describeAt = (): string => (pos >= text.length ? 'end of input' : `"${text[pos]}"`);

  const parseString = (): string => {
    const start = pos;
    pos++; // opening quote
    let out = '';
    let chunk = pos;
    for (;;) {
      if (pos >= text.length) fail('Unterminated string', start);
      const c = text.charCodeAt(pos);
      if (c === 0x22) {
        out += text.slice(chunk, pos);
        pos++;
        return out;
      }
      if (c < 0x20) fail('Control character in string (escape it)');
      if (c === 0x5c) {
        out += text.slice(chunk, pos);
        const e = text[pos + 1];
        const simple: Record<string, string> = {
          '"': '"',
          '\\': '\\',
          '/': '/',
          b: '\b',
          f: '\f',
          n: '\n',
          r: '\r',
          t: '\t',
        };
        if (e !== undefined && e in simple) {
          out += simple[e];
          pos += 2;
        } else if (e === 'u') {
          const hex = text.slice(pos + 2, pos + 6);
          if (!/^[0-9a-fA-F]{4}$/.test(hex)) fail('Invalid \\u escape');
          out += String.fromCharCode(Number.parseInt(hex, 16));
          pos += 6;
        } else {
          fail('Invalid escape in string');
        }
        chunk = pos;
        continue;
      }
      pos++;
    }
  };

  const parseValue = (path: PathElement[], depth: number): unknown => {
    skipWs();
    if (depth > MAX_DEPTH) fail('Nesting too deep');
    const start = pos;
    const c = text[pos];
    let value: unknown;
    if (c === '{') {
      pos++;
      const obj: Record<string, unknown> = {};
      skipWs();
      if (text[pos] === '}') pos++;
      else {
        for (;;) {
          skipWs();
          if (text[pos] !== '"') fail(`Expected a property name in double quotes but found ${describeAt()}`);
          const name = parseString();
          skipWs();
          if (text[pos] !== ':') fail(`Expected ":" after property name but found ${describeAt()}`);
          pos++;
          const child = parseValue([...path, { value: name }], depth + 1);
          // Define rather than assign, so "__proto__" is an ordinary key as in JSON.parse.
          Object.defineProperty(obj, name, {
            value: child,
            enumerable: true,
            writable: true,
            configurable: true,
          });
          skipWs();
          if (text[pos] === ',') {
            pos++;
            continue;
          }
          if (text[pos] === '}') {
            pos++;
            break;
          }
          fail(`Expected "," or "}" but found ${describeAt()}`);
        }
      }
      value = obj;
    } else if (c === '[') {
      pos++;
      const arr: unknown[] = [];
      skipWs();
      if (text[pos] === ']') pos++;
      else {
        for (;;) {
          arr.push(parseValue([...path, { index: arr.length }], depth + 1));
          skipWs();
          if (text[pos] === ',') {
            pos++;
            continue;
          }
          if (text[pos] === ']') {
            pos++;
            break;
          }
          fail(`Expected "," or "]" but found ${describeAt()}`);
        }
      }
      value = arr;
    } else if (c === '"') {
      value = parseString();
    } else {
      const m = /^-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?/.exec(text.slice(pos, pos + 400));
      if (m && m[0].length > 0 && m[0] !== '-') {
        value = Number(m[0]);
        pos += m[0].length;
      } else if (text.startsWith('true', pos)) {
        value = true;
        pos += 4;
      } else if (text.startsWith('false', pos)) {
        value = false;
        pos += 5;
      } else if (text.startsWith('null', pos)) {
        value = null;
        pos += 4;
      } else {
        fail(`Unexpected ${describeAt()}`);
      }
    }
    spans.set(pathKey(path), [start, pos]);
    return value;
  };

  const value = parseValue([], 0);
  skipWs();
  if (pos < text.length) fail(`Unexpected ${describeAt()} after the JSON value`);
  return {
    value,
    positionAt,
    spanOf(path) {
      const span = spans.get(pathKey(path));
      return span ? { start: positionAt(span[0]), end: positionAt(span[1]) } : undefined;
    },
  };
}
