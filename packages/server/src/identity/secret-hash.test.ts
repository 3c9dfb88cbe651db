import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { generateBearerKey } from './credential-ids.js';
import { SecretHasher } from './secret-hash.js';

const p1 = { id: 'p1', key: Buffer.alloc(32, 1) };
const p2 = { id: 'p2', key: Buffer.alloc(32, 2) };

describe('SecretHasher', () => {
  it('hashes deterministically with HMAC-SHA256 under the pepper', () => {
    const h = new SecretHasher(p1);
    const key = generateBearerKey();
    const stored = h.hash(key);
    assert.equal(stored, h.hash(key));
    assert.equal(stored, `h1.p1.${createHmac('sha256', p1.key).update(key).digest('base64url')}`);
    assert.ok(!stored.includes(key.slice(8)));
    assert.ok(h.verify(key, stored));
  });

  it('refuses other secrets, tampered hashes, other peppers and malformed input', () => {
    const h = new SecretHasher(p1);
    const key = generateBearerKey();
    const stored = h.hash(key);
    assert.equal(h.verify(`${key}x`, stored), false);
    assert.equal(h.verify(key, `${stored.slice(0, -1)}${stored.endsWith('A') ? 'B' : 'A'}`), false);
    assert.equal(h.verify(key, stored.replace('.p1.', '.p9.')), false);
    assert.equal(new SecretHasher(p2).verify(key, stored), false);
    for (const bad of ['', 'h1.p1.', 'h2.p1.abc', stored.slice(0, -2), `${stored}AA`])
      assert.equal(h.verify(key, bad), false);
  });

  it('rotates peppers: old hashes still verify and are found by candidates, then re-hashed', () => {
    const key = generateBearerKey();
    const old = new SecretHasher(p1).hash(key);
    const rotated = new SecretHasher(p2, [p1]);
    assert.ok(rotated.verify(key, old));
    assert.ok(rotated.needsRehash(old));
    assert.deepEqual(rotated.candidates(key), [rotated.hash(key), old]);
    assert.equal(rotated.needsRehash(rotated.hash(key)), false);
  });

  it('refuses short peppers and bad pepper ids', () => {
    assert.throws(() => new SecretHasher({ id: 'p1', key: Buffer.alloc(16) }), InputError);
    assert.throws(() => new SecretHasher({ id: 'has.dot', key: Buffer.alloc(32) }), InputError);
  });
});
