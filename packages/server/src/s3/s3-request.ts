import type { ContextValue } from '@aiam/policy';
import { s3Arn } from '@aiam/policy';
import { assertValidBucketName, assertValidObjectKey } from './bucket-name.js';
import { S3Error } from './s3-errors.js';

/**
 * Classification of an incoming S3 request: which operation it is, on which bucket and key,
 * and what the policy engine must be asked. Fail closed: every operation in `S3_OPERATIONS`
 * names its IAM action (a test walks the whole table), and anything not in the table is
 * refused (NotImplemented / MethodNotAllowed) instead of falling through to a default.
 *
 * Actions follow AWS's "Actions, resources, and condition keys for Amazon S3" (Service
 * Authorization Reference): HeadObject needs s3:GetObject, HeadBucket and the listings need
 * s3:ListBucket, ListObjectVersions s3:ListBucketVersions, every multipart step but
 * Abort/ListParts/ListMultipartUploads s3:PutObject, and a copy s3:GetObject on its source.
 */

/** Where an operation applies: the account's bucket list, one bucket, or one object. */
export type S3Level = 'service' | 'bucket' | 'object';

/** One row of the operation table. `versionAction` replaces `action` when ?versionId is set. */
export interface S3OperationSpec {
  level: S3Level;
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'DELETE';
  /** The query subresource that selects it (`uploads`, `tagging`, …), or none. */
  subresource?: string;
  action: `s3:${string}`;
  versionAction?: `s3:${string}`;
}

/** Every S3 operation aiam serves, with its IAM action. */
export const S3_OPERATIONS = {
  ListBuckets: { level: 'service', method: 'GET', action: 's3:ListAllMyBuckets' },

  CreateBucket: { level: 'bucket', method: 'PUT', action: 's3:CreateBucket' },
  DeleteBucket: { level: 'bucket', method: 'DELETE', action: 's3:DeleteBucket' },
  HeadBucket: { level: 'bucket', method: 'HEAD', action: 's3:ListBucket' },
  ListObjects: { level: 'bucket', method: 'GET', action: 's3:ListBucket' },
  ListObjectsV2: { level: 'bucket', method: 'GET', subresource: 'list-type', action: 's3:ListBucket' },
  ListObjectVersions: {
    level: 'bucket',
    method: 'GET',
    subresource: 'versions',
    action: 's3:ListBucketVersions',
  },
  ListMultipartUploads: {
    level: 'bucket',
    method: 'GET',
    subresource: 'uploads',
    action: 's3:ListBucketMultipartUploads',
  },
  GetBucketLocation: {
    level: 'bucket',
    method: 'GET',
    subresource: 'location',
    action: 's3:GetBucketLocation',
  },
  GetBucketVersioning: {
    level: 'bucket',
    method: 'GET',
    subresource: 'versioning',
    action: 's3:GetBucketVersioning',
  },
  GetBucketPolicy: { level: 'bucket', method: 'GET', subresource: 'policy', action: 's3:GetBucketPolicy' },
  PutBucketPolicy: { level: 'bucket', method: 'PUT', subresource: 'policy', action: 's3:PutBucketPolicy' },
  DeleteBucketPolicy: {
    level: 'bucket',
    method: 'DELETE',
    subresource: 'policy',
    action: 's3:DeleteBucketPolicy',
  },
  GetBucketTagging: { level: 'bucket', method: 'GET', subresource: 'tagging', action: 's3:GetBucketTagging' },
  PutBucketTagging: { level: 'bucket', method: 'PUT', subresource: 'tagging', action: 's3:PutBucketTagging' },
  // AWS has no s3:DeleteBucketTagging action: deleting tags is authorized as s3:PutBucketTagging.
  DeleteBucketTagging: {
    level: 'bucket',
    method: 'DELETE',
    subresource: 'tagging',
    action: 's3:PutBucketTagging',
  },
  // Authorized per key (s3:DeleteObject on each bucket/key of the body), see `perKeyAction`.
  DeleteObjects: { level: 'bucket', method: 'POST', subresource: 'delete', action: 's3:DeleteObject' },

  GetObject: { level: 'object', method: 'GET', action: 's3:GetObject', versionAction: 's3:GetObjectVersion' },
  HeadObject: {
    level: 'object',
    method: 'HEAD',
    action: 's3:GetObject',
    versionAction: 's3:GetObjectVersion',
  },
  PutObject: { level: 'object', method: 'PUT', action: 's3:PutObject' },
  CopyObject: { level: 'object', method: 'PUT', action: 's3:PutObject' },
  DeleteObject: {
    level: 'object',
    method: 'DELETE',
    action: 's3:DeleteObject',
    versionAction: 's3:DeleteObjectVersion',
  },
  CreateMultipartUpload: { level: 'object', method: 'POST', subresource: 'uploads', action: 's3:PutObject' },
  UploadPart: { level: 'object', method: 'PUT', subresource: 'uploadId', action: 's3:PutObject' },
  UploadPartCopy: { level: 'object', method: 'PUT', subresource: 'uploadId', action: 's3:PutObject' },
  CompleteMultipartUpload: {
    level: 'object',
    method: 'POST',
    subresource: 'uploadId',
    action: 's3:PutObject',
  },
  AbortMultipartUpload: {
    level: 'object',
    method: 'DELETE',
    subresource: 'uploadId',
    action: 's3:AbortMultipartUpload',
  },
  ListParts: {
    level: 'object',
    method: 'GET',
    subresource: 'uploadId',
    action: 's3:ListMultipartUploadParts',
  },
  GetObjectTagging: {
    level: 'object',
    method: 'GET',
    subresource: 'tagging',
    action: 's3:GetObjectTagging',
    versionAction: 's3:GetObjectVersionTagging',
  },
  PutObjectTagging: {
    level: 'object',
    method: 'PUT',
    subresource: 'tagging',
    action: 's3:PutObjectTagging',
    versionAction: 's3:PutObjectVersionTagging',
  },
  DeleteObjectTagging: {
    level: 'object',
    method: 'DELETE',
    subresource: 'tagging',
    action: 's3:DeleteObjectTagging',
    versionAction: 's3:DeleteObjectVersionTagging',
  },
} as const satisfies Record<string, S3OperationSpec>;

