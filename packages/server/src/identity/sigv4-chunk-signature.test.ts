import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { SigV4Error } from './identity-errors.js';
import { sha256Hex } from './sigv4-canonical-request.js';
import {
  canonicalTrailer,
  ChunkSignatureChain,
  chunkSigners,
  trailerStringToSign,
} from './sigv4-chunk-signature.js';
import { deriveSigningKey } from './sigv4-signing-key-cache.js';

// The worked example of the S3 API reference, "Signature calculations for the Authorization
// header: transferring payload in multiple chunks": a 66560-byte object of 'a' sent as a 64 KiB
// chunk, a 1 KiB chunk and the final empty chunk.
const seed = {
  signingKey: deriveSigningKey('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', '20130524', 'us-east-1', 's3'),
  amzDate: '20130524T000000Z',
  scope: '20130524/us-east-1/s3/aws4_request',
  seedSignature: '4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9',
};
const CHUNKS: [Buffer, string][] = [
  [Buffer.alloc(65536, 'a'), 'ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648'],
  [Buffer.alloc(1024, 'a'), '0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497'],
  [Buffer.alloc(0), 'b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9'],
];

describe('ChunkSignatureChain', () => {
  it("verifies the AWS documentation's chunked upload example", () => {
    const chain = new ChunkSignatureChain(seed);
    for (const [data, signature] of CHUNKS) chain.verifyChunk(sha256Hex(data), signature);
    assert.equal(chain.previousSignature, CHUNKS[2]?.[1]);
  });

  it("computes the same signatures as functions, for the S3 layer's decoder", () => {
    const { chunkSignature, trailerSignature } = chunkSigners(seed);
    let previous = seed.seedSignature;
    for (const [data, signature] of CHUNKS) {
      assert.equal(chunkSignature(previous, sha256Hex(data)), signature);
      previous = signature;
    }
    const trailer = canonicalTrailer([['x-amz-checksum-crc32', 'sOO8/Q==']]);
    const chain = new ChunkSignatureChain(seed);
    for (const [data, signature] of CHUNKS) chain.verifyChunk(sha256Hex(data), signature);
    chain.verifyTrailer(
      [['x-amz-checksum-crc32', 'sOO8/Q==']],
      trailerSignature(previous, sha256Hex(trailer)),
    );
  });

  it('refuses reordered, dropped or altered chunks', () => {
    const reordered = new ChunkSignatureChain(seed);
    assert.throws(() => reordered.verifyChunk(sha256Hex(CHUNKS[1]![0]), CHUNKS[1]![1]), SigV4Error);

    const altered = new ChunkSignatureChain(seed);
    const data = Buffer.from(CHUNKS[0]![0]);
    data[100] = 0x62;
    assert.throws(() => altered.verifyChunk(sha256Hex(data), CHUNKS[0]![1]), {
      code: 'SignatureDoesNotMatch',
    });

    const badSig = new ChunkSignatureChain(seed);
    assert.throws(() => badSig.verifyChunk(sha256Hex(CHUNKS[0]![0]), 'not-hex'), {
      code: 'SignatureDoesNotMatch',
    });
    assert.throws(
      () => badSig.verifyChunk(sha256Hex(CHUNKS[0]![0]), CHUNKS[0]![1].toUpperCase()),
      SigV4Error,
    );
  });

  it('verifies a signed trailer chained from the final chunk, and only once', () => {
    const chain = new ChunkSignatureChain(seed);
    for (const [data, signature] of CHUNKS) chain.verifyChunk(sha256Hex(data), signature);
    const trailers: [string, string][] = [['X-Amz-Checksum-Crc32', ' sOO8/Q== ']];
    assert.equal(canonicalTrailer(trailers), 'x-amz-checksum-crc32:sOO8/Q==\n');
    // An independent computation of the trailer signature from the documented string to sign.
    const expected = createHmac('sha256', seed.signingKey)
      .update(
        `AWS4-HMAC-SHA256-TRAILER\n${seed.amzDate}\n${seed.scope}\n${CHUNKS[2]![1]}\n${sha256Hex('x-amz-checksum-crc32:sOO8/Q==\n')}`,
      )
      .digest('hex');
    assert.equal(
      trailerStringToSign(seed.amzDate, seed.scope, CHUNKS[2]![1], canonicalTrailer(trailers)).split('\n')[0],
      'AWS4-HMAC-SHA256-TRAILER',
    );
    assert.throws(() => new ChunkSignatureChain(seed).verifyTrailer(trailers, expected), SigV4Error);
    assert.throws(() => chain.verifyTrailer([['x-amz-checksum-crc32', 'AAAAAA==']], expected), SigV4Error);
    chain.verifyTrailer(trailers, expected);
    assert.throws(() => chain.verifyTrailer(trailers, expected), SigV4Error);
    assert.throws(() => chain.verifyChunk(sha256Hex(''), CHUNKS[2]![1]), SigV4Error);
  });
});
