import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertValidBucketName,
  assertValidObjectKey,
  bucketNameProblem,
  isValidBucketName,
  objectKeyProblem,
} from './bucket-name.js';
import { S3Error } from './s3-errors.js';

describe('bucket names', () => {
  it('accepts the names S3 accepts', () => {
    for (const n of [
      'ai-model-data',
      'abc',
      'a'.repeat(63),
      'my.bucket.name',
      '1bucket',
      'docexamplebucket1',
    ]) {
      assert.ok(isValidBucketName(n), n);
    }
  });
  it('refuses the names S3 refuses, saying why', () => {
    const bad: Record<string, RegExp> = {
      ab: /between 3 and 63/,
      ['a'.repeat(64)]: /between 3 and 63/,
      MyBucket: /lowercase/,
      my_bucket: /lowercase/,
      'my bucket': /lowercase/,
      '-bucket': /begin and end/,
      'bucket-': /begin and end/,
      '.bucket': /begin and end/,
      'my..bucket': /adjacent dots/,
      '192.168.5.4': /IP address/,
      'xn--bucket': /reserved prefix/,
      'sthree-bucket': /reserved prefix/,
      'amzn-s3-demo-bucket': /reserved prefix/,
      'bucket-s3alias': /reserved suffix/,
      'bucket--ol-s3': /reserved suffix/,
      'bucket.mrap': /reserved suffix/,
      'bucket--x-s3': /reserved suffix/,
      'my.-bucket': /hyphen/,
      bücket: /lowercase/,
    };
    for (const [name, why] of Object.entries(bad)) {
      assert.match(bucketNameProblem(name) ?? 'accepted', why, name);
    }
  });
  it('throws InvalidBucketName with the rule in the message', () => {
    assert.throws(
      () => assertValidBucketName('Bad_Name'),
      (e: unknown) => e instanceof S3Error && e.s3Code === 'InvalidBucketName' && /lowercase/.test(e.message),
    );
    assertValidBucketName('good-name');
  });
});

describe('object keys', () => {
  it('accepts every legal S3 form', () => {
    for (const k of [
      '..',
      '../../etc/passwd',
      '//a//b',
      '/leading',
      'ünïcödé/日本語',
      'tab\there',
      'line\nbreak',
      '😀',
    ]) {
      assert.equal(objectKeyProblem(k), undefined, k);
    }
    assert.equal(objectKeyProblem('a'.repeat(1024)), undefined);
    assert.equal(objectKeyProblem('é'.repeat(512)), undefined); // 1,024 bytes
  });
  it('refuses empty, over 1,024 bytes, NUL and lone surrogates', () => {
    assert.match(objectKeyProblem('') ?? '', /empty/);
    assert.match(objectKeyProblem('a'.repeat(1025)) ?? '', /1024 bytes/);
    assert.match(objectKeyProblem('é'.repeat(513)) ?? '', /1024 bytes/);
    assert.match(objectKeyProblem('a\u0000b') ?? '', /NUL/);
    assert.match(objectKeyProblem('a\ud800') ?? '', /surrogate/);
  });
  it('throws KeyTooLongError or InvalidArgument', () => {
    assert.throws(
      () => assertValidObjectKey('k'.repeat(2000)),
      (e: unknown) => e instanceof S3Error && e.s3Code === 'KeyTooLongError',
    );
    assert.throws(
      () => assertValidObjectKey('a\u0000'),
      (e: unknown) => e instanceof S3Error && e.s3Code === 'InvalidArgument',
    );
  });
});
