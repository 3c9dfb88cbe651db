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

    // Attaching a policy is a reload; disabling her re-reads her. Each is in force on the next request.
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

  it('says which changes only changed users (StoreChange.changedUsers), and keeps many additions whole', async () => {
    const changes: { kinds: string[]; changedUsers?: string[] }[] = [];
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
        changes.map((c) => c.changedUsers),
        [undefined, undefined, two.map((u) => u.arn), undefined],
      );
      assert.ok(plain.arn);

      // Memberships, updates that keep the ARN and boundary, revocations: the users. Keys: none.
      changes.length = 0;
      const g = await s.store.createGroup({ name: 'changed-users' });
      await s.store.addUserToGroup('changed-users', 'plain');
      await s.iam.updateUser('plain', (await s.store.getUser('plain'))!.version, { status: 'disabled' });
      await s.iam.createAccessKey('plain');
      await s.iam.updateUser('plain', (await s.store.getUser('plain'))!.version, { name: 'renamed' });
      assert.deepEqual(
        changes.map((c) => c.changedUsers),
        [undefined, [plain.arn], [plain.arn], [], undefined],
      );
      assert.ok(g.arn);

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
  /** Waits (at most 5 s) until another node's change has reached this node's cache. */
  const heardOnThisNode = async (s: TestServices): Promise<void> => {
    const deadline = Date.now() + 5000;
    while (!s.cache.stale && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
  };
  const mayRead = async (s: TestServices, arn: string): Promise<boolean> =>
    (
      await s.authorizer.authorize({
        principal: { arn, account: s.store.accountId },
        action: 's3:GetObject',
        resource: 'arn:aws:s3:::b/k',
        context: testContext(),
      })
    ).allowed;

  it('rebuilds on a change notification from another node', async () => {
    const a = await openTestServices('postgres');
    try {
      const other = await a.db.open({ sharedWith: a.store });
      const user = await other.createUser({ name: 'remote' });
      const p = await other.createPolicy({ name: 'r', document: allow('s3:GetObject') });
      await other.attachPolicy(user.arn, p.arn);
      await heardOnThisNode(a);
      assert.equal(await mayRead(a, user.arn), true);
    } finally {
      await a.close();
    }
  });

  it('re-reads a user another node added to a group, without a reload', async () => {
    const a = await openTestServices('postgres');
    try {
      const g = await a.iam.createGroup({ name: 'remote-team' });
      await a.iam.putInlinePolicy(g.arn, 'read', allow('s3:GetObject'));
      const user = await a.iam.createUser({ name: 'remote-member' });
      const before = await a.cache.view();
      const other = await a.db.open({ sharedWith: a.store });
      await other.addUserToGroup('remote-team', 'remote-member');
      await heardOnThisNode(a);
      const view = await a.cache.view();
      assert.equal(view.policiesByArn, before.policiesByArn, 'no reload');
      assert.deepEqual(view.groupsOfUser.get(user.arn), [g.arn]);
      assert.equal(await mayRead(a, user.arn), true);
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
      await heardOnThisNode(a);
      const view = await a.cache.view();
      assert.equal(view.model, before.model);
      assert.equal(view.usersByArn.get(user.arn)?.name, 'remote-plain');
    } finally {
      await a.close();
    }
  });
});

