import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { S3Error } from './s3-errors.js';
import {
  MAX_DELETE_KEYS,
  parseCompleteMultipartUpload,
  parseCreateBucketConfiguration,
  parseDeleteRequest,
  parseTagging,
  readBoundedBody,
} from './s3-xml.js';

function s3(code: string) {
  return (e: unknown) => {
    assert.ok(e instanceof S3Error, `expected S3Error ${code}, got ${e}`);
    assert.equal(e.s3Code, code, e.message);
    return true;
  };
}

const NS = 'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"';

describe('parseCompleteMultipartUpload', () => {
  it('reads parts as the SDKs send them', () => {
    const body = `<?xml version="1.0" encoding="UTF-8"?>
<CompleteMultipartUpload ${NS}>
  <Part><ETag>"aaa"</ETag><PartNumber>1</PartNumber></Part>
  <Part><ChecksumCRC32>AAAAAA==</ChecksumCRC32><ETag>&quot;bbb&quot;</ETag><PartNumber>2</PartNumber></Part>
</CompleteMultipartUpload>`;
    assert.deepEqual(parseCompleteMultipartUpload(Buffer.from(body)), [
      { partNumber: 1, etag: '"aaa"', checksums: {} },
      { partNumber: 2, etag: '"bbb"', checksums: { CRC32: 'AAAAAA==' } },
    ]);
  });
  it('keeps document order (order is checked by the backend)', () => {
    const body =
      '<CompleteMultipartUpload><Part><PartNumber>2</PartNumber><ETag>b</ETag></Part><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>';
    assert.deepEqual(
      parseCompleteMultipartUpload(body).map((p) => p.partNumber),
      [2, 1],
    );
  });
  it('refuses malformed bodies with MalformedXML', () => {
    const bad = [
      '<CompleteMultipartUpload></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><ETag>a</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>0</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>x</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber></Part></CompleteMultipartUpload>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part>',
      '<Other><Part><PartNumber>1</PartNumber><ETag>a</ETag></Part></Other>',
      '<CompleteMultipartUpload><Part><PartNumber>1</PartNumber><PartNumber>2</PartNumber><ETag>a</ETag></Part></CompleteMultipartUpload>',
      'not xml at all',
      '<a></a><b></b>',
    ];
    for (const body of bad) assert.throws(() => parseCompleteMultipartUpload(body), s3('MalformedXML'), body);
    assert.throws(() => parseCompleteMultipartUpload(''), s3('MissingRequestBodyError'));
  });
});

describe('parseDeleteRequest', () => {
  it('reads keys exactly: entities, character references, spaces, quiet flag', () => {
    const body = `<Delete ${NS}><Quiet>true</Quiet>
      <Object><Key> a &amp; b </Key></Object>
      <Object><Key>line&#x0A;break&#13;&#x2028;</Key><VersionId>null</VersionId></Object>
      <Object><Key>007</Key></Object>
      <Object><Key>日本/../..</Key></Object></Delete>`;
    assert.deepEqual(parseDeleteRequest(body), {
      quiet: true,
      objects: [
        { key: ' a & b ' },
        { key: 'line\nbreak\r\u2028', versionId: 'null' },
        { key: '007' },
        { key: '日本/../..' },
      ],
    });
  });
  it('allows up to 1,000 keys and refuses more', () => {
    const many = (n: number) =>
      `<Delete>${Array.from({ length: n }, (_, i) => `<Object><Key>k${i}</Key></Object>`).join('')}</Delete>`;
    assert.equal(parseDeleteRequest(many(MAX_DELETE_KEYS)).objects.length, 1000);
    assert.throws(() => parseDeleteRequest(many(MAX_DELETE_KEYS + 1)), s3('MalformedXML'));
  });
  it('refuses missing keys, empty lists, bad Quiet, bad entities and NUL', () => {
    for (const body of [
      '<Delete></Delete>',
      '<Delete><Object></Object></Delete>',
      '<Delete><Object><Key></Key></Object></Delete>',
      '<Delete><Quiet>yes</Quiet><Object><Key>a</Key></Object></Delete>',
      '<Delete><Object><Key>&nbsp;</Key></Object></Delete>',
      '<Delete><Object><Key>a &amp b</Key></Object></Delete>',
      '<Delete><Object><Key>&#0;</Key></Object></Delete>',
      '<Delete><Object><Key>&#xD800;</Key></Object></Delete>',
      '<Delete><Object><Key><b>x</b></Key></Object></Delete>',
    ]) {
      assert.throws(() => parseDeleteRequest(body), s3('MalformedXML'), body);
    }
  });
  it('refuses DTDs, so entity expansion and external entities cannot happen', () => {
    const laughs = `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;">]>
<Delete><Object><Key>&lol2;</Key></Object></Delete>`;
    assert.throws(() => parseDeleteRequest(laughs), s3('MalformedXML'));
    const xxe =
      '<!DOCTYPE d [<!ENTITY x SYSTEM "file:///etc/passwd">]><Delete><Object><Key>&x;</Key></Object></Delete>';
    assert.throws(() => parseDeleteRequest(xxe), s3('MalformedXML'));
  });
  it('refuses oversized and non-UTF-8 bodies', () => {
    const huge = `<Delete><Object><Key>${'a'.repeat(9 * 1024 * 1024)}</Key></Object></Delete>`;
    assert.throws(() => parseDeleteRequest(huge), s3('MaxMessageLengthExceeded'));
    const latin1 = Buffer.concat([
      Buffer.from('<Delete><Object><Key>'),
      Buffer.from([0xe9]),
      Buffer.from('</Key></Object></Delete>'),
    ]);
    assert.throws(() => parseDeleteRequest(latin1), s3('MalformedXML'));
  });
  it('applies key validation', () => {
    assert.throws(
      () => parseDeleteRequest(`<Delete><Object><Key>${'k'.repeat(1025)}</Key></Object></Delete>`),
      s3('KeyTooLongError'),
    );
  });
});

