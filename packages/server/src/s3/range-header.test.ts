import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { formatContentRange, resolveRange } from './range-header.js';
import { S3Error } from './s3-errors.js';

const invalidRange = (e: unknown) => e instanceof S3Error && e.s3Code === 'InvalidRange' && e.status === 416;

describe('resolveRange', () => {
  it('resolves the three forms of RFC 9110', () => {
    assert.deepEqual(resolveRange('bytes=0-499', 10_000), { start: 0, end: 499 });
    assert.deepEqual(resolveRange('bytes=9500-', 10_000), { start: 9500, end: 9999 });
    assert.deepEqual(resolveRange('bytes=-500', 10_000), { start: 9500, end: 9999 });
    assert.deepEqual(resolveRange('bytes=0-0', 1), { start: 0, end: 0 });
  });
  it('clamps past the end and serves a suffix longer than the object whole', () => {
    assert.deepEqual(resolveRange('bytes=5-100', 10), { start: 5, end: 9 });
    assert.deepEqual(resolveRange('bytes=-100', 10), { start: 0, end: 9 });
  });
  it('ignores what it cannot honour: absent, other units, invalid, multiple ranges', () => {
    for (const h of [
      undefined,
      'items=0-1',
      'bytes=5-2',
      'bytes=-',
      'bytes=a-b',
      'bytes=0-1,3-4',
      'bytes 0-1',
      '',
    ]) {
      assert.equal(resolveRange(h, 10), undefined, String(h));
    }
  });
  it('refuses unsatisfiable ranges with InvalidRange', () => {
    assert.throws(() => resolveRange('bytes=10-', 10), invalidRange);
    assert.throws(() => resolveRange('bytes=10-20', 10), invalidRange);
    assert.throws(() => resolveRange('bytes=-0', 10), invalidRange);
    assert.throws(() => resolveRange('bytes=0-', 0), invalidRange);
  });
  it('always yields a range inside the object', () => {
    fc.assert(
      fc.property(fc.nat(1000), fc.nat(2000), fc.nat(2000), fc.boolean(), (size, a, b, suffix) => {
        const header = suffix ? `bytes=-${a}` : `bytes=${a}-${b}`;
        let r: ReturnType<typeof resolveRange>;
        try {
          r = resolveRange(header, size);
        } catch (e) {
          assert.ok(invalidRange(e));
          return;
        }
        if (r) assert.ok(r.start >= 0 && r.start <= r.end && r.end < size);
      }),
    );
  });
  it('formats Content-Range', () => {
    assert.equal(formatContentRange({ start: 0, end: 499 }, 1234), 'bytes 0-499/1234');
  });
});
