import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ScimError, type ScimType } from './scim-errors.js';
import { SCIM_PATCH_OP_SCHEMA, applyScimPatch } from './scim-patch.js';
import {
  SCIM_ENTERPRISE_USER_SCHEMA as ENT,
  SCIM_GROUP_SCHEMA,
  SCIM_RESOURCE_TYPES,
  SCIM_USER_SCHEMA,
} from './scim-schema.js';

const User = SCIM_RESOURCE_TYPES.User;
const Group = SCIM_RESOURCE_TYPES.Group;

const user = Object.freeze({
  schemas: [SCIM_USER_SCHEMA],
  id: 'u1',
  userName: 'jdoe@example.com',
  name: { givenName: 'John', familyName: 'Doe', formatted: 'John Doe' },
  active: true,
  emails: [{ value: 'jdoe@example.com', type: 'work', primary: true }],
  meta: {
    resourceType: 'User',
    created: '2025-01-01T00:00:00Z',
    lastModified: '2025-01-01T00:00:00Z',
    version: 'W/"1"',
  },
});

const group = Object.freeze({
  schemas: [SCIM_GROUP_SCHEMA],
  id: 'g1',
  displayName: 'ml-readers',
  members: [{ value: 'u1' }, { value: 'u2' }],
  meta: { resourceType: 'Group' },
});

function patch(ops: unknown[], resource: Record<string, unknown> = user, type = User) {
  return applyScimPatch(type, resource, { schemas: [SCIM_PATCH_OP_SCHEMA], Operations: ops }).resource;
}

function fails(
  ops: unknown[],
  scimType: ScimType,
  resource: Record<string, unknown> = user,
  type = User,
  pattern?: RegExp,
) {
  assert.throws(
    () => patch(ops, resource, type),
    (e: unknown) =>
      e instanceof ScimError && e.scimType === scimType && (!pattern || pattern.test(e.message)),
    JSON.stringify(ops),
  );
}

