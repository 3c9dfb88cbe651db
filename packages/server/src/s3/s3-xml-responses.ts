import { escapeXml } from './xml-escape.js';

/**
 * Renders S3's XML response documents in the shapes of the S3 API reference, which the AWS
 * SDK v3 deserializers, boto3/botocore and the aws CLI read: the S3 namespace on the root,
 * elements in the documented order, timestamps as ISO 8601 with milliseconds, ETags quoted.
 * All text goes through `escapeXml`; with `encoding-type=url` the key-like fields are
 * URL-encoded as S3 does (so clients can round-trip keys XML cannot carry).
 */

const XMLNS = 'http://s3.amazonaws.com/doc/2006-03-01/';
const DECL = '<?xml version="1.0" encoding="UTF-8"?>\n';

/** The bucket or upload owner shown in listings. */
export interface S3Owner {
  id: string;
  displayName?: string;
}

/** An object as listed by ListObjects (V1/V2). */
export interface S3ObjectEntry {
  key: string;
  lastModified: Date;
  /** Unquoted; quoted when rendered. */
  etag: string;
  size: number;
  storageClass?: string;
  owner?: S3Owner;
  checksumAlgorithm?: string;
}

/**
 * URL-encodes a value for `encoding-type=url` responses: like encodeURIComponent, with `/`
 * kept and space written as `+`, the form botocore (`unquote_plus`) and S3 itself use.
 */
export function encodeS3Url(value: string): string {
  return encodeURIComponent(value).replace(/%2F/g, '/').replace(/%20/g, '+');
}

/** `<ETag>` quoted as S3 quotes it (`&quot;…&quot;`), whether or not `value` came quoted. */
function etagElement(value: string): string {
  return `<ETag>&quot;${escapeXml(value.replace(/^"|"$/g, ''))}&quot;</ETag>`;
}

class XmlWriter {
  #out = DECL;
  constructor(private readonly encodeUrl: boolean = false) {}

  open(name: string, xmlns = false): this {
    this.#out += xmlns ? `<${name} xmlns="${XMLNS}">` : `<${name}>`;
    return this;
  }
  close(name: string): this {
    this.#out += `</${name}>`;
    return this;
  }
  /** A text element; undefined omits it. */
  el(name: string, value: string | number | boolean | Date | undefined): this {
    if (value === undefined) return this;
    const text = value instanceof Date ? value.toISOString() : String(value);
    this.#out += text === '' ? `<${name}></${name}>` : `<${name}>${escapeXml(text)}</${name}>`;
    return this;
  }
  /** Markup already escaped. */
  raw(markup: string): this {
    this.#out += markup;
    return this;
  }
  /** A key-like value as it is written: URL-encoded when encoding-type=url, not yet XML-escaped. */
  keyText(value: string): string {
    return this.encodeUrl ? encodeS3Url(value) : value;
  }
  /** A text element holding a key-like value, URL-encoded when encoding-type=url. */
  key(name: string, value: string | undefined): this {
    if (value === undefined) return this;
    return this.el(name, this.encodeUrl ? encodeS3Url(value) : value);
  }
  etag(value: string): this {
    this.#out += etagElement(value);
    return this;
  }
  owner(name: string, owner: S3Owner | undefined): this {
    if (!owner) return this;
    return this.open(name).el('ID', owner.id).el('DisplayName', owner.displayName).close(name);
  }
  toString(): string {
    return this.#out;
  }
}

/** ListBuckets: `<ListAllMyBucketsResult>`. */
export function renderListAllMyBuckets(input: {
  owner: S3Owner;
  buckets: readonly { name: string; creationDate: Date; region?: string }[];
}): string {
  const w = new XmlWriter().open('ListAllMyBucketsResult', true).owner('Owner', input.owner).open('Buckets');
  for (const b of input.buckets) {
    w.open('Bucket')
      .el('Name', b.name)
      .el('CreationDate', b.creationDate)
      .el('BucketRegion', b.region)
      .close('Bucket');
  }
  return w.close('Buckets').close('ListAllMyBucketsResult').toString();
}

