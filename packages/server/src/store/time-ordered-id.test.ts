import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { timeOrderedId } from './time-ordered-id.js';

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

describe('timeOrderedId', () => {
  it('is a UUID version 7 whose first 48 bits are the time in milliseconds', () => {
    const now = Date.UTC(2026, 10, 23, 10, 0, 0, 123);
    const id = timeOrderedId(now);
    assert.match(id, UUID_V7);
    assert.equal(Number.parseInt(id.slice(0, 8) + id.slice(9, 13), 16), now);
  });

  it('sorts by time as text, and ids of the same millisecond differ', () => {
    const ids = [0, 1, 255, 256, 1_700_000_000_000, 1_700_000_000_001, 2 ** 47].map(timeOrderedId);
    assert.deepEqual([...ids].sort(), ids);
    const same = new Set(Array.from({ length: 1000 }, () => timeOrderedId(42)));
    assert.equal(same.size, 1000);
  });
});
