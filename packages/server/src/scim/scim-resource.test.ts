import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { schemasList, serviceProviderConfig } from './scim-discovery.js';
import { ScimError } from './scim-errors.js';
import { projectResource, validateResource } from './scim-resource.js';
import {
  SCIM_ENTERPRISE_USER_SCHEMA as ENT,
  SCIM_RESOURCE_TYPES,
  SCIM_USER_SCHEMA,
  SCIM_VALUE_LIMITS,
  resolveAttributePath,
} from './scim-schema.js';

const User = SCIM_RESOURCE_TYPES.User;
const Group = SCIM_RESOURCE_TYPES.Group;

function invalid(scimType: string) {
  return (e: unknown) => e instanceof ScimError && e.scimType === scimType;
}

describe('SCIM resource validation', () => {
  it('canonicalizes attribute names, coerces string booleans, drops unassigned and readOnly values', () => {
    const r = validateResource(User, {
      Schemas: [SCIM_USER_SCHEMA],
      USERNAME: 'a@x',
      Active: 'False',
      name: { GivenName: 'A', familyName: null, nosuch: 'x' },
      emails: { value: 'a@x', type: 'work' },
      title: '',
      phoneNumbers: [],
      id: 'client-chosen',
      meta: { created: 'x' },
      groups: [{ value: 'g1' }],
      [ENT.toLowerCase()]: { Department: 'R&D', manager: 'm1' },
    });
    assert.deepEqual(r, {
      schemas: [SCIM_USER_SCHEMA, ENT],
      userName: 'a@x',
      active: false,
      name: { givenName: 'A' },
      emails: [{ value: 'a@x', type: 'work' }],
      [ENT]: { department: 'R&D', manager: { value: 'm1' } },
    });
  });
  it('unknown attributes: ignored by default, refused when asked', () => {
    assert.equal(validateResource(User, { schemas: [SCIM_USER_SCHEMA], userName: 'a', x: 1 }).x, undefined);
    assert.throws(
      () =>
        validateResource(
          User,
          { schemas: [SCIM_USER_SCHEMA], userName: 'a', x: 1 },
          { unknownAttributes: 'reject' },
        ),
      invalid('invalidValue'),
    );
    assert.throws(
      () =>
        validateResource(
          User,
          { schemas: [SCIM_USER_SCHEMA], userName: 'a', name: { x: 1 } },
          { unknownAttributes: 'reject' },
        ),
      invalid('invalidValue'),
    );
  });
  it('refuses wrong types with invalidValue naming the attribute', () => {
    const bad: Record<string, unknown>[] = [
      { active: 'yes' },
      { active: 0 },
      { userName: 5 },
      { name: 'x' },
      { name: [{ givenName: 'a' }, { givenName: 'b' }] },
      { emails: [{ value: 1 }] },
      {
        emails: [
          { value: 'a', primary: true },
          { value: 'b', primary: true },
        ],
      },
      { x509Certificates: [{ value: 'not base64!' }] },
      { [ENT]: 'x' },
      { [ENT]: { manager: 7 } },
      { userName: 'x'.repeat(SCIM_VALUE_LIMITS.maxStringLength + 1) },
      {
        emails: Array.from({ length: SCIM_VALUE_LIMITS.maxMultiValues + 1 }, (_, i) => ({ value: `${i}@x` })),
      },
    ];
    for (const extra of bad) {
      assert.throws(
        () => validateResource(User, { schemas: [SCIM_USER_SCHEMA], userName: 'a', ...extra }),
        (e: unknown) => e instanceof ScimError && e.scimType === 'invalidValue' && e.message.length > 10,
        JSON.stringify(extra).slice(0, 80),
      );
    }
  });
  it('schemas is required and must carry the core schema; required attributes', () => {
    assert.throws(() => validateResource(User, { userName: 'a' }), invalid('invalidSyntax'));
    assert.throws(() => validateResource(User, { schemas: 'x', userName: 'a' }), invalid('invalidSyntax'));
    assert.throws(() => validateResource(User, { schemas: [ENT], userName: 'a' }), invalid('invalidSyntax'));
    assert.throws(() => validateResource(User, { schemas: [SCIM_USER_SCHEMA] }), invalid('invalidValue'));
    assert.throws(
      () => validateResource(Group, { schemas: [Group.schema.id], displayName: null }),
      invalid('invalidValue'),
    );
    assert.throws(() => validateResource(User, null), invalid('invalidSyntax'));
  });
  it('never throws anything but a ScimError on arbitrary JSON (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), fc.jsonValue(), (a, b) => {
        for (const body of [
          a,
          { schemas: [SCIM_USER_SCHEMA], userName: 'u', emails: a, name: b, active: a },
        ]) {
          try {
            validateResource(User, body);
          } catch (e) {
            assert.ok(e instanceof ScimError, String(e));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('SCIM attribute paths', () => {
  it('resolves core, URN-prefixed, common, extension and unprefixed extension names', () => {
    assert.equal(resolveAttributePath(User, 'name.givenName')?.subAttribute?.name, 'givenName');
    assert.equal(resolveAttributePath(User, `${SCIM_USER_SCHEMA}:userName`)?.attribute.name, 'userName');
    assert.equal(resolveAttributePath(User, 'META.LASTMODIFIED')?.subAttribute?.name, 'lastModified');
    assert.equal(resolveAttributePath(User, `${ENT}:manager.value`)?.extension, ENT);
    assert.equal(resolveAttributePath(User, 'employeeNumber')?.extension, ENT);
    assert.equal(resolveAttributePath(User, 'name.givenName.x'), undefined);
    assert.equal(resolveAttributePath(User, 'urn:x:y:userName'), undefined);
    assert.equal(resolveAttributePath(Group, 'employeeNumber'), undefined);
  });
});

describe('SCIM projection (RFC 7644 §3.4.2.5)', () => {
  const full = {
    schemas: [SCIM_USER_SCHEMA, ENT],
    id: 'u1',
    userName: 'a@x',
    name: { givenName: 'A', familyName: 'B' },
    emails: [{ value: 'a@x', type: 'work' }],
    meta: { resourceType: 'User' },
    [ENT]: { department: 'R&D', manager: { value: 'm' } },
  };
  it('attributes keeps id and schemas plus the named ones', () => {
    assert.deepEqual(projectResource(User, full, { attributes: ['userName', 'name.familyName'] }), {
      schemas: [SCIM_USER_SCHEMA],
      id: 'u1',
      userName: 'a@x',
      name: { familyName: 'B' },
    });
    assert.deepEqual(projectResource(User, full, { attributes: [`${ENT}:department`] }), {
      schemas: [SCIM_USER_SCHEMA, ENT],
      id: 'u1',
      [ENT]: { department: 'R&D' },
    });
  });
  it('excludedAttributes removes, but never id', () => {
    const r = projectResource(User, full, {
      excludedAttributes: ['emails', 'id', 'name.givenName', ENT + ':manager'],
    });
    assert.equal(r.emails, undefined);
    assert.equal(r.id, 'u1');
    assert.deepEqual(r.name, { familyName: 'B' });
    assert.deepEqual(r[ENT], { department: 'R&D' });
  });
  it('refuses unknown paths', () => {
    assert.throws(() => projectResource(User, full, { attributes: ['nosuch'] }), invalid('invalidValue'));
  });
});

describe('SCIM discovery documents', () => {
  it('ServiceProviderConfig advertises what is implemented', () => {
    const spc = serviceProviderConfig('https://x/scim/v2/');
    assert.deepEqual(spc.patch, { supported: true });
    assert.deepEqual(spc.etag, { supported: true });
    assert.equal((spc.meta as { location: string }).location, 'https://x/scim/v2/ServiceProviderConfig');
  });
  it('/Schemas lists User, EnterpriseUser and Group with RFC 7643 §7 characteristics', () => {
    const list = schemasList('https://x');
    assert.equal(list.totalResults, 3);
    const user = list.Resources.find((s) => s.id === SCIM_USER_SCHEMA) as {
      attributes: Record<string, unknown>[];
    };
    const userName = user.attributes.find((a) => a.name === 'userName')!;
    assert.deepEqual(
      [
        userName.type,
        userName.required,
        userName.caseExact,
        userName.mutability,
        userName.returned,
        userName.uniqueness,
      ],
      ['string', true, false, 'readWrite', 'default', 'server'],
    );
    assert.equal(
      user.attributes.some((a) => a.name === 'password'),
      false,
      'no password attribute',
    );
    const emails = user.attributes.find((a) => a.name === 'emails') as { subAttributes: { name: string }[] };
    assert.deepEqual(
      emails.subAttributes.map((s) => s.name),
      ['value', 'display', 'type', 'primary'],
    );
  });
});
