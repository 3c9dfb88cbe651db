// The AWS Signature Version 4 test suite, as kept by awslabs/aws-c-auth under
// tests/aws-signing-test-suite/v4/, run through the verifier in both forms with the suite's
// clock. The fixtures are the suite's signed requests (header-signed-request.txt,
// query-signed-request.txt) and, where stored, its canonical requests.
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { fixedClock } from '../clock.js';
import { SigV4Error } from './identity-errors.js';
import {
  buildCanonicalRequest,
  buildStringToSign,
  canonicalQueryString,
  canonicalUri,
  parseQuery,
  sha256Hex,
} from './sigv4-canonical-request.js';
import { deriveSigningKey } from './sigv4-signing-key-cache.js';
import { SigV4Verifier } from './sigv4-verifier.js';

const FIXTURES = fileURLToPath(new URL('./fixtures/sigv4/', import.meta.url));
const SUITE_TIME = '2015-08-30T12:36:00Z';
const SECRET = 'wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY';

interface ParsedRequest {
  method: string;
  path: string;
  query: string;
  headers: Record<string, string | string[]>;
  body: string;
}

/** Parses the suite's request files: request line, `Name:value` headers (continuation lines are further values), blank line, body. */
function parseRequestFile(text: string): ParsedRequest {
  const lines = text.split('\n');
  const requestLine = lines[0] as string;
  const method = requestLine.slice(0, requestLine.indexOf(' '));
  const target = requestLine.slice(method.length + 1, requestLine.lastIndexOf(' '));
  const q = target.indexOf('?');
  const headers: Record<string, string[]> = {};
  let last = '';
  let i = 1;
  for (; i < lines.length; i++) {
    const line = lines[i] as string;
    if (line === '') break;
    if (/^\s/.test(line)) {
      headers[last]?.push(line.trim());
      continue;
    }
    const colon = line.indexOf(':');
    last = line.slice(0, colon).toLowerCase();
    const values = headers[last] ?? [];
    values.push(line.slice(colon + 1));
    headers[last] = values;
  }
  let body = lines.slice(i + 1).join('\n');
  const length = headers['content-length']?.[0];
  if (length !== undefined) body = body.slice(0, Number(length));
  return {
    method,
    path: q < 0 ? target : target.slice(0, q),
    query: q < 0 ? '' : target.slice(q + 1),
    headers: Object.fromEntries(
      Object.entries(headers).map(([k, v]) => [k, v.length === 1 ? (v[0] as string) : v]),
    ),
    body,
  };
}

function signedHeadersOf(req: ParsedRequest, form: 'header' | 'query'): string[] {
  if (form === 'query') {
    return (parseQuery(req.query).find((p) => p.name === 'X-Amz-SignedHeaders')?.value ?? '').split(';');
  }
  return /SignedHeaders=([^,]+)/.exec(String(req.headers.authorization))?.[1]?.split(';') ?? [];
}

function payloadHashOf(req: ParsedRequest, form: 'header' | 'query'): string {
  // The suite signs the x-amz-content-sha256 value when the request carries it signed
  // (`signed_body_value`); otherwise the hash of the body.
  const declared = req.headers['x-amz-content-sha256'];
  if (typeof declared === 'string' && signedHeadersOf(req, form).includes('x-amz-content-sha256'))
    return declared;
  return sha256Hex(req.body);
}

function contextOf(name: string): { normalize: boolean } {
  const file = join(FIXTURES, name, 'context.json');
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as { normalize: boolean };
  // The index the fixtures were taken from deduplicates identical files, so most cases share the
  // suite's default context: AKIDEXAMPLE, us-east-1, service, 2015-08-30T12:36:00Z, and
  // normalize=false exactly for the *-unnormalized cases.
  return { normalize: !name.includes('unnormalized') };
}

function verifierFor(name: string) {
  return new SigV4Verifier({
    services: ['service'],
    regions: ['us-east-1'],
    normalizePath: contextOf(name).normalize,
    clock: fixedClock(SUITE_TIME),
    lookupSecret: async (id, { sessionToken }) =>
      id === 'AKIDEXAMPLE'
        ? { secretAccessKey: SECRET, sessionTokenRequired: sessionToken !== undefined, user: 'example' }
        : undefined,
  });
}

// Cases whose stored signed request cannot be verified from the request alone; each is
// asserted to be refused with the stated code instead of silently skipped.
const EXPECTED_REFUSALS: Record<string, string> = {
  // The stored version repeats X-Amz-Security-Token after the signature.
  'get-vanilla-with-session-token/query': 'AuthorizationQueryParametersError',
  // These sign x-amz-content-sha256, which the presigned request does not carry.
  'post-x-www-form-urlencoded/query': 'AuthorizationQueryParametersError',
  'post-x-www-form-urlencoded-parameters/query': 'AuthorizationQueryParametersError',
};

const cases = readdirSync(FIXTURES).sort();

