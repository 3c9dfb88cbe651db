import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import {
  ConflictError,
  InputError,
  LimitExceededError,
  NotFoundError,
  PreconditionFailedError,
} from '../errors.js';
import { openStore } from './open-store.js';
import type { Store } from './store.js';
import { testDatabases } from './store-test-databases.js';
import type { StoreChange } from './store-types.js';

const DOC =
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:GetObject","Resource":"*"}]}';
const TRUST =
  '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"*"},"Action":"sts:AssumeRole"}]}';
const secret = (s: string) => new TextEncoder().encode(`ciphertext:${s}`);

function waitFor<T>(predicate: () => T | undefined, ms = 3000): Promise<T> {
  return new Promise((resolve, reject) => {
    const started = Date.now();
    const tick = () => {
      const v = predicate();
      if (v !== undefined) resolve(v);
      else if (Date.now() - started > ms) reject(new Error('timed out waiting'));
      else setTimeout(tick, 10);
    };
    tick();
  });
}

for (const database of testDatabases()) {
  describe(`store contract: ${database.id}`, () => {
    let store: Store;
    const clock = fixedClock('2026-01-01T00:00:00Z');
    const open = async () => {
      store = await database.open({ clock, accountId: '123456789012' });
      return store;
    };
    after(() => database.cleanup());
    afterEach(() => store?.close());

    it('migrates idempotently and keeps the account id of the first start', async () => {
      await open();
      assert.equal(store.accountId, '123456789012');
      assert.deepEqual(await store.migrate(), { applied: [] });
      const second = await database.open({ sharedWith: store, accountId: '999999999999' });
      assert.equal(second.accountId, '123456789012');
      assert.equal((await second.getSetting('account_id'))?.value, '123456789012');
    });

    it('nodes starting at once on an empty database migrate it once and agree on the account id', async () => {
      const nodes = await database.openConcurrently(3, { clock });
      const ids = new Set(nodes.map((n) => n.accountId));
      assert.equal(ids.size, 1);
      assert.match([...ids][0]!, /^\d{12}$/);
      await nodes[0]!.createUser({ name: 'x' });
      assert.equal((await nodes[2]!.getUser('x'))?.name, 'x');
      assert.deepEqual(await nodes[1]!.migrate(), { applied: [] });
    });

    it('generates a 12-digit account id when none is given', async () => {
      store = await database.open();
      assert.match(store.accountId, /^\d{12}$/);
    });

    it('creates, reads, updates and deletes users with typed errors', async () => {
      await open();
      const u = await store.createUser({
        name: 'Alice',
        path: '/eng/',
        tags: { team: 'ml' },
        source: 'scim',
        externalId: 'x1',
      });
      assert.equal(u.arn, 'arn:aws:iam::123456789012:user/eng/Alice');
      assert.match(u.id, /^AIDA[A-Z2-7]{17}$/);
      assert.equal(u.version, 1);
      assert.deepEqual(await store.getUser('alice'), u, 'names are case-insensitive, as in AWS');
      assert.deepEqual(await store.findUser({ externalId: 'x1' }), u);
      await assert.rejects(store.createUser({ name: 'ALICE' }), ConflictError);
      await assert.rejects(store.createUser({ name: 'bad name!' }), InputError);
      await assert.rejects(store.createUser({ name: 'b', path: 'nopath' }), InputError);
      clock.advance(1000);
      const v2 = await store.updateUser('Alice', 1, { status: 'disabled', name: 'alice2' });
      assert.equal(v2.version, 2);
      assert.equal(v2.status, 'disabled');
      assert.equal(v2.arn, 'arn:aws:iam::123456789012:user/eng/alice2');
      assert.equal(v2.updatedAt, u.createdAt + 1000);
      await assert.rejects(store.updateUser('alice2', 1, { tags: {} }), PreconditionFailedError);
      await assert.rejects(store.updateUser('nobody', 1, {}), NotFoundError);
      assert.deepEqual(
        (await store.listUsers({ pathPrefix: '/eng/' })).map((x) => x.name),
        ['alice2'],
      );
      await assert.rejects(store.deleteUser('alice2', 1), PreconditionFailedError);
      await store.deleteUser('alice2', 2);
      assert.equal(await store.getUser('alice2'), undefined);
      await assert.rejects(store.deleteUser('alice2', 2), NotFoundError);
    });

    it('moves attachments and inline policies along when a user is renamed', async () => {
      await open();
      const u = await store.createUser({ name: 'bob' });
      const p = await store.createPolicy({ name: 'read', document: DOC });
      await store.attachPolicy(u.arn, p.arn);
      await store.putInlinePolicy(u.arn, 'inline', DOC);
      const renamed = await store.updateUser('bob', 1, { name: 'robert' });
      assert.deepEqual(
        (await store.listAttachedPolicies(renamed.arn)).map((a) => a.policyArn),
        [p.arn],
      );
      assert.equal((await store.listInlinePolicies(renamed.arn)).length, 1);
      assert.equal((await store.listAttachedPolicies(u.arn)).length, 0);
    });

    it('refuses to delete a user with dependents unless forced, then removes everything', async () => {
      await open();
      const u = await store.createUser({ name: 'carol' });
      const g = await store.createGroup({ name: 'team' });
      const p = await store.createPolicy({ name: 'read', document: DOC });
      await store.addUserToGroup('team', 'carol');
      await store.attachPolicy(u.arn, p.arn);
      await store.createAccessKey({ userName: 'carol', accessKeyId: 'AKIA1', secretCiphertext: secret('1') });
      await store.createSession({
        accessKeyId: 'ASIA1',
        secretCiphertext: secret('s'),
        sessionTokenHash: 'h',
        principalArn: u.arn,
        expiresAt: clock.now() + 3600_000,
      });
      const err = await store.deleteUser('carol', 1).catch((e: unknown) => e);
      assert.ok(err instanceof ConflictError);
      assert.equal(err.code, 'ERR_DELETE_CONFLICT');
      assert.match(err.message, /access keys/);
      await store.deleteUser('carol', 1, { force: true });
      assert.equal(await store.getAccessKey('AKIA1'), undefined);
      assert.equal((await store.listGroupMembers('team')).length, 0);
      assert.equal((await store.listPolicyAttachments(p.arn)).length, 0);
      assert.ok((await store.getSession('ASIA1'))?.revokedAt, 'the user’s sessions are revoked');
      assert.equal(g.arn, 'arn:aws:iam::123456789012:group/team');
    });

    it('manages groups and memberships', async () => {
      await open();
      await store.createUser({ name: 'u1' });
      await store.createUser({ name: 'u2' });
      await store.createGroup({ name: 'g1' });
      await assert.rejects(store.createGroup({ name: 'G1' }), ConflictError);
      await store.addUserToGroup('g1', 'u1');
      await store.addUserToGroup('g1', 'u1');
      await store.addUserToGroup('g1', 'u2');
      assert.deepEqual(
        (await store.listGroupMembers('g1')).map((u) => u.name),
        ['u1', 'u2'],
      );
      assert.deepEqual(
        (await store.listGroupsForUser('u2')).map((g) => g.name),
        ['g1'],
      );
      await assert.rejects(store.addUserToGroup('g1', 'nobody'), NotFoundError);
      await store.removeUserFromGroup('g1', 'u2');
      await assert.rejects(store.removeUserFromGroup('g1', 'u2'), NotFoundError);
      await assert.rejects(store.deleteGroup('g1', 1), ConflictError);
      const g = await store.updateGroup('g1', 1, { name: 'g2' });
      assert.equal(g.version, 2);
      await store.deleteGroup('g2', 2, { force: true });
      assert.deepEqual(await store.listGroups(), []);
    });

    it('manages roles with session-duration bounds and boundaries', async () => {
      await open();
      const b = await store.createPolicy({ name: 'boundary', document: DOC });
      const r = await store.createRole({
        name: 'trainer',
        trustPolicy: TRUST,
        maxSessionDuration: 7200,
        permissionsBoundaryArn: b.arn,
      });
      assert.equal(r.arn, 'arn:aws:iam::123456789012:role/trainer');
      assert.equal(r.permissionsBoundaryArn, b.arn);
      await assert.rejects(
        store.createRole({ name: 'x', trustPolicy: TRUST, maxSessionDuration: 3599 }),
        InputError,
      );
      await assert.rejects(
        store.createRole({ name: 'y', trustPolicy: TRUST, maxSessionDuration: 43201 }),
        InputError,
      );
      await assert.rejects(
        store.createRole({
          name: 'z',
          trustPolicy: TRUST,
          permissionsBoundaryArn: 'arn:aws:iam::123456789012:policy/none',
        }),
        NotFoundError,
      );
      await assert.rejects(
        store.deletePolicy(b.arn, 1),
        ConflictError,
        'a boundary in use cannot be deleted',
      );
      const r2 = await store.updateRole('trainer', 1, {
        description: 'trains',
        permissionsBoundaryArn: null,
      });
      assert.equal(r2.description, 'trains');
      assert.equal(r2.permissionsBoundaryArn, null);
      assert.deepEqual(await store.findRoleByArn(r.arn), r2);
      await store.deleteRole('trainer', 2);
      assert.deepEqual(await store.listRoles(), []);
    });

    it('manages system- and user-assigned managed identities', async () => {
      await open();
      const owner = 'arn:aiam:ml::123456789012:workspace/ml/endpoint/online';
      const sys = await store.createManagedIdentity({
        name: 'workspace/ml/endpoint/online',
        kind: 'system',
        ownerArn: owner,
      });
      assert.equal(sys.arn, 'arn:aiam:iam::123456789012:managed-identity/workspace/ml/endpoint/online');
      assert.deepEqual(await store.getManagedIdentity({ ownerArn: owner }), sys);
      await assert.rejects(store.createManagedIdentity({ name: 'other', kind: 'system' }), InputError);
      await assert.rejects(
        store.createManagedIdentity({ name: 'x', kind: 'system', ownerArn: owner }),
        ConflictError,
      );
      const usr = await store.createManagedIdentity({ name: 'pipeline', kind: 'user' });
      const upd = await store.updateManagedIdentity('pipeline', 1, { status: 'disabled' });
      assert.equal(upd.status, 'disabled');
      await store.attachPolicy(usr.arn, (await store.createPolicy({ name: 'p', document: DOC })).arn);
      await store.deleteManagedIdentity('pipeline', 2);
      assert.deepEqual(
        (await store.listManagedIdentities()).map((m) => m.name),
        ['workspace/ml/endpoint/online'],
      );
    });

    it('versions managed policies: at most five, default not deletable, ids never reused', async () => {
      await open();
      const p = await store.createPolicy({ name: 'data', path: '/ml/', document: DOC, description: 'd' });
      assert.equal(p.arn, 'arn:aws:iam::123456789012:policy/ml/data');
      assert.equal(p.defaultVersionId, 'v1');
      for (let i = 2; i <= 5; i++) {
        const v = await store.createPolicyVersion(p.arn, DOC.replace('GetObject', `Get${i}`), {
          setAsDefault: i === 3,
        });
        assert.equal(v.versionId, `v${i}`);
      }
      await assert.rejects(store.createPolicyVersion(p.arn, DOC), LimitExceededError);
      assert.equal((await store.getPolicy(p.arn))?.defaultVersionId, 'v3');
      await assert.rejects(store.deletePolicyVersion(p.arn, 'v3'), ConflictError);
      await store.deletePolicyVersion(p.arn, 'v1');
      await assert.rejects(store.deletePolicyVersion(p.arn, 'v1'), NotFoundError);
      const v6 = await store.createPolicyVersion(p.arn, DOC);
      assert.equal(v6.versionId, 'v6');
      assert.deepEqual(
        (await store.listPolicyVersions(p.arn)).map((v) => v.versionId),
        ['v2', 'v3', 'v4', 'v5', 'v6'],
      );
      const current = (await store.getPolicy(p.arn))!;
      await assert.rejects(
        store.setDefaultPolicyVersion(p.arn, 'v2', current.version - 1),
        PreconditionFailedError,
      );
      await assert.rejects(store.setDefaultPolicyVersion(p.arn, 'v9', current.version), NotFoundError);
      const s = await store.setDefaultPolicyVersion(p.arn, 'v2', current.version);
      assert.equal(s.defaultVersionId, 'v2');
      assert.equal((await store.getPolicyVersion(p.arn, 'v2'))?.isDefault, true);
      await assert.rejects(store.createPolicy({ name: 'DATA', document: DOC }), ConflictError);
      const u = await store.createUser({ name: 'u' });
      await store.attachPolicy(u.arn, p.arn);
      await store.attachPolicy(u.arn, p.arn);
      assert.equal((await store.getPolicy(p.arn))?.attachmentCount, 1);
      await assert.rejects(store.deletePolicy(p.arn, s.version), ConflictError);
      await store.detachPolicy(u.arn, p.arn);
      await assert.rejects(store.detachPolicy(u.arn, p.arn), NotFoundError);
      await store.deletePolicy(p.arn, s.version);
      assert.equal(await store.getPolicy(p.arn), undefined);
    });

    it('keeps inline policies and refuses attachments to unknown principals or policies', async () => {
      await open();
      const r = await store.createRole({ name: 'r', trustPolicy: TRUST });
      const a = await store.putInlinePolicy(r.arn, 'p', DOC);
      const b = await store.putInlinePolicy(r.arn, 'p', DOC.replace('Allow', 'Deny'));
      assert.equal(b.version, a.version + 1);
      await assert.rejects(store.putInlinePolicy(r.arn, 'p', DOC, 1), PreconditionFailedError);
      await assert.rejects(store.putInlinePolicy(r.arn, 'p', DOC, null), ConflictError);
      await assert.rejects(
        store.putInlinePolicy('arn:aws:iam::123456789012:user/ghost', 'p', DOC),
        NotFoundError,
      );
      await assert.rejects(
        store.attachPolicy(r.arn, 'arn:aws:iam::123456789012:policy/ghost'),
        NotFoundError,
      );
      assert.match((await store.getInlinePolicy(r.arn, 'p'))!.document, /Deny/);
      await store.deleteInlinePolicy(r.arn, 'p');
      await assert.rejects(store.deleteInlinePolicy(r.arn, 'p'), NotFoundError);
    });

    it('allows two access keys per user, keeps ciphertext opaque, records last use', async () => {
      await open();
      await store.createUser({ name: 'k' });
      const k1 = await store.createAccessKey({
        userName: 'k',
        accessKeyId: 'AKIAONE',
        secretCiphertext: secret('1'),
      });
      await store.createAccessKey({
        userName: 'k',
        accessKeyId: 'AKIATWO',
        secretCiphertext: secret('2'),
        status: 'Inactive',
      });
      await assert.rejects(
        store.createAccessKey({ userName: 'k', accessKeyId: 'AKIATHREE', secretCiphertext: secret('3') }),
        LimitExceededError,
      );
      await assert.rejects(
        store.createAccessKey({ userName: 'nobody', accessKeyId: 'AKIAX', secretCiphertext: secret('x') }),
        NotFoundError,
      );
      const got = (await store.getAccessKey('AKIAONE'))!;
      assert.deepEqual(Buffer.from(got.secretCiphertext), Buffer.from(secret('1')));
      assert.equal(got.userName, 'k');
      assert.equal(k1.status, 'Active');
      const rev = await store.getRevision();
      await store.recordAccessKeyUse('AKIAONE', 42, 's3');
      assert.equal(await store.getRevision(), rev, 'last-used is telemetry, not an access change');
      assert.equal((await store.getAccessKey('AKIAONE'))?.lastUsedService, 's3');
      const off = await store.updateAccessKeyStatus('AKIAONE', 'Inactive', 1);
      assert.equal(off.version, 2);
      await assert.rejects(store.updateAccessKeyStatus('AKIAONE', 'Active', 1), PreconditionFailedError);
      await store.deleteAccessKey('AKIATWO');
      assert.deepEqual(
        (await store.listAccessKeys('k')).map((x) => x.accessKeyId),
        ['AKIAONE'],
      );
    });

    it('stores temporary sessions, revokes and expires them', async () => {
      await open();
      const role = await store.createRole({ name: 'r', trustPolicy: TRUST });
      const base = {
        secretCiphertext: secret('s'),
        sessionTokenHash: 'hash',
        principalArn: 'arn:aws:sts::123456789012:assumed-role/r/s',
        roleArn: role.arn,
        roleSessionName: 's',
        sessionTags: { project: 'x' },
      };
      await store.createSession({ ...base, accessKeyId: 'ASIA1', expiresAt: clock.now() + 1000 });
      await store.createSession({ ...base, accessKeyId: 'ASIA2', expiresAt: clock.now() + 5000 });
      await assert.rejects(
        store.createSession({ ...base, accessKeyId: 'ASIA1', expiresAt: clock.now() + 1 }),
        ConflictError,
      );
      await assert.rejects(
        store.createSession({ ...base, accessKeyId: 'ASIA3', expiresAt: clock.now() }),
        InputError,
      );
      assert.deepEqual((await store.getSession('ASIA1'))?.sessionTags, { project: 'x' });
      await store.revokeSession('ASIA1');
      assert.equal((await store.getSession('ASIA1'))?.revokedAt, clock.now());
      assert.equal(await store.revokeSessions({ roleArn: role.arn }), 1);
      assert.equal(await store.deleteExpiredSessions(clock.now() + 2000), 1);
      assert.deepEqual(
        (await store.listSessions({ roleArn: role.arn })).map((s) => s.accessKeyId),
        ['ASIA2'],
      );
    });

    it('stores bearer keys by hash, signing keys, trusted issuers', async () => {
      await open();
      const bk = await store.createBearerKey({
        id: 'k1',
        hash: 'sha256:abc',
        ownerArn: 'arn:x',
        purpose: 'endpoint-key',
      });
      assert.deepEqual(await store.getBearerKey({ hash: 'sha256:abc' }), bk);
      await assert.rejects(
        store.createBearerKey({ id: 'k2', hash: 'sha256:abc', ownerArn: 'arn:x', purpose: 'p' }),
        ConflictError,
      );
      assert.equal((await store.updateBearerKeyStatus('k1', 'Inactive', 1)).status, 'Inactive');
      assert.deepEqual((await store.listBearerKeys({ purpose: 'endpoint-key' })).length, 1);
      await store.deleteBearerKey('k1');

      await store.createSigningKey({
        kid: 'a',
        alg: 'ES256',
        privateJwkCiphertext: secret('jwk'),
        publicJwk: '{}',
      });
      clock.advance(1);
      await store.createSigningKey({
        kid: 'b',
        alg: 'ES256',
        privateJwkCiphertext: secret('jwk'),
        publicJwk: '{}',
      });
      await store.retireSigningKey('a', clock.now());
      const keys = await store.listSigningKeys();
      assert.deepEqual(
        keys.map((k) => [k.kid, k.retiredAt !== null]),
        [
          ['b', false],
          ['a', true],
        ],
      );
      await assert.rejects(store.retireSigningKey('zz', 1), NotFoundError);

      const iss = await store.createTrustedIssuer({
        issuer: 'https://token.actions.githubusercontent.com',
        audiences: ['sts.amazonaws.com'],
        jwksUri: 'https://token.actions.githubusercontent.com/.well-known/jwks',
        subjectMapping: { 'repo:org/*': 'role/ci' },
      });
      assert.deepEqual(iss.subjectMapping, { 'repo:org/*': 'role/ci' });
      await assert.rejects(
        store.createTrustedIssuer({ issuer: 'not a url', audiences: [], jwks: '{}' }),
        InputError,
      );
      await assert.rejects(store.createTrustedIssuer({ issuer: 'https://x', audiences: [] }), InputError);
      const u = await store.updateTrustedIssuer(iss.issuer, 1, { audiences: ['a', 'b'] });
      assert.deepEqual(u.audiences, ['a', 'b']);
      await assert.rejects(store.deleteTrustedIssuer(iss.issuer, 1), PreconditionFailedError);
      await store.deleteTrustedIssuer(iss.issuer, 2);
      assert.deepEqual(await store.listTrustedIssuers(), []);
    });

    it('manages role definitions, role assignments, deny assignments and resource policies', async () => {
      await open();
      const def = await store.createRoleDefinition({
        name: 'DataReader',
        permissions: { dataActions: ['s3:GetObject'] },
      });
      assert.deepEqual(def.permissions, {
        actions: [],
        notActions: [],
        dataActions: ['s3:GetObject'],
        notDataActions: [],
      });
      const scope = 'arn:aiam:ml::123456789012:workspace/ws/model/m/version/1';
      const ra = await store.createRoleAssignment({
        principalArn: 'arn:p',
        roleDefinition: 'datareader',
        scope,
      });
      assert.equal(ra.roleDefinitionName, 'DataReader');
      await assert.rejects(
        store.createRoleAssignment({ principalArn: 'arn:p', roleDefinition: def.id, scope }),
        ConflictError,
      );
      await assert.rejects(
        store.createRoleAssignment({ principalArn: 'arn:p', roleDefinition: 'nope', scope }),
        NotFoundError,
      );
      await assert.rejects(store.deleteRoleDefinition('DataReader', 1), ConflictError);
      assert.equal((await store.listRoleAssignments({ scope })).length, 1);
      await store.deleteRoleAssignment(ra.id);
      const upd = await store.updateRoleDefinition('DataReader', 1, { description: 'reads' });
      await store.deleteRoleDefinition(def.id, upd.version);

      const da = await store.createDenyAssignment({
        name: 'no-write',
        scope: 'arn:aws:s3:::b',
        principalArns: ['*'],
        permissions: { dataActions: ['s3:PutObject'] },
      });
      assert.deepEqual(
        (await store.listDenyAssignments({ scope: 'arn:aws:s3:::b' })).map((d) => d.id),
        [da.id],
      );
      await store.deleteDenyAssignment(da.id);
      await assert.rejects(store.deleteDenyAssignment(da.id), NotFoundError);

      const rp = await store.putResourcePolicy('arn:aws:s3:::b', DOC, null);
      await assert.rejects(store.putResourcePolicy('arn:aws:s3:::b', DOC, null), ConflictError);
      await assert.rejects(store.putResourcePolicy('arn:aws:s3:::b', DOC, 7), PreconditionFailedError);
      assert.equal((await store.putResourcePolicy('arn:aws:s3:::b', DOC, rp.version)).version, 2);
      await assert.rejects(store.putResourcePolicy('bucket', DOC), InputError);
      await store.deleteResourcePolicy('arn:aws:s3:::b', 2);
      assert.equal(await store.getResourcePolicy('arn:aws:s3:::b'), undefined);
    });

    it('settings are versioned and the account id is immutable', async () => {
      await open();
      const s = await store.putSetting('k', 'v', null);
      await assert.rejects(store.putSetting('k', 'v', null), ConflictError);
      await assert.rejects(store.putSetting('k', 'w', 5), PreconditionFailedError);
      assert.equal((await store.putSetting('k', 'w', s.version)).version, 2);
      await assert.rejects(store.putSetting('account_id', '1', 1), InputError);
      await store.deleteSetting('k', 2);
      assert.equal(await store.getSetting('k'), undefined);
    });

    it('two concurrent updates at the same version: exactly one wins', async () => {
      await open();
      await store.createUser({ name: 'race' });
      const results = await Promise.allSettled([
        store.updateUser('race', 1, { tags: { by: 'a' } }),
        store.updateUser('race', 1, { tags: { by: 'b' } }),
      ]);
      const won = results.filter((r) => r.status === 'fulfilled');
      const lost = results.filter((r) => r.status === 'rejected');
      assert.equal(won.length, 1);
      assert.equal(lost.length, 1);
      assert.ok((lost[0] as PromiseRejectedResult).reason instanceof PreconditionFailedError);
      assert.equal((await store.getUser('race'))?.version, 2);
    });

    // better-sqlite3 busy-waits synchronously, so two connections to one file in one process
    // would block each other's event loop; across processes, see sqlite-crash.test.ts.
    it('two stores racing on one row: exactly one wins', { skip: database.id === 'sqlite' }, async () => {
      await open();
      const other = await database.open({ sharedWith: store });
      await store.createRole({ name: 'shared', trustPolicy: TRUST });
      const results = await Promise.allSettled([
        store.updateRole('shared', 1, { description: 'a' }),
        other.updateRole('shared', 1, { description: 'b' }),
      ]);
      assert.equal(results.filter((r) => r.status === 'fulfilled').length, 1);
      const lost = results.find((r) => r.status === 'rejected') as PromiseRejectedResult;
      assert.ok(lost.reason instanceof PreconditionFailedError);
    });

    it('a failed transaction leaves nothing behind and does not bump the revision', async () => {
      await open();
      const before = await store.getRevision();
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.createUser({ name: 'temp' });
          await tx.createGroup({ name: 'tempgroup' });
          await tx.addUserToGroup('tempgroup', 'temp');
          throw new Error('boom');
        }),
        /boom/,
      );
      assert.equal(await store.getUser('temp'), undefined);
      assert.equal(await store.getGroup('tempgroup'), undefined);
      assert.equal(await store.getRevision(), before);
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.createUser({ name: 'dup' });
          await tx.createUser({ name: 'DUP' });
        }),
        ConflictError,
      );
      assert.equal(await store.getUser('dup'), undefined);
    });

    it('bumps the revision once per committed transaction, not for reads or telemetry', async () => {
      await open();
      const r0 = await store.getRevision();
      await store.transaction(async (tx) => {
        await tx.createUser({ name: 'a' });
        await tx.createUser({ name: 'b' });
      });
      assert.equal(await store.getRevision(), r0 + 1);
      await store.createGroup({ name: 'g' });
      assert.equal(await store.getRevision(), r0 + 2);
      await store.listUsers();
      await store.transaction(async (tx) => tx.getUser('a'));
      await store.appendAudit([{ time: 1, action: 'x' }]);
      assert.equal(await store.getRevision(), r0 + 2);
    });

    it('delivers change notifications in-process and (PostgreSQL) across stores', async () => {
      await open();
      const other = await database.open({ sharedWith: store });
      const local: StoreChange[] = [];
      const remote: StoreChange[] = [];
      const stopLocal = await store.subscribeChanges((c) => local.push(c));
      const stopRemote = await other.subscribeChanges((c) => remote.push(c));
      await assert.rejects(
        store.transaction(async (tx) => {
          await tx.createUser({ name: 'rolled-back' });
          throw new Error('abort');
        }),
      );
      const u = await store.createUser({ name: 'n' });
      await store.attachPolicy(u.arn, (await store.createPolicy({ name: 'p', document: DOC })).arn);
      const last = await store.getRevision();
      assert.deepEqual(local.at(-1), { revision: last, kinds: ['attachment'] });
      assert.deepEqual(local[0]?.kinds, ['user']);
      assert.equal(local.length, 3, 'a rolled-back transaction notifies nobody');
      if (database.id === 'postgres') {
        const seen = await waitFor(() => (remote.length >= 3 ? remote : undefined));
        assert.deepEqual(
          seen.map((c) => c.revision),
          [last - 2, last - 1, last],
        );
        local.length = 0;
        await other.createGroup({ name: 'from-other' });
        await waitFor(() => (local.length ? local : undefined));
        assert.deepEqual(local[0]?.kinds, ['group']);
      } else {
        assert.deepEqual(remote, [], 'an embedded store notifies its own process only');
      }
      await stopLocal();
      await stopRemote();
    });

    it('loads a consistent access snapshot with its revision', async () => {
      await open();
      const u = await store.createUser({ name: 'alice' });
      await store.createGroup({ name: 'g' });
      await store.addUserToGroup('g', 'alice');
      const p = await store.createPolicy({ name: 'p', document: DOC });
      await store.createPolicyVersion(p.arn, DOC.replace('Allow', 'Deny'), { setAsDefault: true });
      await store.attachPolicy(u.arn, p.arn);
      await store.putInlinePolicy(u.arn, 'i', DOC);
      await store.createRole({ name: 'r', trustPolicy: TRUST });
      await store.createManagedIdentity({ name: 'mi', kind: 'user' });
      await store.createRoleDefinition({ name: 'Reader', permissions: { actions: ['*/read'] } });
      await store.createRoleAssignment({
        principalArn: u.arn,
        roleDefinition: 'Reader',
        scope: 'arn:aws:s3:::b',
      });
      await store.createDenyAssignment({
        name: 'd',
        scope: 'arn:aws:s3:::b',
        principalArns: ['*'],
        permissions: {},
      });
      await store.putResourcePolicy('arn:aws:s3:::b', DOC);
      const snap = await store.loadAccessSnapshot();
      assert.equal(snap.revision, await store.getRevision());
      assert.equal(snap.accountId, '123456789012');
      assert.deepEqual(snap.memberships, [{ groupArn: 'arn:aws:iam::123456789012:group/g', userArn: u.arn }]);
      assert.match(snap.policies[0]!.document, /Deny/, 'the default version’s document');
      assert.equal(snap.attachments.length, 1);
      assert.equal(snap.inlinePolicies.length, 1);
      assert.equal(snap.roles.length, 1);
      assert.equal(snap.managedIdentities.length, 1);
      assert.equal(snap.roleAssignments[0]?.roleDefinitionName, 'Reader');
      assert.equal(snap.denyAssignments.length, 1);
      assert.equal(snap.resourcePolicies.length, 1);
    });

    it('appends audit records and pages through them newest first', async () => {
      await open();
      const records = Array.from({ length: 25 }, (_, i) => ({
        time: 1000 + Math.floor(i / 2),
        principal: i % 3 === 0 ? 'arn:alice' : 'arn:bob',
        action: 's3:GetObject',
        decision: i % 5 === 0 ? 'deny' : 'allow',
        matchedStatements: [{ sid: `s${i}` }],
        extra: { i },
      }));
      const ids = await store.appendAudit(records);
      assert.equal(ids.length, 25);
      const seen: number[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const page = await store.queryAudit({ limit: 10, cursor });
        seen.push(...page.records.map((r) => (r.extra as { i: number }).i));
        cursor = page.nextCursor;
        pages++;
      } while (cursor);
      assert.equal(pages, 3);
      assert.equal(new Set(seen).size, 25, 'every record exactly once');
      const times = seen.map((i) => records[i]!.time);
      assert.deepEqual(
        times,
        [...times].sort((a, b) => b - a),
      );
      const alice = await store.queryAudit({ principal: 'arn:alice', decision: 'deny' });
      assert.deepEqual(
        alice.records.map((r) => (r.extra as { i: number }).i).sort((a, b) => a - b),
        [0, 15],
      );
      const window = await store.queryAudit({ from: 1002, to: 1004 });
      assert.equal(window.records.length, 4);
      assert.equal(window.records[0]?.time, 1003);
      assert.deepEqual(
        window.records.find((r) => r.matchedStatements && (r.extra as { i: number }).i === 7)
          ?.matchedStatements,
        [{ sid: 's7' }],
      );
      await assert.rejects(store.queryAudit({ cursor: 'garbage' }), InputError);
    });

    it('appends a batch of many rows (full statements and a remainder) in order, all or none', async () => {
      await open();
      const records = Array.from({ length: 123 }, (_, i) => ({
        id: `audit-${String(i).padStart(3, '0')}`,
        time: 7000 + i,
        requestId: i % 2 ? `req-${i}` : undefined,
        sourceIp: '192.0.2.1',
        userAgent: 'ua',
        errorCode: i === 122 ? 'AccessDenied' : undefined,
        extra: { i },
      }));
      const ids = await store.appendAudit(records);
      assert.deepEqual(
        ids,
        records.map((r) => r.id),
      );
      const last = await store.getAuditRecord('audit-122');
      assert.deepEqual(
        { ...last },
        {
          id: 'audit-122',
          time: 7122,
          requestId: null,
          principal: null,
          action: null,
          resource: null,
          decision: null,
          matchedStatements: null,
          sourceIp: '192.0.2.1',
          userAgent: 'ua',
          errorCode: 'AccessDenied',
          extra: { i: 122 },
        },
      );
      assert.equal((await store.getAuditRecord('audit-051'))?.requestId, 'req-51');
      assert.equal((await store.queryAudit({ from: 7000, limit: 1000 })).records.length, 123);
      // A duplicate id in the remainder fails the batch: no row of it is kept.
      const again = Array.from({ length: 60 }, (_, i) => ({ id: `again-${i}`, time: 8000 + i }));
      again[55] = { id: 'audit-000', time: 8055 };
      await assert.rejects(store.appendAudit(again));
      assert.equal((await store.queryAudit({ from: 8000 })).records.length, 0);
    });

    it('reads one audit record by id, its JSON payloads intact, and undefined for an unknown id', async () => {
      await open();
      const matched = [
        {
          policyId: 'arn:aws:iam::111122223333:policy/p',
          policyKind: 'identity',
          sid: 'Deny',
          effect: 'Deny',
          statementIndex: 2,
        },
      ];
      const [first, second] = await store.appendAudit([
        {
          time: 5000,
          principal: 'arn:alice',
          action: 's3:GetObject',
          resource: 'arn:aws:s3:::b/k',
          decision: 'explicitDeny',
          matchedStatements: matched,
          extra: { reason: 'explicit-deny', missingContextValues: ['aws:sourceip'] },
        },
        { time: 5000, action: 'x' },
      ]);
      const got = await store.getAuditRecord(first!);
      assert.equal(got?.id, first);
      assert.equal(got?.time, 5000);
      assert.equal(got?.principal, 'arn:alice');
      assert.equal(got?.resource, 'arn:aws:s3:::b/k');
      assert.equal(got?.decision, 'explicitDeny');
      assert.deepEqual(got?.matchedStatements, matched);
      assert.deepEqual(got?.extra, { reason: 'explicit-deny', missingContextValues: ['aws:sourceip'] });
      const bare = await store.getAuditRecord(second!);
      assert.equal(bare?.action, 'x');
      assert.equal(bare?.matchedStatements, null);
      assert.equal(bare?.extra, null);
      assert.equal(await store.getAuditRecord('01890000-0000-7000-8000-000000000000'), undefined);
      assert.equal(await store.getAuditRecord(''), undefined);
    });
  });
}

describe('openStore', () => {
  it('refuses locations it cannot open, with a message naming the accepted forms', async () => {
    await assert.rejects(openStore({ url: '' }), InputError);
    await assert.rejects(openStore({ url: 'mysql://db/x' }), /use postgres:\/\/ or sqlite:/);
    await assert.rejects(openStore({ url: 'sqlite:' }), InputError);
    await assert.rejects(openStore({ url: 'postgres://127.0.0.1/test', schema: 'Bad-Schema' }), InputError);
  });

  it('refuses an account id that is not 12 digits', async () => {
    await assert.rejects(openStore({ url: ':memory:', accountId: '12' }), /12 digits/);
  });
});
