import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import {
  CompleteMultipartUploadCommand,
  CopyObjectCommand,
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  GetBucketLocationCommand,
  GetBucketVersioningCommand,
  GetObjectTaggingCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsCommand,
  ListObjectsV2Command,
  ListObjectVersionsCommand,
  ListPartsCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { renderS3ErrorXml, S3Error } from './s3-errors.js';
import {
  encodeS3Url,
  renderCompleteMultipartUpload,
  renderCopyResult,
  renderDeleteResult,
  renderInitiateMultipartUpload,
  renderListAllMyBuckets,
  renderListMultipartUploads,
  renderListObjectsV1,
  renderListObjectsV2,
  renderListObjectVersions,
  renderListParts,
  renderLocationConstraint,
  renderTagging,
  renderVersioningConfiguration,
} from './s3-xml-responses.js';

/**
 * An S3 client whose HTTP layer answers with `body`: the documents are read by the real
 * AWS SDK v3 deserializers, the strictest judge of their shape we can run in-process.
 */
function clientAnswering(body: string, statusCode = 200): S3Client {
  return new S3Client({
    region: 'us-east-1',
    endpoint: 'http://localhost:9000',
    forcePathStyle: true,
    credentials: { accessKeyId: 'AKIDEXAMPLE', secretAccessKey: 'secret' },
    maxAttempts: 1,
    requestHandler: {
      handle: async () => ({
        response: {
          statusCode,
          headers: { 'content-type': 'application/xml', 'x-amz-request-id': 'req-1' },
          body: Readable.from([Buffer.from(body)]),
        },
      }),
    } as never,
  });
}

const T = new Date('2026-01-02T03:04:05.678Z');
const owner = { id: 'acct-1', displayName: 'alice' };
const weirdKey = 'dir/a & <b> "q" \'s\' \u0001\r\n end ';

describe('S3 XML responses, read back by the AWS SDK v3', () => {
  it('ListAllMyBucketsResult', async () => {
    const xml = renderListAllMyBuckets({ owner, buckets: [{ name: 'ai-model-data', creationDate: T }] });
    assert.ok(xml.includes('xmlns="http://s3.amazonaws.com/doc/2006-03-01/"'));
    const out = await clientAnswering(xml).send(new ListBucketsCommand({}));
    assert.equal(out.Buckets?.[0]?.Name, 'ai-model-data');
    assert.equal(out.Buckets?.[0]?.CreationDate?.toISOString(), T.toISOString());
    assert.equal(out.Owner?.ID, 'acct-1');
  });

  it('ListBucketResult (V2) with XML-escaped keys', async () => {
    const xml = renderListObjectsV2({
      bucket: 'b1b',
      prefix: 'dir/',
      delimiter: '/',
      maxKeys: 2,
      isTruncated: true,
      continuationToken: 'tok1',
      nextContinuationToken: 'tok2',
      startAfter: 'dir/0',
      objects: [{ key: weirdKey, lastModified: T, etag: 'abc', size: 12 }],
      commonPrefixes: ['dir/sub/'],
    });
    const out = await clientAnswering(xml).send(new ListObjectsV2Command({ Bucket: 'b1b' }));
    assert.equal(out.Contents?.[0]?.Key, weirdKey);
    assert.equal(out.Contents?.[0]?.ETag, '"abc"');
    assert.equal(out.Contents?.[0]?.Size, 12);
    assert.equal(out.Contents?.[0]?.StorageClass, 'STANDARD');
    assert.equal(out.KeyCount, 2);
    assert.equal(out.IsTruncated, true);
    assert.equal(out.NextContinuationToken, 'tok2');
    assert.equal(out.ContinuationToken, 'tok1');
    assert.equal(out.StartAfter, 'dir/0');
    assert.deepEqual(out.CommonPrefixes, [{ Prefix: 'dir/sub/' }]);
    assert.equal(out.Prefix, 'dir/');
    assert.equal(out.MaxKeys, 2);
  });

  it('ListBucketResult (V2) with encoding-type=url round-trips any key', async () => {
    const key = 'a b+c/ü/\u0001?#%';
    const xml = renderListObjectsV2({
      bucket: 'b1b',
      prefix: 'a b',
      maxKeys: 1000,
      encodingType: 'url',
      isTruncated: false,
      objects: [{ key, lastModified: T, etag: 'abc', size: 1 }],
      commonPrefixes: [],
    });
    assert.ok(!xml.includes('\u0001'));
    const out = await clientAnswering(xml).send(
      new ListObjectsV2Command({ Bucket: 'b1b', EncodingType: 'url' }),
    );
    assert.equal(out.EncodingType, 'url');
    const decode = (s: string) => decodeURIComponent(s.replace(/\+/g, ' '));
    assert.equal(decode(out.Contents![0]!.Key!), key);
    assert.equal(decode(out.Prefix!), 'a b');
    assert.equal(encodeS3Url('a b/c+d'), 'a+b/c%2Bd');
  });

  it('ListBucketResult (V1)', async () => {
    const xml = renderListObjectsV1({
      bucket: 'b1b',
      marker: 'm0',
      nextMarker: 'k2',
      delimiter: '/',
      maxKeys: 2,
      isTruncated: true,
      objects: [
        { key: 'k1', lastModified: T, etag: 'e1', size: 1, owner },
        { key: 'k2', lastModified: T, etag: 'e2', size: 2, owner },
      ],
      commonPrefixes: [],
    });
    const out = await clientAnswering(xml).send(new ListObjectsCommand({ Bucket: 'b1b' }));
    assert.deepEqual(
      out.Contents?.map((c) => c.Key),
      ['k1', 'k2'],
    );
    assert.equal(out.NextMarker, 'k2');
    assert.equal(out.Marker, 'm0');
    assert.equal(out.Contents?.[0]?.Owner?.DisplayName, 'alice');
  });

  it('ListVersionsResult: unversioned objects as version null', async () => {
    const xml = renderListObjectVersions({
      bucket: 'b1b',
      maxKeys: 1000,
      isTruncated: false,
      versions: [{ key: 'k', versionId: 'null', isLatest: true, lastModified: T, etag: 'e', size: 3, owner }],
      commonPrefixes: ['p/'],
    });
    const out = await clientAnswering(xml).send(new ListObjectVersionsCommand({ Bucket: 'b1b' }));
    assert.equal(out.Versions?.[0]?.VersionId, 'null');
    assert.equal(out.Versions?.[0]?.IsLatest, true);
    assert.equal(out.Versions?.[0]?.Size, 3);
    assert.deepEqual(out.CommonPrefixes, [{ Prefix: 'p/' }]);
  });

  it('InitiateMultipartUploadResult, CompleteMultipartUploadResult', async () => {
    const init = await clientAnswering(
      renderInitiateMultipartUpload({ bucket: 'b1b', key: weirdKey, uploadId: 'u1' }),
    ).send(new CreateMultipartUploadCommand({ Bucket: 'b1b', Key: 'k' }));
    assert.equal(init.UploadId, 'u1');
    assert.equal(init.Key, weirdKey);
    const done = await clientAnswering(
      renderCompleteMultipartUpload({
        location: 'http://localhost:9000/b1b/k',
        bucket: 'b1b',
        key: 'k',
        etag: 'abc-2',
        checksums: { CRC32: 'AAAAAA==' },
      }),
    ).send(
      new CompleteMultipartUploadCommand({
        Bucket: 'b1b',
        Key: 'k',
        UploadId: 'u1',
        MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"x"' }] },
      }),
    );
    assert.equal(done.ETag, '"abc-2"');
    assert.equal(done.ChecksumCRC32, 'AAAAAA==');
  });

  it('an <Error> in a 200 CompleteMultipartUpload body is seen as an error', async () => {
    const xml = renderS3ErrorXml(new S3Error('InternalError'), 'req-9');
    await assert.rejects(
      clientAnswering(xml).send(
        new CompleteMultipartUploadCommand({
          Bucket: 'b1b',
          Key: 'k',
          UploadId: 'u1',
          MultipartUpload: { Parts: [{ PartNumber: 1, ETag: '"x"' }] },
        }),
      ),
      (e: unknown) => (e as { name?: string }).name === 'InternalError',
    );
  });

  it('S3 error documents are read as the SDK error of that code', async () => {
    const xml = renderS3ErrorXml(
      new S3Error('NoSuchKey', undefined, { details: { Key: 'k' } }),
      'req-2',
      '/b1b/k',
    );
    await assert.rejects(
      clientAnswering(xml, 404).send(new GetObjectTaggingCommand({ Bucket: 'b1b', Key: 'k' })),
      (e: unknown) => {
        const err = e as { name: string; $metadata: { httpStatusCode: number; requestId?: string } };
        assert.equal(err.name, 'NoSuchKey');
        assert.equal(err.$metadata.httpStatusCode, 404);
        return true;
      },
    );
  });

  it('ListPartsResult and ListMultipartUploadsResult', async () => {
    const parts = await clientAnswering(
      renderListParts({
        bucket: 'b1b',
        key: 'k',
        uploadId: 'u1',
        partNumberMarker: 0,
        nextPartNumberMarker: 2,
        maxParts: 1000,
        isTruncated: false,
        initiator: owner,
        owner,
        parts: [
          { partNumber: 1, lastModified: T, etag: 'e1', size: 5 },
          { partNumber: 2, lastModified: T, etag: 'e2', size: 6 },
        ],
      }),
    ).send(new ListPartsCommand({ Bucket: 'b1b', Key: 'k', UploadId: 'u1' }));
    assert.deepEqual(
      parts.Parts?.map((p) => [p.PartNumber, p.ETag, p.Size]),
      [
        [1, '"e1"', 5],
        [2, '"e2"', 6],
      ],
    );
    assert.equal(parts.NextPartNumberMarker, '2');
    const uploads = await clientAnswering(
      renderListMultipartUploads({
        bucket: 'b1b',
        maxUploads: 1000,
        isTruncated: false,
        uploads: [{ key: 'k', uploadId: 'u1', initiator: owner, owner, initiated: T }],
        commonPrefixes: [],
      }),
    ).send(new ListMultipartUploadsCommand({ Bucket: 'b1b' }));
    assert.equal(uploads.Uploads?.[0]?.UploadId, 'u1');
    assert.equal(uploads.Uploads?.[0]?.Initiated?.toISOString(), T.toISOString());
  });

  it('CopyObjectResult, DeleteResult, Tagging, LocationConstraint, VersioningConfiguration', async () => {
    const copy = await clientAnswering(renderCopyResult({ lastModified: T, etag: 'e' })).send(
      new CopyObjectCommand({ Bucket: 'b1b', Key: 'k', CopySource: 'src/x' }),
    );
    assert.equal(copy.CopyObjectResult?.ETag, '"e"');
    const del = await clientAnswering(
      renderDeleteResult({
        deleted: [{ key: weirdKey }],
        errors: [{ key: 'k2', code: 'AccessDenied', message: 'Access Denied' }],
      }),
    ).send(new DeleteObjectsCommand({ Bucket: 'b1b', Delete: { Objects: [{ Key: 'k' }] } }));
    assert.equal(del.Deleted?.[0]?.Key, weirdKey);
    assert.equal(del.Errors?.[0]?.Code, 'AccessDenied');
    const tags = await clientAnswering(renderTagging(new Map([['project', 'a&b']]))).send(
      new GetObjectTaggingCommand({ Bucket: 'b1b', Key: 'k' }),
    );
    assert.deepEqual(tags.TagSet, [{ Key: 'project', Value: 'a&b' }]);
    const loc = await clientAnswering(renderLocationConstraint('eu-west-1')).send(
      new GetBucketLocationCommand({ Bucket: 'b1b' }),
    );
    assert.equal(loc.LocationConstraint, 'eu-west-1');
    assert.ok(renderLocationConstraint('us-east-1').includes('></LocationConstraint>'));
    const ver = await clientAnswering(renderVersioningConfiguration()).send(
      new GetBucketVersioningCommand({ Bucket: 'b1b' }),
    );
    assert.equal(ver.Status, undefined);
  });
});