/** The name of an S3 operation aiam serves, e.g. `ListObjectsV2`. */
export type S3Operation = keyof typeof S3_OPERATIONS;

/** The subresources aiam routes on, in the order they take precedence. */
const ROUTED_SUBRESOURCES = [
  'uploadId',
  'uploads',
  'tagging',
  'policy',
  'versions',
  'location',
  'versioning',
  'delete',
] as const;

/**
 * S3 subresources aiam does not serve. A request naming one is refused with NotImplemented,
 * never served as the plain operation it would otherwise look like (`GET /b?cors` is not a
 * ListObjects). Unknown parameters outside this list are ignored, as S3 ignores them.
 */
const UNSUPPORTED_SUBRESOURCES = new Set([
  'accelerate',
  'acl',
  'analytics',
  'attributes',
  'cors',
  'encryption',
  'intelligent-tiering',
  'inventory',
  'legal-hold',
  'lifecycle',
  'logging',
  'metadataConfiguration',
  'metadataTable',
  'metrics',
  'notification',
  'object-lock',
  'ownershipControls',
  'policyStatus',
  'publicAccessBlock',
  'renameObject',
  'replication',
  'requestPayment',
  'restore',
  'retention',
  'select',
  'select-type',
  'session',
  'torrent',
  'website',
]);

/** What the HTTP layer hands over: the raw request target (not normalized) and headers. */
export interface S3HttpRequest {
  method: string;
  /** The request target as received (`req.url`): path and query, percent-encoded. */
  url: string;
  /** Header names in lower case, as Node gives them. */
  headers: Readonly<Record<string, string | readonly string[] | undefined>>;
}

