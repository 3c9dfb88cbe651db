// Cross-check with the AWS SDK's own signer (@smithy/signature-v4, what @aws-sdk/client-s3 and
// client-sts use): random requests it signs, in both forms, are accepted; any single-bit change
// to what was signed is refused.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import fc from 'fast-check';
import { fixedClock } from '../clock.js';
import { SigV4Error } from './identity-errors.js';
import {
  canonicalHeaderValue,
  canonicalQueryString,
  canonicalUri,
  sha256Hex,
} from './sigv4-canonical-request.js';
import { type SigV4Request, SigV4Verifier } from './sigv4-verifier.js';
import { NodeSha256 } from '../testing/signed-fetch.js';

// The SDK's query and path escaping (encodeURIComponent plus !'()*), used to put the request on the wire.
const sdkEscape = (s: string) =>
  encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);

const ACCESS_KEY = 'AKIAIOSFODNN7EXAMPLE';
const TEMP_KEY = 'ASIAIOSFODNN7EXAMPLE';
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const TOKEN = 'session-token-value/with+odd=chars';

const text = fc.string({
  unit: fc.constantFrom(..."abcXYZ019-._~ !$&'()*+,;=:@/%?#[]".split(''), 'é', 'ሴ', '😀'),
  maxLength: 12,
});
const headerValue = fc
  .string({ unit: fc.constantFrom(...'abcXYZ019-_ ,;:="/'.split('')), minLength: 1, maxLength: 20 })
  .filter((v) => v.trim() !== '');

const requestArb = fc.record({
  service: fc.constantFrom('s3', 'sts', 'iam'),
  method: fc.constantFrom('GET', 'PUT', 'POST', 'DELETE', 'HEAD'),
  segments: fc.array(
    text.filter((s) => s !== '' && s !== '.' && s !== '..'),
    { maxLength: 4 },
  ),
  trailingSlash: fc.boolean(),
  query: fc.array(
    fc.tuple(
      text.filter((s) => s !== ''),
      text,
    ),
    { maxLength: 4 },
  ),
  headers: fc.dictionary(
    fc.constantFrom('x-amz-meta-a', 'x-custom', 'content-type', 'x-amz-meta-b'),
    headerValue,
    {
      maxKeys: 3,
    },
  ),
  body: fc.string({ maxLength: 40 }),
  unsignedPayload: fc.boolean(),
  temporary: fc.boolean(),
  // Whole seconds: X-Amz-Date has no milliseconds.
  signingTime: fc
    .integer({ min: Date.UTC(2020, 0, 1) / 1000, max: Date.UTC(2035, 0, 1) / 1000 })
    .map((s) => s * 1000),
  skewMs: fc.integer({ min: -14 * 60_000, max: 14 * 60_000 }),
  expiresIn: fc.integer({ min: 1, max: 604800 }),
  presign: fc.boolean(),
});
type Generated = typeof requestArb extends fc.Arbitrary<infer T> ? T : never;

async function signWithSdk(g: Generated): Promise<{ request: SigV4Request; verifier: SigV4Verifier }> {
  const s3 = g.service === 's3';
  const path = `/${g.segments.map(sdkEscape).join('/')}${g.trailingSlash && g.segments.length > 0 ? '/' : ''}`;
  const query: Record<string, string | string[]> = {};
  for (const [k, v] of g.query) {
    const prev = query[k];
    query[k] = prev === undefined ? v : Array.isArray(prev) ? [...prev, v] : [prev, v];
  }
  const headers: Record<string, string> = { host: 'aiam.example.com', ...g.headers };
  if (s3)
    headers['x-amz-content-sha256'] = g.unsignedPayload || g.presign ? 'UNSIGNED-PAYLOAD' : sha256Hex(g.body);
  const signer = new SignatureV4({
    credentials: g.temporary
      ? { accessKeyId: TEMP_KEY, secretAccessKey: SECRET, sessionToken: TOKEN }
      : { accessKeyId: ACCESS_KEY, secretAccessKey: SECRET },
    region: 'us-east-1',
    service: g.service,
    sha256: NodeSha256,
    uriEscapePath: !s3,
  });
  const http = {
    method: g.method,
    protocol: 'https:',
    hostname: 'aiam.example.com',
    path,
    query,
    headers,
    body: g.body,
  };
  const signed = g.presign
    ? await signer.presign(http, { signingDate: new Date(g.signingTime), expiresIn: g.expiresIn })
    : await signer.sign(http, { signingDate: new Date(g.signingTime) });

  const wireQuery: string[] = [];
  for (const [k, v] of Object.entries(signed.query ?? {})) {
    for (const one of Array.isArray(v) ? v : [v]) wireQuery.push(`${sdkEscape(k)}=${sdkEscape(String(one))}`);
  }
  const wireHeaders: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) wireHeaders[k.toLowerCase()] = String(v);
  const request: SigV4Request = {
    method: g.method,
    path: signed.path,
    query: wireQuery.join('&'),
    headers: wireHeaders,
    payloadHash: s3 ? undefined : sha256Hex(g.body),
  };
  const verifier = new SigV4Verifier({
    services: ['s3', 'sts', 'iam'],
    regions: ['us-east-1'],
    clock: fixedClock(g.signingTime + (g.presign ? Math.abs(g.skewMs) % (g.expiresIn * 1000) : g.skewMs)),
    lookupSecret: async (id, { sessionToken }) => {
      if (id === ACCESS_KEY) return { secretAccessKey: SECRET, name: 'alice' };
      if (id === TEMP_KEY) {
        if (sessionToken !== TOKEN) throw new SigV4Error('InvalidToken', 'wrong session token');
        return { secretAccessKey: SECRET, name: 'alice-session', sessionTokenRequired: true };
      }
      return undefined;
    },
  });
  return { request, verifier };
}