describe('AWS SigV4 test suite (aws-c-auth v4)', () => {
  it('has the suite on disk', () => {
    assert.ok(cases.length >= 30, `only ${cases.length} cases found`);
  });

  for (const name of cases) {
    for (const form of ['header', 'query'] as const) {
      const file = join(FIXTURES, name, `${form}-signed-request.txt`);
      if (!existsSync(file)) continue;
      const key = `${name}/${form}`;
      it(key, async () => {
        const req = parseRequestFile(readFileSync(file, 'utf8'));
        const verifier = verifierFor(name);
        const input = { ...req, payloadHash: payloadHashOf(req, form) };
        const refusal = EXPECTED_REFUSALS[key];
        if (refusal !== undefined) {
          await assert.rejects(
            verifier.verify(input),
            (e: unknown) => e instanceof SigV4Error && e.code === refusal,
          );
          return;
        }
        const result = await verifier.verify(input);
        assert.equal(result.accessKeyId, 'AKIDEXAMPLE');
        assert.equal(result.form, form);
        assert.equal(result.scope, '20150830/us-east-1/service/aws4_request');
        assert.equal((result.principal as { user?: string }).user, 'example');

        // Any change to the signature is refused.
        const sig = result.seedSignature;
        const flipped = `${sig.slice(0, 10)}${sig[10] === '0' ? '1' : '0'}${sig.slice(11)}`;
        const tampered =
          form === 'query'
            ? { ...input, query: input.query.replace(sig, flipped) }
            : {
                ...input,
                headers: {
                  ...input.headers,
                  authorization: String(input.headers.authorization).replace(sig, flipped),
                },
              };
        await assert.rejects(
          verifier.verify(tampered),
          (e: unknown) => e instanceof SigV4Error && e.code === 'SignatureDoesNotMatch',
        );
      });
    }
  }

  it('reproduces the stored canonical requests and strings to sign', () => {
    let checked = 0;
    for (const name of cases) {
      for (const form of ['header', 'query'] as const) {
        const canonicalFile = join(FIXTURES, name, `${form}-canonical-request.txt`);
        const requestFile = join(FIXTURES, name, `${form}-signed-request.txt`);
        if (!existsSync(canonicalFile) || !existsSync(requestFile)) continue;
        const req = parseRequestFile(readFileSync(requestFile, 'utf8'));
        const canonical = buildCanonicalRequest({
          method: req.method,
          canonicalUri: canonicalUri(req.path, { doubleEncode: true, normalize: contextOf(name).normalize }),
          canonicalQuery: canonicalQueryString(req.query, form === 'query' ? 'X-Amz-Signature' : undefined),
          signedHeaders: signedHeadersOf(req, form),
          headers: req.headers,
          payloadHash: payloadHashOf(req, form),
        });
        assert.equal(canonical, readFileSync(canonicalFile, 'utf8'), `${name}/${form}`);
        const stsFile = join(FIXTURES, name, `${form}-string-to-sign.txt`);
        if (existsSync(stsFile)) {
          const stringToSign = buildStringToSign(
            '20150830T123600Z',
            '20150830/us-east-1/service/aws4_request',
            canonical as string,
          );
          assert.equal(stringToSign, readFileSync(stsFile, 'utf8'));
          const signature = createHmac('sha256', deriveSigningKey(SECRET, '20150830', 'us-east-1', 'service'))
            .update(stringToSign)
            .digest('hex');
          assert.equal(signature, readFileSync(join(FIXTURES, name, `${form}-signature.txt`), 'utf8'));
        }
        checked++;
      }
    }
    assert.ok(checked >= 3, `only ${checked} canonical requests checked`);
  });

  it('refuses a header-signed case 15 minutes and 1 second late, and a presigned one after X-Amz-Expires', async () => {
    const header = parseRequestFile(
      readFileSync(join(FIXTURES, 'post-vanilla', 'header-signed-request.txt'), 'utf8'),
    );
    const clock = fixedClock(Date.parse(SUITE_TIME) + 15 * 60_000 + 1000);
    const lookupSecret = async () => ({ secretAccessKey: SECRET });
    const late = new SigV4Verifier({ services: ['service'], clock, lookupSecret });
    await assert.rejects(late.verify({ ...header, payloadHash: sha256Hex('') }), {
      code: 'RequestTimeTooSkewed',
    });
    clock.set(Date.parse(SUITE_TIME) - 15 * 60_000 - 1000);
    await assert.rejects(late.verify({ ...header, payloadHash: sha256Hex('') }), {
      code: 'RequestTimeTooSkewed',
    });
    clock.set(Date.parse(SUITE_TIME) + 15 * 60_000);
    await late.verify({ ...header, payloadHash: sha256Hex('') });

    const query = parseRequestFile(
      readFileSync(join(FIXTURES, 'post-vanilla', 'query-signed-request.txt'), 'utf8'),
    );
    clock.set(Date.parse(SUITE_TIME) + 3600_000);
    await late.verify({ ...query, payloadHash: sha256Hex('') });
    clock.set(Date.parse(SUITE_TIME) + 3601_000);
    await assert.rejects(late.verify({ ...query, payloadHash: sha256Hex('') }), (e: unknown) => {
      assert.ok(e instanceof SigV4Error);
      assert.equal(e.code, 'AccessDenied');
      assert.equal(e.message, 'Request has expired');
      return true;
    });
  });
});
