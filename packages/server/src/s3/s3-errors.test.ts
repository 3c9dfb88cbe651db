import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AiamError } from '@aiam/policy';
import { PolicyValidationError } from '@aiam/policy';
import {
  AuthenticationError,
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
  RateLimitedError,
} from '../errors.js';
import { isS3Error, renderS3ErrorXml, S3_ERROR_CODES, S3Error, toS3Error } from './s3-errors.js';

describe('S3Error', () => {
  it('carries S3 code, status and a stable aiam code', () => {
    const e = new S3Error('NoSuchKey');
    assert.equal(e.status, 404);
    assert.equal(e.code, 'ERR_S3_NO_SUCH_KEY');
    assert.equal(e.message, 'The specified key does not exist.');
    assert.ok(e instanceof AiamError);
    assert.equal(new S3Error('XAmzContentSHA256Mismatch').code, 'ERR_S3_X_AMZ_CONTENT_SHA256_MISMATCH');
  });
  it('has the statuses S3 documents', () => {
    const expected: Record<string, number> = {
      AccessDenied: 403,
      NoSuchBucket: 404,
      NoSuchKey: 404,
      SignatureDoesNotMatch: 403,
      RequestTimeTooSkewed: 403,
      InvalidAccessKeyId: 403,
      BadDigest: 400,
      EntityTooSmall: 400,
      EntityTooLarge: 400,
      InvalidPart: 400,
      InvalidPartOrder: 400,
      NoSuchUpload: 404,
      BucketNotEmpty: 409,
      BucketAlreadyOwnedByYou: 409,
      BucketAlreadyExists: 409,
      InvalidBucketName: 400,
      MalformedXML: 400,
      InvalidArgument: 400,
      InvalidRange: 416,
      PreconditionFailed: 412,
      NotModified: 304,
      MethodNotAllowed: 405,
      MissingContentLength: 411,
      IncompleteBody: 400,
      InvalidRequest: 400,
      XAmzContentSHA256Mismatch: 400,
      MalformedPolicy: 400,
      NoSuchBucketPolicy: 404,
      InternalError: 500,
      NotImplemented: 501,
      SlowDown: 503,
    };
    for (const [code, status] of Object.entries(expected)) {
      assert.equal(S3_ERROR_CODES[code as keyof typeof S3_ERROR_CODES]?.[0], status, code);
    }
  });
  it('is recognized across module copies by shape', () => {
    const foreign = Object.assign(new Error('x'), { code: 'ERR_S3_NO_SUCH_KEY', s3Code: 'NoSuchKey' });
    assert.ok(isS3Error(foreign));
    assert.ok(!isS3Error(Object.assign(new Error('x'), { code: 'X', s3Code: 'Bogus' })));
    assert.ok(!isS3Error('NoSuchKey'));
  });
});

describe('renderS3ErrorXml', () => {
  it('renders S3 error document with details, resource and request id, escaped', () => {
    const e = new S3Error('NoSuchKey', undefined, { details: { Key: 'a<b>&"c' } });
    const xml = renderS3ErrorXml(e, 'REQ123', '/bucket/a<b>');
    assert.equal(
      xml,
      '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message>' +
        '<Key>a&lt;b&gt;&amp;&quot;c</Key><Resource>/bucket/a&lt;b&gt;</Resource><RequestId>REQ123</RequestId></Error>',
    );
  });
  it('drops detail names that are not XML names instead of injecting them', () => {
    const e = new S3Error('InvalidRequest', 'm', { details: { 'bad><x': 'v', Ok: 1 } });
    const xml = renderS3ErrorXml(e, 'r');
    assert.ok(!xml.includes('bad'));
    assert.ok(xml.includes('<Ok>1</Ok>'));
  });
  it('escapes control characters in messages', () => {
    const xml = renderS3ErrorXml(new S3Error('InvalidArgument', 'key \u0001\r'), 'r');
    assert.ok(xml.includes('key &#x1;&#xD;'));
  });
});

describe('toS3Error', () => {
  it('passes S3 errors through', () => {
    const e = new S3Error('BadDigest');
    assert.equal(toS3Error(e), e);
  });
  it('maps the server domain errors', () => {
    assert.equal(toS3Error(new NotAllowedError('denied by policy')).s3Code, 'AccessDenied');
    assert.equal(toS3Error(new InputError('bad')).s3Code, 'InvalidArgument');
    assert.equal(toS3Error(new ConflictError('busy')).s3Code, 'OperationAborted');
    assert.equal(toS3Error(new RateLimitedError('slow', 1)).s3Code, 'SlowDown');
    assert.equal(toS3Error(new NotFoundError('gone'), { bucket: 'b', key: 'k' }).s3Code, 'NoSuchKey');
    assert.equal(toS3Error(new NotFoundError('gone'), { bucket: 'b' }).s3Code, 'NoSuchBucket');
    assert.equal(toS3Error(new NotFoundError('gone', { code: 'ERR_NO_SUCH_UPLOAD' })).s3Code, 'NoSuchUpload');
    assert.equal(toS3Error(new PolicyValidationError([])).s3Code, 'MalformedPolicy');
  });
  it('maps authentication failures without revealing their reason', () => {
    const plain = toS3Error(new AuthenticationError('user disabled'));
    assert.equal(plain.s3Code, 'AccessDenied');
    assert.ok(!plain.message.includes('disabled'));
    const sig = toS3Error(
      new AuthenticationError('hmac mismatch for AKID', { code: 'ERR_SIGNATURE_DOES_NOT_MATCH' }),
    );
    assert.equal(sig.s3Code, 'SignatureDoesNotMatch');
    assert.ok(!sig.message.includes('AKID'));
    assert.equal(
      toS3Error(new AuthenticationError('skew', { code: 'ERR_REQUEST_TIME_TOO_SKEWED' })).s3Code,
      'RequestTimeTooSkewed',
    );
    assert.equal(
      toS3Error(new AuthenticationError('no key', { code: 'ERR_INVALID_ACCESS_KEY_ID' })).s3Code,
      'InvalidAccessKeyId',
    );
    // An authentication failure with a code of its own is still AccessDenied, never a 500.
    assert.equal(
      toS3Error(new AuthenticationError('jwt', { code: 'ERR_JWT_EXPIRED' })).s3Code,
      'AccessDenied',
    );
    assert.equal(toS3Error(new InputError('x', { code: 'ERR_SOMETHING_ODD' })).s3Code, 'InvalidArgument');
  });
  it('hides unknown failures behind InternalError, keeping the cause', () => {
    const boom = new Error('ENOSPC /var/lib/secret/path');
    const e = toS3Error(boom);
    assert.equal(e.s3Code, 'InternalError');
    assert.equal(e.status, 500);
    assert.ok(!e.message.includes('secret'));
    assert.equal(e.cause, boom);
    assert.equal(toS3Error(new AiamError('ERR_WHATEVER', 'internal detail')).s3Code, 'InternalError');
  });
});
