import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { fixedClock } from '../clock.js';
import { InputError } from '../errors.js';
import { ExternalTokenVerifier, type JwksFetch } from './external-token-verifier.js';
import { TokenError } from './identity-errors.js';

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const CI = 'https://token.ci.example.com';
const isCode = (code: string) => (e: unknown) => e instanceof TokenError && e.code === code;

/** An external issuer (like a CI system) with an RS256 key. */
async function ciIssuer() {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid: 'ci-1', alg: 'RS256', use: 'sig' };
  const sign = (
    claims: Record<string, unknown>,
    opts: { iss?: string; aud?: string; iat?: number; exp?: number; nbf?: number } = {},
  ) => {
    const jwt = new SignJWT(claims)
      .setProtectedHeader({ alg: 'RS256', kid: 'ci-1' })
      .setIssuer(opts.iss ?? CI)
      .setAudience(opts.aud ?? 'aiam')
      .setSubject('repo:org/pipeline:ref:refs/heads/main')
      .setIssuedAt(opts.iat ?? T0 / 1000)
      .setExpirationTime(opts.exp ?? T0 / 1000 + 300);
    if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
    return jwt.sign(privateKey);
  };
  return { jwks: { keys: [jwk] }, sign };
}

describe('ExternalTokenVerifier', () => {
  it('verifies tokens of a trusted issuer from an inline JWKS', async () => {
    const ci = await ciIssuer();
    const v = new ExternalTokenVerifier([{ issuer: CI, audiences: ['aiam'], jwks: ci.jwks }], {
      clock: fixedClock(T0),
    });
    const id = await v.verify(await ci.sign({ repository: 'org/pipeline' }));
    assert.equal(id.issuer, CI);
    assert.equal(id.subject, 'repo:org/pipeline:ref:refs/heads/main');
    assert.equal(id.payload.repository, 'org/pipeline');
  });

  it('fetches the JWKS through the injected fetch, once', async () => {
    const ci = await ciIssuer();
    const calls: string[] = [];
    const fetch: JwksFetch = async (url) => {
      calls.push(url);
      return new Response(JSON.stringify(ci.jwks), {
        status: 200,
        headers: { 'content-type': 'application/json' },
      });
    };
    const v = new ExternalTokenVerifier(
      [{ issuer: CI, audiences: ['aiam'], jwksUri: `${CI}/.well-known/jwks` }],
      {
        clock: fixedClock(T0),
        fetch,
      },
    );
    await v.verify(await ci.sign({}));
    await v.verify(await ci.sign({ n: 2 }));
    assert.deepEqual(calls, [`${CI}/.well-known/jwks`]);
  });

  it('reports an unreachable JWKS as ERR_JWKS_UNAVAILABLE', async () => {
    const ci = await ciIssuer();
    const down: JwksFetch = async () => {
      throw new TypeError('fetch failed');
    };
    const v = new ExternalTokenVerifier([{ issuer: CI, audiences: ['aiam'], jwksUri: `${CI}/jwks` }], {
      clock: fixedClock(T0),
      fetch: down,
    });
    await assert.rejects(v.verify(await ci.sign({})), isCode('ERR_JWKS_UNAVAILABLE'));
    const error500: JwksFetch = async () => new Response('oops', { status: 500 });
    const v2 = new ExternalTokenVerifier([{ issuer: CI, audiences: ['aiam'], jwksUri: `${CI}/jwks` }], {
      clock: fixedClock(T0),
      fetch: error500,
    });
    await assert.rejects(v2.verify(await ci.sign({})), isCode('ERR_JWKS_UNAVAILABLE'));
  });

  it('checks iss, aud, exp and nbf with the clock tolerance', async () => {
    const ci = await ciIssuer();
    const clock = fixedClock(T0);
    const v = new ExternalTokenVerifier(
      [{ issuer: CI, audiences: ['aiam', 'sts.amazonaws.com'], jwks: ci.jwks, clockToleranceSeconds: 30 }],
      {
        clock,
      },
    );
    await v.verify(await ci.sign({}, { aud: 'sts.amazonaws.com' }));
    await assert.rejects(v.verify(await ci.sign({}, { aud: 'someone-else' })), isCode('ERR_JWT_AUDIENCE'));
    await assert.rejects(
      v.verify(await ci.sign({}, { iss: 'https://evil.example.com' })),
      isCode('ERR_JWT_UNTRUSTED_ISSUER'),
    );
    await v.verify(await ci.sign({}, { nbf: T0 / 1000 + 20 }));
    await assert.rejects(
      v.verify(await ci.sign({}, { nbf: T0 / 1000 + 40 })),
      isCode('ERR_JWT_NOT_YET_VALID'),
    );
    const token = await ci.sign({});
    clock.set(T0 + 300_000 + 29_000);
    await v.verify(token);
    clock.set(T0 + 300_000 + 31_000);
    await assert.rejects(v.verify(token), isCode('ERR_JWT_EXPIRED'));
  });

  it('refuses tampered tokens, keys of another issuer, and garbage', async () => {
    const ci = await ciIssuer();
    const impostor = await ciIssuer(); // same iss and kid, different key
    const v = new ExternalTokenVerifier([{ issuer: CI, audiences: ['aiam'], jwks: ci.jwks }], {
      clock: fixedClock(T0),
    });
    await assert.rejects(v.verify(await impostor.sign({})), isCode('ERR_JWT_SIGNATURE'));
    const good = await ci.sign({ role: 'reader' });
    const [h, p, s] = good.split('.') as [string, string, string];
    const forgedPayload = Buffer.from(
      JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), role: 'admin' }),
    ).toString('base64url');
    await assert.rejects(v.verify(`${h}.${forgedPayload}.${s}`), isCode('ERR_JWT_SIGNATURE'));
    for (const bad of ['', 'a.b.c', 'x'.repeat(20000)])
      await assert.rejects(v.verify(bad), isCode('ERR_JWT_INVALID'));
  });

  it('refuses misconfigured issuers', () => {
    assert.throws(
      () => new ExternalTokenVerifier([{ issuer: CI, audiences: [], jwks: { keys: [] } }]),
      InputError,
    );
    assert.throws(() => new ExternalTokenVerifier([{ issuer: CI, audiences: ['a'] }]), InputError);
    assert.throws(
      () =>
        new ExternalTokenVerifier([{ issuer: CI, audiences: ['a'], jwksUri: 'http://ci.example.com/jwks' }]),
      InputError,
    );
  });
});
