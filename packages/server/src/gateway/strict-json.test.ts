import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { InputError } from '../errors.js';
import { parseStrictJson } from './strict-json.js';

const bytes = (s: string) => Buffer.from(s, 'utf8');

describe('parseStrictJson', () => {
  it('parses what JSON.parse parses when no object repeats a member name', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value);
        assert.deepEqual(parseStrictJson(bytes(text)), JSON.parse(text));
      }),
      { numRuns: 300 },
    );
  });

  it('finds a repeated member at any depth, whatever escapes spell it', () => {
    fc.assert(
      fc.property(
        fc.jsonValue(),
        fc.string({ minLength: 1, maxLength: 8 }),
        fc.boolean(),
        (value, key, useEscapes) => {
          const spelled = useEscapes
            ? `"${key
                .split('')
                .map((c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
                .join('')}"`
            : JSON.stringify(key);
          const text = `{"wrap":[1,{${JSON.stringify(key)}:${JSON.stringify(value)},${spelled}:0}]}`;
          assert.throws(
            () => parseStrictJson(bytes(text)),
            (e: unknown) => e instanceof InputError && e.code === 'ERR_DUPLICATE_JSON_KEY',
          );
        },
      ),
      { numRuns: 200 },
    );
  });

  it('is not fooled by braces, quotes and commas inside strings', () => {
    assert.deepEqual(parseStrictJson(bytes('{"a":"}{\\",\\"a\\":","b":["a","a"]}')), {
      a: '}{","a":',
      b: ['a', 'a'],
    });
  });

  it('refuses invalid UTF-8, a byte-order mark, and non-JSON', () => {
    for (const input of [
      Buffer.from([0xc3, 0x28]),
      Buffer.from([0xef, 0xbb, 0xbf, 0x7b, 0x7d]),
      bytes('{a:1}'),
      bytes(''),
      bytes('[1,]'),
    ]) {
      assert.throws(
        () => parseStrictJson(input),
        (e: unknown) => e instanceof InputError && e.code === 'ERR_INVALID_JSON',
      );
    }
  });
});
