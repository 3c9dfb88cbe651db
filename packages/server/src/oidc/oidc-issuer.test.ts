import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateMasterKey, Keyring } from '../identity/keyring.js';
import { testDatabases } from '../store/store-test-databases.js';
import { OidcIssuer } from './oidc-issuer.js';

describe('OidcIssuer', () => {
  it('persists sealed keys, rotates on schedule, keeps retired keys published until their tokens expire', async () => {
    let now = Date.now();
    const clock = { now: () => now };
    const db = testDatabases().find((d) => d.id === 'sqlite')!;
    const store = await db.open({ clock });
    try {
      const keyring = new Keyring(generateMasterKey());
      const options = {
        store,
        keyring,
        issuer: 'http://127.0.0.1:7477',
        clock,
        rotationPeriodMs: 86_400_000,
        maxTokenLifetimeSeconds: 3600,
      };
      const a = await OidcIssuer.open(options);
      const first = a.keys.activeKid;
      const stored = await store.listSigningKeys();
      assert.deepEqual(
        stored.map((k) => k.kid),
        [first],
      );
      // The private key is sealed: its `d` is not in the stored bytes, the public JWK has none.
      const d = a.keys.records()[0]!.privateJwk.d!;
      assert.ok(!Buffer.from(stored[0]!.privateJwkCiphertext).toString('utf8').includes(d));
      assert.equal(JSON.parse(stored[0]!.publicJwk).d, undefined);
      const token = (await a.keys.issue({ subject: 'sub-1', audience: 'x', ttlSeconds: 3600 })).token;

      // A second node (or a restart) loads the same key and verifies the same tokens.
      const b = await OidcIssuer.open(options);
      assert.equal(b.keys.activeKid, first);
      assert.equal((await b.keys.verify(token, 'x')).sub, 'sub-1');

      await a.tick();
      assert.equal(a.keys.activeKid, first, 'not due yet');
      now += 86_400_001;
      await a.tick();
      const second = a.keys.activeKid;
      assert.notEqual(second, first);
      assert.deepEqual(
        a.keys
          .jwks()
          .keys.map((k) => k.kid)
          .sort(),
        [first, second].sort(),
      );
      const after = await store.listSigningKeys();
      assert.equal(after.find((k) => k.kid === first)?.retiredAt, now);
      now += 3_600_001;
      await a.tick();
      assert.deepEqual(
        a.keys.jwks().keys.map((k) => k.kid),
        [second],
      );
      assert.deepEqual(
        (await store.listSigningKeys()).map((k) => k.kid),
        [second],
      );
      await a.close();
      await b.close();
    } finally {
      await store.close();
    }
  });
});
