import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { describeScimRepositoryContract } from '../scim/fixtures/scim-repository-contract.js';
import { SESSION_REVOCATION_PREFIX } from '../services/access-snapshot-cache.js';
import { testDatabases } from '../store/store-test-databases.js';
import { principalNameFor, StoreScimRepository } from './store-scim-repository.js';

const clock = fixedClock('2026-01-02T03:04:05Z');
const at = '2026-01-01T00:00:00.000Z';

for (const db of testDatabases()) {
  after(() => db.cleanup());
  describeScimRepositoryContract(
    `store (${db.id})`,
    async () => new StoreScimRepository({ store: await db.open(), clock }),
  );

  describe(`StoreScimRepository on ${db.id}`, () => {
    it('provisions aiam users and groups; deprovisioning revokes keys in the same write', async () => {
      const store = await db.open();
      const repo = new StoreScimRepository({ store, clock });
      await repo.create('User', 'u1', { schemas: [], userName: 'alice@example.com', externalId: 'X1' }, at);
      const user = await store.getUser('alice@example.com');
      assert.deepEqual([user?.source, user?.status], ['scim', 'active']);
      await store.createAccessKey({
        userName: 'alice@example.com',
        accessKeyId: 'AKIAEXAMPLE000000001',
        secretCiphertext: new Uint8Array([1]),
      });
      await store.createBearerKey({ id: 'bk1', hash: 'h1', ownerArn: user!.arn, purpose: 'api' });
      const revision = await store.getRevision();
      await repo.replace('User', 'u1', { schemas: [], userName: 'alice@example.com', active: false }, 1, at);
      assert.equal(await store.getRevision(), revision + 1, 'one transaction');
      assert.equal((await store.getUser('alice@example.com'))?.status, 'disabled');
      assert.equal((await store.getAccessKey('AKIAEXAMPLE000000001'))?.status, 'Inactive');
      assert.equal((await store.getBearerKey({ id: 'bk1' }))?.status, 'Inactive');
      assert.ok(await store.getSetting(`${SESSION_REVOCATION_PREFIX}${user!.arn}`));

      await repo.create(
        'Group',
        'g1',
        { schemas: [], displayName: 'ML Readers', members: [{ value: 'u1' }] },
        at,
      );
      const groupName = principalNameFor('ML Readers', 128);
      assert.match(groupName, /^ML_Readers-[0-9a-f]{10}$/);
      assert.deepEqual(
        (await store.listGroupMembers(groupName)).map((u) => u.name),
        ['alice@example.com'],
      );
      await repo.delete('User', 'u1');
      assert.equal(await store.getUser('alice@example.com'), undefined);
      assert.equal(await store.getAccessKey('AKIAEXAMPLE000000001'), undefined);
      assert.deepEqual(await store.listGroupMembers(groupName), []);
    });

    it('a PATCH applies the members it adds and drops; a PUT makes the members exactly its own', async () => {
      const store = await db.open();
      const repo = new StoreScimRepository({ store, clock });
      for (const n of ['a', 'b', 'c', 'd']) {
        await repo.create('User', `m-${n}`, { schemas: [], userName: `${n}@example.com` }, at);
      }
      await repo.create(
        'Group',
        'team',
        { schemas: [], displayName: 'team', members: [{ value: 'm-a' }] },
        at,
      );
      await repo.create('Group', 'sub', { schemas: [], displayName: 'sub' }, at);
      const name = principalNameFor('team', 128);
      const members = async () => (await store.listGroupMembers(name)).map((u) => u.name).sort();
      // Someone adds d outside SCIM.
      await store.addUserToGroup(name, 'd@example.com');

      const doc = (ids: string[]) => ({
        schemas: [],
        displayName: 'team',
        members: ids.map((value) => ({ value })),
      });
      await repo.replace('Group', 'team', doc(['m-a', 'm-b', 'sub']), 1, at, { patch: true });
      assert.deepEqual(await members(), ['a@example.com', 'b@example.com', 'd@example.com']);
      await repo.replace('Group', 'team', doc(['m-b', 'sub']), 2, at, { patch: true });
      assert.deepEqual(await members(), ['b@example.com', 'd@example.com']);
      // A member dropped from the document that is no longer in the group (removed outside
      // SCIM) is no error.
      await store.removeUserFromGroup(name, 'b@example.com');
      await repo.replace('Group', 'team', doc(['sub']), 3, at, { patch: true });
      assert.deepEqual(await members(), ['d@example.com']);
      await assert.rejects(
        repo.replace('Group', 'team', doc(['sub', 'nobody']), 4, at, { patch: true }),
        /member "nobody" is not a provisioned User/,
      );
      // A PUT: exactly the document's users, d included only if listed.
      await repo.replace('Group', 'team', doc(['m-c']), 4, at);
      assert.deepEqual(await members(), ['c@example.com']);
    });

    it('a mapped group holds the mapping role assignments on its ARN, following renames', async () => {
      const store = await db.open();
      const repo = new StoreScimRepository({ store, clock });
      await store.createRoleDefinition({
        name: 'ModelReader',
        permissions: { actions: ['aiam:GetServerInfo'] },
      });
      const scope = `arn:aws:aiam::${store.accountId}:server`;
      await store.createScimGroupMapping({ groupName: 'ml-readers', roleDefinition: 'ModelReader', scope });
      await repo.create('Group', 'g1', { schemas: [], displayName: 'ML-Readers' }, at);
      const group = await store.getGroup('ML-Readers');
      assert.deepEqual(
        (await store.listRoleAssignments({ principalArn: group!.arn })).map((a) => [
          a.roleDefinitionName,
          a.scope,
        ]),
        [['ModelReader', scope]],
      );
      await repo.replace('Group', 'g1', { schemas: [], displayName: 'other' }, 1, at);
      const renamed = await store.getGroup('other');
      assert.deepEqual(await store.listRoleAssignments({ principalArn: renamed!.arn }), []);
      await assert.rejects(
        repo.create('Group', 'g2', { schemas: [], displayName: 'x', members: [{ value: 'nope' }] }, at),
        { code: 'ERR_INVALID_INPUT' },
      );
    });
  });
}