describe('SCIM PATCH: RFC 7644 §3.5.2', () => {
  it('replace a simple attribute, capitalized op as Entra ID sends it', () => {
    const r = patch([{ op: 'Replace', path: 'userName', value: 'new@example.com' }]);
    assert.equal(r.userName, 'new@example.com');
    assert.equal(r.id, 'u1', 'readOnly id carried over');
    assert.deepEqual(r.meta, user.meta);
  });
  it('"active": "False" and "True" as strings become booleans', () => {
    assert.equal(patch([{ op: 'Replace', path: 'active', value: 'False' }]).active, false);
    assert.equal(
      patch([{ op: 'replace', path: 'active', value: 'TRUE' }], { ...user, active: false }).active,
      true,
    );
    assert.equal(
      patch([{ op: 'replace', value: { active: false } }]).active,
      false,
      'Okta deactivation form',
    );
  });
  it('sub-attribute paths leave siblings alone', () => {
    const r = patch([{ op: 'Replace', path: 'name.familyName', value: 'Smith' }]);
    assert.deepEqual(r.name, { givenName: 'John', familyName: 'Smith', formatted: 'John Doe' });
  });
  it('value-filter path with sub-attribute: replace emails[type eq "work"].value', () => {
    const r = patch([{ op: 'Replace', path: 'emails[type eq "work"].value', value: 'updated@example.com' }]);
    assert.deepEqual(r.emails, [{ value: 'updated@example.com', type: 'work', primary: true }]);
  });
  it('value-filter path creates the element when none matches a simple eq filter (Entra ID)', () => {
    const r = patch([{ op: 'Replace', path: 'phoneNumbers[type eq "mobile"].value', value: '+1 555 0100' }]);
    assert.deepEqual(r.phoneNumbers, [{ type: 'mobile', value: '+1 555 0100' }]);
  });
  it('replace without path: dotted and URN keys (Entra ID aadOptscim062020 form)', () => {
    const r = patch([
      {
        op: 'replace',
        value: {
          displayName: 'Bjfe',
          'name.givenName': 'Kkom',
          'name.familyName': 'Unua',
          [`${ENT}:employeeNumber`]: 'Aklq',
        },
      },
    ]);
    assert.equal(r.displayName, 'Bjfe');
    assert.deepEqual(r.name, { givenName: 'Kkom', familyName: 'Unua', formatted: 'John Doe' });
    assert.deepEqual(r[ENT], { employeeNumber: 'Aklq' });
    assert.ok((r.schemas as string[]).includes(ENT), 'extension schema listed once it has data');
  });
  it('enterprise manager: path with URN, array value (Entra ID) and bare id string', () => {
    const a = patch([
      { op: 'Add', path: `${ENT}:manager`, value: [{ $ref: 'http://x/Users/m1', value: 'm1' }] },
    ]);
    assert.deepEqual(a[ENT], { manager: { $ref: 'http://x/Users/m1', value: 'm1' } });
    const b = patch([{ op: 'replace', path: `${ENT}:manager`, value: 'm2' }], a);
    assert.deepEqual(b[ENT], { manager: { $ref: 'http://x/Users/m1', value: 'm2' } });
    const c = patch([{ op: 'remove', path: `${ENT}:manager` }], b);
    assert.equal(c[ENT], undefined, 'empty extension is dropped');
    assert.deepEqual(c.schemas, [SCIM_USER_SCHEMA]);
  });
  it('extension object as a whole in a no-path add', () => {
    const r = patch([{ op: 'add', value: { [ENT]: { department: 'R&D', costCenter: 'cc1' } } }]);
    assert.deepEqual(r[ENT], { department: 'R&D', costCenter: 'cc1' });
  });
  it('add to a multi-valued attribute appends, dedupes, and demotes the old primary', () => {
    const r = patch([
      {
        op: 'add',
        path: 'emails',
        value: [
          { value: 'jdoe@example.com', type: 'work' },
          { value: 'home@example.com', type: 'home', primary: true },
        ],
      },
    ]);
    assert.deepEqual(r.emails, [
      { value: 'jdoe@example.com', type: 'work', primary: false },
      { value: 'home@example.com', type: 'home', primary: true },
    ]);
  });
  it('group members: add with [{value}] and "$ref": null, remove by value array and by filter', () => {
    const added = patch(
      [{ op: 'Add', path: 'members', value: [{ $ref: null, value: 'u3' }, { value: 'u1' }] }],
      group,
      Group,
    );
    assert.deepEqual(added.members, [{ value: 'u1' }, { value: 'u2' }, { value: 'u3' }]);
    const removed = patch(
      [{ op: 'Remove', path: 'members', value: [{ value: 'u1' }, { value: 'nobody' }] }],
      added,
      Group,
    );
    assert.deepEqual(removed.members, [{ value: 'u2' }, { value: 'u3' }]);
    const filtered = patch([{ op: 'remove', path: 'members[value eq "u2"]' }], removed, Group);
    assert.deepEqual(filtered.members, [{ value: 'u3' }]);
    const all = patch([{ op: 'remove', path: 'members' }], filtered, Group);
    assert.equal(all.members, undefined);
  });
  it('Okta group rename: replace with id and displayName; unchanged id is ignored', () => {
    const r = patch([{ op: 'replace', value: { id: 'g1', displayName: 'ml-writers' } }], group, Group);
    assert.equal(r.displayName, 'ml-writers');
    fails([{ op: 'replace', value: { id: 'other', displayName: 'x' } }], 'mutability', group, Group);
  });
  it('replace members replaces the whole list (Okta push groups)', () => {
    const r = patch(
      [{ op: 'replace', path: 'members', value: [{ value: 'u9', display: 'nine' }] }],
      group,
      Group,
    );
    assert.deepEqual(r.members, [{ value: 'u9', display: 'nine' }]);
  });
  it('remove a sub-attribute from filtered values, and a whole single-valued attribute', () => {
    const r = patch([
      { op: 'remove', path: 'emails[type eq "work"].primary' },
      { op: 'remove', path: 'name.formatted' },
    ]);
    assert.deepEqual(r.emails, [{ value: 'jdoe@example.com', type: 'work' }]);
    assert.deepEqual(r.name, { givenName: 'John', familyName: 'Doe' });
  });
  it('replace with null clears an attribute; undefined attributes in values are ignored', () => {
    const r = patch([
      { op: 'replace', path: 'name', value: null },
      { op: 'replace', value: { password: 'secret!', favouriteColour: 'blue' } },
    ]);
    assert.equal(r.name, undefined);
    assert.equal(r.password, undefined, 'passwords are never stored');
    assert.equal(r.favouriteColour, undefined);
  });
  it('reports whether anything changed and never mutates its input', () => {
    const same = applyScimPatch(User, user, {
      schemas: [SCIM_PATCH_OP_SCHEMA],
      Operations: [{ op: 'replace', path: 'active', value: true }],
    });
    assert.equal(same.changed, false);
    const diff = applyScimPatch(User, user, {
      schemas: [SCIM_PATCH_OP_SCHEMA],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    assert.equal(diff.changed, true);
    assert.equal(user.active, true);
  });
  it('is atomic: a failing later operation leaves nothing applied', () => {
    const copy = structuredClone(user) as Record<string, unknown>;
    fails(
      [
        { op: 'replace', path: 'userName', value: 'x' },
        { op: 'replace', path: 'id', value: 'y' },
      ],
      'mutability',
      copy,
    );
    assert.equal(copy.userName, 'jdoe@example.com');
  });
});

describe('SCIM PATCH: bad input', () => {
  it('invalidSyntax for malformed bodies', () => {
    for (const body of [
      null,
      [],
      'x',
      { Operations: [] },
      { schemas: ['nope'], Operations: [{ op: 'add' }] },
    ]) {
      assert.throws(
        () => applyScimPatch(User, user, body),
        (e: unknown) => e instanceof ScimError && e.scimType === 'invalidSyntax',
      );
    }
    fails([{ op: 'merge', path: 'userName', value: 'x' }], 'invalidSyntax');
    fails(['add'], 'invalidSyntax');
    fails(
      new Array(1001).fill({ op: 'replace', path: 'title', value: 'x' }),
      'invalidSyntax',
      user,
      User,
      /limit/,
    );
  });
  it('noTarget: remove without path; filters matching nothing', () => {
    fails([{ op: 'remove' }], 'noTarget');
    fails([{ op: 'remove', path: 'emails[type eq "home"]' }], 'noTarget');
    fails(
      [{ op: 'replace', path: 'emails[type eq "home" or type eq "other"].value', value: 'x' }],
      'noTarget',
    );
    fails([{ op: 'remove', path: 'members[value eq "zzz"]' }], 'noTarget', group, Group);
  });
  it('invalidPath: unknown attributes, bad filters, sub-attributes of multi-valued without filter', () => {
    fails([{ op: 'replace', path: 'nosuch', value: 'x' }], 'invalidPath');
    fails([{ op: 'replace', path: 'name.nosuch', value: 'x' }], 'invalidPath');
    fails([{ op: 'replace', path: 'emails[type eq "work"', value: 'x' }], 'invalidPath');
    fails([{ op: 'replace', path: 'emails[type eq work].value', value: 'x' }], 'invalidPath');
    fails([{ op: 'replace', path: 'emails[type eq "work"].nosuch', value: 'x' }], 'invalidPath');
    fails([{ op: 'replace', path: 'name[givenName eq "x"]', value: 'x' }], 'invalidPath');
    fails([{ op: 'replace', path: 'emails.value', value: 'x' }], 'invalidPath');
    fails([{ op: 'replace', path: 'urn:example:nope:User:foo', value: 'x' }], 'invalidPath');
    fails([{ op: 'replace', path: 7, value: 'x' }], 'invalidPath');
  });
  it('invalidValue: wrong types and missing values', () => {
    fails([{ op: 'replace', path: 'active', value: 'maybe' }], 'invalidValue');
    fails([{ op: 'replace', path: 'active', value: 1 }], 'invalidValue');
    fails([{ op: 'replace', path: 'userName', value: 42 }], 'invalidValue');
    fails([{ op: 'replace', path: 'userName', value: ['a', 'b'] }], 'invalidValue');
    fails([{ op: 'replace', path: 'name', value: 'just a string' }], 'invalidValue');
    fails([{ op: 'add', path: 'userName' }], 'invalidValue');
    fails([{ op: 'replace', value: 'not an object' }], 'invalidValue');
    fails([{ op: 'remove', path: 'userName' }], 'invalidValue', user, User, /required/);
    fails(
      [
        {
          op: 'add',
          path: 'emails',
          value: [
            { value: 'a@x', primary: true },
            { value: 'b@x', primary: true },
          ],
        },
      ],
      'invalidValue',
      user,
      User,
      /primary/,
    );
  });
  it('mutability: readOnly id, meta, groups', () => {
    fails([{ op: 'replace', path: 'id', value: 'other' }], 'mutability');
    fails([{ op: 'remove', path: 'id' }], 'mutability');
    fails([{ op: 'replace', path: 'meta.created', value: '2020-01-01T00:00:00Z' }], 'mutability');
    fails([{ op: 'add', path: 'groups', value: [{ value: 'g1' }] }], 'mutability');
    fails([{ op: 'replace', path: `${ENT}:manager.displayName`, value: 'Boss' }], 'mutability');
  });
});

describe('SCIM PATCH: arbitrary input (property)', () => {
  it('either applies and yields a valid resource, or throws a ScimError; the input is never modified', () => {
    const path = fc.oneof(
      fc.constantFrom(
        'userName',
        'active',
        'name.givenName',
        'emails',
        'emails[type eq "work"].value',
        'emails[type eq "work"]',
        `${ENT}:manager`,
        'members',
        'id',
        'meta.version',
        'groups',
      ),
      fc.string({ maxLength: 20 }),
    );
    const op = fc.record(
      {
        op: fc.constantFrom('add', 'Replace', 'remove', 'REMOVE', 'copy'),
        path,
        value: fc.jsonValue({ maxDepth: 2 }),
      },
      { requiredKeys: ['op'] },
    );
    const snapshot = JSON.stringify(user);
    fc.assert(
      fc.property(fc.array(op, { minLength: 1, maxLength: 4 }), (ops) => {
        try {
          const r = patch(ops);
          assert.equal(typeof r.userName, 'string');
          assert.equal(r.id, 'u1');
        } catch (e) {
          assert.ok(e instanceof ScimError, String(e));
        }
        assert.equal(JSON.stringify(user), snapshot);
      }),
      { numRuns: 500 },
    );
  });
});
