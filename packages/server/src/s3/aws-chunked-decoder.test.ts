import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  AwsChunkedDecoder,
  type AwsChunkedDecoderOptions,
  EMPTY_SHA256,
  isAwsChunkedMode,
} from './aws-chunked-decoder.js';
import { S3Error } from './s3-errors.js';

// The signing setup of AWS's sigv4-streaming examples.
const SECRET = 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY';
const DATE = '20130524T000000Z';
const SCOPE = '20130524/us-east-1/s3/aws4_request';
const SEED = '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9';

function signingKey(): Buffer {
  let k = createHmac('sha256', `AWS4${SECRET}`).update('20130524').digest();
  for (const part of ['us-east-1', 's3', 'aws4_request']) k = createHmac('sha256', k).update(part).digest();
  return k;
}
const KEY = signingKey();
const chunkSignature = (prev: string, hash: string) =>
  createHmac('sha256', KEY)
    .update(`AWS4-HMAC-SHA256-PAYLOAD\n${DATE}\n${SCOPE}\n${prev}\n${EMPTY_SHA256}\n${hash}`)
    .digest('hex');
const trailerSignature = (prev: string, hash: string) =>
  createHmac('sha256', KEY)
    .update(`AWS4-HMAC-SHA256-TRAILER\n${DATE}\n${SCOPE}\n${prev}\n${hash}`)
    .digest('hex');
const sha256 = (b: Buffer | string) => createHash('sha256').update(b).digest('hex');

/** Encodes like the SDKs do: signed chunks chained from SEED, optional trailers. */
function encodeSigned(chunks: Buffer[], trailers?: Record<string, string>): Buffer {
  const out: Buffer[] = [];
  let prev = SEED;
  for (const c of [...chunks, Buffer.alloc(0)]) {
    const sig = chunkSignature(prev, sha256(c));
    out.push(Buffer.from(`${c.length.toString(16)};chunk-signature=${sig}\r\n`), c);
    if (c.length > 0 || !trailers) out.push(Buffer.from('\r\n'));
    prev = sig;
  }
  if (trailers) {
    let canonical = '';
    for (const [k, v] of Object.entries(trailers)) {
      out.push(Buffer.from(`${k}:${v}\r\n`));
      canonical += `${k}:${v}\n`;
    }
    out.push(Buffer.from(`x-amz-trailer-signature:${trailerSignature(prev, sha256(canonical))}\r\n\r\n`));
  }
  return Buffer.concat(out);
}

/** Encodes like the AWS SDK for JavaScript v3 (getAwsChunkedEncodingStream). */
function encodeUnsigned(chunks: Buffer[], trailers: Record<string, string>): Buffer {
  const out: Buffer[] = [];
  for (const c of chunks) out.push(Buffer.from(`${c.length.toString(16)}\r\n`), c, Buffer.from('\r\n'));
  out.push(Buffer.from('0\r\n'));
  for (const [k, v] of Object.entries(trailers)) out.push(Buffer.from(`${k}:${v}\r\n`));
  out.push(Buffer.from('\r\n'));
  return Buffer.concat(out);
}

async function decode(body: Buffer, options: AwsChunkedDecoderOptions, pieceSize = body.length || 1) {
  const pieces: Buffer[] = [];
  for (let i = 0; i < body.length; i += pieceSize) pieces.push(body.subarray(i, i + pieceSize));
  const decoder = new AwsChunkedDecoder(options);
  const data = await buffer(Readable.from(pieces).pipe(decoder));
  return { data, trailers: decoder.trailers };
}

const signed = (length: number, extra: Partial<AwsChunkedDecoderOptions> = {}): AwsChunkedDecoderOptions => ({
  mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
  decodedContentLength: length,
  seedSignature: SEED,
  chunkSignature,
  ...extra,
});

function rejectsWith(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof S3Error, `expected S3Error, got ${e}`);
    assert.equal(e.s3Code, code, e.message);
    return true;
  };
}

