import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { allow, openTestServices, type TestServices, testContext } from './service-test-fixtures.js';

describe('PrincipalResolver', () => {
  let s: TestServices;
  before(async () => {
    s = await openTestServices();
  });
  after(async () => s.close());

  const lookup = (id: string, sessionToken?: string) => s.resolver.lookupSecret(id, { sessionToken });

  it('serves a long-term key: secret, user principal with groups and tags', async () => {
    const u = await s.iam.createUser({ name: 'ann', tags: { team: 'ml' } });
    await s.iam.createGroup({ name: 'g1' });
    await s.iam.addUserToGroup('g1', 'ann');
    const { accessKey, secretAccessKey } = await s.iam.createAccessKey('ann');
    const found = await lookup(accessKey.accessKeyId);
    assert.equal(found?.secretAccessKey, secretAccessKey);
    assert.equal(found?.identity.principal.arn, u.arn);
    assert.deepEqual(found?.identity.principal.groupArns, [`arn:aws:iam::${s.store.accountId}:group/g1`]);
    assert.equal(found?.identity.userName, 'ann');
    assert.equal(found?.identity.type, 'User');
    assert.deepEqual(found?.identity.tags, { team: 'ml' });
    assert.equal(await lookup('AKIAAAAAAAAAAAAAAAAA'), undefined);
  });

  it('refuses a disabled user and an inactive or deleted key on the very next lookup', async () => {
    const u = await s.iam.createUser({ name: 'ben' });
    const { accessKey } = await s.iam.createAccessKey('ben');
    assert.ok(await lookup(accessKey.accessKeyId));
    const disabled = await s.iam.updateUser('ben', u.version, { status: 'disabled' });
    assert.equal(await lookup(accessKey.accessKeyId), undefined);
    await s.iam.updateUser('ben', disabled.version, { status: 'active' });
    assert.ok(await lookup(accessKey.accessKeyId));
    await s.iam.updateAccessKeyStatus(accessKey.accessKeyId, 'Inactive', accessKey.version);
    assert.equal(await lookup(accessKey.accessKeyId), undefined);
    const reactivated = await s.iam.updateAccessKeyStatus(
      accessKey.accessKeyId,
      'Active',
      accessKey.version + 1,
    );
    assert.ok(await lookup(reactivated.accessKeyId));
    await s.iam.deleteAccessKey(accessKey.accessKeyId);
    assert.equal(await lookup(accessKey.accessKeyId), undefined);
  });

  it('records last use in the background, not per request', async () => {
    await s.iam.createUser({ name: 'cy' });
    const { accessKey } = await s.iam.createAccessKey('cy');
    for (let i = 0; i < 5; i++) await lookup(accessKey.accessKeyId);
    assert.equal((await s.iam.getAccessKey(accessKey.accessKeyId)).lastUsedAt, null);
    await s.resolver.flushUsage();
    assert.ok((await s.iam.getAccessKey(accessKey.accessKeyId)).lastUsedAt);
  });

  it("kills a deprovisioned user's role sessions at once, and re-enabling does not revive them", async () => {
    const acct = s.store.accountId;
    const u = await s.iam.createUser({ name: 'dee' });
    const { accessKey } = await s.iam.createAccessKey('dee');
    const role = await s.iam.createRole({
      name: 'worker',
      trustPolicy: JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:root` }, Action: 'sts:AssumeRole' },
        ],
      }),
    });
    await s.iam.putInlinePolicy(u.arn, 'assume', allow('sts:AssumeRole', role.arn));
    const caller = (await lookup(accessKey.accessKeyId))!.identity;
    const assumed = await s.sts.assumeRole(
      caller,
      { roleArn: role.arn, roleSessionName: 'run-1' },
      testContext(),
    );
    const creds = assumed.credentials;
    const session = await lookup(creds.accessKeyId, creds.sessionToken);
    assert.equal(session?.identity.principal.arn, `arn:aws:sts::${acct}:assumed-role/worker/run-1`);
    assert.deepEqual(session?.identity.principal.identityArns, [role.arn]);
    assert.equal(session?.secretAccessKey, creds.secretAccessKey);

    const disabled = await s.iam.updateUser('dee', u.version, { status: 'disabled' });
    assert.equal(await lookup(creds.accessKeyId, creds.sessionToken), undefined);
    await s.iam.updateUser('dee', disabled.version, { status: 'active' });
    assert.equal(await lookup(creds.accessKeyId, creds.sessionToken), undefined, 'revoked for good');

    // A new session after re-enabling works; revoking the role's sessions kills it.
    const again = await s.sts.assumeRole(
      (await lookup(accessKey.accessKeyId))!.identity,
      { roleArn: role.arn, roleSessionName: 'run-2' },
      testContext(),
    );
    assert.ok(await lookup(again.credentials.accessKeyId, again.credentials.sessionToken));
    await s.iam.revokeSessions(role.arn);
    assert.equal(await lookup(again.credentials.accessKeyId, again.credentials.sessionToken), undefined);
  });

  it('resolves bearer keys by hash and refuses them when the owner is disabled', async () => {
    const u = await s.iam.createUser({ name: 'eve' });
    const token = 'aiam_ek_0123456789abcdefghijklmnopqrstuv';
    await s.store.createBearerKey({
      id: 'bk1',
      hash: s.hasher.hash(token),
      ownerArn: u.arn,
      purpose: 'scim',
    });
    const found = await s.resolver.resolveBearerKey(token);
    assert.equal(found?.principal?.principal.arn, u.arn);
    assert.equal(found?.purpose, 'scim');
    assert.equal(await s.resolver.resolveBearerKey(`${token}x`), undefined);
    await s.iam.updateUser('eve', u.version, { status: 'disabled' });
    assert.equal(await s.resolver.resolveBearerKey(token), undefined);
  });

  it('refuses managed-identity credentials once the identity is disabled', async () => {
    const identity = await s.iam.createUserAssignedIdentity({ name: 'pipe' });
    const creds = await s.sts.issueIdentityCredentials(identity.arn);
    const found = await lookup(creds.accessKeyId, creds.sessionToken);
    assert.equal(found?.identity.type, 'ManagedIdentity');
    assert.equal(found?.identity.principal.arn, identity.arn);
    await s.iam.updateManagedIdentity('pipe', identity.version, { status: 'disabled' });
    assert.equal(await lookup(creds.accessKeyId, creds.sessionToken), undefined);
  });
});

describe('PrincipalResolver with aiam JWTs', () => {
  it('resolves a JWT subject and refuses it once the subject is disabled or its sessions revoked', async () => {
    const { OidcSigningKeys } = await import('../identity/oidc-signing-keys.js');
    const { PrincipalResolver } = await import('./principal-resolver.js');
    const s = await openTestServices();
    try {
      const oidc = await OidcSigningKeys.create({ issuer: 'https://aiam.example.com', clock: s.clock });
      const resolver = new PrincipalResolver({ ...s, oidc });
      const identity = await s.iam.createUserAssignedIdentity({ name: 'jobs' });
      const token = (await oidc.issue({ subject: identity.arn, audience: 'gateway', ttlSeconds: 600 })).token;
      const found = await resolver.resolveJwt(token, 'gateway');
      assert.equal(found?.principal.arn, identity.arn);
      assert.equal(found?.type, 'ManagedIdentity');
      await assert.rejects(resolver.resolveJwt(token, 'other-audience'), /could not be authenticated/);
      await s.iam.revokeSessions(identity.arn);
      assert.equal(await resolver.resolveJwt(token, 'gateway'), undefined);
    } finally {
      await s.close();
    }
  });
});
