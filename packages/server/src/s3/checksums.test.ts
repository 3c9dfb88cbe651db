import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import {
  algorithmsToCompute,
  ChecksumCalculator,
  crc32,
  crc32c,
  expectedChecksumsFromHeaders,
  mergeTrailerChecksums,
  trailerChecksumAlgorithms,
  verifyChecksums,
} from './checksums.js';
import { S3Error } from './s3-errors.js';

function s3Code(code: string) {
  return (e: unknown) => e instanceof S3Error && e.s3Code === code;
}

describe('crc32c', () => {
  // RFC 3720, appendix B.4 "CRC Examples".
  it('matches the RFC 3720 test vectors', () => {
    assert.equal(crc32c(Buffer.alloc(32, 0)), 0x8a9136aa);
    assert.equal(crc32c(Buffer.alloc(32, 0xff)), 0x62a8ab43);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => i))), 0x46dd794e);
    assert.equal(crc32c(Buffer.from(Array.from({ length: 32 }, (_, i) => 31 - i))), 0x113fdb5c);
    const iscsiRead = Buffer.from(
      [
        '01c00000',
        '00000000',
        '00000000',
        '00000000',
        '14000000',
        '00000400',
        '00000014',
        '00000018',
        '28000000',
        '00000000',
        '02000000',
        '00000000',
      ].join(''),
      'hex',
    );
    assert.equal(crc32c(iscsiRead), 0xd9963a56);
  });
  it('has the check value of the CRC catalogue', () => {
    assert.equal(crc32c(Buffer.from('123456789')), 0xe3069283);
    assert.equal(crc32c(Buffer.alloc(0)), 0);
  });
  it('is the same however the input is split', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 300 }), fc.nat(300), (data, cut) => {
        const at = Math.min(cut, data.length);
        assert.equal(crc32c(data.subarray(at), crc32c(data.subarray(0, at))), crc32c(data));
      }),
    );
  });
});

describe('crc32', () => {
  it('has the check value of the CRC catalogue', () => {
    assert.equal(crc32(Buffer.from('123456789')), 0xcbf43926);
  });
  it('agrees with zlib (the CRC in the gzip trailer) on random input, split anywhere', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2000 }), fc.nat(2000), (data, cut) => {
        const gz = gzipSync(data);
        const expected = gz.readUInt32LE(gz.length - 8);
        const at = Math.min(cut, data.length);
        assert.equal(crc32(data.subarray(at), crc32(data.subarray(0, at))), expected);
      }),
    );
  });
});

describe('ChecksumCalculator', () => {
  it('computes all algorithms in one pass, as S3 encodes them', () => {
    const c = new ChecksumCalculator(['CRC32', 'CRC32C', 'SHA1', 'SHA256', 'MD5']);
    c.update(Buffer.from('Hello '));
    c.update(Buffer.from('World'));
    const d = c.digest();
    const body = Buffer.from('Hello World');
    assert.equal(d.MD5!.toString('base64'), createHash('md5').update(body).digest('base64'));
    assert.equal(d.SHA1!.toString('base64'), createHash('sha1').update(body).digest('base64'));
    assert.equal(d.SHA256!.toString('hex'), createHash('sha256').update(body).digest('hex'));
    // Values the AWS SDK sends for "Hello World" (x-amz-checksum-crc32 / -crc32c).
    assert.equal(d.CRC32!.toString('base64'), 'ShexVg==');
    assert.equal(d.CRC32C!.toString('base64'), 'aR2qLw==');
  });
  it('refuses updates after digest', () => {
    const c = new ChecksumCalculator(['MD5']);
    c.digest();
    assert.throws(() => c.update(Buffer.from('x')));
  });
});

