import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ScimError } from './scim-errors.js';
import {
  SCIM_FILTER_LIMITS,
  compileScimFilter,
  matchesStoreQuery,
  parseScimFilter,
  toStoreQuery,
} from './scim-filter.js';
import { SCIM_ENTERPRISE_USER_SCHEMA, SCIM_RESOURCE_TYPES } from './scim-schema.js';

const User = SCIM_RESOURCE_TYPES.User;
const Group = SCIM_RESOURCE_TYPES.Group;

const bjensen = {
  schemas: ['urn:ietf:params:scim:schemas:core:2.0:User', SCIM_ENTERPRISE_USER_SCHEMA],
  id: '2819c223-7f76-453a-919d-413861904646',
  externalId: 'BJ-1',
  userName: 'bjensen@example.com',
  name: { familyName: 'Jensen', givenName: 'Barbara' },
  title: 'Tour Guide',
  active: true,
  emails: [
    { value: 'bjensen@example.com', type: 'work', primary: true },
    { value: 'babs@jensen.org', type: 'home' },
  ],
  meta: {
    resourceType: 'User',
    created: '2010-01-23T04:56:22Z',
    lastModified: '2011-05-13T04:42:34Z',
    version: 'W/"3"',
  },
  [SCIM_ENTERPRISE_USER_SCHEMA]: {
    employeeNumber: '701984',
    manager: { value: '26118915-6090-4610-87e4-49d8ca9f808d' },
  },
};

function m(filter: string, resource: Record<string, unknown> = bjensen): boolean {
  return compileScimFilter(User, filter).matches(resource);
}

function rejects(filter: string, pattern?: RegExp) {
  assert.throws(
    () => compileScimFilter(User, filter),
    (e: unknown) =>
      e instanceof ScimError &&
      e.scimType === 'invalidFilter' &&
      e.status === 400 &&
      (!pattern || pattern.test(e.message)),
    filter.length > 80 ? `${filter.slice(0, 80)}…` : filter,
  );
}

describe('SCIM filter: RFC 7644 §3.4.2.2 examples', () => {
  const cases: [string, boolean][] = [
    ['userName eq "bjensen@example.com"', true],
    ['name.familyName co "O\'Malley"', false],
    ['userName sw "J"', false],
    ['userName sw "b"', true],
    ['urn:ietf:params:scim:schemas:core:2.0:User:userName sw "bj"', true],
    ['title pr', true],
    ['nickName pr', false],
    ['meta.lastModified gt "2011-05-13T04:42:34Z"', false],
    ['meta.lastModified ge "2011-05-13T04:42:34Z"', true],
    ['meta.lastModified lt "2011-05-13T04:42:34Z"', false],
    ['meta.lastModified le "2011-05-13T04:42:34Z"', true],
    ['meta.lastModified gt "2011-05-13T04:42:33.999+00:00"', true],
    ['title pr and userType eq "Employee"', false],
    ['title pr or userType eq "Intern"', true],
    ['schemas eq "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"', true],
    ['userType eq "Employee" and (emails co "example.com" or emails.value co "example.org")', false],
    ['userType ne "Employee" and not (emails co "example.com" or emails.value co "example.org")', false],
    ['userType eq "Employee" and (emails.type eq "work")', false],
    ['userType eq "Employee" and emails[type eq "work" and value co "@example.com"]', false],
    [
      'emails[type eq "work" and value co "@example.com"] or ims[type eq "xmpp" and value co "@foo.com"]',
      true,
    ],
    ['emails[type eq "home" and value co "@example.com"]', false],
  ];
  for (const [filter, want] of cases) {
    it(`${filter} -> ${want}`, () => {
      // `schemas` is not a schema attribute; skip that RFC example (we refuse it as unknown).
      if (filter.startsWith('schemas')) {
        rejects(filter, /not an attribute/);
        return;
      }
      assert.equal(m(filter), want);
    });
  }
});