/** Options of `classifyS3Request`. */
export interface S3RequestOptions {
  /**
   * Host names (without port) under which buckets are addressed virtual-host style:
   * with `s3.example.com`, `Host: data.s3.example.com` names bucket `data`. Requests to any
   * other host (or the base itself, or an IP) are path style.
   */
  virtualHostBases?: readonly string[];
}

/** One authorization question the request raises. */
export interface S3AuthorizationNeed {
  action: string;
  resource: string;
}

/** The source of CopyObject / UploadPartCopy. */
export interface S3CopySource {
  bucket: string;
  key: string;
  versionId?: string;
}

/** A classified request. */
export interface S3Request {
  operation: S3Operation;
  addressing: 'path' | 'virtual-host';
  bucket?: string;
  key?: string;
  /** Query parameters (decoded; a parameter given twice keeps its first value). */
  query: ReadonlyMap<string, string>;
  versionId?: string;
  uploadId?: string;
  partNumber?: number;
  copySource?: S3CopySource;
  /** The main authorization question: the operation's action on its resource. */
  action: string;
  resource: string;
  /**
   * Every question to ask, the main one first: CopyObject and UploadPartCopy add s3:GetObject
   * (or s3:GetObjectVersion) on the source, PutObject with `x-amz-tagging` adds
   * s3:PutObjectTagging. All must be allowed.
   */
  authorizations: S3AuthorizationNeed[];
  /**
   * Condition keys S3 defines that are known from the request itself (`s3:prefix`,
   * `s3:max-keys`, `s3:x-amz-acl`, `s3:RequestObjectTag/<key>`, …). The caller adds the
   * global keys (`aws:SourceIp`, `aws:CurrentTime`, …), the authentication keys
   * (`s3:authType`, `s3:signatureversion`) and, where `needsExistingObjectTags`, the object's
   * `s3:ExistingObjectTag/<key>` values.
   */
  conditions: Record<string, ContextValue>;
  /** The object's current tags must be loaded into `s3:ExistingObjectTag/<key>` first. */
  needsExistingObjectTags: boolean;
  /** DeleteObjects: `action` must be authorized again for each key of the body. */
  perKeyAction?: string;
}

function headerValue(headers: S3HttpRequest['headers'], name: string): string | undefined {
  const v = headers[name];
  if (v === undefined) return undefined;
  return typeof v === 'string' ? v : v[0];
}

function decodePath(raw: string): string {
  try {
    return decodeURIComponent(raw);
  } catch {
    throw new S3Error('InvalidURI', "Couldn't parse the specified URI: invalid percent-encoding or UTF-8.");
  }
}

function parseQuery(raw: string): Map<string, string> {
  const query = new Map<string, string>();
  if (!raw) return query;
  for (const [name, value] of new URLSearchParams(raw)) if (!query.has(name)) query.set(name, value);
  return query;
}

/** The host name without port, lower case; IPv6 literals keep their brackets. */
function hostName(host: string | undefined): string {
  if (!host) return '';
  const h = host.trim().toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.lastIndexOf(':');
  return colon >= 0 ? h.slice(0, colon) : h;
}

// Names a path-style bucket segment may have at all. Full rules apply on CreateBucket; an
// existing bucket's name is looked up as is, but never with characters that are not in any
// bucket name (which keeps resource ARNs and log lines clean).
const LENIENT_BUCKET = /^[A-Za-z0-9._-]{1,255}$/;

function checkBucketSegment(bucket: string): void {
  if (!LENIENT_BUCKET.test(bucket)) {
    throw new S3Error('InvalidBucketName', 'The specified bucket is not valid.', {
      details: { BucketName: bucket.slice(0, 255) },
    });
  }
}

