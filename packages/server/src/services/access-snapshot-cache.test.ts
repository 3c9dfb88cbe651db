import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AccessSnapshotCache } from './access-snapshot-cache.js';
import { allow, openTestServices, type TestServices, testContext } from './service-test-fixtures.js';

describe('AccessSnapshotCache (SQLite)', () => {
  let s: TestServices;
  before(async () => {
    s = await openTestServices();
  });
  after(async () => s.close());

  const ask = async (arn: string, action: string, resource: string, groupArns?: string[]) =>
    (
      await s.authorizer.authorize({
        principal: { arn, account: s.store.accountId, ...(groupArns ? { groupArns } : {}) },
        action,
        resource,
        context: testContext(),
      })
    ).decision;

  it('sees an attach on the very next authorize, and a detach too (read-your-writes, no waiting)', async () => {
    const alice = await s.iam.createUser({ name: 'alice' });
    const read = await s.iam.createPolicy({
      name: 'read',
      document: allow('s3:GetObject', 'arn:aws:s3:::data/*'),
    });
    assert.equal((await ask(alice.arn, 's3:GetObject', 'arn:aws:s3:::data/a')).decision, 'implicitDeny');
    await s.iam.attachPolicy(alice.arn, read.arn);
    const allowed = await ask(alice.arn, 's3:GetObject', 'arn:aws:s3:::data/a');
    assert.equal(allowed.decision, 'allowed');
    assert.equal(allowed.matched[0]?.policyId, read.arn);
    await s.iam.detachPolicy(alice.arn, read.arn);
    assert.equal((await ask(alice.arn, 's3:GetObject', 'arn:aws:s3:::data/a')).decision, 'implicitDeny');
  });

  it('grants through groups, inline policies, and caps with a permissions boundary', async () => {
    const bob = await s.iam.createUser({ name: 'bob' });
    const g = await s.iam.createGroup({ name: 'ml' });
    await s.iam.addUserToGroup('ml', 'bob');
    await s.iam.putInlinePolicy(g.arn, 'all-s3', allow('s3:*'));
    assert.equal((await ask(bob.arn, 's3:PutObject', 'arn:aws:s3:::x/y')).decision, 'allowed');
    const cap = await s.iam.createPolicy({ name: 'cap', document: allow('s3:GetObject') });
    await s.iam.setPermissionsBoundary(bob.arn, cap.arn, bob.version);
    assert.equal((await ask(bob.arn, 's3:PutObject', 'arn:aws:s3:::x/y')).reason, 'boundary');
    assert.equal((await ask(bob.arn, 's3:GetObject', 'arn:aws:s3:::x/y')).decision, 'allowed');
  });

  it('applies built-in role assignments at their scope only, and deny assignments over them', async () => {
    const carol = await s.iam.createUser({ name: 'carol' });
    await s.iam.createRoleAssignment({
      principal: 'user/carol',
      role: 'DataReader',
      scope: 'bucket/training',
    });
    assert.equal((await ask(carol.arn, 's3:GetObject', 'arn:aws:s3:::training/k')).decision, 'allowed');
    assert.equal((await ask(carol.arn, 's3:GetObject', 'arn:aws:s3:::other/k')).decision, 'implicitDeny');
    assert.equal((await ask(carol.arn, 's3:PutObject', 'arn:aws:s3:::training/k')).decision, 'implicitDeny');
    await s.iam.createDenyAssignment({
      name: 'no-secrets',
      scope: 'bucket/training/secret',
      principals: ['user/carol'],
      permissions: { dataActions: ['s3:GetObject'] },
    });
    assert.equal(
      (await ask(carol.arn, 's3:GetObject', 'arn:aws:s3:::training/secret/k')).decision,
      'explicitDeny',
    );
    assert.equal((await ask(carol.arn, 's3:GetObject', 'arn:aws:s3:::training/k')).decision, 'allowed');
  });

  it('evaluates bucket policies for the objects below the bucket, and rebuilds only on a newer revision', async () => {
    const dave = await s.iam.createUser({ name: 'dave' });
    const bucketPolicy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: dave.arn },
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::shared/*',
        },
      ],
    });
    await s.iam.putResourcePolicy('arn:aws:s3:::shared', bucketPolicy);
    assert.equal((await ask(dave.arn, 's3:GetObject', 'arn:aws:s3:::shared/f')).decision, 'allowed');
    const before = await s.cache.view();
    await s.iam.createUser({ name: 'unrelated' });
    const afterView = await s.cache.view();
    assert.ok(afterView.revision > before.revision);
    assert.equal(afterView.problems.length, 0);
  });

  it('reloads after invalidate() what another instance changed without notifying (SQLite has no NOTIFY)', async () => {
    const other = await s.db.open({ sharedWith: s.store });
    const u = await other.createUser({ name: 'elsewhere' });
    assert.equal((await s.cache.view()).usersByArn.has(u.arn), false);
    s.cache.invalidate();
    assert.equal(s.cache.stale, true);
    assert.equal((await s.cache.view()).usersByArn.has(u.arn), true);
  });

  it('rebuilds fast for thousands of entities (measured)', async (t) => {
    const big = await openTestServices();
    try {
      const acct = big.store.accountId;
      await big.store.transaction(async (tx) => {
        const policies: string[] = [];
        for (let i = 0; i < 500; i++) {
          const p = await tx.createPolicy({
            name: `p${i}`,
            document: allow(
              [`s3:GetObject`, `s3:ListBucket`],
              [`arn:aws:s3:::b${i}`, `arn:aws:s3:::b${i}/*`],
            ),
          });
          policies.push(p.arn);
        }
        for (let g = 0; g < 100; g++) {
          const group = await tx.createGroup({ name: `g${g}` });
          await tx.attachPolicy(group.arn, policies[g]!);
        }
        for (let i = 0; i < 2000; i++) {
          const u = await tx.createUser({ name: `u${i}` });
          await tx.attachPolicy(u.arn, policies[i % 500]!);
          await tx.addUserToGroup(`g${i % 100}`, u.name);
          if (i % 3 === 0)
            await tx.putInlinePolicy(u.arn, 'own', allow('s3:PutObject', `arn:aws:s3:::home/u${i}/*`));
        }
      });
      const cold = await AccessSnapshotCache.open(big.store);
      const first = cold.latest!;
      await big.iam.createUser({ name: 'one-more' });
      const t0 = performance.now();
      const second = await cold.view();
      const total = performance.now() - t0;
      t.diagnostic(
        `2000 users, 100 groups, 500 policies, 667 inline: first build ${first.buildMs.toFixed(1)} ms (compile+index), ` +
          `rebuild after one change ${second.buildMs.toFixed(1)} ms model + load = ${total.toFixed(1)} ms`,
      );
      assert.equal(
        second.model.authorize({
          principal: { arn: `arn:aws:iam::${acct}:user/u7`, account: acct },
          action: 's3:GetObject',
          resource: 'arn:aws:s3:::b7/k',
          context: testContext(),
        }).decision,
        'allowed',
      );
      assert.ok(second.buildMs < first.buildMs * 2 + 50, 'a rebuild reuses compiled documents');
      assert.ok(total < 3000, `rebuild took ${total} ms`);
      await cold.close();
    } finally {
      await big.close();
    }
  });
});

describe('AccessSnapshotCache (PostgreSQL, two nodes)', () => {
  it('rebuilds on a change notification from another node', async () => {
    const a = await openTestServices('postgres');
    try {
      const other = await a.db.open({ sharedWith: a.store });
      const user = await other.createUser({ name: 'remote' });
      const p = await other.createPolicy({ name: 'r', document: allow('s3:GetObject') });
      await other.attachPolicy(user.arn, p.arn);
      const deadline = Date.now() + 5000;
      while (!a.cache.stale && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const decision = await a.authorizer.authorize({
        principal: { arn: user.arn, account: a.store.accountId },
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::b/k',
        context: testContext(),
      });
      assert.equal(decision.allowed, true);
    } finally {
      await a.close();
    }
  });
});
