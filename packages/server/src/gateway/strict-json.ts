import { InputError } from '../errors.js';

const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parses JSON the strict way (RFC 8259 with I-JSON's rules, RFC 7493 §2): UTF-8 only (no
 * BOM), no duplicate member names at any depth. Duplicates matter for security: JSON.parse
 * keeps the last `model`, other parsers the first, so a body naming two models could be
 * authorized for one and served by another. Throws InputError on anything else.
 */
export function parseStrictJson(bytes: Buffer | Uint8Array, what = 'The request body'): unknown {
  let text: string;
  try {
    text = UTF8.decode(bytes);
  } catch {
    throw new InputError(`${what} is not valid UTF-8.`, { code: 'ERR_INVALID_JSON' });
  }
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    // JSON.parse also refuses a byte-order mark, NaN/Infinity and other non-JSON extensions.
    throw new InputError(`${what} is not valid JSON.`, { code: 'ERR_INVALID_JSON' });
  }
  const duplicate = findDuplicateKey(text);
  if (duplicate !== undefined) {
    throw new InputError(`${what} names the member '${duplicate}' twice in one object; send it once.`, {
      code: 'ERR_DUPLICATE_JSON_KEY',
    });
  }
  return value;
}

/**
 * The first member name that repeats within one object, after unescaping (so `"mod\u0065l"`
 * and `"model"` are the same name). Expects text that JSON.parse accepted.
 */
function findDuplicateKey(text: string): string | undefined {
  // One entry per open container: the names seen so far for objects, null for arrays.
  const stack: Array<Set<string> | null> = [];
  let expectKey = false;
  const n = text.length;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x7b /* { */) {
      stack.push(new Set());
      expectKey = true;
    } else if (c === 0x5b /* [ */) {
      stack.push(null);
      expectKey = false;
    } else if (c === 0x7d /* } */ || c === 0x5d /* ] */) {
      stack.pop();
      expectKey = false;
    } else if (c === 0x2c /* , */) {
      expectKey = stack[stack.length - 1] != null;
    } else if (c === 0x22 /* " */) {
      const start = i;
      let escaped = false;
      for (i++; i < n; i++) {
        const d = text.charCodeAt(i);
        if (escaped) escaped = false;
        else if (d === 0x5c) escaped = true;
        else if (d === 0x22) break;
      }
      if (expectKey) {
        const raw = text.slice(start, i + 1);
        const name = raw.includes('\\') ? (JSON.parse(raw) as string) : raw.slice(1, -1);
        const names = stack[stack.length - 1] as Set<string>;
        if (names.has(name)) return name;
        names.add(name);
        expectKey = false;
      }
    }
  }
  return undefined;
}
