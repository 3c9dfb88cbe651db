import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import { describe, it } from 'node:test';
import { isS3Request } from './s3-surface-claim.js';

const req = (method: string, url: string, host = 'localhost:7477') =>
  ({ method, url, headers: { host } }) as unknown as IncomingMessage;

describe('isS3Request', () => {
  it('leaves the other surfaces their paths', () => {
    for (const url of [
      '/api/v1/users',
      '/scim/v2/Users',
      '/.well-known/jwks.json',
      '/healthz',
      '/readyz',
      '/metrics',
      '/oauth2/token',
      '/endpoints/e/chat',
      '/workload/v1/credentials',
    ]) {
      assert.equal(isS3Request(req('GET', url), []), false, url);
    }
  });

  it('leaves STS its requests at / and claims ListBuckets', () => {
    assert.equal(isS3Request(req('POST', '/'), []), false);
    assert.equal(isS3Request(req('GET', '/?Action=GetCallerIdentity&Version=2011-06-15'), []), false);
    assert.equal(isS3Request(req('GET', '/'), []), true);
  });

  it('claims buckets and objects, and CreateBucket of a reserved name (to refuse it)', () => {
    assert.equal(isS3Request(req('GET', '/data/a/b?list-type=2'), []), true);
    assert.equal(isS3Request(req('PUT', '/data/key'), []), true);
    assert.equal(isS3Request(req('PUT', '/metrics'), []), true);
    assert.equal(isS3Request(req('PUT', '/api/v1/users'), []), false);
  });

  it('claims every virtual-host style request under a configured base', () => {
    assert.equal(isS3Request(req('GET', '/healthz', 'data.s3.example.com:443'), ['s3.example.com']), true);
    assert.equal(isS3Request(req('GET', '/healthz', 's3.example.com'), ['s3.example.com']), false);
  });
});