function flipBit(s: string, index: number, bit: number): string {
  const code = s.charCodeAt(index) ^ (1 << bit);
  return s.slice(0, index) + String.fromCharCode(code) + s.slice(index + 1);
}

describe('SigV4 verifier against the AWS SDK signer', () => {
  it('accepts every request the SDK signs (header and presigned, s3 and others)', async () => {
    await fc.assert(
      fc.asyncProperty(requestArb, async (g) => {
        const { request, verifier } = await signWithSdk(g);
        const result = await verifier.verify(request);
        assert.equal(result.form, g.presign ? 'query' : 'header');
        assert.equal(result.service, g.service);
        assert.equal(result.accessKeyId, g.temporary ? TEMP_KEY : ACCESS_KEY);
        assert.equal(result.sessionToken, g.temporary ? TOKEN : undefined);
      }),
      { numRuns: 300 },
    );
  });

  it('refuses any single-bit change to what was signed', async () => {
    const target = fc.constantFrom('signature', 'path', 'query', 'header', 'method', 'payload', 'date');
    await fc.assert(
      fc.asyncProperty(
        requestArb,
        target,
        fc.nat(),
        fc.integer({ min: 0, max: 6 }),
        async (g, what, at, bit) => {
          const { request, verifier } = await signWithSdk(g);
          let tampered: SigV4Request = request;
          const s3 = g.service === 's3';
          switch (what) {
            case 'signature': {
              const sig = g.presign
                ? (/X-Amz-Signature=([0-9a-f]{64})/.exec(request.query)?.[1] as string)
                : (/Signature=([0-9a-f]{64})/.exec(String(request.headers.authorization))?.[1] as string);
              const changed = flipBit(sig, at % 64, bit);
              tampered = g.presign
                ? { ...request, query: request.query.replace(sig, changed) }
                : {
                    ...request,
                    headers: {
                      ...request.headers,
                      authorization: String(request.headers.authorization).replace(sig, changed),
                    },
                  };
              break;
            }
            case 'path': {
              const path = flipBit(request.path, at % request.path.length, bit);
              const opts = { doubleEncode: !s3 };
              fc.pre(canonicalUri(path, opts) !== canonicalUri(request.path, opts));
              tampered = { ...request, path };
              break;
            }
            case 'query': {
              fc.pre(request.query.length > 0);
              const query = flipBit(request.query, at % request.query.length, bit);
              fc.pre(
                canonicalQueryString(query, 'X-Amz-Signature') !==
                  canonicalQueryString(request.query, 'X-Amz-Signature'),
              );
              tampered = { ...request, query };
              break;
            }
            case 'header': {
              const names = Object.keys(g.headers);
              fc.pre(names.length > 0 && !g.presign);
              const name = names[at % names.length] as string;
              const old = String(request.headers[name]);
              const value = flipBit(old, at % old.length, bit);
              fc.pre(canonicalHeaderValue(value) !== canonicalHeaderValue(old));
              tampered = { ...request, headers: { ...request.headers, [name]: value } };
              break;
            }
            case 'method':
              tampered = {
                ...request,
                method: flipBit(request.method, at % request.method.length, 5 + (bit % 2)),
              };
              fc.pre(tampered.method.toUpperCase() !== request.method);
              break;
            case 'payload': {
              if (s3) {
                const old = String(request.headers['x-amz-content-sha256'] ?? '');
                fc.pre(old !== '' && !g.presign);
                tampered = {
                  ...request,
                  headers: { ...request.headers, 'x-amz-content-sha256': flipBit(old, at % old.length, bit) },
                };
              } else {
                const old = request.payloadHash as string;
                tampered = { ...request, payloadHash: flipBit(old, at % old.length, bit) };
              }
              break;
            }
            case 'date': {
              if (g.presign) {
                const m = /X-Amz-Date=(\d{8}T\d{6}Z)/.exec(request.query)?.[1] as string;
                tampered = { ...request, query: request.query.replace(m, flipBit(m, at % m.length, bit)) };
              } else {
                const d = String(request.headers['x-amz-date']);
                tampered = {
                  ...request,
                  headers: { ...request.headers, 'x-amz-date': flipBit(d, at % d.length, bit) },
                };
              }
              break;
            }
          }
          await assert.rejects(verifier.verify(tampered), (e: unknown) => e instanceof SigV4Error);
        },
      ),
      { numRuns: 400 },
    );
  });
});
