import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScimError } from './scim-errors.js';
import { checkPreconditions, etagForVersion, parseEtagList } from './scim-etag.js';

function is412(e: unknown) {
  return e instanceof ScimError && e.status === 412 && e.scimType === undefined;
}

describe('SCIM ETags (RFC 7644 §3.14)', () => {
  it('weak tags from versions', () => {
    assert.equal(etagForVersion(3), 'W/"3"');
  });
  it('parses tag lists', () => {
    assert.deepEqual(parseEtagList('W/"1"'), ['1']);
    assert.deepEqual(parseEtagList(' W/"1" , "2",W/"x y"'), ['1', '2', 'x y']);
    assert.deepEqual(parseEtagList('*'), ['*']);
    for (const bad of ['1', 'W/1', '"1" "2"', 'W/"1",,', '"unterminated']) {
      assert.throws(
        () => parseEtagList(bad),
        (e: unknown) => e instanceof ScimError && e.scimType === 'invalidSyntax',
        bad,
      );
    }
  });
  it('If-Match on writes: match proceeds, mismatch or missing resource is 412', () => {
    assert.equal(checkPreconditions('PATCH', { ifMatch: 'W/"3"' }, 3), 'proceed');
    assert.equal(checkPreconditions('PUT', { ifMatch: '"3"' }, 3), 'proceed', 'weak comparison');
    assert.equal(checkPreconditions('DELETE', { ifMatch: '*' }, 1), 'proceed');
    assert.equal(checkPreconditions('PUT', { ifMatch: 'W/"1", W/"3"' }, 3), 'proceed');
    assert.throws(() => checkPreconditions('PATCH', { ifMatch: 'W/"2"' }, 3), is412);
    assert.throws(() => checkPreconditions('DELETE', { ifMatch: '*' }, undefined), is412);
  });
  it('If-None-Match: 304 on reads, 412 on writes', () => {
    assert.equal(checkPreconditions('GET', { ifNoneMatch: 'W/"3"' }, 3), 'not-modified');
    assert.equal(checkPreconditions('GET', { ifNoneMatch: 'W/"2"' }, 3), 'proceed');
    assert.throws(() => checkPreconditions('PUT', { ifNoneMatch: '*' }, 3), is412);
    assert.equal(checkPreconditions('PUT', {}, 3), 'proceed');
    assert.equal(checkPreconditions('PUT', { ifMatch: '  ' }, 3), 'proceed', 'blank header is absent');
  });
});
