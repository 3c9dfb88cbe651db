import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { allow, openTestServices, type TestServices, testContext } from './service-test-fixtures.js';

describe('ServiceAuthorizer', () => {
  let s: TestServices;
  before(async () => {
    s = await openTestServices();
  });
  after(async () => s.close());

  it('gives every decision a unique id, keeps it for explain, and writes it to the audit trail', async () => {
    const u = await s.iam.createUser({ name: 'al' });
    await s.iam.putInlinePolicy(
      u.arn,
      'deny-delete',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          { Effect: 'Allow', Action: 's3:*', Resource: '*' },
          { Sid: 'NoDelete', Effect: 'Deny', Action: 's3:DeleteObject', Resource: '*' },
        ],
      }),
    );
    const ask = (action: string) =>
      s.authorizer.authorize({
        principal: { arn: u.arn, account: s.store.accountId },
        action,
        resource: 'arn:aws:s3:::b/k',
        context: testContext(),
        audit: { requestId: 'req-1', sourceIp: '10.0.0.1', credentialId: 'AKIAEXAMPLE' },
      });
    const results = await Promise.all([ask('s3:GetObject'), ask('s3:DeleteObject'), ask('s3:GetObject')]);
    assert.equal(new Set(results.map((r) => r.decisionId)).size, 3);
    const denied = results[1]!;
    assert.equal(denied.allowed, false);
    assert.equal(denied.decision.decision, 'explicitDeny');
    const explained = s.authorizer.explain(denied.decisionId);
    assert.equal(explained?.action, 's3:DeleteObject');
    assert.match(explained!.explanation, /NoDelete/);

    await s.authorizer.flush();
    const page = await s.store.queryAudit({ principal: u.arn });
    const record = page.records.find((r) => r.id === denied.decisionId);
    assert.equal(record?.decision, 'explicitDeny');
    assert.equal(record?.requestId, 'req-1');
    assert.equal(record?.action, 's3:DeleteObject');
  });

  it('forgets the oldest decisions past its bound', async () => {
    const { ServiceAuthorizer } = await import('./authorizer.js');
    const small = new ServiceAuthorizer(s.cache, s.store, { recentDecisions: 2, audit: false });
    const ask = () =>
      small.authorize({
        principal: { arn: 'arn:aws:iam::000000000000:user/x', account: '000000000000' },
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::b/k',
        context: testContext(),
      });
    const first = await ask();
    await ask();
    const third = await ask();
    assert.equal(first.allowed, false, 'unknown principals are denied by default');
    assert.equal(small.explain(first.decisionId), undefined);
    assert.ok(small.explain(third.decisionId));
  });

  it('applies session policies as a cap', async () => {
    const u = await s.iam.createUser({ name: 'capped' });
    await s.iam.putInlinePolicy(u.arn, 'all', allow('s3:*'));
    const { compilePolicy, parsePolicyOrThrow } = await import('@aiam/policy');
    const session = compilePolicy(parsePolicyOrThrow(allow('s3:GetObject'), { kind: 'session' }), {
      id: 'sp',
      kind: 'session',
    });
    const ask = (action: string) =>
      s.authorizer.authorize({
        principal: { arn: u.arn, account: s.store.accountId },
        action,
        resource: 'arn:aws:s3:::b/k',
        context: testContext(),
        sessionPolicies: [session],
      });
    assert.equal((await ask('s3:GetObject')).allowed, true);
    assert.equal((await ask('s3:PutObject')).decision.reason, 'session-policy');
  });

  it('decides a request as given, synchronously while the view is fresh, and waits for a newer one after a write', async () => {
    const u = await s.iam.createUser({ name: 'direct' });
    await s.iam.putInlinePolicy(u.arn, 'all', allow('s3:*'));
    const { compilePolicy, parsePolicyOrThrow } = await import('@aiam/policy');
    const session = compilePolicy(parsePolicyOrThrow(allow('s3:GetObject'), { kind: 'session' }), {
      id: 'sp',
      kind: 'session',
    });
    const request = (action: string) => ({
      principal: { arn: u.arn, account: s.store.accountId },
      action,
      resource: 'arn:aws:s3:::b/k',
      context: testContext(),
    });
    // The write above left the view stale: the first answer waits for the new model.
    const first = await s.authorizer.decide(request('s3:PutObject'));
    assert.equal(first.allowed, true);
    const fresh = s.authorizer.decide(request('s3:PutObject'), { sessionPolicies: [session] });
    assert.ok(!(fresh instanceof Promise), 'no promise while the view is fresh');
    assert.equal(fresh.decision.reason, 'session-policy');
    assert.equal(s.authorizer.explain(fresh.decisionId)?.action, 's3:PutObject');
    await s.iam.deleteInlinePolicy(u.arn, 'all');
    const after = await s.authorizer.decide(request('s3:GetObject'));
    assert.equal(after.allowed, false, 'a decision after a write sees that write');
  });
});
