import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { SigV4Error, type SigV4ErrorCode } from './identity-errors.js';
import { buildCanonicalRequest, buildStringToSign, canonicalQueryString } from './sigv4-canonical-request.js';
import { PresignedVerificationCache } from './sigv4-presigned-cache.js';
import { deriveSigningKey, SigningKeyCache } from './sigv4-signing-key-cache.js';
import { type SigV4Request, SigV4Verifier } from './sigv4-verifier.js';

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const NOW = Date.UTC(2026, 11, 8, 9, 0, 0);
const AMZ_DATE = '20261208T090000Z';

/** A presigned GET as the AWS SDK's presigner makes it: host signed, payload unsigned. */
function presign(path: string, signedExtra: Record<string, string> = {}, secret = SECRET): SigV4Request {
  const headers: Record<string, string> = { host: 'aiam.local', ...signedExtra };
  const signed = Object.keys(headers).sort();
  const scope = `${AMZ_DATE.slice(0, 8)}/us-east-1/s3/aws4_request`;
  const params: Record<string, string> = {
    'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
    'X-Amz-Credential': `${KEY}/${scope}`,
    'X-Amz-Date': AMZ_DATE,
    'X-Amz-Expires': '300',
    'X-Amz-SignedHeaders': signed.join(';'),
  };
  const query = Object.entries(params)
    .map(([k, v]) => `${k}=${encodeURIComponent(v)}`)
    .join('&');
  const canonical = buildCanonicalRequest({
    method: 'GET',
    canonicalUri: path,
    canonicalQuery: canonicalQueryString(query),
    signedHeaders: signed,
    headers,
    payloadHash: 'UNSIGNED-PAYLOAD',
  }) as string;
  const signature = createHmac('sha256', deriveSigningKey(secret, AMZ_DATE.slice(0, 8), 'us-east-1', 's3'))
    .update(buildStringToSign(AMZ_DATE, scope, canonical))
    .digest('hex');
  return { method: 'GET', path, query: `${query}&X-Amz-Signature=${signature}`, headers };
}

/** A signing-key cache that counts its uses: a verification that computes the HMAC asks it. */
class CountingKeyCache extends SigningKeyCache {
  uses = 0;
  override get(...args: Parameters<SigningKeyCache['get']>): Buffer {
    this.uses++;
    return super.get(...args);
  }
}

function setup(presignedCache?: false) {
  const clock = fixedClock(NOW);
  const keys = new CountingKeyCache();
  const state = { active: true, secret: SECRET, lookups: 0 };
  const v = new SigV4Verifier<{ userName: string }>({
    services: ['s3'],
    clock,
    cache: keys,
    ...(presignedCache === false ? { presignedCache } : {}),
    lookupSecret: async (id) => {
      state.lookups++;
      return id === KEY && state.active ? { secretAccessKey: state.secret, userName: 'alice' } : undefined;
    },
  });
  return { v, clock, keys, state };
}

async function outcome(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'ok';
  } catch (e) {
    if (e instanceof SigV4Error) return e.code;
    throw e;
  }
}

async function refused(p: Promise<unknown>, code: SigV4ErrorCode): Promise<void> {
  await assert.rejects(p, (e: unknown) => e instanceof SigV4Error && e.code === code);
}

describe('SigV4Verifier: presigned URLs used again', () => {
  it('skips the signature arithmetic for the same URL, and still looks the key up each time', async () => {
    const { v, keys, state } = setup();
    const url = presign('/bucket/weights.bin');
    const first = await v.verify(url);
    assert.equal(keys.uses, 1);
    const again = await v.verify({ ...url, headers: { ...url.headers, range: 'bytes=0-99' } });
    assert.equal(keys.uses, 1, 'the second use was not computed again');
    assert.equal(state.lookups, 2, 'but the key was looked up again');
    assert.deepEqual({ ...again, principal: null }, { ...first, principal: null });
    assert.deepEqual(again.principal, { userName: 'alice' });
  });

  it('decides every variation of a used URL as a verifier without the cache does', async () => {
    const url = presign('/bucket/weights.bin', { 'x-amz-meta-run': 'r1' });
    const variants: SigV4Request[] = [
      url,
      { ...url, method: 'HEAD' },
      { ...url, method: 'get' },
      { ...url, path: '/bucket/other.bin' },
      { ...url, query: url.query.replace('X-Amz-Expires=300', 'X-Amz-Expires=301') },
      { ...url, query: `${url.query}&extra=1` },
      { ...url, headers: { ...url.headers, host: 'evil.local' } },
      { ...url, headers: { ...url.headers, 'x-amz-meta-run': 'r2' } },
      { ...url, headers: { ...url.headers, 'x-amz-meta-run': ['r1', 'r1'] } },
      { ...url, headers: { host: 'aiam.local' } },
      { ...url, headers: { ...url.headers, 'x-amz-content-sha256': 'UNSIGNED-PAYLOAD' } },
      { ...url, headers: { ...url.headers, 'x-amz-content-sha256': 'a'.repeat(64) } },
      { ...url, payloadHash: 'b'.repeat(64) },
    ];
    const cached = setup();
    const plain = setup(false);
    await cached.v.verify(url);
    for (const variant of variants) {
      assert.equal(
        await outcome(cached.v.verify(variant)),
        await outcome(plain.v.verify(variant)),
        `${variant.method} ${variant.path}?${variant.query.slice(-20)} ${JSON.stringify(variant.headers)}`,
      );
    }
  });

  it('refuses a used URL once its key is disabled, its secret rotated or its time is up', async () => {
    const { v, clock, state } = setup();
    const url = presign('/bucket/k');
    await v.verify(url);
    state.active = false;
    await refused(v.verify(url), 'InvalidAccessKeyId');
    state.active = true;
    await v.verify(url);
    state.secret = 'another-secret-after-rotation';
    await refused(v.verify(url), 'SignatureDoesNotMatch');
    state.secret = SECRET;
    await v.verify(url);
    clock.advance(300_001);
    await refused(v.verify(url), 'AccessDenied');
  });

  it('forgets the URLs of a key on invalidate', async () => {
    const { v, keys } = setup();
    const url = presign('/bucket/k');
    await v.verify(url);
    v.invalidate(KEY);
    await v.verify(url);
    assert.equal(keys.uses, 2);
  });

  it('never remembers a URL that failed', async () => {
    const { v, keys } = setup();
    const bad = presign('/bucket/k', {}, 'not-the-secret');
    await refused(v.verify(bad), 'SignatureDoesNotMatch');
    await refused(v.verify(bad), 'SignatureDoesNotMatch');
    assert.equal(keys.uses, 2);
  });
});

describe('PresignedVerificationCache', () => {
  it('is bounded, least recently used out first', () => {
    const cache = new PresignedVerificationCache<string>(2);
    const h = { host: 'a' };
    cache.set('one', h, ['host'], '1');
    cache.set('two', h, ['host'], '2');
    assert.equal(cache.get('one', h), '1');
    cache.set('three', h, ['host'], '3');
    assert.equal(cache.size, 2);
    assert.equal(cache.get('two', h), undefined);
    assert.equal(cache.get('one', h), '1');
    assert.equal(cache.get('one', { host: 'b' }), undefined);
    assert.throws(() => new PresignedVerificationCache(0), RangeError);
  });
});
