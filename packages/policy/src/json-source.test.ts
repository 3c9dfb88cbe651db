import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { JsonSyntaxError, parseJsonSource } from './json-source.js';

describe('parseJsonSource', () => {
  it('decodes like JSON.parse', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        const text = JSON.stringify(value, null, 1);
        assert.deepEqual(parseJsonSource(text).value, JSON.parse(text));
      }),
      { numRuns: 200 },
    );
  });

  it('refuses what JSON.parse refuses, with a line and column', () => {
    for (const text of ['', '{', '{"a":1,}', '[1 2]', '{"a":01}', '"\\x"', 'tru', '{"a":1} x', "{'a':1}"]) {
      assert.throws(() => JSON.parse(text));
      assert.throws(() => parseJsonSource(text), JsonSyntaxError, text);
    }
    assert.throws(
      () => parseJsonSource('{\n  "a": [1,\n   ]\n}'),
      (err: unknown) =>
        err instanceof JsonSyntaxError && err.position.line === 3 && err.position.column === 4,
    );
  });

  it('knows where each value is', () => {
    const source = parseJsonSource('{\n  "Statement": [\n    {"Effect": "Allow"}\n  ]\n}');
    const span = source.spanOf([{ value: 'Statement' }, { index: 0 }])!;
    assert.deepEqual([span.start.line, span.start.column, span.end.line, span.end.column], [3, 5, 3, 24]);
    assert.equal(source.spanOf([{ value: 'Nope' }]), undefined);
    assert.equal(
      source.spanOf([{ value: 'Statement' }, { index: 0 }, { value: 'Effect' }])!.start.column,
      16,
    );
  });

  it('keeps "__proto__" an ordinary key', () => {
    const value = parseJsonSource('{"__proto__": {"x": 1}}').value as Record<string, unknown>;
    assert.deepEqual(Object.keys(value), ['__proto__']);
    assert.equal(({} as Record<string, unknown>).x, undefined);
  });
});
