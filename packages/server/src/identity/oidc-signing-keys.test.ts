import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLocalJWKSet, jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { fixedClock } from '../clock.js';
import { InputError } from '../errors.js';
import { TokenError } from './identity-errors.js';
import { OidcSigningKeys, type SigningKeyRecord } from './oidc-signing-keys.js';

const ISSUER = 'https://aiam.example.com';
const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const isCode = (code: string) => (e: unknown) => e instanceof TokenError && e.code === code;

async function setup() {
  const clock = fixedClock(T0);
  const keys = await OidcSigningKeys.create({ issuer: ISSUER, clock, maxTokenLifetimeSeconds: 3600 });
  return { clock, keys };
}

function tamper(token: string, part: 0 | 1 | 2): string {
  const parts = token.split('.');
  const p = parts[part] as string;
  // The first character: its six bits are all in the first byte, so the bytes always change.
  // (This compared p[5] and replaced p[0], so one token in 64 came back unchanged: a flaky test.)
  parts[part] = (p[0] === 'A' ? 'B' : 'A') + p.slice(1);
  return parts.join('.');
}

describe('OidcSigningKeys', () => {
  it('publishes only public keys, with kid, use and alg', async () => {
    const { keys } = await setup();
    const jwks = keys.jwks();
    assert.equal(jwks.keys.length, 1);
    const [k] = jwks.keys;
    assert.deepEqual(Object.keys(k ?? {}).sort(), ['alg', 'crv', 'kid', 'kty', 'use', 'x', 'y']);
    assert.equal(k?.kid, keys.activeKid);
    assert.equal(k?.use, 'sig');
    assert.equal(k?.alg, 'ES256');
    assert.ok(!JSON.stringify(jwks).includes('"d"'));
  });

  it("issues tokens that jose's own jwtVerify accepts against the JWKS", async () => {
    const { keys } = await setup();
    const { token, jti, expiresAt } = await keys.issue({
      subject: 'user/alice',
      audience: 'aiam-gateway',
      ttlSeconds: 600,
      claims: { workspace: 'ml', groups: ['data'] },
    });
    const { payload, protectedHeader } = await jwtVerify(token, createLocalJWKSet(keys.jwks()), {
      issuer: ISSUER,
      audience: 'aiam-gateway',
      currentDate: new Date(T0),
    });
    assert.equal(protectedHeader.alg, 'ES256');
    assert.equal(protectedHeader.kid, keys.activeKid);
    assert.equal(payload.sub, 'user/alice');
    assert.equal(payload.jti, jti);
    assert.equal(payload.iat, T0 / 1000);
    assert.equal(payload.exp, T0 / 1000 + 600);
    assert.equal(expiresAt, T0 + 600_000);
    assert.equal(payload.workspace, 'ml');
    assert.deepEqual(payload.groups, ['data']);
    assert.equal((await keys.verify(token, 'aiam-gateway')).sub, 'user/alice');
  });

  it('keeps old keys published until their tokens expire, then drops them', async () => {
    const { keys, clock } = await setup();
    const firstKid = keys.activeKid;
    const old = await keys.issue({ subject: 's', audience: 'a', ttlSeconds: 3600 });
    clock.advance(60_000);
    await keys.rotate();
    assert.notEqual(keys.activeKid, firstKid);
    assert.deepEqual(
      keys.jwks().keys.map((k) => k.kid),
      [keys.activeKid, firstKid],
    );
    const fresh = await keys.issue({ subject: 's', audience: 'a', ttlSeconds: 60 });
    assert.equal(
      JSON.parse(Buffer.from(fresh.token.split('.')[0] as string, 'base64url').toString()).kid,
      keys.activeKid,
    );
    clock.advance(3500_000);
    assert.deepEqual(keys.prune(), []);
    assert.equal((await keys.verify(old.token, 'a')).sub, 's');
    await jwtVerify(old.token, createLocalJWKSet(keys.jwks()), { currentDate: new Date(clock.now()) });
    // Retired at T0+60s, it may have signed a 1-hour token at that instant: kept until T0+3660s.
    clock.advance(100_000);
    assert.deepEqual(keys.prune(), []);
    clock.advance(1);
    assert.deepEqual(keys.prune(), [firstKid]);
    assert.deepEqual(
      keys.jwks().keys.map((k) => k.kid),
      [keys.activeKid],
    );
    await assert.rejects(keys.verify(old.token, 'a'), (e: unknown) => e instanceof TokenError);
  });

  it('rotates on schedule and restores from its records', async () => {
    const { keys, clock } = await setup();
    assert.equal(await keys.rotateIfDue(86400_000), false);
    clock.advance(86400_000);
    assert.equal(await keys.rotateIfDue(86400_000), true);
    const { token } = await keys.issue({ subject: 's', audience: 'a', ttlSeconds: 60 });
    const restored = await OidcSigningKeys.create({ issuer: ISSUER, clock }, keys.records());
    assert.equal(restored.activeKid, keys.activeKid);
    assert.equal((await restored.verify(token, 'a')).sub, 's');
    assert.deepEqual(restored.jwks(), keys.jwks());
    // An interrupted rotation left two unretired keys: the newest signs, the other gets retired.
    const [newest, older] = keys.records() as [SigningKeyRecord, SigningKeyRecord];
    const { retiredAt: _r, ...unretired } = older;
    const repaired = await OidcSigningKeys.create({ issuer: ISSUER, clock }, [unretired, newest]);
    assert.equal(repaired.activeKid, newest.kid);
    assert.equal(repaired.records()[1]?.retiredAt, newest.createdAt);
  });

  it('refuses tampered, expired, wrong-audience, foreign and unsigned tokens with typed errors', async () => {
    const { keys, clock } = await setup();
    const { token } = await keys.issue({ subject: 's', audience: 'a', ttlSeconds: 300 });
    await assert.rejects(keys.verify(tamper(token, 1), 'a'), (e: unknown) => e instanceof TokenError);
    await assert.rejects(keys.verify(tamper(token, 2), 'a'), isCode('ERR_JWT_SIGNATURE'));
    await assert.rejects(keys.verify(token, 'b'), isCode('ERR_JWT_AUDIENCE'));
    await assert.rejects(keys.verify('not.a.jwt', 'a'), isCode('ERR_JWT_INVALID'));
    await assert.rejects(keys.verify('x'.repeat(9000), 'a'), isCode('ERR_JWT_INVALID'));
    const unsigned = new UnsecuredJWT({ sub: 's' })
      .setIssuer(ISSUER)
      .setAudience('a')
      .setExpirationTime('1h')
      .encode();
    await assert.rejects(keys.verify(unsigned, 'a'), (e: unknown) => e instanceof TokenError);
    const hs = await new SignJWT({ sub: 's' })
      .setProtectedHeader({ alg: 'HS256', kid: keys.activeKid })
      .setIssuer(ISSUER)
      .setAudience('a')
      .setExpirationTime(T0 / 1000 + 60)
      .sign(new Uint8Array(32));
    await assert.rejects(keys.verify(hs, 'a'), isCode('ERR_JWT_SIGNATURE'));
    // Same issuer URL, another server's keys.
    const other = await OidcSigningKeys.create({ issuer: ISSUER, clock });
    const foreign = await other.issue({ subject: 's', audience: 'a', ttlSeconds: 60 });
    await assert.rejects(keys.verify(foreign.token, 'a'), isCode('ERR_JWT_SIGNATURE'));
    clock.advance(300_000);
    await assert.rejects(keys.verify(token, 'a'), isCode('ERR_JWT_EXPIRED'));
  });

  it('caches verifications only until exp, and drops a subject on invalidateSubject', async () => {
    const { keys, clock } = await setup();
    const alice = await keys.issue({ subject: 'alice', audience: 'a', ttlSeconds: 60 });
    const bob = await keys.issue({ subject: 'bob', audience: 'a', ttlSeconds: 600 });
    await keys.verify(alice.token, 'a');
    await keys.verify(bob.token, 'a');
    assert.equal(keys.cacheSize, 2);
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < 1000; i++) await keys.verify(bob.token, 'a');
    const cachedUs = Number(process.hrtime.bigint() - t0) / 1000 / 1000;
    assert.ok(cachedUs < 50, `cached verification took ${cachedUs} us`);
    assert.equal(keys.invalidateSubject('bob'), 1);
    assert.equal(keys.cacheSize, 1);
    clock.advance(60_000);
    await assert.rejects(keys.verify(alice.token, 'a'), isCode('ERR_JWT_EXPIRED'));
    assert.equal((await keys.verify(bob.token, 'a')).sub, 'bob');
  });

  it('bounds the cache', async () => {
    const clock = fixedClock(T0);
    const keys = await OidcSigningKeys.create({ issuer: ISSUER, clock, cacheSize: 3 });
    for (let i = 0; i < 5; i++) {
      const { token } = await keys.issue({ subject: `u${i}`, audience: 'a', ttlSeconds: 60 });
      await keys.verify(token, 'a');
    }
    assert.equal(keys.cacheSize, 3);
  });

  it('refuses bad issue requests and issuers', async () => {
    const { keys } = await setup();
    for (const ttlSeconds of [0, 3601, 1.5]) {
      await assert.rejects(keys.issue({ subject: 's', audience: 'a', ttlSeconds }), InputError);
    }
    await assert.rejects(keys.issue({ subject: '', audience: 'a', ttlSeconds: 60 }), InputError);
    await assert.rejects(
      keys.issue({ subject: 's', audience: 'a', ttlSeconds: 60, claims: { exp: 1 } }),
      InputError,
    );
    await assert.rejects(OidcSigningKeys.create({ issuer: 'http://aiam.example.com' }), InputError);
    await assert.rejects(OidcSigningKeys.create({ issuer: 'not a url' }), InputError);
    await OidcSigningKeys.create({ issuer: 'http://127.0.0.1:8080' });
  });
});
