import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  accessKeyKind,
  generateAccessKeyId,
  generateBearerKey,
  generateSecretAccessKey,
  isAccessKeyId,
  isBearerKey,
  type RandomSource,
} from './credential-ids.js';

const zeros: RandomSource = (n) => new Uint8Array(n);
const ones: RandomSource = (n) => new Uint8Array(n).fill(0xff);

describe('credential ids', () => {
  it('makes AWS-shaped access key ids from exactly 80 random bits', () => {
    assert.equal(generateAccessKeyId('long-term', zeros), 'AKIAAAAAAAAAAAAAAAAA');
    assert.equal(generateAccessKeyId('temporary', ones), 'ASIA7777777777777777');
    // RFC 4648 base32 of "foobarfoob" is MZXW6YTBOJTG633C (checked with Python's base64.b32encode).
    const foob: RandomSource = (n) => Buffer.concat([Buffer.from('foobarfoob'), Buffer.alloc(n - 10)]);
    assert.equal(generateAccessKeyId('long-term', foob), 'AKIAMZXW6YTBOJTG633C');
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 10, maxLength: 10 }), fc.boolean(), (bytes, temp) => {
        const id = generateAccessKeyId(temp ? 'temporary' : 'long-term', () => bytes);
        assert.equal(id.length, 20);
        assert.ok(isAccessKeyId(id));
        assert.equal(accessKeyKind(id), temp ? 'temporary' : 'long-term');
      }),
    );
    assert.notEqual(generateAccessKeyId('long-term'), generateAccessKeyId('long-term'));
  });

  it('refuses a random source that returns the wrong size', () => {
    assert.throws(() => generateAccessKeyId('long-term', () => new Uint8Array(3)), RangeError);
  });

  it('recognises only well-formed access key ids', () => {
    for (const bad of [
      '',
      'AKIA',
      'AKIAAAAAAAAAAAAAAAA1',
      'AKIDAAAAAAAAAAAAAAAA',
      'akiaaaaaaaaaaaaaaaaa',
      'AKIAAAAAAAAAAAAAAAAAA',
    ]) {
      assert.equal(isAccessKeyId(bad), false, bad);
      assert.equal(accessKeyKind(bad), undefined);
    }
  });

  it('makes 40-character secrets from 30 random bytes', () => {
    assert.equal(generateSecretAccessKey(zeros), 'A'.repeat(40));
    const s = generateSecretAccessKey();
    assert.match(s, /^[A-Za-z0-9+/]{40}$/);
    assert.equal(Buffer.from(s, 'base64').length, 30);
  });

  it('makes prefixed 256-bit bearer keys', () => {
    const k = generateBearerKey();
    assert.match(k, /^aiam_ek_[A-Za-z0-9_-]{43}$/);
    assert.ok(isBearerKey(k));
    assert.equal(generateBearerKey('aiam_ek_', zeros), `aiam_ek_${'A'.repeat(43)}`);
    assert.ok(isBearerKey(generateBearerKey('aiam_sk_'), 'aiam_sk_'));
    assert.equal(isBearerKey(k, 'aiam_sk_'), false);
    assert.equal(isBearerKey(`${k}x`), false);
    assert.equal(isBearerKey('aiam_ek_short'), false);
    assert.throws(() => generateBearerKey('Bad Prefix'), TypeError);
  });
});