describe('SCIM filter: semantics', () => {
  it('attribute names and operators are case-insensitive', () => {
    assert.equal(m('USERNAME Eq "bjensen@example.com"'), true);
    assert.equal(m('userName EQ "bjensen@example.com" AND Active eq TRUE'), true);
    assert.equal(m('NAME.FAMILYNAME eq "jensen"'), true);
  });
  it('caseExact decides string comparison: userName is case-insensitive, id and externalId exact', () => {
    assert.equal(m('userName eq "BJENSEN@EXAMPLE.COM"'), true);
    assert.equal(m('externalId eq "bj-1"'), false);
    assert.equal(m('externalId eq "BJ-1"'), true);
    assert.equal(m('id eq "2819C223-7F76-453A-919D-413861904646"'), false);
  });
  it('enterprise extension paths', () => {
    assert.equal(m(`${SCIM_ENTERPRISE_USER_SCHEMA}:employeeNumber eq "701984"`), true);
    assert.equal(
      m(`${SCIM_ENTERPRISE_USER_SCHEMA}:manager.value eq "26118915-6090-4610-87e4-49d8ca9f808d"`),
      true,
    );
    assert.equal(
      m(`${SCIM_ENTERPRISE_USER_SCHEMA}:employeeNumber eq 701984`),
      true,
      'number literal as text',
    );
    assert.equal(m(`${SCIM_ENTERPRISE_USER_SCHEMA}:department pr`), false);
  });
  it('precedence: not > and > or', () => {
    // a or b and c  ==  a or (b and c)
    assert.equal(m('title pr or nickName pr and nickName pr'), true);
    // (a or b) and c
    assert.equal(m('(title pr or nickName pr) and nickName pr'), false);
    assert.equal(m('not (title pr) or active eq true'), true);
    assert.equal(m('not (title pr) and active eq true'), false);
    assert.equal(m('not (not (title pr))'), true);
  });
  it('booleans, null and ne', () => {
    assert.equal(m('active eq true'), true);
    assert.equal(m('active eq false'), false);
    assert.equal(m('active eq "True"'), true, 'string booleans as IdPs send them');
    assert.equal(m('active ne false'), true);
    assert.equal(m('nickName eq null'), true);
    assert.equal(m('title eq null'), false);
    assert.equal(m('title ne null'), true);
    assert.equal(m('emails.type ne "work"'), false, 'ne is the negation of eq over all values');
    assert.equal(m('nickName ne "x"'), true);
  });
  it('string escapes', () => {
    const r = { ...bjensen, title: 'say "hi"\\ \u00e9' };
    assert.equal(m('title eq "say \\"hi\\"\\\\ \\u00e9"', r), true);
    assert.equal(m('title co "\\""', r), true);
  });
  it('group members value filter', () => {
    const g = { schemas: [], id: 'g1', displayName: 'Admins', members: [{ value: 'u1' }, { value: 'u2' }] };
    const f = compileScimFilter(Group, 'members[value eq "u2"] and displayName eq "admins"');
    assert.equal(f.matches(g), true);
    assert.equal(
      compileScimFilter(Group, 'members[value eq "U2"]').matches(g),
      false,
      'members.value is caseExact',
    );
    assert.equal(compileScimFilter(Group, 'members.value eq "u1"').matches(g), true);
  });
  it('ordering on strings honours caseExact', () => {
    assert.equal(m('userName gt "A"'), true);
    assert.equal(m('userName lt "C"'), true);
  });
});

