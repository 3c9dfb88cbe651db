import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Kysely } from 'kysely';
import type { DatabaseSchema } from '../store/database-schema.js';
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

  it('adds a user created with nothing attached without a reload; anything more reloads', async () => {
    const before = await s.cache.view();
    const carol = await s.iam.createUser({ name: 'carol-added', tags: { team: 'ml' } });
    const added = await s.cache.view();
    assert.ok(added.revision > before.revision);
    assert.equal(added.model, before.model, 'the model is reused, not rebuilt');
    assert.equal(added.usersByArn.get(carol.arn)?.tags.team, 'ml');
    assert.equal(added.usersById.get(carol.id)?.arn, carol.arn);
    assert.equal(added.usersByArn.size, before.usersByArn.size + 1);
    assert.equal((await ask(carol.arn, 's3:GetObject', 'arn:aws:s3:::data/a')).decision, 'implicitDeny');

    // Attaching a policy, disabling her: each is a reload, in force on the next request.
    const read = await s.iam.createPolicy({ name: 'carol-read', document: allow('s3:GetObject') });
    await s.iam.attachPolicy(carol.arn, read.arn);
    assert.notEqual((await s.cache.view()).model, before.model);
    assert.equal((await ask(carol.arn, 's3:GetObject', 'arn:aws:s3:::data/a')).decision, 'allowed');
    await s.store.updateUser('carol-added', (await s.store.getUser('carol-added'))!.version, {
      status: 'disabled',
    });
    assert.equal((await s.cache.view()).usersByArn.get(carol.arn)?.status, 'disabled');
  });

  it('moves to the revision of a change to no access data without a reload', async () => {
    const before = await s.cache.view();
    await s.store.createBucket({ name: 'no-access-data', ownerArn: before.usersByArn.keys().next().value! });
    const after = await s.cache.view();
    assert.ok(after.revision > before.revision);
    assert.equal(after.model, before.model);
    // Its policy is access data: a reload.
    await s.store.putResourcePolicy(
      'arn:aws:s3:::no-access-data',
      JSON.stringify({
        Version: '2012-10-17',
        Statement: [
          {
            Effect: 'Allow',
            Principal: '*',
            Action: 's3:GetObject',
            Resource: 'arn:aws:s3:::no-access-data/*',
          },
        ],
      }),
      null,
    );
    assert.notEqual((await s.cache.view()).model, before.model);
  });

  it('says which changes only added users (StoreChange.addedUsers), and keeps many additions whole', async () => {
    const changes: { kinds: string[]; addedUsers?: string[] }[] = [];
    const stop = await s.store.subscribeChanges((c) => changes.push(c));
    try {
      const plain = await s.store.createUser({ name: 'plain' });
      const cap = await s.iam.createPolicy({ name: 'added-cap', document: allow('s3:*') });
      changes.length = 0;
      await s.store.createUser({ name: 'bounded', permissionsBoundaryArn: cap.arn });
      await s.store.transaction(async (tx) => {
        const u = await tx.createUser({ name: 'attached' });
        await tx.attachPolicy(u.arn, cap.arn);
      });
      const two = await s.store.transaction(async (tx) => [
        await tx.createUser({ name: 'first-of-two' }),
        await tx.createUser({ name: 'second-of-two' }),
      ]);
      // A policy left under a user's ARN (written here around the store's checks) would apply
      // to a new user of that ARN: creating one is then a reload too.
      const ghostArn = plain.arn.replace(/plain$/, 'ghost');
      // (The store hands a transaction's connection to its function as a second argument.)
      type Raw = (fn: (tx: unknown, conn: Kysely<DatabaseSchema>) => Promise<void>) => Promise<void>;
      await (s.store.transaction as unknown as Raw)(async (_tx, conn) => {
        await conn
          .insertInto('inline_policies')
          .values({
            principal_arn: ghostArn,
            name: 'left-over',
            document: allow('s3:*'),
            version: 1,
            created_at: 0,
            updated_at: 0,
          })
          .execute();
      });
      await s.store.createUser({ name: 'ghost' });
      assert.deepEqual(
        changes.map((c) => c.addedUsers),
        [undefined, undefined, two.map((u) => u.arn), undefined],
      );
      assert.ok(plain.arn);

      // Many additions in a row: every user is found, and iteration sees each once.
      const names: string[] = [];
      for (let i = 0; i < 30; i++) {
        names.push((await s.store.createUser({ name: `bulk-${i}` })).name);
        if (i % 7 === 0) await s.cache.view();
      }
      const view = await s.cache.view();
      const listed = [...view.usersByArn.values()].map((u) => u.name);
      assert.equal(new Set(listed).size, listed.length, 'no user listed twice');
      assert.equal(view.usersByArn.size, listed.length);
      for (const n of names) assert.ok(listed.includes(n), `${n} is missing`);
      assert.deepEqual(
        [...view.usersById.keys()].sort(),
        (await s.store.listUsers()).map((u) => u.id).sort(),
      );
    } finally {
      await stop();
    }
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
      await big.iam.createGroup({ name: 'one-more' });
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

  it('adds a user another node created, without a reload', async () => {
    const a = await openTestServices('postgres');
    try {
      const before = await a.cache.view();
      const other = await a.db.open({ sharedWith: a.store });
      const user = await other.createUser({ name: 'remote-plain' });
      const deadline = Date.now() + 5000;
      while (!a.cache.stale && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      const view = await a.cache.view();
      assert.equal(view.model, before.model);
      assert.equal(view.usersByArn.get(user.arn)?.name, 'remote-plain');
    } finally {
      await a.close();
    }
  });
});