function writeContents(w: XmlWriter, objects: readonly S3ObjectEntry[], withOwner: boolean): void {
  // The same elements `key`/`el`/`etag` write, as one template per entry: a page of 1,000
  // entries is 7,000 elements, and this loop was most of a listing's rendering time.
  for (const o of objects) {
    const checksum = o.checksumAlgorithm
      ? `<ChecksumAlgorithm>${escapeXml(o.checksumAlgorithm)}</ChecksumAlgorithm>`
      : '';
    w.raw(
      `<Contents><Key>${escapeXml(w.keyText(o.key))}</Key><LastModified>${o.lastModified.toISOString()}</LastModified>` +
        `${etagElement(o.etag)}${checksum}<Size>${o.size}</Size>`,
    );
    if (withOwner) w.owner('Owner', o.owner);
    w.raw(`<StorageClass>${escapeXml(o.storageClass ?? 'STANDARD')}</StorageClass></Contents>`);
  }
}

function writeCommonPrefixes(w: XmlWriter, prefixes: readonly string[]): void {
  for (const p of prefixes) w.open('CommonPrefixes').key('Prefix', p).close('CommonPrefixes');
}

/** ListObjectsV2: `<ListBucketResult>` with KeyCount and continuation tokens. */
export function renderListObjectsV2(input: {
  bucket: string;
  prefix?: string;
  delimiter?: string;
  maxKeys: number;
  encodingType?: 'url';
  startAfter?: string;
  continuationToken?: string;
  nextContinuationToken?: string;
  isTruncated: boolean;
  objects: readonly S3ObjectEntry[];
  commonPrefixes: readonly string[];
  fetchOwner?: boolean;
}): string {
  const w = new XmlWriter(input.encodingType === 'url').open('ListBucketResult', true);
  w.el('Name', input.bucket).key('Prefix', input.prefix ?? '');
  w.key('Delimiter', input.delimiter);
  w.el('MaxKeys', input.maxKeys).el('EncodingType', input.encodingType);
  w.el('KeyCount', input.objects.length + input.commonPrefixes.length).el('IsTruncated', input.isTruncated);
  w.el('ContinuationToken', input.continuationToken).el('NextContinuationToken', input.nextContinuationToken);
  w.key('StartAfter', input.startAfter);
  writeContents(w, input.objects, input.fetchOwner === true);
  writeCommonPrefixes(w, input.commonPrefixes);
  return w.close('ListBucketResult').toString();
}

/** ListObjects (V1): `<ListBucketResult>` with Marker/NextMarker; owners always shown. */
export function renderListObjectsV1(input: {
  bucket: string;
  prefix?: string;
  marker?: string;
  nextMarker?: string;
  delimiter?: string;
  maxKeys: number;
  encodingType?: 'url';
  isTruncated: boolean;
  objects: readonly S3ObjectEntry[];
  commonPrefixes: readonly string[];
}): string {
  const w = new XmlWriter(input.encodingType === 'url').open('ListBucketResult', true);
  w.el('Name', input.bucket)
    .key('Prefix', input.prefix ?? '')
    .key('Marker', input.marker ?? '');
  // S3 sends NextMarker only when a delimiter was given; clients then page by the last key.
  w.key('NextMarker', input.delimiter !== undefined ? input.nextMarker : undefined);
  w.el('MaxKeys', input.maxKeys).key('Delimiter', input.delimiter).el('IsTruncated', input.isTruncated);
  w.el('EncodingType', input.encodingType);
  writeContents(w, input.objects, true);
  writeCommonPrefixes(w, input.commonPrefixes);
  return w.close('ListBucketResult').toString();
}

/** One row of ListObjectVersions; an unversioned bucket lists every object as version `null`. */
export interface S3VersionEntry extends S3ObjectEntry {
  versionId: string;
  isLatest: boolean;
  isDeleteMarker?: boolean;
}

