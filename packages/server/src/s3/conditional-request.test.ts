import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkConditionalHeaders } from './conditional-request.js';
import { S3Error } from './s3-errors.js';

const target = { exists: true, etag: 'abc', lastModified: new Date('2026-01-01T00:00:00.900Z') };
const code = (c: string) => (e: unknown) => e instanceof S3Error && e.s3Code === c;
const before = 'Wed, 31 Dec 2025 00:00:00 GMT';
const same = 'Thu, 01 Jan 2026 00:00:00 GMT';
const after = 'Fri, 02 Jan 2026 00:00:00 GMT';

describe('checkConditionalHeaders', () => {
  it('passes without conditions', () => {
    checkConditionalHeaders('GET', {}, target);
  });
  it('If-Match', () => {
    checkConditionalHeaders('GET', { 'if-match': '"abc"' }, target);
    checkConditionalHeaders('GET', { 'if-match': '"x", "abc"' }, target);
    checkConditionalHeaders('GET', { 'if-match': '*' }, target);
    assert.throws(
      () => checkConditionalHeaders('GET', { 'if-match': '"x"' }, target),
      code('PreconditionFailed'),
    );
  });
  it('If-None-Match: 304 for reads, 412 for writes', () => {
    assert.throws(
      () => checkConditionalHeaders('GET', { 'if-none-match': '"abc"' }, target),
      code('NotModified'),
    );
    assert.throws(
      () => checkConditionalHeaders('HEAD', { 'if-none-match': 'W/"abc"' }, target),
      code('NotModified'),
    );
    checkConditionalHeaders('GET', { 'if-none-match': '"x"' }, target);
    assert.throws(
      () => checkConditionalHeaders('PUT', { 'if-none-match': '*' }, target),
      code('PreconditionFailed'),
    );
    checkConditionalHeaders('PUT', { 'if-none-match': '*' }, { exists: false });
  });
  it('If-Modified-Since / If-Unmodified-Since at one-second resolution', () => {
    assert.throws(
      () => checkConditionalHeaders('GET', { 'if-modified-since': same }, target),
      code('NotModified'),
    );
    assert.throws(
      () => checkConditionalHeaders('GET', { 'if-modified-since': after }, target),
      code('NotModified'),
    );
    checkConditionalHeaders('GET', { 'if-modified-since': before }, target);
    checkConditionalHeaders('GET', { 'if-unmodified-since': same }, target);
    assert.throws(
      () => checkConditionalHeaders('GET', { 'if-unmodified-since': before }, target),
      code('PreconditionFailed'),
    );
  });
  it('follows S3 precedence: If-Match true beats If-Unmodified-Since false', () => {
    checkConditionalHeaders('GET', { 'if-match': '"abc"', 'if-unmodified-since': before }, target);
  });
  it('follows S3 precedence: If-None-Match false beats If-Modified-Since true -> 304', () => {
    assert.throws(
      () => checkConditionalHeaders('GET', { 'if-none-match': '"abc"', 'if-modified-since': before }, target),
      code('NotModified'),
    );
    // If-None-Match true (no match) makes If-Modified-Since irrelevant.
    checkConditionalHeaders('GET', { 'if-none-match': '"x"', 'if-modified-since': after }, target);
  });
  it('ignores unparsable dates, as RFC 9110 says', () => {
    checkConditionalHeaders('GET', { 'if-modified-since': 'yesterday' }, target);
    checkConditionalHeaders('GET', { 'if-unmodified-since': 'garbage' }, target);
  });
  it('answers a write If-Match on a missing object with NoSuchKey', () => {
    assert.throws(
      () => checkConditionalHeaders('PUT', { 'if-match': '"abc"' }, { exists: false }),
      code('NoSuchKey'),
    );
  });
});