describe('SCIM filter: bad input is invalidFilter', () => {
  const bad: [string, RegExp][] = [
    ['', /empty/],
    ['   ', /empty/],
    ['userName', /operator/],
    ['userName eq', /value/],
    ['userName eq bjensen', /quoted string/],
    ['userName xx "a"', /not an operator/],
    ['userName eq "a" and', /attribute path/],
    ['userName eq "a" or or title pr', /not an operator/],
    ['(userName eq "a"', /"\)"/],
    ['userName eq "a")', /Unexpected input/],
    ['userName eq "unterminated', /Unterminated/],
    ['userName eq "bad \\x escape"', /escape/],
    ['emails[type eq "work"', /"\]"/],
    ['emails[type eq "work" and emails[value pr]]', /nested/],
    ['not title pr', /must be followed/],
    ['userName eq 01', /number/],
    ['userName eq 1.', /number/],
    ['nosuch eq "x"', /not an attribute/],
    ['name.nosuch eq "x"', /not an attribute/],
    ['urn:example:unknown:1.0:User:foo eq "x"', /not an attribute/],
    ['active gt true', /not allowed on boolean/],
    ['active eq "yes"', /boolean/],
    ['meta.created gt "yesterday"', /dateTime/],
    ['meta.created co "2011"', /dateTime/],
    ['name eq "x"', /complex/],
    ['userName gt null', /null/],
    ['emails[nosuch eq "x"]', /not a sub-attribute/],
    ['title[value eq "x"]', /not a complex/],
    ['userName eq "a" & title pr', /Unexpected character/],
    ['1userName eq "a"', /number|valid/],
  ];
  for (const [filter, pattern] of bad) {
    it(JSON.stringify(filter), () => rejects(filter, pattern));
  }
  it('refuses filters longer than the limit', () => {
    rejects(`userName eq "${'a'.repeat(SCIM_FILTER_LIMITS.maxLength)}"`, /limit/);
  });
  it('refuses deep nesting without overflowing the stack', () => {
    rejects(`${'('.repeat(1000)}title pr${')'.repeat(1000)}`, /nests deeper/);
    rejects(`${'not ('.repeat(100)}title pr${')'.repeat(100)}`, /nests deeper/);
  });
  it('refuses too many expressions', () => {
    rejects(Array.from({ length: 300 }, () => 'title pr').join(' or '), /more than/);
  });
  it('never throws anything but a ScimError on arbitrary input (property)', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 60 }), (text) => {
        try {
          compileScimFilter(User, text);
        } catch (e) {
          assert.ok(e instanceof ScimError && e.scimType === 'invalidFilter', String(e));
        }
      }),
      { numRuns: 500 },
    );
  });
  it('parses what it prints: and/or trees keep their structure (property)', () => {
    const leaf = fc.constantFrom('title pr', 'userName eq "x"', 'active eq true', 'emails[type eq "work"]');
    const tree: fc.Arbitrary<string> = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc
          .tuple(tie('node'), fc.constantFrom('and', 'or'), tie('node'))
          .map(([a, op, b]) => `(${a} ${op} ${b})`),
        tie('node').map((a) => `not (${a})`),
      ),
    })).node as fc.Arbitrary<string>;
    fc.assert(
      fc.property(tree, (text) => {
        const node = parseScimFilter(text);
        assert.ok(node);
      }),
      { numRuns: 200 },
    );
  });
});

describe('SCIM filter: store query translation', () => {
  it('userName/externalId/id eq become indexed equality', () => {
    assert.deepEqual(toStoreQuery(User, parseScimFilter('userName eq "A@x"')), {
      kind: 'eq',
      attribute: 'userName',
      value: 'A@x',
      caseExact: false,
    });
    assert.deepEqual(toStoreQuery(User, parseScimFilter('EXTERNALID eq "e1"')), {
      kind: 'eq',
      attribute: 'externalId',
      value: 'e1',
      caseExact: true,
    });
    assert.deepEqual(toStoreQuery(Group, parseScimFilter('displayName eq "Admins"')).kind, 'eq');
  });
  it('and keeps the indexable side; or needs both; the rest is all', () => {
    const q = toStoreQuery(User, parseScimFilter('id eq "1" and title pr'));
    assert.deepEqual(q, { kind: 'eq', attribute: 'id', value: '1', caseExact: true });
    assert.equal(toStoreQuery(User, parseScimFilter('id eq "1" or title pr')).kind, 'all');
    assert.equal(toStoreQuery(User, parseScimFilter('id eq "1" or userName eq "b"')).kind, 'or');
    assert.equal(toStoreQuery(User, parseScimFilter('not (id eq "1")')).kind, 'all');
    assert.equal(toStoreQuery(User, parseScimFilter('userName ne "1"')).kind, 'all');
    assert.equal(
      toStoreQuery(User, parseScimFilter('displayName eq "x"')).kind,
      'all',
      'not indexed for users',
    );
    assert.equal(toStoreQuery(User, undefined).kind, 'all');
  });
  it('the store query is always a superset of the filter matches (property)', () => {
    const users = [bjensen, { ...bjensen, id: 'x2', userName: 'other', externalId: 'e2' }];
    const leaf = fc.constantFrom(
      'userName eq "BJENSEN@example.com"',
      'userName eq "other"',
      'externalId eq "e2"',
      'id eq "x2"',
      'title pr',
      'active eq false',
    );
    const tree: fc.Arbitrary<string> = fc.letrec((tie) => ({
      node: fc.oneof(
        { depthSize: 'small' },
        leaf,
        fc
          .tuple(tie('node'), fc.constantFrom('and', 'or'), tie('node'))
          .map(([a, op, b]) => `(${a} ${op} ${b})`),
        tie('node').map((a) => `not (${a})`),
      ),
    })).node as fc.Arbitrary<string>;
    fc.assert(
      fc.property(tree, (text) => {
        const f = compileScimFilter(User, text);
        const q = toStoreQuery(User, f.node);
        for (const u of users) if (f.matches(u)) assert.ok(matchesStoreQuery(q, u), text);
      }),
      { numRuns: 300 },
    );
  });
});
