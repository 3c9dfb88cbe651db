import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  compilePolicy,
  createRequestContext,
  evaluatePolicies,
  parsePolicyOrThrow,
  validatePolicy,
} from '@aiam/policy';
import type { Clock } from '../clock.js';
import { AuthenticationError, InputError, NotFoundError } from '../errors.js';
import type { Store } from '../store/store.js';
import { type TestDatabase, testDatabases } from '../store/store-test-databases.js';
import { DomainService, isSourceAllowed, networkSessionPolicy } from './domain-service.js';

const ACCT = '123456789012';
const ROLE = `arn:aws:iam::${ACCT}:role/SageMakerExecutionRole`;

describe('domain service (SQLite store)', () => {
  let db: TestDatabase;
  let store: Store;
  let domains: DomainService;
  let now = Date.parse('2026-03-01T00:00:00Z');
  const clock: Clock = { now: () => now };

  before(async () => {
    db = testDatabases().find((d) => d.id === 'sqlite')!;
    store = await db.open({ accountId: ACCT });
    domains = new DomainService({
      store,
      linkKey: new Uint8Array(32).fill(3),
      consoleBaseUrl: 'https://aiam.example.com/',
      clock,
    });
    await domains.createDomain({
      name: 'my-sagemaker-domain',
      authMode: 'IAM',
      defaultUserSettings: { executionRoleArn: ROLE, allowedNetworks: ['10.0.0.0/8', '2001:db8::/32'] },
      tags: { Environment: 'Development', Project: 'MachineLearning' },
    });
    await domains.createUserProfile({ domain: 'my-sagemaker-domain', name: 'alice' });
    await domains.createUserProfile({
      domain: 'my-sagemaker-domain',
      name: 'bob',
      executionRoleArn: `arn:aws:iam::${ACCT}:role/Other`,
    });
  });
  after(() => db.cleanup());

  it('gives each profile the shared execution role with its own source identity and a network-confining session policy', async () => {
    const alice = await domains.profileSession('my-sagemaker-domain', 'alice');
    assert.equal(alice.executionRoleArn, ROLE);
    assert.equal(alice.sourceIdentity, 'alice');
    assert.equal(alice.roleSessionName, 'alice');
    assert.deepEqual(alice.tags, { 'aiam:domain': 'my-sagemaker-domain', 'aiam:user-profile': 'alice' });
    assert.equal(
      (await domains.profileSession('my-sagemaker-domain', 'bob')).executionRoleArn,
      `arn:aws:iam::${ACCT}:role/Other`,
    );
    assert.deepEqual(await domains.allowedNetworks('my-sagemaker-domain'), ['10.0.0.0/8', '2001:db8::/32']);
    await assert.rejects(domains.profileSession('my-sagemaker-domain', 'carol'), NotFoundError);

    // The session policy is valid and, evaluated by the engine as a session policy, removes
    // every grant from outside the networks and keeps those from inside.
    const policy = alice.sessionPolicy!;
    assert.deepEqual(
      validatePolicy(policy, { policyType: 'IDENTITY_POLICY', kind: 'session' }).filter(
        (f) => f.findingType === 'ERROR',
      ),
      [],
    );
    const identity = compilePolicy(
      parsePolicyOrThrow(
        { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }] },
        { kind: 'identity' },
      ),
      { id: 'role-policy', kind: 'identity' },
    );
    const session = compilePolicy(parsePolicyOrThrow(policy, { kind: 'session' }), {
      id: 'domain',
      kind: 'session',
    });
    const decide = (ip: string) =>
      evaluatePolicies(
        {
          principal: { arn: `arn:aws:sts::${ACCT}:assumed-role/SageMakerExecutionRole/alice`, account: ACCT },
          action: 's3:GetObject',
          resource: 'arn:aws:s3:::ml-data/alice/x',
          context: createRequestContext({ 'aws:SourceIp': ip }),
        },
        { identity: [identity], session: [session] },
      ).decision;
    assert.equal(decide('10.1.2.3'), 'allowed');
    assert.equal(decide('2001:db8::1'), 'allowed');
    assert.notEqual(decide('192.168.1.1'), 'allowed');
    assert.equal(networkSessionPolicy([]), undefined);
    assert.equal(isSourceAllowed([], undefined), true);
    assert.equal(isSourceAllowed(['10.0.0.0/8'], 'not-an-ip'), false);
  });

  it('signs a console link scoped to the domain that works once, before it expires, from the allowed networks', async () => {
    const { url, expiresAt } = await domains.presignedDomainUrl('my-sagemaker-domain', 'alice', {
      expiresInSeconds: 60,
    });
    assert.equal(expiresAt, now + 60_000);
    assert.match(
      url,
      /^https:\/\/aiam\.example\.com\/console\/domains\/my-sagemaker-domain\/login\?profile=alice&/,
    );
    const refused = async (link: string, ip = '10.0.0.7') =>
      assert.rejects(domains.verifyDomainUrl(link, ip), (e: unknown) => {
        assert.ok(e instanceof AuthenticationError);
        assert.equal(e.message, 'The request could not be authenticated.');
        return true;
      });
    await refused(url, '192.168.0.1');
    await refused(url.replace('profile=alice', 'profile=bob'));
    await refused(url.replace('/my-sagemaker-domain/', '/other-domain/'));
    const u = new URL(url);
    u.searchParams.set('expires', String(expiresAt + 3_600_000));
    await refused(u.toString());
    const verified = await domains.verifyDomainUrl(url, '10.0.0.7');
    assert.deepEqual(
      [verified.domain.name, verified.userProfile.name, verified.sessionDurationSeconds],
      ['my-sagemaker-domain', 'alice', 43200],
    );
    await refused(url);

    const late = await domains.presignedDomainUrl('my-sagemaker-domain', 'alice', { expiresInSeconds: 5 });
    now += 5_000;
    await refused(late.url);
    const gone = await domains.presignedDomainUrl('my-sagemaker-domain', 'bob');
    await domains.deleteUserProfile('my-sagemaker-domain', 'bob');
    await refused(gone.url);
    await assert.rejects(
      domains.presignedDomainUrl('my-sagemaker-domain', 'alice', { expiresInSeconds: 301 }),
      InputError,
    );
    await assert.rejects(domains.presignedDomainUrl('my-sagemaker-domain', 'nobody'), NotFoundError);
  });

  it('refuses to delete a domain with profiles unless forced', async () => {
    await assert.rejects(domains.deleteDomain('my-sagemaker-domain'), { code: 'ERR_DELETE_CONFLICT' });
    await domains.deleteDomain('my-sagemaker-domain', { force: true });
    assert.deepEqual(await domains.listDomains(), []);
  });
});