describe('expected checksums and verification', () => {
  const body = Buffer.from('training data');
  const md5 = createHash('md5').update(body).digest('base64');
  const sha = createHash('sha256').update(body).digest('hex');
  const digestsOf = (data: Buffer) => {
    const c = new ChecksumCalculator(['MD5', 'SHA256', 'CRC32', 'CRC32C', 'SHA1']);
    c.update(data);
    return c.digest();
  };

  it('accepts matching Content-MD5, x-amz-content-sha256 and x-amz-checksum-*', () => {
    const crc = digestsOf(body).CRC32C!.toString('base64');
    const expected = expectedChecksumsFromHeaders({
      'content-md5': md5,
      'x-amz-content-sha256': sha,
      'x-amz-checksum-crc32c': crc,
    });
    assert.deepEqual([...algorithmsToCompute(expected)].sort(), ['CRC32C', 'MD5', 'SHA256']);
    verifyChecksums(expected, digestsOf(body));
  });
  it('ignores the non-digest values of x-amz-content-sha256', () => {
    for (const v of [
      'UNSIGNED-PAYLOAD',
      'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
      'STREAMING-AWS4-HMAC-SHA256-PAYLOAD',
    ]) {
      assert.deepEqual(expectedChecksumsFromHeaders({ 'x-amz-content-sha256': v }), {});
    }
  });
  it('answers BadDigest for a wrong Content-MD5 or flexible checksum', () => {
    const other = digestsOf(Buffer.from('other data'));
    assert.throws(() => verifyChecksums({ contentMd5: md5 }, other), s3Code('BadDigest'));
    const crc = digestsOf(body).CRC32!.toString('base64');
    assert.throws(() => verifyChecksums({ checksums: { CRC32: crc } }, other), s3Code('BadDigest'));
  });
  it('answers XAmzContentSHA256Mismatch for a wrong payload hash', () => {
    assert.throws(
      () => verifyChecksums({ contentSha256: sha }, digestsOf(Buffer.from('x'))),
      s3Code('XAmzContentSHA256Mismatch'),
    );
  });
  it('answers InvalidDigest for a malformed Content-MD5', () => {
    for (const bad of ['not base64!', 'AAAA', Buffer.alloc(17).toString('base64')]) {
      assert.throws(() => expectedChecksumsFromHeaders({ 'content-md5': bad }), s3Code('InvalidDigest'));
    }
  });
  it('answers InvalidRequest for a malformed or duplicated x-amz-checksum header', () => {
    assert.throws(
      () => expectedChecksumsFromHeaders({ 'x-amz-checksum-crc32': 'AAAAAAAA' }),
      s3Code('InvalidRequest'),
    );
    assert.throws(
      () => expectedChecksumsFromHeaders({ 'x-amz-checksum-crc32': 'AAAAAA==', 'x-amz-checksum-sha1': 'x' }),
      s3Code('InvalidRequest'),
    );
    assert.throws(
      () => expectedChecksumsFromHeaders({ 'content-md5': [md5, md5] }),
      s3Code('InvalidRequest'),
    );
  });
  it('refuses a claimed checksum that was not computed instead of passing it', () => {
    assert.throws(() => verifyChecksums({ checksums: { SHA1: 'x' } }, {}), s3Code('InternalError'));
  });
  it('merges trailer checksums and checks x-amz-trailer', () => {
    assert.deepEqual(trailerChecksumAlgorithms('x-amz-checksum-crc32c'), ['CRC32C']);
    assert.deepEqual(trailerChecksumAlgorithms(undefined), []);
    assert.throws(() => trailerChecksumAlgorithms('x-amz-meta-foo'), s3Code('InvalidRequest'));
    const crc = digestsOf(body).CRC32C!.toString('base64');
    const merged = mergeTrailerChecksums({}, new Map([['x-amz-checksum-crc32c', crc]]));
    verifyChecksums(merged, digestsOf(body));
    assert.throws(() => verifyChecksums(merged, digestsOf(Buffer.from('tampered'))), s3Code('BadDigest'));
    assert.throws(
      () => mergeTrailerChecksums({}, new Map([['x-amz-checksum-crc32c', 'zz']])),
      s3Code('InvalidRequest'),
    );
  });
});
