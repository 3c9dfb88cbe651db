// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${key}.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseConditionOperator } from '../condition-operators.js';
import {
  catalog,
  findAction,
  findBuiltInRole,
  findConditionKey,
  isDataAction,
  isUnsupportedGlobalConditionKey,
  listActions,
  matchActions,
} from './catalog.js';

const ACCESS_LEVELS = new Set(['List', 'Read', 'Write', 'Permissions management', 'Tagging']);

describe('catalog consistency', () => {
  it('names every action once, case-insensitively, in the services the brief lists', () => {
    const names = listActions().map((a) => a.name.toLowerCase());
    assert.equal(new Set(names).size, names.length);
    assert.deepEqual(
      catalog.services.map((s) => s.prefix),
      ['s3', 'iam', 'sts', 'ml', 'aiam', 'scim'],
    );
    for (const a of listActions()) {
      assert.match(a.name, /^[a-z0-9]+:[A-Z][A-Za-z0-9]+$/, a.name);
      assert.ok(ACCESS_LEVELS.has(a.accessLevel), `${a.name}: access level ${a.accessLevel}`);
      assert.ok(a.plane === 'control' || a.plane === 'data', `${a.name}: plane ${a.plane}`);
      assert.ok(a.description.length > 5, `${a.name} has a description`);
    }
  });

  it('refers only to resource types and condition keys that it defines', () => {
    for (const s of catalog.services) {
      const types = new Set(s.resourceTypes.map((t) => t.name));
      for (const a of s.actions) {
        for (const t of a.resourceTypes) assert.ok(types.has(t), `${a.name}: unknown resource type ${t}`);
        for (const k of a.conditionKeys) {
          const def = findConditionKey(k.replace('${TagKey}', 'example'));
          assert.ok(def, `${a.name}: undefined condition key ${k}`);
        }
      }
      for (const t of s.resourceTypes)
        assert.match(t.arn, new RegExp(`^arn:\\$\\{Partition\\}:(${s.prefix}|iam):`));
    }
  });

  it('gives every condition key a valid type, and no key is both supported and unsupported', () => {
    const types = new Set(catalog.conditionKeyTypes);
    const keys = [...catalog.globalConditionKeys, ...catalog.services.flatMap((s) => s.conditionKeys)];
    for (const k of keys) assert.ok(types.has(k.type), `${k.name}: type ${k.type}`);
    const names = keys.map((k) => k.name.toLowerCase());
    assert.equal(new Set(names).size, names.length, 'condition keys are unique');
    for (const k of catalog.unsupportedGlobalConditionKeys) {
      assert.equal(findConditionKey(k), undefined, `${k} is listed as unsupported but also defined`);
    }
  });

  it("matches every built-in role's patterns to at least one action of the right plane", () => {
    assert.ok(catalog.roleDefinitions.length >= 8);
    for (const role of catalog.roleDefinitions) {
      for (const [field, plane] of [
        ['actions', 'control'],
        ['notActions', 'control'],
        ['dataActions', 'data'],
        ['notDataActions', 'data'],
      ] as const) {
        for (const pattern of role[field]) {
          const matched = matchActions(pattern).filter((a) => a.plane === plane);
          assert.ok(matched.length > 0, `${role.name}.${field}: "${pattern}" matches no ${plane} action`);
        }
      }
    }
    for (const name of ['Owner', 'Contributor', 'Reader', 'DataReader', 'DataWriter', 'EndpointInvoker']) {
      assert.ok(findBuiltInRole(name), name);
    }
  });

  it('marks data-plane actions, so Reader (control only) cannot read objects', () => {
    assert.equal(isDataAction('s3:GetObject'), true);
    assert.equal(isDataAction('S3:getobject'), true);
    assert.equal(isDataAction('ml:InvokeEndpoint'), true);
    assert.equal(isDataAction('s3:PutBucketPolicy'), false);
    assert.equal(isDataAction('nope:Nothing'), false);
    // Reader's "*:Get*" names s3:GetObject too; only the plane keeps data out of a control grant.
    const reader = findBuiltInRole('reader')!;
    assert.ok(reader.actions.some((p) => matchActions(p).some((a) => a.name === 's3:GetObject')));
    assert.equal(reader.dataActions.length, 0);
    const dataReader = findBuiltInRole('DataReader')!;
    assert.ok(dataReader.dataActions.includes('s3:GetObject'));
    assert.ok(!dataReader.dataActions.some((p) => matchActions(p).some((a) => a.name === 's3:PutObject')));
  });

  it('looks up actions and keys case-insensitively, tag families by prefix', () => {
    assert.equal(findAction('S3:GETOBJECT')?.name, 's3:GetObject');
    assert.equal(findAction('s3:GetObjet'), undefined);
    assert.equal(findConditionKey('AWS:SourceIP')?.type, 'IPAddress');
    assert.equal(findConditionKey('aws:PrincipalTag/team')?.name, 'aws:PrincipalTag/${TagKey}');
    assert.equal(findConditionKey('aws:PrincipalTag/'), undefined);
    assert.equal(findConditionKey('s3:max-keys')?.type, 'Numeric');
    assert.equal(findConditionKey('s3:ExistingObjectTag/classification')?.type, 'String');
    assert.equal(findConditionKey('sts:RoleSessionName')?.type, 'String');
    assert.equal(findConditionKey('ml:ModelVersion')?.type, 'String');
    assert.equal(isUnsupportedGlobalConditionKey('aws:sourcevpc'), true);
    assert.ok(parseConditionOperator('StringEquals'));
  });
});
