import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { PolicyValidationError } from '@aiam/policy';
import {
  ConflictError,
  InputError,
  LimitExceededError,
  NotFoundError,
  PreconditionFailedError,
} from '../errors.js';
import { generateMasterKey, Keyring } from '../identity/keyring.js';
import { openStore } from '../store/open-store.js';
import { IamService } from './iam-service.js';
import { allow, openTestServices, type TestServices, testContext } from './service-test-fixtures.js';

const trust = (principal: string) =>
  JSON.stringify({
    Version: '2012-10-17',
    Statement: [{ Effect: 'Allow', Principal: { AWS: principal }, Action: 'sts:AssumeRole' }],
  });

describe('IamService', () => {
  let s: TestServices;
  before(async () => {
    s = await openTestServices();
  });
  after(async () => s.close());

  it('creates users with path and tags, and refuses a stale version with PreconditionFailedError', async () => {
    const u = await s.iam.createUser({ name: 'erin', path: '/eng/', tags: { team: 'ml' } });
    assert.equal(u.arn, `arn:aws:iam::${s.store.accountId}:user/eng/erin`);
    assert.deepEqual((await s.iam.getUser('erin')).tags, { team: 'ml' });
    const changed = await s.iam.updateUser('erin', u.version, { tags: { team: 'data' } });
    await assert.rejects(
      s.iam.updateUser('erin', u.version, { tags: { team: 'x' } }),
      PreconditionFailedError,
    );
    await assert.rejects(s.iam.deleteUser('erin', u.version), PreconditionFailedError);
    await s.iam.deleteUser('erin', changed.version);
    await assert.rejects(s.iam.getUser('erin'), NotFoundError);
  });

  it('validates managed policies and keeps at most five versions', async () => {
    await assert.rejects(
      s.iam.createPolicy({
        name: 'bad',
        document: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}',
      }),
      PolicyValidationError,
    );
    const p = await s.iam.createPolicy({ name: 'versions', document: allow('s3:GetObject') });
    for (let i = 2; i <= 5; i++) await s.iam.createPolicyVersion(p.arn, allow('s3:ListBucket'));
    await assert.rejects(s.iam.createPolicyVersion(p.arn, allow('s3:PutObject')), LimitExceededError);
    await assert.rejects(s.iam.deletePolicyVersion(p.arn, 'v1'), ConflictError);
    await s.iam.deletePolicyVersion(p.arn, 'v2');
    const v6 = await s.iam.createPolicyVersion(p.arn, allow('s3:PutObject'), { setAsDefault: true });
    assert.equal((await s.iam.getPolicy(p.arn)).defaultVersionId, v6.versionId);
    const current = await s.iam.getPolicy(p.arn);
    await assert.rejects(
      s.iam.setDefaultPolicyVersion(p.arn, 'v1', current.version - 1),
      PreconditionFailedError,
    );
  });

  it('validates roles: the trust policy as a trust policy, MaxSessionDuration 3600..43200', async () => {
    await assert.rejects(
      s.iam.createRole({ name: 'r0', trustPolicy: allow('sts:AssumeRole') }),
      PolicyValidationError,
    );
    await assert.rejects(
      s.iam.createRole({
        name: 'r1',
        trustPolicy: trust(`arn:aws:iam::${s.store.accountId}:root`),
        maxSessionDuration: 60,
      }),
      InputError,
    );
    const r = await s.iam.createRole({
      name: 'r2',
      trustPolicy: trust(`arn:aws:iam::${s.store.accountId}:root`),
      maxSessionDuration: 43200,
    });
    assert.equal(r.maxSessionDuration, 43200);
  });

  it('returns an access key secret once, never lists it, keeps at most two keys per user', async () => {
    await s.iam.createUser({ name: 'kim' });
    const created = await s.iam.createAccessKey('kim');
    assert.match(created.accessKey.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
    assert.equal(created.secretAccessKey.length, 40);
    const listed = await s.iam.listAccessKeys('kim');
    assert.equal(JSON.stringify(listed).includes(created.secretAccessKey), false);
    assert.equal('secretCiphertext' in listed[0]!, false);
    await s.iam.createAccessKey('kim');
    await assert.rejects(s.iam.createAccessKey('kim'), LimitExceededError);
  });

  it('checks custom role definitions against the catalog and respects assignable scopes', async () => {
    await assert.rejects(
      s.iam.createRoleDefinition({ name: 'typo', permissions: { dataActions: ['s3:GetObjekt'] } }),
      InputError,
    );
    await assert.rejects(
      s.iam.createRoleDefinition({ name: 'wrong-plane', permissions: { actions: ['s3:GetObject'] } }),
      InputError,
    );
    await assert.rejects(
      s.iam.createRoleDefinition({ name: 'Owner', permissions: { actions: ['*'] } }),
      ConflictError,
    );
    await s.iam.createRoleDefinition({
      name: 'ws-reader',
      permissions: { actions: ['ml:Get*'], dataActions: ['ml:DownloadModelVersion'] },
      assignableScopes: ['workspace/ws1'],
    });
    const u = await s.iam.createUser({ name: 'lee' });
    await assert.rejects(
      s.iam.createRoleAssignment({ principal: 'user/lee', role: 'ws-reader', scope: 'workspace/ws2' }),
      InputError,
    );
    await assert.rejects(
      s.iam.createRoleAssignment({ principal: 'user/nobody', role: 'ws-reader', scope: 'workspace/ws1' }),
      NotFoundError,
    );
    const a = await s.iam.createRoleAssignment({
      principal: 'user/lee',
      role: 'ws-reader',
      scope: 'workspace/ws1/model/m',
    });
    assert.equal(a.principalArn, u.arn);
    const acct = s.store.accountId;
    const ask = (resource: string) =>
      s.authorizer.authorize({
        principal: { arn: u.arn, account: acct },
        action: 'ml:DownloadModelVersion',
        resource,
        context: testContext(),
      });
    assert.equal((await ask(`arn:aiam:ml::${acct}:workspace/ws1/model/m/version/1`)).allowed, true);
    assert.equal((await ask(`arn:aiam:ml::${acct}:workspace/ws1/model/m2/version/1`)).allowed, false);
  });

  it('creates and deletes system-assigned identities with their resource; assignments may name the resource', async () => {
    const acct = s.store.accountId;
    const owner = `arn:aiam:ml::${acct}:workspace/ws9/endpoint/e1`;
    const identity = await s.store.transaction((tx) => s.iam.createSystemAssignedIdentity(owner, tx));
    assert.equal(identity.name, 'workspace/ws9/endpoint/e1');
    assert.equal(identity.kind, 'system');
    const a = await s.iam.createRoleAssignment({
      principal: 'workspace/ws9/endpoint/e1',
      role: 'DataReader',
      scope: 'arn:aws:s3:::training-data',
    });
    assert.equal(a.principalArn, identity.arn);
    await assert.rejects(s.iam.deleteUserAssignedIdentity(identity.name, identity.version), ConflictError);
    assert.equal(await s.iam.deleteSystemAssignedIdentity(owner), true);
    assert.equal(await s.iam.deleteSystemAssignedIdentity(owner), false);
    assert.equal((await s.iam.listRoleAssignments({ scope: 'arn:aws:s3:::training-data' })).length, 0);
    const standalone = await s.iam.createUserAssignedIdentity({ name: 'pipeline' });
    assert.equal(standalone.kind, 'user');
    await assert.rejects(s.iam.createUserAssignedIdentity({ name: 'a/b' }), InputError);
  });

  it('refuses a trusted issuer without https, audiences or keys', async () => {
    await assert.rejects(
      s.iam.createTrustedIssuer({
        issuer: 'http://ci.example.com',
        audiences: ['x'],
        jwksUri: 'https://ci.example.com/jwks',
      }),
      InputError,
    );
    await assert.rejects(
      s.iam.createTrustedIssuer({ issuer: 'https://ci.example.com', audiences: [] }),
      InputError,
    );
    await assert.rejects(
      s.iam.createTrustedIssuer({ issuer: 'https://ci.example.com', audiences: ['a'] }),
      InputError,
    );
    const ok = await s.iam.createTrustedIssuer({
      issuer: 'https://ci.example.com',
      audiences: ['sts.amazonaws.com'],
      jwksUri: 'https://ci.example.com/jwks',
    });
    assert.equal(ok.issuer, 'https://ci.example.com');
  });
});

describe('access key secrets at rest', () => {
  it('never stores the secret in clear: the database files do not contain it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'aiam-secret-scan-'));
    const path = join(dir, 'aiam.db');
    const store = await openStore({ url: path });
    try {
      const iam = new IamService({ store, keyring: new Keyring(generateMasterKey()) });
      await iam.createUser({ name: 'scan' });
      const { secretAccessKey, accessKey } = await iam.createAccessKey('scan');
      const stored = await store.getAccessKey(accessKey.accessKeyId);
      assert.equal(Buffer.from(stored!.secretCiphertext).includes(secretAccessKey), false);
      const files = [path, `${path}-wal`, `${path}-journal`].filter((f) => existsSync(f));
      const bytes = Buffer.concat(files.map((f) => readFileSync(f)));
      // The key id is in there, so the scan does read the stored rows; the secret is not.
      assert.equal(bytes.includes(accessKey.accessKeyId), true);
      assert.equal(bytes.includes(secretAccessKey), false);
    } finally {
      await store.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
