import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { S3Error } from './s3-errors.js';
import {
  classifyS3Request,
  parseCopySource,
  parseTaggingHeader,
  S3_OPERATIONS,
  type S3HttpRequest,
  type S3Operation,
} from './s3-request.js';

const req = (method: string, url: string, headers: S3HttpRequest['headers'] = {}) =>
  classifyS3Request({ method, url, headers: { host: 'localhost:9000', ...headers } });

function s3(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof S3Error, `expected S3Error ${code}, got ${e}`);
    assert.equal(e.s3Code, code, e.message);
    return true;
  };
}

describe('classifyS3Request', () => {
  const cases: [string, string, S3HttpRequest['headers'], S3Operation, string, string][] = [
    ['GET', '/', {}, 'ListBuckets', 's3:ListAllMyBuckets', 'arn:aws:s3:::*'],
    ['PUT', '/ai-model-data', {}, 'CreateBucket', 's3:CreateBucket', 'arn:aws:s3:::ai-model-data'],
    ['PUT', '/ai-model-data/', {}, 'CreateBucket', 's3:CreateBucket', 'arn:aws:s3:::ai-model-data'],
    ['DELETE', '/b1b', {}, 'DeleteBucket', 's3:DeleteBucket', 'arn:aws:s3:::b1b'],
    ['HEAD', '/b1b', {}, 'HeadBucket', 's3:ListBucket', 'arn:aws:s3:::b1b'],
    ['GET', '/b1b', {}, 'ListObjects', 's3:ListBucket', 'arn:aws:s3:::b1b'],
    ['GET', '/b1b?list-type=2&prefix=a', {}, 'ListObjectsV2', 's3:ListBucket', 'arn:aws:s3:::b1b'],
    ['GET', '/b1b?versions', {}, 'ListObjectVersions', 's3:ListBucketVersions', 'arn:aws:s3:::b1b'],
    ['GET', '/b1b?uploads', {}, 'ListMultipartUploads', 's3:ListBucketMultipartUploads', 'arn:aws:s3:::b1b'],
    ['GET', '/b1b?location', {}, 'GetBucketLocation', 's3:GetBucketLocation', 'arn:aws:s3:::b1b'],
    ['GET', '/b1b?versioning', {}, 'GetBucketVersioning', 's3:GetBucketVersioning', 'arn:aws:s3:::b1b'],
    ['GET', '/b1b?policy', {}, 'GetBucketPolicy', 's3:GetBucketPolicy', 'arn:aws:s3:::b1b'],
    ['PUT', '/b1b?policy', {}, 'PutBucketPolicy', 's3:PutBucketPolicy', 'arn:aws:s3:::b1b'],
    ['DELETE', '/b1b?policy', {}, 'DeleteBucketPolicy', 's3:DeleteBucketPolicy', 'arn:aws:s3:::b1b'],
    ['GET', '/b1b?tagging', {}, 'GetBucketTagging', 's3:GetBucketTagging', 'arn:aws:s3:::b1b'],
    ['PUT', '/b1b?tagging', {}, 'PutBucketTagging', 's3:PutBucketTagging', 'arn:aws:s3:::b1b'],
    ['DELETE', '/b1b?tagging', {}, 'DeleteBucketTagging', 's3:PutBucketTagging', 'arn:aws:s3:::b1b'],
    ['POST', '/b1b?delete', {}, 'DeleteObjects', 's3:DeleteObject', 'arn:aws:s3:::b1b'],
    ['GET', '/b1b/k', {}, 'GetObject', 's3:GetObject', 'arn:aws:s3:::b1b/k'],
    ['GET', '/b1b/k?versionId=v1', {}, 'GetObject', 's3:GetObjectVersion', 'arn:aws:s3:::b1b/k'],
    ['HEAD', '/b1b/k', {}, 'HeadObject', 's3:GetObject', 'arn:aws:s3:::b1b/k'],
    ['PUT', '/b1b/k', {}, 'PutObject', 's3:PutObject', 'arn:aws:s3:::b1b/k'],
    [
      'PUT',
      '/b1b/k',
      { 'x-amz-copy-source': '/src/a%20b' },
      'CopyObject',
      's3:PutObject',
      'arn:aws:s3:::b1b/k',
    ],
    ['DELETE', '/b1b/k', {}, 'DeleteObject', 's3:DeleteObject', 'arn:aws:s3:::b1b/k'],
    ['DELETE', '/b1b/k?versionId=null', {}, 'DeleteObject', 's3:DeleteObjectVersion', 'arn:aws:s3:::b1b/k'],
    ['POST', '/b1b/k?uploads', {}, 'CreateMultipartUpload', 's3:PutObject', 'arn:aws:s3:::b1b/k'],
    ['PUT', '/b1b/k?partNumber=3&uploadId=u', {}, 'UploadPart', 's3:PutObject', 'arn:aws:s3:::b1b/k'],
    [
      'PUT',
      '/b1b/k?partNumber=3&uploadId=u',
      { 'x-amz-copy-source': 'src/x' },
      'UploadPartCopy',
      's3:PutObject',
      'arn:aws:s3:::b1b/k',
    ],
    ['POST', '/b1b/k?uploadId=u', {}, 'CompleteMultipartUpload', 's3:PutObject', 'arn:aws:s3:::b1b/k'],
    [
      'DELETE',
      '/b1b/k?uploadId=u',
      {},
      'AbortMultipartUpload',
      's3:AbortMultipartUpload',
      'arn:aws:s3:::b1b/k',
    ],
    ['GET', '/b1b/k?uploadId=u', {}, 'ListParts', 's3:ListMultipartUploadParts', 'arn:aws:s3:::b1b/k'],
    ['GET', '/b1b/k?tagging', {}, 'GetObjectTagging', 's3:GetObjectTagging', 'arn:aws:s3:::b1b/k'],
    ['PUT', '/b1b/k?tagging', {}, 'PutObjectTagging', 's3:PutObjectTagging', 'arn:aws:s3:::b1b/k'],
    ['DELETE', '/b1b/k?tagging', {}, 'DeleteObjectTagging', 's3:DeleteObjectTagging', 'arn:aws:s3:::b1b/k'],
    [
      'GET',
      '/b1b/k?tagging&versionId=2',
      {},
      'GetObjectTagging',
      's3:GetObjectVersionTagging',
      'arn:aws:s3:::b1b/k',
    ],
  ];
  for (const [method, url, headers, operation, action, resource] of cases) {
    it(`${method} ${url} -> ${operation} (${action})`, () => {
      const r = req(method, url, headers);
      assert.equal(r.operation, operation);
      assert.equal(r.action, action);
      assert.equal(r.resource, resource);
      assert.deepEqual(r.authorizations[0], { action, resource });
    });
  }

  it('covers every operation of the table, and every row names an s3: action (fail closed)', () => {
    const classified = new Set(cases.map((c) => c[3]));
    for (const [name, spec] of Object.entries(S3_OPERATIONS)) {
      assert.ok(classified.has(name as S3Operation), `${name} has no classification test`);
      assert.match(spec.action, /^s3:[A-Za-z]+$/, name);
      if ('versionAction' in spec) assert.match(spec.versionAction, /^s3:[A-Za-z]+$/, name);
    }
  });

  it('refuses every method/resource pair outside the table', () => {
    for (const method of ['GET', 'HEAD', 'PUT', 'POST', 'DELETE', 'PATCH', 'OPTIONS', 'TRACE']) {
      for (const url of [
        '/',
        '/b1b',
        '/b1b/k',
        '/b1b?uploads',
        '/b1b/k?uploadId=u',
        '/b1b?policy',
        '/b1b?delete',
      ]) {
        let result: ReturnType<typeof req> | undefined;
        try {
          result = req(method, url);
        } catch (e) {
          assert.ok(
            e instanceof S3Error &&
              ['MethodNotAllowed', 'NotImplemented', 'InvalidArgument'].includes(e.s3Code),
            `${e}`,
          );
          continue;
        }
        // Anything classified is in the table with a matching method.
        assert.equal(S3_OPERATIONS[result.operation].method, method, `${method} ${url}`);
        assert.ok(result.action.startsWith('s3:'));
      }
    }
  });

  it('answers MethodNotAllowed and NotImplemented', () => {
    assert.throws(() => req('PUT', '/'), s3('MethodNotAllowed'));
    assert.throws(() => req('PATCH', '/b1b/k'), s3('MethodNotAllowed'));
    assert.throws(() => req('POST', '/b1b/k'), s3('MethodNotAllowed'));
    assert.throws(() => req('POST', '/b1b?policy'), s3('MethodNotAllowed'));
    // Unsupported subresources never fall through to the plain operation.
    assert.throws(() => req('GET', '/b1b?cors'), s3('NotImplemented'));
    assert.throws(() => req('GET', '/b1b?acl'), s3('NotImplemented'));
    assert.throws(() => req('PUT', '/b1b?lifecycle'), s3('NotImplemented'));
    assert.throws(() => req('POST', '/b1b/k?select&select-type=2'), s3('NotImplemented'));
    assert.throws(() => req('GET', '/b1b/k?versions'), s3('NotImplemented'));
    assert.throws(() => req('GET', '/b1b/k?acl'), s3('NotImplemented'));
  });

  it('ignores parameters that do not select an operation (SDK x-id, presign, response-*)', () => {
    const r = req(
      'GET',
      '/b1b/k?x-id=GetObject&response-content-type=text%2Fplain&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc',
    );
    assert.equal(r.operation, 'GetObject');
    assert.equal(r.query.get('response-content-type'), 'text/plain');
  });

  describe('keys', () => {
    it('decodes keys exactly, keeping legal oddities', () => {
      const key = (url: string) => req('GET', url).key;
      assert.equal(key('/b1b/a%2Fb'), 'a/b');
      assert.equal(key('/b1b/a+b'), 'a+b');
      assert.equal(key('/b1b/a%20b'), 'a b');
      assert.equal(key('/b1b/..'), '..');
      assert.equal(key('/b1b/../../etc/passwd'), '../../etc/passwd');
      assert.equal(key('/b1b//leading'), '/leading');
      assert.equal(key('/b1b/a//b/'), 'a//b/');
      assert.equal(key('/b1b/%E6%97%A5%E6%9C%AC'), '日本');
      assert.equal(key('/b1b/tab%09nl%0A'), 'tab\tnl\n');
      assert.equal(key('/b1b/q%3Fx'), 'q?x');
      assert.equal(req('GET', '/b1b/k%3Fx?tagging').operation, 'GetObjectTagging');
      assert.equal(key(`/b1b/${'a'.repeat(1024)}`), 'a'.repeat(1024));
    });
    it('refuses bad encodings and bad keys', () => {
      assert.throws(() => req('GET', '/b1b/%E6%97'), s3('InvalidURI'));
      assert.throws(() => req('GET', '/b1b/%zz'), s3('InvalidURI'));
      assert.throws(() => req('GET', '/b1b/a%00b'), s3('InvalidArgument'));
      assert.throws(() => req('GET', `/b1b/${'a'.repeat(1025)}`), s3('KeyTooLongError'));
      assert.throws(() => req('GET', 'b1b/k'), s3('InvalidURI'));
    });
    it('does not normalize absolute-form targets', () => {
      const r = req('GET', 'http://localhost:9000/b1b/../x');
      assert.equal(r.bucket, 'b1b');
      assert.equal(r.key, '../x');
    });
  });

  describe('buckets', () => {
    it('validates names fully on CreateBucket only', () => {
      assert.throws(() => req('PUT', '/Bad_Bucket'), s3('InvalidBucketName'));
      assert.equal(req('GET', '/Legacy_Bucket').bucket, 'Legacy_Bucket');
      assert.throws(() => req('GET', '/bad%2Abucket'), s3('InvalidBucketName'));
      assert.throws(() => req('GET', '/b%2Fc'), s3('InvalidBucketName'));
    });
    it('reads virtual-host style for configured bases, path style otherwise', () => {
      const opts = { virtualHostBases: ['s3.example.com', 'localhost'] };
      const v = classifyS3Request(
        { method: 'GET', url: '/a/b.txt', headers: { host: 'my.data.s3.example.com:443' } },
        opts,
      );
      assert.deepEqual(
        [v.addressing, v.bucket, v.key, v.operation],
        ['virtual-host', 'my.data', 'a/b.txt', 'GetObject'],
      );
      const list = classifyS3Request(
        { method: 'GET', url: '/?list-type=2', headers: { host: 'data.localhost' } },
        opts,
      );
      assert.deepEqual([list.bucket, list.key, list.operation], ['data', undefined, 'ListObjectsV2']);
      const path = classifyS3Request(
        { method: 'GET', url: '/data/k', headers: { host: 's3.example.com' } },
        opts,
      );
      assert.deepEqual([path.addressing, path.bucket, path.key], ['path', 'data', 'k']);
      const ip = classifyS3Request(
        { method: 'GET', url: '/data/k', headers: { host: '127.0.0.1:9000' } },
        opts,
      );
      assert.deepEqual([ip.addressing, ip.bucket], ['path', 'data']);
      const v6 = classifyS3Request({ method: 'GET', url: '/data/k', headers: { host: '[::1]:9000' } }, opts);
      assert.equal(v6.bucket, 'data');
      // Virtual-host style keeps a leading slash of the key.
      const slash = classifyS3Request(
        { method: 'GET', url: '//x', headers: { host: 'data.localhost' } },
        opts,
      );
      assert.equal(slash.key, '/x');
    });
  });

  describe('condition keys and extra authorizations', () => {
    it('sets s3:prefix, s3:delimiter, s3:max-keys on listings', () => {
      const r = req('GET', '/b1b?list-type=2&prefix=home%2Falice%2F&delimiter=%2F&max-keys=50');
      assert.deepEqual(r.conditions, { 's3:prefix': 'home/alice/', 's3:delimiter': '/', 's3:max-keys': 50 });
      assert.deepEqual(req('GET', '/b1b?versions&prefix=').conditions, { 's3:prefix': '' });
      assert.throws(() => req('GET', '/b1b?max-keys=-1'), s3('InvalidArgument'));
      assert.throws(() => req('GET', '/b1b?max-keys=abc'), s3('InvalidArgument'));
      assert.throws(() => req('GET', '/b1b?list-type=3'), s3('InvalidArgument'));
    });
    it('asks s3:GetObject on the copy source as well', () => {
      const r = req('PUT', '/dst/k', { 'x-amz-copy-source': '/src/dir/a%2Bb.txt?versionId=v9' });
      assert.deepEqual(r.copySource, { bucket: 'src', key: 'dir/a+b.txt', versionId: 'v9' });
      assert.deepEqual(r.authorizations, [
        { action: 's3:PutObject', resource: 'arn:aws:s3:::dst/k' },
        { action: 's3:GetObjectVersion', resource: 'arn:aws:s3:::src/dir/a+b.txt' },
      ]);
      assert.equal(r.conditions['s3:x-amz-copy-source'], '/src/dir/a%2Bb.txt?versionId=v9');
    });
    it('turns x-amz-tagging into request-tag keys and asks s3:PutObjectTagging too', () => {
      const r = req('PUT', '/b1b/k', { 'x-amz-tagging': 'project=x&team=ml%20ops', 'x-amz-acl': 'private' });
      assert.equal(r.conditions['s3:RequestObjectTag/project'], 'x');
      assert.equal(r.conditions['s3:RequestObjectTag/team'], 'ml ops');
      assert.deepEqual(r.conditions['s3:RequestObjectTagKeys'], ['project', 'team']);
      assert.equal(r.conditions['s3:x-amz-acl'], 'private');
      assert.deepEqual(r.authorizations[1], {
        action: 's3:PutObjectTagging',
        resource: 'arn:aws:s3:::b1b/k',
      });
    });
    it('flags operations that need the existing object tags, and per-key deletes', () => {
      assert.equal(req('GET', '/b1b/k').needsExistingObjectTags, true);
      assert.equal(req('PUT', '/b1b/k').needsExistingObjectTags, false);
      assert.equal(req('POST', '/b1b?delete').perKeyAction, 's3:DeleteObject');
    });
    it('validates part numbers', () => {
      assert.equal(req('PUT', '/b1b/k?partNumber=10000&uploadId=u').partNumber, 10000);
      for (const bad of ['0', '10001', '1.5', '-1', 'x', '']) {
        assert.throws(() => req('PUT', `/b1b/k?partNumber=${bad}&uploadId=u`), s3('InvalidArgument'), bad);
      }
      assert.throws(() => req('PUT', '/b1b/k?uploadId=u'), s3('InvalidArgument'));
    });
  });
});

describe('parseCopySource', () => {
  it('refuses sources without bucket and key', () => {
    for (const bad of ['', '/', 'bucket', 'bucket/', '/bucket/', '/%zz/k']) {
      assert.throws(
        () => parseCopySource(bad),
        (e: unknown) => e instanceof S3Error,
        bad,
      );
    }
  });
});

describe('parseTaggingHeader', () => {
  it('enforces S3 tag limits', () => {
    assert.throws(() => parseTaggingHeader('a=1&a=2'), s3('InvalidTag'));
    assert.throws(() => parseTaggingHeader(`${'k'.repeat(129)}=v`), s3('InvalidTag'));
    assert.throws(
      () => parseTaggingHeader(Array.from({ length: 11 }, (_, i) => `k${i}=v`).join('&')),
      s3('BadRequest'),
    );
    assert.equal(parseTaggingHeader('').size, 0);
  });
});
