import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  ADMINISTRATOR_POLICY,
  BOOTSTRAP_ADMIN_USER,
  bootstrap,
  loadPepper,
  PEPPER_SETTING,
} from './bootstrap.js';
import { openTestServices, type TestServices, testContext } from './service-test-fixtures.js';

describe('bootstrap', () => {
  let s: TestServices;
  before(async () => {
    s = await openTestServices();
  });
  after(async () => s.close());

  it('creates the administrator once, whose power comes from an attached policy decided by the engine', async () => {
    const first = await bootstrap({ store: s.store, keyring: s.keyring });
    assert.ok(first);
    assert.equal(first.userName, BOOTSTRAP_ADMIN_USER);
    assert.equal(first.accountId, s.store.accountId);
    assert.equal(
      await bootstrap({ store: s.store, keyring: s.keyring }),
      undefined,
      'second call does nothing',
    );
    assert.equal((await s.iam.listAccessKeys('admin')).length, 1);

    const policy = await s.iam.getPolicyByName(ADMINISTRATOR_POLICY);
    assert.deepEqual(
      (await s.iam.listAttachedPolicies(first.userArn)).map((a) => a.policyArn),
      [policy.arn],
    );
    const found = await s.resolver.lookupSecret(first.accessKeyId, { sessionToken: undefined });
    assert.equal(found?.secretAccessKey, first.secretAccessKey);
    const ask = () =>
      s.authorizer.authorize({
        principal: found!.identity.principal,
        action: 'iam:CreateUser',
        resource: `arn:aws:iam::${s.store.accountId}:user/bob`,
        context: testContext(),
      });
    const allowed = await ask();
    assert.equal(allowed.allowed, true);
    assert.equal(allowed.decision.matched[0]?.policyId, policy.arn);
    // No side door: without the policy, the administrator is denied like anyone else.
    await s.iam.detachPolicy(first.userArn, policy.arn);
    assert.equal((await ask()).allowed, false);
  });

  it('keeps a 32-byte pepper encrypted in the settings, stable across loads', async () => {
    const a = await loadPepper(s.store, s.keyring);
    const b = await loadPepper(s.store, s.keyring);
    assert.equal(a.key.length, 32);
    assert.deepEqual(Buffer.from(a.key), Buffer.from(b.key));
    const stored = await s.store.getSetting(PEPPER_SETTING);
    assert.equal(stored?.value.includes(Buffer.from(a.key).toString('base64')), false);
    assert.match(stored!.value, /^v1\./);
  });
});