/** Parses `x-amz-copy-source` (`/bucket/key?versionId=v`, URL-encoded; leading `/` optional). */
export function parseCopySource(value: string): S3CopySource {
  const invalid = () =>
    new S3Error(
      'InvalidArgument',
      'Copy Source must mention the source bucket and key: sourcebucket/sourcekey.',
      {
        details: { ArgumentName: 'x-amz-copy-source', ArgumentValue: value.slice(0, 1100) },
      },
    );
  let v = value.trim();
  if (v.startsWith('/')) v = v.slice(1);
  if (v.startsWith('arn:'))
    throw new S3Error('NotImplemented', 'Access-point copy sources are not supported.');
  const q = v.indexOf('?');
  const query = q >= 0 ? parseQuery(v.slice(q + 1)) : new Map<string, string>();
  const path = q >= 0 ? v.slice(0, q) : v;
  const slash = path.indexOf('/');
  if (slash <= 0 || slash === path.length - 1) throw invalid();
  const bucket = decodePath(path.slice(0, slash));
  const key = decodePath(path.slice(slash + 1));
  checkBucketSegment(bucket);
  assertValidObjectKey(key);
  const versionId = query.get('versionId');
  return versionId === undefined ? { bucket, key } : { bucket, key, versionId };
}

/**
 * Parses `x-amz-tagging` (URL query form, `k1=v1&k2=v2`) into tags, with S3's limits: at
 * most 10 tags, keys up to 128 and values up to 256 characters, no duplicate keys.
 */
export function parseTaggingHeader(value: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(value)) {
    if (k.length === 0 || k.length > 128 || v.length > 256) {
      throw new S3Error('InvalidTag', undefined);
    }
    if (tags.has(k)) throw new S3Error('InvalidTag', 'Cannot provide multiple Tags with the same key');
    tags.set(k, v);
  }
  if (tags.size > 10) throw new S3Error('BadRequest', 'Object tags cannot be greater than 10');
  return tags;
}

const PASSED_HEADER_CONDITIONS = [
  'x-amz-acl',
  'x-amz-grant-read',
  'x-amz-grant-write',
  'x-amz-grant-read-acp',
  'x-amz-grant-write-acp',
  'x-amz-grant-full-control',
  'x-amz-server-side-encryption',
  'x-amz-server-side-encryption-aws-kms-key-id',
  'x-amz-storage-class',
  'x-amz-object-lock-mode',
  'x-amz-object-lock-retain-until-date',
  'x-amz-object-lock-legal-hold',
] as const;

/**
 * Classifies an S3 request. Throws S3Error: MethodNotAllowed (a method the resource does not
 * take), NotImplemented (an S3 feature aiam does not serve), InvalidURI (bad encoding),
 * InvalidBucketName, KeyTooLongError / InvalidArgument (bad key, part number, max-keys,
 * copy source).
 *
 * @example classifyS3Request({ method: 'GET', url: '/data?list-type=2&prefix=a/', headers })
 *   // { operation: 'ListObjectsV2', bucket: 'data', action: 's3:ListBucket', … }
 */
