import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { SigV4Error, type SigV4ErrorCode } from './identity-errors.js';
import {
  buildCanonicalRequest,
  buildStringToSign,
  canonicalQueryString,
  canonicalUri,
  sha256Hex,
} from './sigv4-canonical-request.js';
import { deriveSigningKey, SigningKeyCache } from './sigv4-signing-key-cache.js';
import { type SigV4Request, SigV4Verifier, type SigV4VerifierOptions } from './sigv4-verifier.js';

const KEY = 'AKIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const NOW = Date.UTC(2026, 10, 23, 9, 0, 0);
const AMZ_DATE = '20261123T090000Z';

/** A minimal reference signer, so each test can build exactly the malformed input it needs. */
function sign(
  request: Omit<SigV4Request, 'headers'> & { headers: Record<string, string> },
  opts: { service?: string; date?: string; scopeDate?: string; region?: string; secret?: string } = {},
): SigV4Request {
  const service = opts.service ?? 's3';
  const amzDate = opts.date ?? AMZ_DATE;
  const scopeDate = opts.scopeDate ?? amzDate.slice(0, 8);
  const region = opts.region ?? 'us-east-1';
  const headers: Record<string, string> = { ...request.headers, 'x-amz-date': amzDate };
  const signed = Object.keys(headers).sort();
  const canonical = buildCanonicalRequest({
    method: request.method,
    canonicalUri: canonicalUri(request.path, { doubleEncode: service !== 's3' }),
    canonicalQuery: canonicalQueryString(request.query),
    signedHeaders: signed,
    headers,
    payloadHash: request.payloadHash ?? headers['x-amz-content-sha256'] ?? sha256Hex(''),
  }) as string;
  const scope = `${scopeDate}/${region}/${service}/aws4_request`;
  const signature = createHmac('sha256', deriveSigningKey(opts.secret ?? SECRET, scopeDate, region, service))
    .update(buildStringToSign(amzDate, scope, canonical))
    .digest('hex');
  return {
    ...request,
    headers: {
      ...headers,
      authorization: `AWS4-HMAC-SHA256 Credential=${KEY}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${signature}`,
    },
  };
}

const base = () => ({
  method: 'GET',
  path: '/bucket/key',
  query: '',
  headers: { host: 'aiam.local', 'x-amz-content-sha256': sha256Hex('') } as Record<string, string>,
});

function verifier(extra: Partial<SigV4VerifierOptions<{ userName: string }>> = {}) {
  let lookups = 0;
  const v = new SigV4Verifier<{ userName: string }>({
    services: ['s3', 'sts'],
    clock: fixedClock(NOW),
    lookupSecret: async (id) => {
      lookups++;
      return id === KEY ? { secretAccessKey: SECRET, userName: 'alice' } : undefined;
    },
    ...extra,
  });
  return { v, lookups: () => lookups };
}

async function refused(p: Promise<unknown>, code: SigV4ErrorCode): Promise<SigV4Error> {
  let caught: unknown;
  await assert.rejects(p, (e: unknown) => {
    caught = e;
    return e instanceof SigV4Error && e.code === code;
  });
  return caught as SigV4Error;
}

function withAuth(req: SigV4Request, f: (a: string) => string): SigV4Request {
  return { ...req, headers: { ...req.headers, authorization: f(String(req.headers.authorization)) } };
}

