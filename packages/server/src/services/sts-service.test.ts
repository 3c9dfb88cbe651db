import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { InputError, NotAllowedError } from '../errors.js';
import { OidcSigningKeys } from '../identity/oidc-signing-keys.js';
import type { ResolvedPrincipal } from './principal-resolver.js';
import { allow, openTestServices, type TestServices, testContext } from './service-test-fixtures.js';
import { StsService } from './sts-service.js';

const trustDoc = (statements: object[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });

describe('StsService', () => {
  let s: TestServices;
  let acct: string;
  let callerOf: (userName: string) => Promise<ResolvedPrincipal>;
  let sessionOf: (creds: { accessKeyId: string; sessionToken: string }) => Promise<ResolvedPrincipal>;

  before(async () => {
    s = await openTestServices();
    acct = s.store.accountId;
    callerOf = async (name) => {
      const { accessKey } = await s.iam.createAccessKey(name);
      return (await s.resolver.lookupSecret(accessKey.accessKeyId, { sessionToken: undefined }))!.identity;
    };
    sessionOf = async (c) =>
      (await s.resolver.lookupSecret(c.accessKeyId, { sessionToken: c.sessionToken }))!.identity;
  });
  after(async () => s.close());

  const can = async (who: ResolvedPrincipal, action: string, resource: string) =>
    (
      await s.authorizer.authorize({
        principal: who.principal,
        action,
        resource,
        context: testContext(),
        ...(who.sessionPolicies ? { sessionPolicies: who.sessionPolicies } : {}),
      })
    ).allowed;

  it('needs both the identity policy and the trust policy', async () => {
    const u = await s.iam.createUser({ name: 'alice' });
    const caller = await callerOf('alice');
    const role = await s.iam.createRole({
      name: 'reader',
      trustPolicy: trustDoc([{ Effect: 'Allow', Principal: { AWS: u.arn }, Action: 'sts:AssumeRole' }]),
    });
    const other = await s.iam.createRole({
      name: 'other',
      trustPolicy: trustDoc([
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:user/nobody` }, Action: 'sts:AssumeRole' },
      ]),
    });
    // Trust names alice, but her identity policies do not allow sts:AssumeRole.
    await assert.rejects(
      s.sts.assumeRole(caller, { roleArn: role.arn, roleSessionName: 's1' }, testContext()),
      (e: unknown) => e instanceof NotAllowedError && typeof e.decisionId === 'string',
    );
    await s.iam.putInlinePolicy(u.arn, 'assume', allow('sts:AssumeRole', '*'));
    // Identity allows, but the other role's trust policy does not name her.
    await assert.rejects(
      s.sts.assumeRole(caller, { roleArn: other.arn, roleSessionName: 's1' }, testContext()),
      NotAllowedError,
    );
    // A role that does not exist is refused the same way.
    await assert.rejects(
      s.sts.assumeRole(
        caller,
        { roleArn: `arn:aws:iam::${acct}:role/ghost`, roleSessionName: 's1' },
        testContext(),
      ),
      NotAllowedError,
    );
    const ok = await s.sts.assumeRole(caller, { roleArn: role.arn, roleSessionName: 's1' }, testContext());
    assert.match(ok.credentials.accessKeyId, /^ASIA/);
    assert.equal(ok.assumedRoleUser.arn, `arn:aws:sts::${acct}:assumed-role/reader/s1`);
    assert.equal(ok.assumedRoleUser.assumedRoleId, `${role.id}:s1`);
    assert.ok(ok.credentials.expiration.getTime() > Date.now() + 3500_000);
    const id = s.sts.getCallerIdentity(await sessionOf(ok.credentials));
    assert.deepEqual(id, { userId: `${role.id}:s1`, account: acct, arn: ok.assumedRoleUser.arn });
  });

  it('checks RoleSessionName and DurationSeconds (900..MaxSessionDuration, 1 h when chaining)', async () => {
    const caller = await callerOf('alice');
    const roleArn = `arn:aws:iam::${acct}:role/reader`;
    for (const name of ['x', 'a'.repeat(65), 'has space', 'slash/no']) {
      await assert.rejects(
        s.sts.assumeRole(caller, { roleArn, roleSessionName: name }, testContext()),
        InputError,
      );
    }
    await assert.rejects(
      s.sts.assumeRole(caller, { roleArn, roleSessionName: 'ok', durationSeconds: 899 }, testContext()),
      InputError,
    );
    await assert.rejects(
      s.sts.assumeRole(caller, { roleArn, roleSessionName: 'ok', durationSeconds: 3601 }, testContext()),
      InputError,
    );
    const long = await s.iam.createRole({
      name: 'long',
      maxSessionDuration: 7200,
      trustPolicy: trustDoc([
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:root` }, Action: 'sts:AssumeRole' },
      ]),
    });
    const first = await s.sts.assumeRole(
      caller,
      { roleArn: long.arn, roleSessionName: 'two-hours', durationSeconds: 7200 },
      testContext(),
    );
    await s.iam.putInlinePolicy(long.arn, 'chain', allow('sts:AssumeRole', '*'));
    const session = await sessionOf(first.credentials);
    await assert.rejects(
      s.sts.assumeRole(
        session,
        { roleArn: long.arn, roleSessionName: 'chained', durationSeconds: 7200 },
        testContext(),
      ),
      /role chaining is limited to one hour/,
    );
    const chained = await s.sts.assumeRole(
      session,
      { roleArn: long.arn, roleSessionName: 'chained' },
      testContext(),
    );
    assert.equal(chained.assumedRoleUser.arn, `arn:aws:sts::${acct}:assumed-role/long/chained`);
  });

  it('caps the session with the session policy (inline and PolicyArns)', async () => {
    const u = await s.iam.createUser({ name: 'bob' });
    await s.iam.putInlinePolicy(u.arn, 'assume', allow('sts:AssumeRole'));
    const role = await s.iam.createRole({
      name: 'data',
      trustPolicy: trustDoc([
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:root` }, Action: 'sts:AssumeRole' },
      ]),
    });
    await s.iam.putInlinePolicy(role.arn, 's3', allow(['s3:GetObject', 's3:ListBucket', 's3:PutObject']));
    const caller = await callerOf('bob');
    const plain = await sessionOf(
      (await s.sts.assumeRole(caller, { roleArn: role.arn, roleSessionName: 'full' }, testContext()))
        .credentials,
    );
    assert.equal(await can(plain, 's3:PutObject', 'arn:aws:s3:::b/k'), true);

    await assert.rejects(
      s.sts.assumeRole(
        caller,
        { roleArn: role.arn, roleSessionName: 'bad', policy: '{"Statement":[{}]}' },
        testContext(),
      ),
    );
    const capped = await sessionOf(
      (
        await s.sts.assumeRole(
          caller,
          { roleArn: role.arn, roleSessionName: 'capped', policy: allow('s3:ListBucket') },
          testContext(),
        )
      ).credentials,
    );
    assert.equal(await can(capped, 's3:ListBucket', 'arn:aws:s3:::b'), true);
    assert.equal(await can(capped, 's3:GetObject', 'arn:aws:s3:::b/k'), false);

    const getOnly = await s.iam.createPolicy({ name: 'get-only', document: allow('s3:GetObject') });
    const viaArn = await sessionOf(
      (
        await s.sts.assumeRole(
          caller,
          { roleArn: role.arn, roleSessionName: 'arns', policyArns: [getOnly.arn] },
          testContext(),
        )
      ).credentials,
    );
    assert.equal(await can(viaArn, 's3:GetObject', 'arn:aws:s3:::b/k'), true);
    assert.equal(await can(viaArn, 's3:PutObject', 'arn:aws:s3:::b/k'), false);
    await assert.rejects(
      s.sts.assumeRole(
        caller,
        { roleArn: role.arn, roleSessionName: 'x', policyArns: [`arn:aws:iam::${acct}:policy/none`] },
        testContext(),
      ),
      InputError,
    );
  });

  it('requires sts:TagSession for tags and puts them in aws:PrincipalTag; transitive tags pass on', async () => {
    const u = await s.iam.createUser({ name: 'tara' });
    await s.iam.putInlinePolicy(u.arn, 'assume', allow('sts:AssumeRole'));
    const role = await s.iam.createRole({
      name: 'tagged',
      tags: { level: 'role' },
      trustPolicy: trustDoc([
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:root` }, Action: 'sts:AssumeRole' },
      ]),
    });
    await s.iam.putInlinePolicy(role.arn, 'assume', allow('sts:AssumeRole'));
    const caller = await callerOf('tara');
    const tagged = {
      roleArn: role.arn,
      roleSessionName: 'tt',
      tags: { project: 'ai', env: 'dev' },
      transitiveTagKeys: ['project'],
    };
    await assert.rejects(s.sts.assumeRole(caller, tagged, testContext()), /sts:TagSession/);
    await s.iam.putInlinePolicy(u.arn, 'tag', allow('sts:TagSession'));
    const session = await sessionOf((await s.sts.assumeRole(caller, tagged, testContext())).credentials);
    assert.deepEqual(session.tags, { level: 'role', project: 'ai', env: 'dev' });
    await assert.rejects(
      s.sts.assumeRole(caller, { ...tagged, transitiveTagKeys: ['missing'] }, testContext()),
      InputError,
    );
    // Chaining: the transitive tag comes along, the other does not, and it cannot be replaced.
    const chained = await sessionOf(
      (await s.sts.assumeRole(session, { roleArn: role.arn, roleSessionName: 'cc' }, testContext()))
        .credentials,
    );
    assert.deepEqual(chained.tags, { level: 'role', project: 'ai' });
    await assert.rejects(
      s.sts.assumeRole(
        session,
        { roleArn: role.arn, roleSessionName: 'cc2', tags: { project: 'other' } },
        testContext(),
      ),
      /transitive/,
    );
  });

  it('sets a source identity only with sts:SetSourceIdentity, and it sticks through chaining', async () => {
    const u = await s.iam.createUser({ name: 'sid' });
    await s.iam.putInlinePolicy(u.arn, 'assume', allow('sts:AssumeRole'));
    const role = await s.iam.createRole({
      name: 'chain',
      trustPolicy: trustDoc([
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${acct}:root` },
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        },
      ]),
    });
    await s.iam.putInlinePolicy(role.arn, 'chain', allow(['sts:AssumeRole', 'sts:SetSourceIdentity']));
    const caller = await callerOf('sid');
    const req = { roleArn: role.arn, roleSessionName: 'one', sourceIdentity: 'sid@example.com' };
    await assert.rejects(s.sts.assumeRole(caller, req, testContext()), /sts:SetSourceIdentity/);
    await s.iam.putInlinePolicy(u.arn, 'source', allow('sts:SetSourceIdentity'));
    const first = await s.sts.assumeRole(caller, req, testContext());
    assert.equal(first.sourceIdentity, 'sid@example.com');
    const session = await sessionOf(first.credentials);
    assert.equal(session.context?.['aws:SourceIdentity'], 'sid@example.com');
    const second = await s.sts.assumeRole(
      session,
      { roleArn: role.arn, roleSessionName: 'two' },
      testContext(),
    );
    assert.equal(second.sourceIdentity, 'sid@example.com');
    assert.equal((await sessionOf(second.credentials)).context?.['aws:SourceIdentity'], 'sid@example.com');
    await assert.rejects(
      s.sts.assumeRole(
        session,
        { roleArn: role.arn, roleSessionName: 'three', sourceIdentity: 'someone-else' },
        testContext(),
      ),
      NotAllowedError,
    );
  });

  it("AssumeRoleWithWebIdentity accepts aiam's own tokens when the trust policy names the issuer and subject", async () => {
    const oidc = await OidcSigningKeys.create({ issuer: 'https://aiam.example.com' });
    const sts = new StsService({
      store: s.store,
      cache: s.cache,
      authorizer: s.authorizer,
      sessions: s.sessions,
      oidc,
    });
    const role = await s.iam.createRole({
      name: 'federated',
      trustPolicy: trustDoc([
        {
          Effect: 'Allow',
          Principal: { Federated: 'https://aiam.example.com' },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: {
            StringEquals: {
              'aiam.example.com:sub': 'pipeline-7',
              'aiam.example.com:aud': 'sts.amazonaws.com',
            },
          },
        },
      ]),
    });
    const token = (
      await oidc.issue({ subject: 'pipeline-7', audience: 'sts.amazonaws.com', ttlSeconds: 300 })
    ).token;
    const ok = await sts.assumeRoleWithWebIdentity(
      { roleArn: role.arn, roleSessionName: 'wi', webIdentityToken: token },
      testContext(),
    );
    assert.equal(ok.subjectFromWebIdentityToken, 'pipeline-7');
    assert.equal((await sessionOf(ok.credentials)).principal.identityArns?.[0], role.arn);
    const wrong = (
      await oidc.issue({ subject: 'pipeline-8', audience: 'sts.amazonaws.com', ttlSeconds: 300 })
    ).token;
    await assert.rejects(
      sts.assumeRoleWithWebIdentity(
        { roleArn: role.arn, roleSessionName: 'wi', webIdentityToken: wrong },
        testContext(),
      ),
      NotAllowedError,
    );
    await assert.rejects(
      sts.assumeRoleWithWebIdentity(
        { roleArn: role.arn, roleSessionName: 'wi', webIdentityToken: 'not.a.jwt' },
        testContext(),
      ),
      (e: unknown) => (e as { code?: string }).code === 'InvalidIdentityToken',
    );
  });
});

describe('StsService with a trusted external issuer', () => {
  it('verifies the token against the stored issuer JWKS and matches HOST:sub conditions', async () => {
    const { SignJWT, exportJWK, generateKeyPair } = await import('jose');
    const s = await openTestServices();
    try {
      const { privateKey, publicKey } = await generateKeyPair('ES256');
      const jwk = { ...(await exportJWK(publicKey)), kid: 'ci-1', alg: 'ES256', use: 'sig' };
      const issuer = 'https://ci.example.com/org';
      await s.iam.createTrustedIssuer({
        issuer,
        audiences: ['sts.amazonaws.com'],
        jwks: JSON.stringify({ keys: [jwk] }),
      });
      const role = await s.iam.createRole({
        name: 'ci-deploy',
        trustPolicy: trustDoc([
          {
            Effect: 'Allow',
            Principal: { Federated: issuer },
            Action: 'sts:AssumeRoleWithWebIdentity',
            Condition: { StringLike: { 'ci.example.com/org:sub': 'repo:org/app:*' } },
          },
        ]),
      });
      const sign = (sub: string, iss = issuer) =>
        new SignJWT({})
          .setProtectedHeader({ alg: 'ES256', kid: 'ci-1' })
          .setIssuer(iss)
          .setSubject(sub)
          .setAudience('sts.amazonaws.com')
          .setIssuedAt()
          .setExpirationTime('5m')
          .sign(privateKey);
      const ok = await s.sts.assumeRoleWithWebIdentity(
        { roleArn: role.arn, roleSessionName: 'gha', webIdentityToken: await sign('repo:org/app:ref:main') },
        testContext(),
      );
      assert.equal(ok.provider, issuer);
      assert.equal(ok.audience, 'sts.amazonaws.com');
      await assert.rejects(
        s.sts.assumeRoleWithWebIdentity(
          {
            roleArn: role.arn,
            roleSessionName: 'gha',
            webIdentityToken: await sign('repo:org/other:ref:main'),
          },
          testContext(),
        ),
        NotAllowedError,
      );
      await assert.rejects(
        s.sts.assumeRoleWithWebIdentity(
          {
            roleArn: role.arn,
            roleSessionName: 'gha',
            webIdentityToken: await sign('repo:org/app:x', 'https://evil.example.com'),
          },
          testContext(),
        ),
        (e: unknown) => (e as { code?: string }).code === 'InvalidIdentityToken',
      );
    } finally {
      await s.close();
    }
  });
});