for (const engine of ['sqlite', 'postgres'] as const) {
  describe(`AccessSnapshotCache re-reads of changed users (${engine})`, () => {
    let s: TestServices;
    before(async () => {
      s = await openTestServices(engine);
    });
    after(async () => s.close());

    const ask = async (arn: string, action: string, resource: string) =>
      (
        await s.authorizer.authorize({
          principal: { arn, account: s.store.accountId },
          action,
          resource,
          context: testContext(),
        })
      ).decision;

    /** Decisions and lookups of the cached view, and of a view loaded whole from the store. */
    const sameAsFresh = async (arns: readonly string[]): Promise<void> => {
      const cached = await s.cache.view();
      const fresh = await AccessSnapshotCache.open(s.store);
      try {
        const loaded = await fresh.view();
        assert.equal(cached.revision, loaded.revision);
        const describe = (v: typeof cached) =>
          arns.map((arn) => ({
            arn,
            user: v.usersByArn.get(arn) ?? null,
            byId: v.usersById.get(v.usersByArn.get(arn)?.id ?? '')?.arn ?? null,
            groups: v.groupsOfUser.get(arn) ?? [],
            revoked: v.sessionsRevokedBefore.get(arn) ?? null,
            decisions: ['s3:GetObject', 'iam:ListUsers', 'ml:GetModel'].map((action) => {
              const d = v.model.authorize({
                principal: { arn, account: s.store.accountId },
                action,
                resource: 'arn:aws:s3:::data/k',
                context: testContext(),
              });
              return `${d.decision} ${d.matched.map((m) => m.policyId).join(',')}`;
            }),
          }));
        assert.deepEqual(describe(cached), describe(loaded));
        assert.equal(cached.usersByArn.size, loaded.usersByArn.size);
        assert.deepEqual(new Set(cached.usersById.keys()), new Set(loaded.usersById.keys()));
        assert.deepEqual(new Map(cached.groupsOfUser), new Map(loaded.groupsOfUser));
      } finally {
        await fresh.close();
      }
    };

    it('re-reads only the users a change is about: memberships, updates, revocations and deletions', async () => {
      const team = await s.iam.createGroup({ name: 'reread-team' });
      await s.iam.putInlinePolicy(team.arn, 'read', allow('s3:GetObject'));
      const own = await s.iam.createPolicy({ name: 'reread-own', document: allow('iam:ListUsers') });
      const cap = await s.iam.createPolicy({ name: 'reread-cap', document: allow('s3:*') });
      const uma = await s.iam.createUser({ name: 'uma', permissionsBoundaryArn: cap.arn });
      await s.iam.attachPolicy(uma.arn, own.arn);
      await s.iam.createRoleAssignment({ principal: 'user/uma', role: 'DataReader', scope: 'bucket/data' });
      const vic = await s.iam.createUser({ name: 'vic' });
      const before = await s.cache.view();
      const arns = [uma.arn, vic.arn];

      // Joining a group: the model is derived, not reloaded (the policy lookup is the same map).
      await s.iam.addUserToGroup('reread-team', 'uma');
      await s.iam.addUserToGroup('reread-team', 'vic');
      let view = await s.cache.view();
      assert.equal(view.policiesByArn, before.policiesByArn, 'no reload');
      assert.notEqual(view.model, before.model);
      assert.equal((await ask(vic.arn, 's3:GetObject', 'arn:aws:s3:::data/k')).decision, 'allowed');
      // uma keeps her own policy and her boundary (which caps iam:ListUsers).
      assert.equal((await ask(uma.arn, 'iam:ListUsers', '*')).reason, 'boundary');
      await sameAsFresh(arns);

      // Leaving it, being disabled (her sessions revoked), tagged: re-reads again.
      await s.iam.removeUserFromGroup('reread-team', 'vic');
      assert.equal((await ask(vic.arn, 's3:GetObject', 'arn:aws:s3:::data/k')).decision, 'implicitDeny');
      const current = (await s.store.getUser('uma'))!;
      await s.iam.updateUser('uma', current.version, { status: 'disabled', tags: { team: 'x' } });
      view = await s.cache.view();
      assert.equal(view.policiesByArn, before.policiesByArn, 'no reload');
      assert.equal(view.usersByArn.get(uma.arn)?.status, 'disabled');
      assert.ok((view.sessionsRevokedBefore.get(uma.arn) ?? 0) > 0);
      await sameAsFresh(arns);

      // Deleted with everything under her ARN, then made again under the same name: nothing of
      // the first uma (policy, boundary, role assignment, group) carries over.
      await s.iam.deleteUser('uma', (await s.store.getUser('uma'))!.version, { force: true });
      await sameAsFresh(arns);
      const again = await s.iam.createUser({ name: 'uma' });
      assert.equal(again.arn, uma.arn);
      await s.iam.addUserToGroup('reread-team', 'uma');
      view = await s.cache.view();
      assert.equal(view.policiesByArn, before.policiesByArn, 'no reload');
      assert.equal((await ask(uma.arn, 'iam:ListUsers', '*')).decision, 'implicitDeny');
      assert.equal(
        (await ask(uma.arn, 's3:GetObject', 'arn:aws:s3:::data/k')).matched[0]?.policyId,
        `${team.arn}#inline/read`,
      );
      await sameAsFresh(arns);
    });

    it('reloads when a change it has not heard of came before the users it re-reads', async () => {
      // Another instance on the same file takes a policy from a group without telling this one;
      // then this one adds a user to that group. Re-reading the user alone would give it the
      // policy the group no longer has, a state the store never was in.
      const g = await s.iam.createGroup({ name: 'unheard' });
      await s.iam.putInlinePolicy(g.arn, 'all', allow('s3:*'));
      const wes = await s.iam.createUser({ name: 'wes' });
      await s.cache.view();
      const other = await s.db.open({ sharedWith: s.store });
      await other.deleteInlinePolicy(g.arn, 'all');
      await s.iam.addUserToGroup('unheard', 'wes');
      assert.equal((await ask(wes.arn, 's3:GetObject', 'arn:aws:s3:::data/k')).decision, 'implicitDeny');
      await sameAsFresh([wes.arn]);
    });

    it('reloads a transaction that changes a membership and something else', async () => {
      const g = await s.iam.createGroup({ name: 'mixed' });
      const xan = await s.iam.createUser({ name: 'xan' });
      const before = await s.cache.view();
      const p = await s.store.createPolicy({ name: 'mixed-read', document: allow('s3:GetObject') });
      await s.store.transaction(async (tx) => {
        await tx.addUserToGroup('mixed', 'xan');
        await tx.attachPolicy(g.arn, p.arn);
      });
      const view = await s.cache.view();
      assert.notEqual(view.policiesByArn, before.policiesByArn, 'reloaded');
      assert.equal((await ask(xan.arn, 's3:GetObject', 'arn:aws:s3:::data/k')).decision, 'allowed');
    });
  });
}
