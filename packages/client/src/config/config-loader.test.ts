import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  checkConfigValue,
  ConfigError,
  formatConfigIssue,
  loadConfigText,
  parseConfigText,
} from './config-loader.js';

const POLICY = `
policies:
  read:
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: s3:GetObject
          Resource: arn:aws:s3:::data/*
`;

function errorsOf(text: string) {
  return parseConfigText(text, { fileName: 'access.yaml' }).errors;
}

describe('parseConfigText', () => {
  it('loads a valid file into the normalized form', () => {
    const { config, warnings } = loadConfigText(
      `${POLICY}\nusers:\n  alice:\n    policies: [read]\n    accessKeys: [ci]\n`,
    );
    assert.deepEqual(warnings, []);
    assert.deepEqual(config.users.alice, {
      path: '/',
      tags: {},
      policies: ['read'],
      inlinePolicies: {},
      groups: [],
      permissionsBoundary: null,
      accessKeys: { ci: { status: 'Active' } },
    });
  });

  it('treats an empty file and empty entries as empty', () => {
    assert.deepEqual(loadConfigText('').config.users, {});
    assert.deepEqual(loadConfigText('buckets:\n  data:\n').config.buckets, {
      data: { policy: null, tags: {} },
    });
  });

  it('reports a YAML syntax error with its line and column', () => {
    const errors = errorsOf('users:\n  alice:\n    path: /\n   bad: [\n');
    assert.ok(errors.length >= 1);
    assert.equal(errors[0]!.file, 'access.yaml');
    assert.equal(errors[0]!.line, 4);
    assert.match(errors[0]!.message, /^YAML: /);
  });

  it('refuses duplicate keys at the second one', () => {
    const errors = errorsOf('users:\n  alice: {}\nusers:\n  bob: {}\n');
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.line, 3);
    assert.match(errors[0]!.message, /unique/i);
  });

  it('points an unknown key at the key, with a did-you-mean', () => {
    const errors = errorsOf('users:\n  alice:\n    polices: [x]\n');
    assert.equal(errors.length, 1);
    assert.deepEqual([errors[0]!.line, errors[0]!.column, errors[0]!.path], [3, 5, 'users.alice.polices']);
    assert.match(errors[0]!.message, /Did you mean "policies"\?/);
  });

  it('points a reference to an undefined policy at its line', () => {
    const errors = errorsOf(`${POLICY}users:\n  alice:\n    policies:\n      - read\n      - reed\n`);
    assert.equal(errors.length, 1);
    assert.deepEqual([errors[0]!.line, errors[0]!.path], [14, 'users.alice.policies[1]']);
    assert.match(errors[0]!.message, /Policy "reed" is not defined.*Did you mean "read"\?/);
  });

  it('points a policy finding at the line inside the document', () => {
    const text = POLICY.replace('s3:GetObject', 's3:GetObjekt');
    const errors = errorsOf(text);
    assert.equal(errors.length, 1);
    assert.equal(errors[0]!.line, 8);
    assert.equal(errors[0]!.path, 'policies.read.document.Statement[0].Action');
    assert.match(errors[0]!.message, /INVALID_ACTION/);
  });

  it('reports a wrong type, and suggests quoting a number where a string belongs', () => {
    const errors = errorsOf(
      'roles:\n  r:\n    trust: {}\n    maxSessionDuration: "long"\nusers:\n  a:\n    tags: { n: 3 }\n',
    );
    const byPath = new Map(errors.map((e) => [e.path, e]));
    assert.equal(byPath.get('roles.r.maxSessionDuration')!.line, 4);
    assert.match(byPath.get('roles.r.maxSessionDuration')!.message, /whole number/);
    assert.equal(byPath.get('users.a.tags.n')!.line, 7);
    assert.match(byPath.get('users.a.tags.n')!.message, /Quote it: "3"/);
  });

  it('reports every error of a file at once, in line order', () => {
    const text = [
      'buckets:',
      '  Bad_Bucket: {}', // 2: invalid name
      'users:',
      '  alice:',
      '    groups: [ml]', // 5: undefined group
      'groups:',
      '  ops:',
      '    members: [alice]', // 8: membership belongs on the user
      'roleAssignments:',
      '  - principal: user/carol', // 10: undefined user
      '    role: DataRaeder', // 11: unknown role
      '    scope: workspace/nope', // 12: undefined workspace
    ].join('\n');
    const errors = errorsOf(text);
    assert.deepEqual(
      errors.map((e) => e.line),
      [2, 5, 8, 10, 11, 12],
    );
    assert.match(errors[2]!.message, /users\.NAME\.groups/);
    assert.match(errors[4]!.message, /Did you mean "DataReader"\?/);
    assert.match(formatConfigIssue(errors[0]!), /^access\.yaml:2:3: error: buckets\.Bad_Bucket: /);
  });

  it('checks principals, scopes and deployments against what the file declares', () => {
    const text = `
workspaces:
  ws:
    models:
      m:
        versions:
          "1": { artifact: s3://data/m/1 }
    endpoints:
      e:
        deployments:
          blue: { upstream: "http://127.0.0.1:8001", model: "m:2", traffic: 60 }
          green: { upstream: "http://127.0.0.1:8002", model: "m:1", traffic: 30 }
roleAssignments:
  - { principal: workspace/ws/endpoint/e, role: Reader, scope: workspace/ws/model/m/version/3 }
`;
    const errors = errorsOf(text);
    const messages = errors.map((e) => `${e.line} ${e.message}`);
    assert.equal(errors.length, 4, messages.join('\n'));
    assert.match(messages[0]!, /^10 The traffic .* adds up to 90/);
    assert.match(messages[1]!, /^11 Model "m" has no version "2"/);
    assert.match(messages[2]!, /^14 Endpoint "e" has no system-assigned identity/);
    assert.match(messages[3]!, /^14 Version "3" is not defined of model "m"/);
  });

  it('validates CIDRs, trust policies and the built-in role names', () => {
    const text = `
roles:
  exec:
    trust:
      Version: "2012-10-17"
      Statement: [{ Effect: Allow, Action: sts:AssumeRole }]
domains:
  d:
    defaultUserSettings: { executionRole: exec, allowedNetworks: [10.0.0.0/33] }
roleDefinitions:
  Reader: { actions: ["ml:Get*"] }
`;
    const errors = errorsOf(text);
    assert.deepEqual(
      errors.map((e) => e.line),
      [6, 9, 11],
    );
    assert.match(errors[0]!.message, /trust policy/);
    assert.match(errors[1]!.message, /not an IP network/);
    assert.match(errors[2]!.message, /built-in role/);
  });

  it('throws ConfigError with every issue from loadConfigText', () => {
    assert.throws(
      () => loadConfigText('users:\n  a: { policies: [x] }\n  b: { groups: [y] }\n', { fileName: 'f.yaml' }),
      (err: unknown) =>
        err instanceof ConfigError && err.issues.length === 2 && /f\.yaml:2:/.test(err.message),
    );
  });
});

describe('checkConfigValue', () => {
  it('checks a TypeScript config value, with key paths and no lines', () => {
    const result = checkConfigValue({ users: { alice: { policies: ['nope'], path: undefined } } });
    assert.equal(result.errors.length, 1);
    assert.equal(result.errors[0]!.path, 'users.alice.policies[0]');
    assert.equal(result.errors[0]!.line, undefined);
  });

  it('refuses values that are not plain data', () => {
    const result = checkConfigValue({ users: { alice: { tags: { when: new Date(0) } } } });
    assert.match(result.errors[0]!.message, /plain data/);
  });
});
