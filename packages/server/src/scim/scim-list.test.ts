import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ScimError } from './scim-errors.js';
import {
  SCIM_LIST_LIMITS,
  buildListResponse,
  paginate,
  parseListParams,
  parseSearchRequest,
  sortResources,
} from './scim-list.js';
import { SCIM_RESOURCE_TYPES } from './scim-schema.js';

const User = SCIM_RESOURCE_TYPES.User;

function isInvalidValue(e: unknown) {
  return e instanceof ScimError && e.scimType === 'invalidValue';
}

describe('SCIM list parameters (RFC 7644 §3.4.2.4)', () => {
  it('defaults', () => {
    const p = parseListParams({});
    assert.equal(p.startIndex, 1);
    assert.equal(p.count, SCIM_LIST_LIMITS.defaultCount);
    assert.equal(p.sortOrder, 'ascending');
    assert.equal(p.filter, undefined);
  });
  it('clamps: startIndex < 1 is 1, negative count is 0, huge count is capped', () => {
    assert.equal(parseListParams({ startIndex: '0' }).startIndex, 1);
    assert.equal(parseListParams({ startIndex: '-7' }).startIndex, 1);
    assert.equal(parseListParams({ count: '-1' }).count, 0);
    assert.equal(parseListParams({ count: '0' }).count, 0);
    assert.equal(parseListParams({ count: '1000000' }).count, SCIM_LIST_LIMITS.maxCount);
    assert.equal(parseListParams({ count: '1'.repeat(400) }).count, SCIM_LIST_LIMITS.maxCount);
    assert.equal(parseListParams({ startIndex: '9'.repeat(40) }).startIndex, Number.MAX_SAFE_INTEGER);
  });
  it('names are case-insensitive; URLSearchParams work too', () => {
    const p = parseListParams(
      new URLSearchParams('STARTINDEX=3&Count=5&filter=title%20pr&excludedAttributes=members,%20emails'),
    );
    assert.deepEqual([p.startIndex, p.count, p.filter], [3, 5, 'title pr']);
    assert.deepEqual(p.excludedAttributes, ['members', 'emails']);
  });
  it('refuses non-integers, bad sortOrder, and attributes with excludedAttributes', () => {
    for (const q of [
      { count: '1.5' },
      { count: 'ten' },
      { startIndex: '0x10' },
      { count: '1e3' },
      { sortOrder: 'up' },
    ]) {
      assert.throws(() => parseListParams(q), isInvalidValue, JSON.stringify(q));
    }
    assert.throws(
      () => parseListParams({ attributes: 'userName', excludedAttributes: 'emails' }),
      isInvalidValue,
    );
  });
  it('search bodies (RFC 7644 §3.4.3)', () => {
    const p = parseSearchRequest({
      filter: 'title pr',
      startIndex: 2,
      count: 10,
      attributes: ['userName'],
      sortOrder: 'descending',
    });
    assert.deepEqual([p.filter, p.startIndex, p.count, p.sortOrder], ['title pr', 2, 10, 'descending']);
    assert.deepEqual(p.attributes, ['userName']);
    assert.throws(
      () => parseSearchRequest('x'),
      (e: unknown) => e instanceof ScimError && e.scimType === 'invalidSyntax',
    );
    assert.throws(() => parseSearchRequest({ attributes: [1] }), isInvalidValue);
    assert.throws(() => parseSearchRequest({ filter: { x: 1 } }), isInvalidValue);
  });
});

describe('SCIM list responses', () => {
  it('paginate is 1-based and handles the edges', () => {
    const items = [1, 2, 3, 4, 5];
    assert.deepEqual(paginate(items, { startIndex: 1, count: 2 }), [1, 2]);
    assert.deepEqual(paginate(items, { startIndex: 4, count: 10 }), [4, 5]);
    assert.deepEqual(paginate(items, { startIndex: 6, count: 10 }), []);
    assert.deepEqual(paginate(items, { startIndex: 1, count: 0 }), []);
  });
  it('buildListResponse keeps an empty Resources array', () => {
    assert.deepEqual(buildListResponse([], 7, 1), {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:ListResponse'],
      totalResults: 7,
      startIndex: 1,
      itemsPerPage: 0,
      Resources: [],
    });
  });
  it('sorts by caseExact rules, primary value first, missing values last', () => {
    const rs = [
      { id: '1', userName: 'bob', emails: [{ value: 'z@x' }, { value: 'a@x', primary: true }] },
      { id: '2', userName: 'Alice', emails: [{ value: 'm@x' }] },
      { id: '3', userName: 'carol' },
    ];
    assert.deepEqual(
      sortResources(User, rs, 'userName', 'ascending').map((r) => r.id),
      ['2', '1', '3'],
    );
    assert.deepEqual(
      sortResources(User, rs, 'USERNAME', 'descending').map((r) => r.id),
      ['3', '1', '2'],
    );
    assert.deepEqual(
      sortResources(User, rs, 'emails', 'ascending').map((r) => r.id),
      ['1', '2', '3'],
    );
    assert.deepEqual(
      sortResources(User, rs, 'emails.value', 'descending').map((r) => r.id),
      ['2', '1', '3'],
    );
    assert.throws(() => sortResources(User, rs, 'shoeSize', 'ascending'), isInvalidValue);
  });
});