/** ListObjectVersions: `<ListVersionsResult>`. */
export function renderListObjectVersions(input: {
  bucket: string;
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  versionIdMarker?: string;
  nextKeyMarker?: string;
  nextVersionIdMarker?: string;
  maxKeys: number;
  encodingType?: 'url';
  isTruncated: boolean;
  versions: readonly S3VersionEntry[];
  commonPrefixes: readonly string[];
}): string {
  const w = new XmlWriter(input.encodingType === 'url').open('ListVersionsResult', true);
  w.el('Name', input.bucket).key('Prefix', input.prefix ?? '');
  w.key('KeyMarker', input.keyMarker ?? '').el('VersionIdMarker', input.versionIdMarker ?? '');
  w.key('NextKeyMarker', input.nextKeyMarker).el('NextVersionIdMarker', input.nextVersionIdMarker);
  w.el('MaxKeys', input.maxKeys).key('Delimiter', input.delimiter).el('EncodingType', input.encodingType);
  w.el('IsTruncated', input.isTruncated);
  for (const v of input.versions) {
    if (v.isDeleteMarker) {
      w.open('DeleteMarker').key('Key', v.key).el('VersionId', v.versionId).el('IsLatest', v.isLatest);
      w.el('LastModified', v.lastModified).owner('Owner', v.owner).close('DeleteMarker');
      continue;
    }
    w.open('Version').key('Key', v.key).el('VersionId', v.versionId).el('IsLatest', v.isLatest);
    w.el('LastModified', v.lastModified).etag(v.etag).el('Size', v.size).owner('Owner', v.owner);
    w.el('StorageClass', v.storageClass ?? 'STANDARD').close('Version');
  }
  writeCommonPrefixes(w, input.commonPrefixes);
  return w.close('ListVersionsResult').toString();
}

/** CreateMultipartUpload: `<InitiateMultipartUploadResult>`. */
export function renderInitiateMultipartUpload(input: {
  bucket: string;
  key: string;
  uploadId: string;
}): string {
  return new XmlWriter()
    .open('InitiateMultipartUploadResult', true)
    .el('Bucket', input.bucket)
    .el('Key', input.key)
    .el('UploadId', input.uploadId)
    .close('InitiateMultipartUploadResult')
    .toString();
}

/** Base64 checksums as response elements (`<ChecksumCRC32>`…). */
type ChecksumFields = Partial<Record<'CRC32' | 'CRC32C' | 'SHA1' | 'SHA256', string>>;

function writeChecksums(w: XmlWriter, checksums: ChecksumFields | undefined): void {
  for (const alg of ['CRC32', 'CRC32C', 'SHA1', 'SHA256'] as const) w.el(`Checksum${alg}`, checksums?.[alg]);
}

/**
 * CompleteMultipartUpload: `<CompleteMultipartUploadResult>`. Sent with status 200 even when
 * the server has already begun the response; an error after that point is sent as an
 * `<Error>` document in the body instead (S3 does the same, and the SDKs check for it).
 */
export function renderCompleteMultipartUpload(input: {
  location: string;
  bucket: string;
  key: string;
  etag: string;
  checksums?: ChecksumFields;
}): string {
  const w = new XmlWriter().open('CompleteMultipartUploadResult', true);
  w.el('Location', input.location).el('Bucket', input.bucket).el('Key', input.key).etag(input.etag);
  writeChecksums(w, input.checksums);
  return w.close('CompleteMultipartUploadResult').toString();
}

/** ListParts: `<ListPartsResult>`. */
export function renderListParts(input: {
  bucket: string;
  key: string;
  uploadId: string;
  partNumberMarker: number;
  nextPartNumberMarker: number;
  maxParts: number;
  isTruncated: boolean;
  initiator: S3Owner;
  owner: S3Owner;
  storageClass?: string;
  parts: readonly {
    partNumber: number;
    lastModified: Date;
    etag: string;
    size: number;
    checksums?: ChecksumFields;
  }[];
}): string {
  const w = new XmlWriter().open('ListPartsResult', true);
  w.el('Bucket', input.bucket).el('Key', input.key).el('UploadId', input.uploadId);
  w.el('PartNumberMarker', input.partNumberMarker).el('NextPartNumberMarker', input.nextPartNumberMarker);
  w.el('MaxParts', input.maxParts).el('IsTruncated', input.isTruncated);
  for (const p of input.parts) {
    w.open('Part').el('PartNumber', p.partNumber).el('LastModified', p.lastModified).etag(p.etag);
    w.el('Size', p.size);
    writeChecksums(w, p.checksums);
    w.close('Part');
  }
  w.owner('Initiator', input.initiator).owner('Owner', input.owner);
  w.el('StorageClass', input.storageClass ?? 'STANDARD');
  return w.close('ListPartsResult').toString();
}

