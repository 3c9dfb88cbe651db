import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { fixedClock } from '../clock.js';
import { InputError } from '../errors.js';
import { isAccessKeyId } from './credential-ids.js';
import { SigV4Error } from './identity-errors.js';
import { generateMasterKey, Keyring } from './keyring.js';
import { SessionTokenIssuer } from './session-token.js';
import { buildCanonicalRequest, buildStringToSign, sha256Hex } from './sigv4-canonical-request.js';
import { deriveSigningKey } from './sigv4-signing-key-cache.js';
import { SigV4Verifier } from './sigv4-verifier.js';
import { tamperedTail } from '../testing/tamper.js';

const T0 = Date.UTC(2026, 10, 23, 10, 0, 0);
const isCode = (code: string) => (e: unknown) => e instanceof SigV4Error && e.code === code;

function setup() {
  const clock = fixedClock(T0);
  const masterKey = generateMasterKey();
  const keyring = new Keyring(masterKey);
  return { clock, keyring, masterKey, issuer: new SessionTokenIssuer({ keyring, clock }) };
}

describe('SessionTokenIssuer', () => {
  it('issues ASIA credentials whose token opens to the same secret and claims', () => {
    const { issuer } = setup();
    const creds = issuer.issue({
      principal: 'arn:aws:sts::000000000000:assumed-role/reader/run-1',
      durationSeconds: 3600,
      context: { tags: { team: 'ml' } },
    });
    assert.ok(isAccessKeyId(creds.accessKeyId) && creds.accessKeyId.startsWith('ASIA'));
    assert.equal(creds.expiration.getTime(), T0 + 3600_000);
    assert.ok(!creds.sessionToken.includes(creds.secretAccessKey));
    const opened = issuer.open(creds.sessionToken, creds.accessKeyId);
    assert.equal(opened.secretAccessKey, creds.secretAccessKey);
    assert.equal(opened.principal, 'arn:aws:sts::000000000000:assumed-role/reader/run-1');
    assert.equal(opened.issuedAt, T0);
    assert.deepEqual(opened.context, { tags: { team: 'ml' } });
  });

  it('fails any single-character change with InvalidToken', () => {
    const { issuer } = setup();
    const creds = issuer.issue({ principal: 'p', durationSeconds: 900 });
    const t = creds.sessionToken;
    fc.assert(
      fc.property(fc.nat({ max: t.length - 1 }), fc.constantFrom(...'AQgw09_-.x'.split('')), (i, c) => {
        fc.pre(t[i] !== c);
        const tampered = t.slice(0, i) + c + t.slice(i + 1);
        assert.throws(() => issuer.open(tampered, creds.accessKeyId), isCode('InvalidToken'));
      }),
      { numRuns: 300 },
    );
    for (const bad of [
      '',
      'aiamst1',
      `${t}A`,
      t.slice(0, -4),
      t.replace('aiamst1', 'aiamst2'),
      'x'.repeat(5000),
    ]) {
      assert.throws(() => issuer.open(bad, creds.accessKeyId), isCode('InvalidToken'), bad.slice(0, 20));
    }
  });

  it('binds the token to its access key id and to this keyring', () => {
    const { issuer, clock } = setup();
    const a = issuer.issue({ principal: 'p', durationSeconds: 900 });
    const b = issuer.issue({ principal: 'p', durationSeconds: 900 });
    assert.throws(() => issuer.open(a.sessionToken, b.accessKeyId), isCode('InvalidToken'));
    assert.throws(() => issuer.open(a.sessionToken, 'not-a-key'), isCode('InvalidToken'));
    const other = new SessionTokenIssuer({ keyring: new Keyring(generateMasterKey()), clock });
    assert.throws(() => other.open(a.sessionToken, a.accessKeyId), isCode('InvalidToken'));
  });

  it('expires exactly at the expiry time, and survives a master-key rotation until then', () => {
    const { issuer, clock, masterKey } = setup();
    const creds = issuer.issue({ principal: 'p', durationSeconds: 900 });
    // The old key stays as a previous key during the rotation.
    const rotatedKeyring = new Keyring(generateMasterKey(), [masterKey]);
    const rotated = new SessionTokenIssuer({ keyring: rotatedKeyring, clock });
    clock.advance(900_000 - 1);
    assert.equal(rotated.open(creds.sessionToken, creds.accessKeyId).principal, 'p');
    clock.advance(1);
    assert.throws(() => issuer.open(creds.sessionToken, creds.accessKeyId), isCode('ExpiredToken'));
  });

  it('refuses tokens issued in the future (beyond 5 minutes of skew)', () => {
    const { issuer, clock, keyring } = setup();
    const creds = issuer.issue({ principal: 'p', durationSeconds: 3600 });
    const behind = new SessionTokenIssuer({ keyring, clock: fixedClock(T0 - 6 * 60_000) });
    assert.throws(() => behind.open(creds.sessionToken, creds.accessKeyId), isCode('InvalidToken'));
    clock.set(T0 - 4 * 60_000);
    assert.equal(issuer.open(creds.sessionToken, creds.accessKeyId).principal, 'p');
  });

  it('caches opened tokens until expiry only, and never for another access key id', () => {
    const { issuer, clock } = setup();
    const creds = issuer.issue({ principal: 'p', durationSeconds: 900 });
    const other = issuer.issue({ principal: 'p', durationSeconds: 900 });
    issuer.open(creds.sessionToken, creds.accessKeyId);
    assert.equal(issuer.open(creds.sessionToken, creds.accessKeyId).principal, 'p');
    assert.throws(() => issuer.open(creds.sessionToken, other.accessKeyId), isCode('InvalidToken'));
    clock.advance(900_000);
    assert.throws(() => issuer.open(creds.sessionToken, creds.accessKeyId), isCode('ExpiredToken'));
    const small = new SessionTokenIssuer({ keyring: new Keyring(generateMasterKey()), clock, cacheSize: 0 });
    const c = small.issue({ principal: 'q', durationSeconds: 900 });
    assert.equal(small.open(c.sessionToken, c.accessKeyId).principal, 'q');
  });

  it('checks durations and size', () => {
    const { issuer } = setup();
    for (const d of [0, 899, 129601, 1.5, Number.NaN]) {
      assert.throws(() => issuer.issue({ principal: 'p', durationSeconds: d }), InputError);
    }
    issuer.issue({ principal: 'p', durationSeconds: 129600 });
    assert.throws(
      () => issuer.issue({ principal: 'p', durationSeconds: 900, context: { policy: 'x'.repeat(5000) } }),
      {
        code: 'PackedPolicyTooLarge',
      },
    );
  });

  it('serves SigV4 verification of temporary credentials, and refuses revoked sessions', async () => {
    const { issuer, clock } = setup();
    const creds = issuer.issue({ principal: 'role/reader', durationSeconds: 900 });
    let revoked = false;
    const verifier = new SigV4Verifier({
      services: ['s3'],
      clock,
      lookupSecret: issuer.secretLookup(
        async (claims) => (revoked ? undefined : { principalArn: claims.principal }),
        async () => undefined,
      ),
    });
    const sign = (token: string | undefined) => {
      const headers: Record<string, string> = {
        host: 'aiam.local',
        'x-amz-content-sha256': sha256Hex(''),
        'x-amz-date': '20261123T100000Z',
      };
      if (token !== undefined) headers['x-amz-security-token'] = token;
      const signed = Object.keys(headers).sort();
      const canonical = buildCanonicalRequest({
        method: 'GET',
        canonicalUri: '/b/k',
        canonicalQuery: '',
        signedHeaders: signed,
        headers,
        payloadHash: sha256Hex(''),
      }) as string;
      const scope = '20261123/us-east-1/s3/aws4_request';
      const sig = createHmac('sha256', deriveSigningKey(creds.secretAccessKey, '20261123', 'us-east-1', 's3'))
        .update(buildStringToSign('20261123T100000Z', scope, canonical))
        .digest('hex');
      headers.authorization = `AWS4-HMAC-SHA256 Credential=${creds.accessKeyId}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${sig}`;
      return { method: 'GET', path: '/b/k', query: '', headers };
    };
    const ok = await verifier.verify(sign(creds.sessionToken));
    assert.equal((ok.principal as { principalArn?: string }).principalArn, 'role/reader');
    await assert.rejects(verifier.verify(sign(undefined)), isCode('MissingSecurityToken'));
    const forged = tamperedTail(creds.sessionToken);
    await assert.rejects(verifier.verify(sign(forged)), isCode('InvalidToken'));
    revoked = true;
    await assert.rejects(verifier.verify(sign(creds.sessionToken)), isCode('InvalidAccessKeyId'));
    revoked = false;
    clock.advance(900_000);
    await assert.rejects(verifier.verify(sign(creds.sessionToken)), (e: unknown) => e instanceof SigV4Error);
  });
});
