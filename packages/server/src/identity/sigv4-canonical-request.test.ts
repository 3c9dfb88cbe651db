import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { createHash } from 'node:crypto';
import {
  canonicalQueryString,
  normalizePath,
  normalizeSegments,
  parseQuery,
  percentDecode,
  percentDecodeString,
  sha256Hex,
  uriEncode,
  uriEncodeBytes,
} from './sigv4-canonical-request.js';

// Strings rich in what the codecs treat specially: escapes (valid, truncated, non-hex, of
// bytes over 0x7F), `+`, `/`, reserved and non-ASCII characters.
const piece = fc.oneof(
  fc.constantFrom(
    '%',
    '%2F',
    '%2f',
    '%3B',
    '%E2%82%AC',
    '%C3',
    '%G1',
    '%4',
    '+',
    '/',
    '=',
    '&',
    ' ',
    '~',
    '€',
    'é',
    '\u{1F600}',
  ),
  fc.string({ maxLength: 4 }),
  fc.string({ unit: 'grapheme', maxLength: 3 }),
);
const tricky = fc.array(piece, { maxLength: 12 }).map((p) => p.join(''));

describe('SigV4 percent codecs', () => {
  it('decode to strings exactly as the byte-level decoder does', () => {
    fc.assert(
      fc.property(tricky, fc.boolean(), (value, plusAsSpace) => {
        assert.equal(
          percentDecodeString(value, plusAsSpace),
          percentDecode(value, plusAsSpace).toString('utf8'),
        );
      }),
      { numRuns: 2000 },
    );
  });

  it('encode strings exactly as the byte-level encoder does', () => {
    fc.assert(
      fc.property(tricky, fc.boolean(), (value, keepSlash) => {
        assert.equal(uriEncode(value, keepSlash), uriEncodeBytes(Buffer.from(value, 'utf8'), keepSlash));
      }),
      { numRuns: 2000 },
    );
  });

  it('read a presigned query as AWS does', () => {
    const query =
      'X-Amz-Credential=AKIAEXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host%3Bx-amz-date&a+b=c%2Bd&bad=%G1%4&utf=%E2%82%AC';
    assert.deepEqual(
      parseQuery(query).map((p) => [p.name, p.value]),
      [
        ['X-Amz-Credential', 'AKIAEXAMPLE/20261207/us-east-1/s3/aws4_request'],
        ['X-Amz-SignedHeaders', 'host;x-amz-date'],
        ['a b', 'c+d'],
        ['bad', '%G1%4'],
        ['utf', '€'],
      ],
    );
    assert.equal(
      canonicalQueryString(query),
      'X-Amz-Credential=AKIAEXAMPLE%2F20261207%2Fus-east-1%2Fs3%2Faws4_request&X-Amz-SignedHeaders=host%3Bx-amz-date&a%20b=c%2Bd&bad=%25G1%254&utf=%E2%82%AC',
    );
  });
});

describe('SigV4 path normalization and payload hash', () => {
  it('normalizes every path as the segment-by-segment rewrite does (property)', () => {
    const segment = fc.constantFrom('', '.', '..', 'a', 'b.c', '..d', '.e', 'f..', '...', '%2E');
    fc.assert(
      fc.property(fc.boolean(), fc.array(segment, { maxLength: 6 }), (rooted, segments) => {
        const path = `${rooted ? '/' : ''}${segments.join('/')}`;
        assert.equal(normalizePath(path), normalizeSegments(path), path);
      }),
      { numRuns: 2000 },
    );
  });

  it('hashes an empty body to the SHA-256 of nothing, as it hashes any other', () => {
    assert.equal(sha256Hex(''), createHash('sha256').update('').digest('hex'));
    assert.equal(sha256Hex(new Uint8Array(0)), createHash('sha256').update('').digest('hex'));
    assert.equal(sha256Hex('a'), createHash('sha256').update('a').digest('hex'));
  });
});