/** ListMultipartUploads: `<ListMultipartUploadsResult>`. */
export function renderListMultipartUploads(input: {
  bucket: string;
  prefix?: string;
  delimiter?: string;
  keyMarker?: string;
  uploadIdMarker?: string;
  nextKeyMarker?: string;
  nextUploadIdMarker?: string;
  maxUploads: number;
  encodingType?: 'url';
  isTruncated: boolean;
  uploads: readonly { key: string; uploadId: string; initiator: S3Owner; owner: S3Owner; initiated: Date }[];
  commonPrefixes: readonly string[];
}): string {
  const w = new XmlWriter(input.encodingType === 'url').open('ListMultipartUploadsResult', true);
  w.el('Bucket', input.bucket)
    .key('KeyMarker', input.keyMarker ?? '')
    .el('UploadIdMarker', input.uploadIdMarker ?? '');
  w.key('NextKeyMarker', input.nextKeyMarker ?? '').el('NextUploadIdMarker', input.nextUploadIdMarker ?? '');
  w.key('Prefix', input.prefix).key('Delimiter', input.delimiter).el('MaxUploads', input.maxUploads);
  w.el('EncodingType', input.encodingType).el('IsTruncated', input.isTruncated);
  for (const u of input.uploads) {
    w.open('Upload').key('Key', u.key).el('UploadId', u.uploadId).owner('Initiator', u.initiator);
    w.owner('Owner', u.owner).el('StorageClass', 'STANDARD').el('Initiated', u.initiated).close('Upload');
  }
  writeCommonPrefixes(w, input.commonPrefixes);
  return w.close('ListMultipartUploadsResult').toString();
}

/** CopyObject (`CopyObjectResult`) or UploadPartCopy (`CopyPartResult`). */
export function renderCopyResult(input: {
  kind?: 'CopyObjectResult' | 'CopyPartResult';
  lastModified: Date;
  etag: string;
  checksums?: ChecksumFields;
}): string {
  const root = input.kind ?? 'CopyObjectResult';
  const w = new XmlWriter().open(root, true).el('LastModified', input.lastModified).etag(input.etag);
  writeChecksums(w, input.checksums);
  return w.close(root).toString();
}

/** DeleteObjects: `<DeleteResult>` (quiet mode lists errors only: pass no `deleted`). */
export function renderDeleteResult(input: {
  deleted: readonly {
    key: string;
    versionId?: string;
    deleteMarker?: boolean;
    deleteMarkerVersionId?: string;
  }[];
  errors: readonly { key: string; versionId?: string; code: string; message: string }[];
}): string {
  const w = new XmlWriter().open('DeleteResult', true);
  for (const d of input.deleted) {
    w.open('Deleted').el('Key', d.key).el('VersionId', d.versionId).el('DeleteMarker', d.deleteMarker);
    w.el('DeleteMarkerVersionId', d.deleteMarkerVersionId).close('Deleted');
  }
  for (const e of input.errors) {
    w.open('Error').el('Key', e.key).el('VersionId', e.versionId).el('Code', e.code).el('Message', e.message);
    w.close('Error');
  }
  return w.close('DeleteResult').toString();
}

/** GetObjectTagging / GetBucketTagging: `<Tagging><TagSet>`. */
export function renderTagging(tags: ReadonlyMap<string, string> | Readonly<Record<string, string>>): string {
  const entries = tags instanceof Map ? [...tags] : Object.entries(tags);
  const w = new XmlWriter().open('Tagging', true).open('TagSet');
  for (const [k, v] of entries) w.open('Tag').el('Key', k).el('Value', v).close('Tag');
  return w.close('TagSet').close('Tagging').toString();
}

/**
 * GetBucketLocation: `<LocationConstraint>`; empty for us-east-1, as S3 answers (and as the
 * SDKs expect: they map the empty value to us-east-1).
 */
export function renderLocationConstraint(region: string | undefined): string {
  const value = region && region !== 'us-east-1' ? escapeXml(region) : '';
  return `${DECL}<LocationConstraint xmlns="${XMLNS}">${value}</LocationConstraint>`;
}

/** GetBucketVersioning for a bucket that was never versioned: an empty configuration. */
export function renderVersioningConfiguration(status?: 'Enabled' | 'Suspended'): string {
  const w = new XmlWriter().open('VersioningConfiguration', true).el('Status', status);
  return w.close('VersioningConfiguration').toString();
}
