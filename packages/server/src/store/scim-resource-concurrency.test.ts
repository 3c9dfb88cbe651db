import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import type { Store } from './store.js';
import { testDatabases } from './store-test-databases.js';

// Identity providers push users in parallel. Each create numbers its row (`seq`, the SCIM
// creation order); on PostgreSQL two concurrent creates once read the same max(seq) and the
// loser failed with a 409 naming the wrong resource, so users were lost.
for (const database of testDatabases()) {
  describe(`SCIM resources under concurrent creates: ${database.id}`, () => {
    let store: Store | undefined;
    after(() => database.cleanup());
    afterEach(() => store?.close());

    it('every concurrent create succeeds, in its own transaction', async () => {
      store = await database.open({ clock: fixedClock('2026-01-01T00:00:00Z'), accountId: '123456789012' });
      const s = store;
      const count = 24;
      const results = await Promise.allSettled(
        Array.from({ length: count }, (_, i) =>
          s.transaction(async (tx) => {
            const user = await tx.createUser({ name: `scim-user-${i}`, source: 'scim' });
            return tx.createScimResource({
              resourceType: 'User',
              id: `id-${i}`,
              principalId: user.id,
              name: `user${i}@example.com`,
              externalId: `ext-${i}`,
              document: '{}',
              createdAt: Date.UTC(2026, 0, 1),
            });
          }),
        ),
      );
      const failures = results.filter((r) => r.status === 'rejected');
      assert.deepEqual(
        failures.map((f) => String((f as PromiseRejectedResult).reason)),
        [],
        'no create may fail',
      );
      const page = await s.findScimResources('User', { kind: 'all' }, { offset: 0, limit: 100 });
      assert.equal(page.total, count);
    });
  });
}