export function classifyS3Request(request: S3HttpRequest, options: S3RequestOptions = {}): S3Request {
  const method = request.method.toUpperCase();
  let target = request.url;
  // Absolute-form targets (RFC 9112 §3.2.2, sent to proxies): drop scheme and authority by
  // hand; `new URL` would normalize `..` and `//`, which are legal in keys.
  const scheme = /^[a-z][a-z0-9+.-]*:\/\/[^/?]*/i.exec(target);
  if (scheme) target = target.slice(scheme[0].length) || '/';
  if (!target.startsWith('/')) throw new S3Error('InvalidURI');
  const q = target.indexOf('?');
  const rawPath = q >= 0 ? target.slice(0, q) : target;
  const query = parseQuery(q >= 0 ? target.slice(q + 1) : '');

  // Addressing: virtual-host style when Host is <bucket>.<base>.
  const host = hostName(headerValue(request.headers, 'host'));
  let bucket: string | undefined;
  let rawKey: string | undefined;
  let addressing: S3Request['addressing'] = 'path';
  for (const base of options.virtualHostBases ?? []) {
    const b = base.toLowerCase();
    if (host.length > b.length + 1 && host.endsWith(`.${b}`)) {
      addressing = 'virtual-host';
      bucket = host.slice(0, host.length - b.length - 1);
      rawKey = rawPath.slice(1);
      break;
    }
  }
  if (addressing === 'path') {
    const rest = rawPath.slice(1);
    const slash = rest.indexOf('/');
    const rawBucket = slash >= 0 ? rest.slice(0, slash) : rest;
    if (rawBucket) bucket = decodePath(rawBucket);
    rawKey = slash >= 0 ? rest.slice(slash + 1) : '';
  }
  const key = rawKey ? decodePath(rawKey) : undefined;
  if (bucket !== undefined) checkBucketSegment(bucket);
  if (key !== undefined) assertValidObjectKey(key);

  const level: S3Level = bucket === undefined ? 'service' : key === undefined ? 'bucket' : 'object';
  for (const name of query.keys()) {
    if (UNSUPPORTED_SUBRESOURCES.has(name)) {
      throw new S3Error('NotImplemented', `The ?${name} subresource is not supported by this server.`);
    }
  }
  const operation = pickOperation(level, method, query, request.headers);
  const spec: S3OperationSpec = S3_OPERATIONS[operation];
  if (operation === 'CreateBucket') assertValidBucketName(bucket!);

  const versionId = query.get('versionId');
  const uploadId = query.get('uploadId');
  const partNumberRaw = query.get('partNumber');
  let partNumber: number | undefined;
  if (partNumberRaw !== undefined) {
    partNumber = Number(partNumberRaw);
    if (!/^\d{1,5}$/.test(partNumberRaw) || partNumber < 1 || partNumber > 10_000) {
      throw new S3Error('InvalidArgument', 'Part number must be an integer between 1 and 10000, inclusive', {
        details: { ArgumentName: 'partNumber', ArgumentValue: partNumberRaw.slice(0, 32) },
      });
    }
  }
  if ((operation === 'UploadPart' || operation === 'UploadPartCopy') && partNumber === undefined) {
    throw new S3Error('InvalidArgument', 'UploadPart needs a partNumber.', {
      details: { ArgumentName: 'partNumber' },
    });
  }

  const action = versionId !== undefined && spec.versionAction ? spec.versionAction : spec.action;
  const resource =
    level === 'service' ? 'arn:aws:s3:::*' : level === 'bucket' ? s3Arn(bucket!) : s3Arn(bucket!, key!);
  const authorizations: S3AuthorizationNeed[] = [{ action, resource }];
  const conditions: Record<string, ContextValue> = {};
  let copySource: S3CopySource | undefined;

  const contentSha = headerValue(request.headers, 'x-amz-content-sha256');
  if (contentSha !== undefined) conditions['s3:x-amz-content-sha256'] = contentSha;
  if (versionId !== undefined) conditions['s3:versionid'] = versionId;

  if (operation === 'ListObjects' || operation === 'ListObjectsV2' || operation === 'ListObjectVersions') {
    for (const name of ['prefix', 'delimiter'] as const) {
      const v = query.get(name);
      if (v !== undefined) conditions[`s3:${name}`] = v;
    }
    const maxKeys = query.get('max-keys');
    if (maxKeys !== undefined) {
      if (!/^\d{1,10}$/.test(maxKeys)) {
        throw new S3Error('InvalidArgument', 'Provided max-keys not an integer or within integer range', {
          details: { ArgumentName: 'max-keys', ArgumentValue: maxKeys.slice(0, 32) },
        });
      }
      conditions['s3:max-keys'] = Number(maxKeys);
    }
  }

  if (operation === 'CopyObject' || operation === 'UploadPartCopy') {
    const raw = headerValue(request.headers, 'x-amz-copy-source')!;
    copySource = parseCopySource(raw);
    authorizations.push({
      action: copySource.versionId !== undefined ? 's3:GetObjectVersion' : 's3:GetObject',
      resource: s3Arn(copySource.bucket, copySource.key),
    });
    conditions['s3:x-amz-copy-source'] = raw;
    const directive = headerValue(request.headers, 'x-amz-metadata-directive');
    if (directive !== undefined) conditions['s3:x-amz-metadata-directive'] = directive;
  }

  if (operation === 'PutObject' || operation === 'CopyObject' || operation === 'CreateMultipartUpload') {
    for (const name of PASSED_HEADER_CONDITIONS) {
      const v = headerValue(request.headers, name);
      if (v !== undefined) conditions[`s3:${name}`] = v;
    }
    const tagging = headerValue(request.headers, 'x-amz-tagging');
    if (tagging !== undefined) {
      const tags = parseTaggingHeader(tagging);
      for (const [k, v] of tags) conditions[`s3:RequestObjectTag/${k}`] = v;
      conditions['s3:RequestObjectTagKeys'] = [...tags.keys()];
      // AWS: tagging on upload also needs s3:PutObjectTagging.
      authorizations.push({ action: 's3:PutObjectTagging', resource });
    }
  }
  if (operation === 'CreateBucket') {
    const acl = headerValue(request.headers, 'x-amz-acl');
    if (acl !== undefined) conditions['s3:x-amz-acl'] = acl;
  }

  const needsExistingObjectTags =
    operation === 'GetObject' ||
    operation === 'HeadObject' ||
    operation === 'GetObjectTagging' ||
    operation === 'PutObjectTagging' ||
    operation === 'DeleteObjectTagging';

  const result: S3Request = {
    operation,
    addressing,
    query,
    action,
    resource,
    authorizations,
    conditions,
    needsExistingObjectTags,
  };
  if (bucket !== undefined) result.bucket = bucket;
  if (key !== undefined) result.key = key;
  if (versionId !== undefined) result.versionId = versionId;
  if (uploadId !== undefined) result.uploadId = uploadId;
  if (partNumber !== undefined) result.partNumber = partNumber;
  if (copySource) result.copySource = copySource;
  if (operation === 'DeleteObjects') result.perKeyAction = 's3:DeleteObject';
  return result;
}