describe('parseCreateBucketConfiguration', () => {
  it('accepts an empty body and a location', () => {
    assert.deepEqual(parseCreateBucketConfiguration(''), {});
    assert.deepEqual(
      parseCreateBucketConfiguration(
        `<CreateBucketConfiguration ${NS}><LocationConstraint>eu-west-1</LocationConstraint></CreateBucketConfiguration>`,
      ),
      { locationConstraint: 'eu-west-1' },
    );
    assert.deepEqual(parseCreateBucketConfiguration('<CreateBucketConfiguration/>'), {});
  });
  it('refuses bad bodies', () => {
    assert.throws(() => parseCreateBucketConfiguration('<Bucket/>'), s3('MalformedXML'));
    assert.throws(
      () =>
        parseCreateBucketConfiguration(
          '<CreateBucketConfiguration><LocationConstraint>../x</LocationConstraint></CreateBucketConfiguration>',
        ),
      s3('InvalidLocationConstraint'),
    );
  });
});

describe('parseTagging', () => {
  const tagging = (tags: [string, string][]) =>
    `<Tagging ${NS}><TagSet>${tags.map(([k, v]) => `<Tag><Key>${k}</Key><Value>${v}</Value></Tag>`).join('')}</TagSet></Tagging>`;
  it('reads tags', () => {
    assert.deepEqual(
      [
        ...parseTagging(
          tagging([
            ['project', 'x'],
            ['empty', ''],
          ]),
        ),
      ],
      [
        ['project', 'x'],
        ['empty', ''],
      ],
    );
    assert.equal(parseTagging('<Tagging><TagSet></TagSet></Tagging>').size, 0);
  });
  it('enforces S3 limits', () => {
    assert.throws(
      () =>
        parseTagging(
          tagging([
            ['a', '1'],
            ['a', '2'],
          ]),
        ),
      s3('InvalidTag'),
    );
    assert.throws(() => parseTagging(tagging([['k'.repeat(129), 'v']])), s3('InvalidTag'));
    assert.throws(() => parseTagging(tagging([['k', 'v'.repeat(257)]])), s3('InvalidTag'));
    const eleven = Array.from({ length: 11 }, (_, i) => [`k${i}`, 'v'] as [string, string]);
    assert.throws(() => parseTagging(tagging(eleven)), s3('BadRequest'));
    assert.equal(parseTagging(tagging(eleven), 50).size, 11);
    assert.throws(() => parseTagging('<Tagging></Tagging>'), s3('MalformedXML'));
    assert.throws(
      () => parseTagging('<Tagging><TagSet><Tag><Value>v</Value></Tag></TagSet></Tagging>'),
      s3('MalformedXML'),
    );
  });
});

describe('readBoundedBody', () => {
  it('reads a body under the limit and stops at the limit', async () => {
    assert.equal(
      (await readBoundedBody(Readable.from([Buffer.from('ab'), Buffer.from('c')]), 3)).toString(),
      'abc',
    );
    await assert.rejects(
      readBoundedBody(Readable.from([Buffer.from('ab'), Buffer.from('cd')]), 3),
      s3('MaxMessageLengthExceeded'),
    );
  });
});