describe('AwsChunkedDecoder', () => {
  const a64k = Buffer.alloc(65536, 'a');
  const a1k = Buffer.alloc(1024, 'a');

  it('recognizes the streaming modes', () => {
    assert.ok(isAwsChunkedMode('STREAMING-UNSIGNED-PAYLOAD-TRAILER'));
    assert.ok(!isAwsChunkedMode('UNSIGNED-PAYLOAD'));
  });

  it('accepts the example of the S3 API reference ("sigv4-streaming") with its published signatures', async () => {
    const published = [
      'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648',
      '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497',
      'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9',
    ];
    const body = Buffer.concat([
      Buffer.from(`10000;chunk-signature=${published[0]}\r\n`),
      a64k,
      Buffer.from(`\r\n400;chunk-signature=${published[1]}\r\n`),
      a1k,
      Buffer.from(`\r\n0;chunk-signature=${published[2]}\r\n\r\n`),
    ]);
    const calls: string[] = [];
    const { data } = await decode(
      body,
      signed(66560, {
        chunkSignature: (prev, hash) => {
          calls.push(prev);
          return chunkSignature(prev, hash);
        },
      }),
      4096,
    );
    assert.equal(data.length, 66560);
    assert.deepEqual(calls, [SEED, published[0], published[1]]);
  });

  it('decodes signed chunks (the 64 KiB + 1 KiB example of sigv4-streaming)', async () => {
    const { data } = await decode(encodeSigned([a64k, a1k]), signed(66560));
    assert.equal(data.length, 66560);
    assert.ok(data.equals(Buffer.concat([a64k, a1k])));
  });

  it('decodes the same whatever the network splits (byte by byte too)', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.uint8Array({ minLength: 1, maxLength: 200 }), { maxLength: 5 }),
        fc.integer({ min: 1, max: 97 }),
        async (parts, pieceSize) => {
          const chunks = parts.map((p) => Buffer.from(p));
          const payload = Buffer.concat(chunks);
          const { data } = await decode(encodeSigned(chunks), signed(payload.length), pieceSize);
          assert.ok(data.equals(payload));
          const unsigned = encodeUnsigned(chunks, { 'x-amz-checksum-crc32': 'AAAAAA==' });
          const r = await decode(
            unsigned,
            {
              mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
              decodedContentLength: payload.length,
              expectedTrailers: ['x-amz-checksum-crc32'],
            },
            pieceSize,
          );
          assert.ok(r.data.equals(payload));
          assert.equal(r.trailers.get('x-amz-checksum-crc32'), 'AAAAAA==');
        },
      ),
      { numRuns: 60 },
    );
  });

  it('decodes signed chunks with a signed trailer', async () => {
    const body = encodeSigned([a64k, a1k], { 'x-amz-checksum-crc32c': 'sOO8/Q==' });
    const { data, trailers } = await decode(
      body,
      signed(66560, {
        mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
        trailerSignature,
        expectedTrailers: ['x-amz-checksum-crc32c'],
      }),
      1000,
    );
    assert.equal(data.length, 66560);
    assert.deepEqual([...trailers], [['x-amz-checksum-crc32c', 'sOO8/Q==']]);
  });

  it('accepts the blank line AWS shows between the final chunk and the trailers', async () => {
    const body = Buffer.from('3\r\nabc\r\n0\r\n\r\nx-amz-checksum-crc32:AAAAAA==\r\n\r\n');
    const { data, trailers } = await decode(body, {
      mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      decodedContentLength: 3,
      expectedTrailers: ['x-amz-checksum-crc32'],
    });
    assert.equal(data.toString(), 'abc');
    assert.equal(trailers.size, 1);
  });

  it('accepts an empty payload', async () => {
    assert.equal((await decode(encodeSigned([]), signed(0))).data.length, 0);
    const r = await decode(Buffer.from('0\r\n\r\n'), {
      mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      decodedContentLength: 0,
    });
    assert.equal(r.data.length, 0);
  });

  describe('refuses bad input with a typed error', () => {
    it('a tampered chunk -> SignatureDoesNotMatch', async () => {
      const body = encodeSigned([a1k]);
      body[body.indexOf('aaaa')] = 0x62;
      await assert.rejects(decode(body, signed(1024)), rejectsWith('SignatureDoesNotMatch'));
    });
    it('chunks replayed out of order -> SignatureDoesNotMatch', async () => {
      const one = encodeSigned([Buffer.from('first'), Buffer.from('second')]).toString('latin1');
      const lines = one.split('\r\n');
      // swap the two data chunks with their headers
      const swapped = [lines[2], lines[3], lines[0], lines[1], ...lines.slice(4)].join('\r\n');
      await assert.rejects(
        decode(Buffer.from(swapped, 'latin1'), signed(11)),
        rejectsWith('SignatureDoesNotMatch'),
      );
    });
    it('a wrong seed signature -> SignatureDoesNotMatch', async () => {
      await assert.rejects(
        decode(encodeSigned([a1k]), signed(1024, { seedSignature: 'f'.repeat(64) })),
        rejectsWith('SignatureDoesNotMatch'),
      );
    });
    it('a tampered signed trailer -> SignatureDoesNotMatch', async () => {
      const body = encodeSigned([a1k], { 'x-amz-checksum-crc32c': 'sOO8/Q==' })
        .toString('latin1')
        .replace('sOO8/Q==', 'AAAAAA==');
      await assert.rejects(
        decode(
          Buffer.from(body, 'latin1'),
          signed(1024, {
            mode: 'STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER',
            trailerSignature,
            expectedTrailers: ['x-amz-checksum-crc32c'],
          }),
        ),
        rejectsWith('SignatureDoesNotMatch'),
      );
    });
    it('a signed chunk without signature, or an unsigned one with -> InvalidRequest', async () => {
      await assert.rejects(
        decode(Buffer.from('3\r\nabc\r\n0\r\n\r\n'), signed(3)),
        rejectsWith('InvalidRequest'),
      );
      const sig = `;chunk-signature=${'a'.repeat(64)}`;
      await assert.rejects(
        decode(Buffer.from(`3${sig}\r\nabc\r\n0\r\n\r\n`), {
          mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          decodedContentLength: 3,
        }),
        rejectsWith('InvalidRequest'),
      );
    });
    it('a body shorter than x-amz-decoded-content-length -> IncompleteBody', async () => {
      await assert.rejects(decode(encodeSigned([a1k]), signed(2048)), rejectsWith('IncompleteBody'));
    });
    it('a body cut off mid-chunk (client disconnect) -> IncompleteBody', async () => {
      const body = encodeSigned([a64k]);
      await assert.rejects(decode(body.subarray(0, 5000), signed(65536)), rejectsWith('IncompleteBody'));
      await assert.rejects(
        decode(body.subarray(0, body.length - 1), signed(65536)),
        rejectsWith('IncompleteBody'),
      );
    });
    it('a body longer than x-amz-decoded-content-length -> InvalidRequest', async () => {
      await assert.rejects(decode(encodeSigned([a1k, a1k]), signed(1024)), rejectsWith('InvalidRequest'));
    });
    it('bytes after the final chunk -> InvalidRequest', async () => {
      const body = Buffer.concat([encodeSigned([a1k]), Buffer.from('junk')]);
      await assert.rejects(decode(body, signed(1024)), rejectsWith('InvalidRequest'));
    });
    it('malformed framing -> InvalidRequest', async () => {
      const opts = { mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', decodedContentLength: 3 } as const;
      for (const body of [
        'zz\r\nabc\r\n0\r\n\r\n',
        '3\nabc\r\n0\r\n\r\n',
        '3\r\nabcX\r\n0\r\n\r\n',
        '-3\r\nabc\r\n',
      ]) {
        await assert.rejects(decode(Buffer.from(body), opts), rejectsWith('InvalidRequest'), body);
      }
    });
    it('a header line without end -> InvalidRequest, not unbounded buffering', async () => {
      const body = Buffer.alloc(10000, '1');
      await assert.rejects(
        decode(body, { mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER', decodedContentLength: 3 }),
        rejectsWith('InvalidRequest'),
      );
    });
    it('an oversized chunk -> InvalidRequest before any byte of it is read', async () => {
      await assert.rejects(
        decode(Buffer.from('fffffffffff\r\n'), {
          mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          decodedContentLength: 1e15,
        }),
        rejectsWith('InvalidRequest'),
      );
    });
    it('a missing, unannounced or repeated trailer -> InvalidRequest', async () => {
      const opts = {
        mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
        decodedContentLength: 3,
        expectedTrailers: ['x-amz-checksum-crc32'],
      } as const;
      await assert.rejects(decode(Buffer.from('3\r\nabc\r\n0\r\n\r\n'), opts), rejectsWith('InvalidRequest'));
      await assert.rejects(
        decode(Buffer.from('3\r\nabc\r\n0\r\nx-amz-checksum-sha1:AAAA\r\n\r\n'), opts),
        rejectsWith('InvalidRequest'),
      );
      await assert.rejects(
        decode(
          Buffer.from('3\r\nabc\r\n0\r\nx-amz-checksum-crc32:A\r\nx-amz-checksum-crc32:A\r\n\r\n'),
          opts,
        ),
        rejectsWith('InvalidRequest'),
      );
    });
    it('a missing x-amz-decoded-content-length -> MissingContentLength', () => {
      assert.throws(
        () =>
          new AwsChunkedDecoder({
            mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
            decodedContentLength: Number.NaN,
          }),
        (e: unknown) => e instanceof S3Error && e.s3Code === 'MissingContentLength',
      );
    });
  });
});