function pickOperation(
  level: S3Level,
  method: string,
  query: ReadonlyMap<string, string>,
  headers: S3HttpRequest['headers'],
): S3Operation {
  const subresource = ROUTED_SUBRESOURCES.find((s) => query.has(s));
  const isCopy = headerValue(headers, 'x-amz-copy-source') !== undefined;
  let found: S3Operation | undefined;
  let levelMatches = false;
  for (const [name, spec] of Object.entries(S3_OPERATIONS) as [S3Operation, S3OperationSpec][]) {
    if (spec.level !== level) continue;
    const specSub = spec.subresource === 'list-type' ? undefined : spec.subresource;
    if (specSub !== subresource) continue;
    levelMatches = true;
    if (spec.method !== method) continue;
    found = name;
    break;
  }
  if (!found) {
    if (subresource && !levelMatches) {
      throw new S3Error('NotImplemented', `The ?${subresource} subresource does not apply to this resource.`);
    }
    throw new S3Error('MethodNotAllowed', `The ${method} method is not allowed against this resource.`, {
      details: { Method: method, ResourceType: level === 'service' ? 'SERVICE' : level.toUpperCase() },
    });
  }
  // Rows that share level, method and subresource, told apart by a parameter or header.
  if (found === 'ListObjects' && query.get('list-type') === '2') return 'ListObjectsV2';
  if (found === 'ListObjects' && query.has('list-type') && query.get('list-type') !== '1') {
    throw new S3Error('InvalidArgument', 'list-type must be 1 or 2.', {
      details: { ArgumentName: 'list-type' },
    });
  }
  if (found === 'PutObject' && isCopy) return 'CopyObject';
  if (found === 'UploadPart' && isCopy) return 'UploadPartCopy';
  return found;
}