describe('SigV4Verifier', () => {
  it('accepts a signed request and reports what the S3 layer needs', async () => {
    const { v } = verifier();
    const ok = await v.verify(sign(base()));
    assert.equal(ok.accessKeyId, KEY);
    assert.equal(ok.principal.userName, 'alice');
    assert.ok(!JSON.stringify(ok.principal).includes(SECRET), 'the secret is passed on');
    assert.equal('secretAccessKey' in ok.principal, false);
    assert.equal(ok.payloadMode, 'signed');
    assert.equal(ok.scope, '20261123/us-east-1/s3/aws4_request');
    assert.equal(ok.amzDate, AMZ_DATE);
    assert.equal(ok.signingKey.length, 32);
    assert.match(ok.seedSignature, /^[0-9a-f]{64}$/);
  });

  it('reports each x-amz-content-sha256 payload mode and refuses unknown ones', async () => {
    const { v } = verifier();
    const modes = {
      'UNSIGNED-PAYLOAD': 'unsigned',
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD': 'streaming-signed',
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER': 'streaming-signed-trailer',
      'STREAMING-UNSIGNED-PAYLOAD-TRAILER': 'streaming-unsigned-trailer',
    };
    for (const [declared, mode] of Object.entries(modes)) {
      const req = base();
      req.headers['x-amz-content-sha256'] = declared;
      assert.equal((await v.verify(sign(req))).payloadMode, mode);
    }
    const bad = base();
    bad.headers['x-amz-content-sha256'] = 'STREAMING-NONSENSE';
    await refused(v.verify(sign(bad)), 'InvalidArgument');
    bad.headers['x-amz-content-sha256'] = 'STREAMING-AWS4-ECDSA-P256-SHA256-PAYLOAD';
    await refused(v.verify(sign(bad)), 'NotImplemented');
  });

  it('refuses a wrong secret without revealing the expected signature', async () => {
    const { v } = verifier();
    const req = sign(base(), { secret: 'another-secret' });
    const good = sign(base());
    const e = await refused(v.verify(req), 'SignatureDoesNotMatch');
    const expected = /Signature=([0-9a-f]{64})/.exec(String(good.headers.authorization))?.[1] as string;
    for (const text of [
      e.message,
      e.reason,
      e.canonicalRequest ?? '',
      e.stringToSign ?? '',
      JSON.stringify(e),
    ]) {
      assert.ok(!text.includes(expected), 'the error carries the expected signature');
    }
    assert.match(e.canonicalRequest ?? '', /^GET\n\/bucket\/key\n/);
  });

  it('refuses unknown access keys, and malformed ones before any lookup', async () => {
    const { v, lookups } = verifier();
    const req = sign(base());
    await refused(
      v.verify(withAuth(req, (a) => a.replace(KEY, 'AKIAUNKNOWNKEY000000'))),
      'InvalidAccessKeyId',
    );
    assert.equal(lookups(), 1);
    await refused(v.verify(withAuth(req, (a) => a.replace(KEY, 'AKIA-bad!'))), 'InvalidAccessKeyId');
    assert.equal(lookups(), 1);
  });

  it('refuses malformed Authorization headers with AWS codes', async () => {
    const { v } = verifier();
    const req = sign(base());
    const cases: [(a: string) => string, SigV4ErrorCode][] = [
      [(a) => a.replace('AWS4-HMAC-SHA256', 'AWS4-HMAC-SHA1'), 'AuthorizationHeaderMalformed'],
      [(a) => a.replace('AWS4-HMAC-SHA256', 'AWS'), 'NotImplemented'],
      [(a) => a.replace(/, Signature=[0-9a-f]+/, ''), 'IncompleteSignature'],
      [(a) => a.replace(/, SignedHeaders=[^,]+/, ''), 'IncompleteSignature'],
      [(a) => a.replace(/Credential=[^,]+, /, ''), 'IncompleteSignature'],
      [(a) => a.replace('/aws4_request', '/aws5_request'), 'AuthorizationHeaderMalformed'],
      [(a) => a.replace('/aws4_request', ''), 'AuthorizationHeaderMalformed'],
      [(a) => a.replace('/us-east-1/', '/US_EAST/'), 'AuthorizationHeaderMalformed'],
      [(a) => a.replace('/20261123/', '/2026112/'), 'AuthorizationHeaderMalformed'],
      [(a) => a.replace('/s3/', '/ec2/'), 'AuthorizationHeaderMalformed'],
      [(a) => a.replace('SignedHeaders=host;', 'SignedHeaders='), 'AuthorizationHeaderMalformed'],
      [
        (a) =>
          a.replace('SignedHeaders=host;x-amz-content-sha256;x-amz-date', 'SignedHeaders=host;x-amz-date'),
        'AuthorizationHeaderMalformed',
      ],
      [
        (a) => a.replace('host;x-amz-content-sha256', 'x-amz-content-sha256;host'),
        'AuthorizationHeaderMalformed',
      ],
      [(a) => a.replace('SignedHeaders=host', 'SignedHeaders=Host'), 'AuthorizationHeaderMalformed'],
      [
        (a) => a.replace('SignedHeaders=host;', 'SignedHeaders=host;x-missing;'),
        'AuthorizationHeaderMalformed',
      ],
      [
        (a) => a.replace(/Signature=([0-9a-f]+)/, (_, s: string) => `Signature=${s.toUpperCase()}`),
        'SignatureDoesNotMatch',
      ],
      [
        (a) => a.replace(/Signature=([0-9a-f]+)/, (_, s: string) => `Signature=${s.slice(2)}`),
        'SignatureDoesNotMatch',
      ],
      [(a) => a.replace('Credential=', 'Credential=x,'), 'AuthorizationHeaderMalformed'],
      [(a) => `${a}, Signature=00`, 'AuthorizationHeaderMalformed'],
      [(a) => `${a}, ${'x'.repeat(9000)}=1`, 'AuthorizationHeaderMalformed'],
      [() => 'AWS4-HMAC-SHA256', 'IncompleteSignature'],
      [() => '', 'AuthorizationHeaderMalformed'],
    ];
    for (const [i, [mutate, code]] of cases.entries()) {
      const got = await v.verify(withAuth(req, mutate)).then(
        () => 'accepted',
        (e: SigV4Error) => e.code,
      );
      assert.equal(got, code, `case ${i}: ${mutate.toString()}`);
    }
    const many = Array.from({ length: 70 }, (_, i) => `h${String(i).padStart(2, '0')}`).join(';');
    await refused(
      v.verify(withAuth(req, (a) => a.replace('SignedHeaders=host', `SignedHeaders=${many};host`))),
      'AuthorizationHeaderMalformed',
    );
  });

  it('checks dates: format, scope day, and the 15-minute skew window', async () => {
    const { v } = verifier();
    await refused(v.verify(sign(base(), { date: '20261123T090000' })), 'AccessDenied');
    await refused(
      v.verify(sign(base(), { date: '20261323T090000Z', scopeDate: '20261123' })),
      'AccessDenied',
    );
    await refused(v.verify(sign(base(), { scopeDate: '20261122' })), 'AuthorizationHeaderMalformed');
    await refused(v.verify(sign(base(), { date: '20261123T084459Z' })), 'RequestTimeTooSkewed');
    await refused(v.verify(sign(base(), { date: '20261123T091501Z' })), 'RequestTimeTooSkewed');
    await v.verify(sign(base(), { date: '20261123T084500Z' }));
    await v.verify(sign(base(), { date: '20261123T091500Z' }));
  });

  it('accepts the Date header when x-amz-date is absent, and requires it signed', async () => {
    const { v } = verifier();
    const req = sign(base());
    const { 'x-amz-date': _omit, ...rest } = req.headers as Record<string, string>;
    const auth = String(req.headers.authorization);
    // Re-sign by hand with Date as the time header.
    const headers = { ...rest, date: 'Mon, 23 Nov 2026 09:00:00 GMT' } as Record<string, string>;
    delete headers.authorization;
    const signed = Object.keys(headers).sort();
    const canonical = buildCanonicalRequest({
      method: 'GET',
      canonicalUri: '/bucket/key',
      canonicalQuery: '',
      signedHeaders: signed,
      headers,
      payloadHash: sha256Hex(''),
    }) as string;
    const scope = '20261123/us-east-1/s3/aws4_request';
    const sig = createHmac('sha256', deriveSigningKey(SECRET, '20261123', 'us-east-1', 's3'))
      .update(buildStringToSign(AMZ_DATE, scope, canonical))
      .digest('hex');
    const ok = await v.verify({
      ...req,
      headers: {
        ...headers,
        authorization: `AWS4-HMAC-SHA256 Credential=${KEY}/${scope}, SignedHeaders=${signed.join(';')}, Signature=${sig}`,
      },
    });
    assert.equal(ok.amzDate, AMZ_DATE);
    await refused(
      v.verify({ ...req, headers: { ...headers, date: 'yesterday', authorization: auth } }),
      'AccessDenied',
    );
    await refused(v.verify({ ...req, headers: { ...rest, authorization: auth } }), 'AccessDenied');
  });

  it('requires and checks session tokens for temporary keys', async () => {
    const v = new SigV4Verifier({
      services: ['s3'],
      clock: fixedClock(NOW),
      lookupSecret: async (_id, { sessionToken }) => {
        if (sessionToken !== undefined && sessionToken !== 'good-token')
          throw new SigV4Error('InvalidToken', 'bad token');
        return { secretAccessKey: SECRET, sessionTokenRequired: true };
      },
    });
    const withToken = (token: string) => {
      const r = base();
      r.headers['x-amz-security-token'] = token;
      return sign(r);
    };
    await v.verify(withToken('good-token'));
    const mismatch = withAuth(withToken('good-token'), (a) =>
      a.replace(/Signature=[0-9a-f]{64}/, `Signature=${'0'.repeat(64)}`),
    );
    const e = await refused(v.verify(mismatch), 'SignatureDoesNotMatch');
    assert.ok(!e.canonicalRequest?.includes('good-token'), 'the session token is in the error');
    assert.match(e.canonicalRequest ?? '', /x-amz-security-token:<redacted>/);
    await refused(v.verify(withToken('forged-token')), 'InvalidToken');
    await refused(v.verify(sign(base())), 'MissingSecurityToken');
    const { v: longTerm } = verifier();
    await refused(longTerm.verify(withToken('good-token')), 'InvalidToken');
  });

  it('refuses requests with no or two authentication mechanisms, and repeated auth headers', async () => {
    const { v } = verifier();
    await refused(v.verify(base()), 'AccessDenied');
    const req = sign(base());
    await refused(v.verify({ ...req, query: 'X-Amz-Algorithm=AWS4-HMAC-SHA256' }), 'InvalidArgument');
    await refused(
      v.verify({ ...req, headers: { ...req.headers, 'x-amz-date': [AMZ_DATE, AMZ_DATE] } }),
      'InvalidArgument',
    );
  });

  it('refuses malformed presigned query parameters', async () => {
    const { v } = verifier();
    const q = (over: Record<string, string | undefined>) => {
      const p: Record<string, string | undefined> = {
        'X-Amz-Algorithm': 'AWS4-HMAC-SHA256',
        'X-Amz-Credential': `${KEY}/20261123/us-east-1/s3/aws4_request`,
        'X-Amz-Date': AMZ_DATE,
        'X-Amz-Expires': '300',
        'X-Amz-SignedHeaders': 'host',
        'X-Amz-Signature': 'a'.repeat(64),
        ...over,
      };
      const query = Object.entries(p)
        .filter(([, val]) => val !== undefined)
        .map(([k, val]) => `${k}=${encodeURIComponent(val as string)}`)
        .join('&');
      return v.verify({ method: 'GET', path: '/b/k', query, headers: { host: 'aiam.local' } });
    };
    await refused(q({}), 'SignatureDoesNotMatch');
    await refused(q({ 'X-Amz-Expires': '0' }), 'AuthorizationQueryParametersError');
    await refused(q({ 'X-Amz-Expires': '604801' }), 'AuthorizationQueryParametersError');
    await refused(q({ 'X-Amz-Expires': '-5' }), 'AuthorizationQueryParametersError');
    await refused(q({ 'X-Amz-Expires': undefined }), 'AuthorizationQueryParametersError');
    await refused(q({ 'X-Amz-Date': undefined }), 'AuthorizationQueryParametersError');
    await refused(q({ 'X-Amz-Date': '2026-11-23T09:00:00Z' }), 'AuthorizationQueryParametersError');
    await refused(
      q({ 'X-Amz-Credential': `${KEY}/20261122/us-east-1/s3/aws4_request` }),
      'AuthorizationQueryParametersError',
    );
    await refused(q({ 'X-Amz-SignedHeaders': 'x-amz-date' }), 'AuthorizationQueryParametersError');
    await refused(q({ 'X-Amz-Algorithm': 'AWS4-HMAC-SHA512' }), 'AuthorizationQueryParametersError');
    await refused(q({ 'X-Amz-Date': '20261123T091600Z' }), 'RequestTimeTooSkewed');
    await refused(q({ 'X-Amz-Date': '20261123T085459Z' }), 'AccessDenied');
  });

  it('accepts a region only from the configured list when one is given', async () => {
    const { v } = verifier({ regions: ['eu-west-1'] });
    await refused(v.verify(sign(base())), 'AuthorizationHeaderMalformed');
    await v.verify(sign(base(), { region: 'eu-west-1' }));
  });

  it('caches signing keys, bounded, and drops them on invalidate', async () => {
    const cache = new SigningKeyCache(2);
    const { v } = verifier({ cache });
    await v.verify(sign(base()));
    await v.verify(sign(base()));
    assert.equal(cache.size, 1);
    await v.verify(sign(base(), { region: 'eu-west-1' }));
    await v.verify(sign(base(), { region: 'eu-north-1' }));
    assert.equal(cache.size, 2);
    v.invalidate(KEY);
    assert.equal(cache.size, 0);
    // A rotated secret is another fingerprint: the old entry is never used for it.
    let secret = SECRET;
    const rotating = new SigV4Verifier({
      services: ['s3'],
      clock: fixedClock(NOW),
      cache,
      lookupSecret: async () => ({ secretAccessKey: secret }),
    });
    await rotating.verify(sign(base()));
    secret = 'a-new-secret-after-rotation';
    await refused(rotating.verify(sign(base())), 'SignatureDoesNotMatch');
    await rotating.verify(sign(base(), { secret }));
  });

  it('double-encodes paths for services other than s3', async () => {
    const { v } = verifier();
    const req = { ...base(), path: '/a%20b/c' };
    await v.verify(sign(req, { service: 'sts' }));
    await v.verify(sign(req));
    assert.equal(canonicalUri('/a%20b/c', { doubleEncode: true }), '/a%2520b/c');
    assert.equal(canonicalUri('/a%20b/c', { doubleEncode: false }), '/a%20b/c');
    assert.equal(canonicalUri('/a b/~c!', { doubleEncode: false }), '/a%20b/~c%21');
    assert.equal(canonicalUri('/a/./b/../c', { doubleEncode: false }), '/a/./b/../c');
    assert.equal(canonicalUri('/a/./b/../c', { doubleEncode: true }), '/a/c');
  });

  it('verifies in about 10 us, and a few us with the cached key', async (t) => {
    const { v } = verifier();
    const req = sign(base());
    const time = async (n: number, f: () => Promise<unknown>) => {
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < n; i++) await f();
      return Number(process.hrtime.bigint() - t0) / n / 1000;
    };
    await time(2000, () => v.verify(req));
    const cached = await time(5000, () => v.verify(req));
    const { v: uncachedVerifier } = verifier({ cache: false });
    const uncached = await time(5000, () => uncachedVerifier.verify(req));
    // Loose bounds: this machine is shared; the numbers are printed for the record.
    t.diagnostic(`sigv4 verify: ${cached.toFixed(1)} us cached, ${uncached.toFixed(1)} us uncached`);
    assert.ok(cached < uncached, 'the cache does not help');
    assert.ok(cached < 200, `cached verification took ${cached} us`);
  });
});
