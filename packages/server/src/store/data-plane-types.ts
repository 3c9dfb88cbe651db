import type { Tags } from './store-types.js';

/** An S3 bucket. Its policy is the store's resource policy for `arn:aws:s3:::NAME`. */
export interface Bucket {
  name: string;
  /** The principal that created it (shown as the owner in listings). */
  ownerArn: string;
  tags: Tags;
  version: number;
  createdAt: number;
  updatedAt: number;
}

/** What `createBucket` takes. */
export interface NewBucket {
  name: string;
  ownerArn: string;
  tags?: Tags;
}

/** The content headers S3 stores with an object and returns on GET/HEAD. */
export interface ContentHeaders {
  cacheControl?: string;
  contentDisposition?: string;
  contentEncoding?: string;
  contentLanguage?: string;
  /** The `Expires` header verbatim (an HTTP date). */
  expires?: string;
}

/** An object's metadata; its bytes are the blob `blobId` of the object backend. */
export interface ObjectMetadata {
  bucket: string;
  key: string;
  blobId: string;
  size: number;
  /** Unquoted: hex MD5, or the multipart form `hex-N`. */
  etag: string;
  contentType: string | null;
  contentHeaders: ContentHeaders;
  /** `x-amz-meta-*` without the prefix, names lower-cased. */
  userMetadata: Record<string, string>;
  /** Base64 checksums by algorithm (CRC32, CRC32C, SHA1, SHA256), as S3 returns them. */
  checksums: Record<string, string>;
  tags: Tags;
  ownerArn: string | null;
  lastModified: number;
}

/** What `putObject` commits (after the backend made the blob durable). */
export type NewObjectMetadata = Pick<ObjectMetadata, 'bucket' | 'key' | 'blobId' | 'size' | 'etag'> &
  Partial<
    Pick<
      ObjectMetadata,
      'contentType' | 'contentHeaders' | 'userMetadata' | 'checksums' | 'tags' | 'ownerArn'
    >
  >;

/** S3 conditional writes: `If-None-Match: *` (create only) and `If-Match: ETAG` (replace only that). */
export interface WriteConditions {
  ifNoneMatch?: '*';
  /** Unquoted ETag the current object must have. */
  ifMatch?: string;
}

/** The result of committing an object: the blob it replaced, for the caller to delete after commit. */
export interface PutObjectResult {
  object: ObjectMetadata;
  replacedBlobId: string | undefined;
}

/** An object as a listing shows it. */
export interface ObjectSummary {
  key: string;
  size: number;
  etag: string;
  lastModified: number;
  ownerArn: string | null;
  /** The checksum algorithms stored for it (ListObjectsV2 `ChecksumAlgorithm`). */
  checksumAlgorithms: string[];
}

/** Where a listing resumes: after a key, or after every key under a common prefix. */
export interface ListPosition {
  value: string;
  isPrefix: boolean;
}

/** A ListObjects query at the store level (the service turns tokens and markers into `after`). */
export interface ObjectListQuery {
  prefix?: string;
  delimiter?: string;
  /** Exclusive start; with `isPrefix` every key under that common prefix is skipped too. */
  after?: ListPosition;
  /** 0..1000 objects and common prefixes together. */
  maxKeys: number;
}

/** One page of a listing; `next` is the last entry returned when the page is truncated. */
export interface ObjectListing {
  objects: ObjectSummary[];
  commonPrefixes: string[];
  isTruncated: boolean;
  next: ListPosition | undefined;
}

/** A multipart upload in progress; the backend holds the parts' bytes under `uploadId`. */
export interface MultipartUpload {
  uploadId: string;
  bucket: string;
  key: string;
  initiatorArn: string | null;
  contentType: string | null;
  contentHeaders: ContentHeaders;
  userMetadata: Record<string, string>;
  tags: Tags;
  checksumAlgorithm: string | null;
  initiatedAt: number;
}

/** What `createMultipartUpload` takes (the backend chose `uploadId`). */
export type NewMultipartUpload = Pick<MultipartUpload, 'uploadId' | 'bucket' | 'key'> &
  Partial<
    Pick<
      MultipartUpload,
      'initiatorArn' | 'contentType' | 'contentHeaders' | 'userMetadata' | 'tags' | 'checksumAlgorithm'
    >
  >;

/** One uploaded part's metadata. */
export interface MultipartPart {
  uploadId: string;
  partNumber: number;
  /** The backend's id for the part's bytes, when it has one. */
  partId: string | null;
  size: number;
  etag: string;
  checksums: Record<string, string>;
  lastModified: number;
}

/** What `putMultipartPart` takes. */
export type NewMultipartPart = Omit<MultipartPart, 'lastModified' | 'partId' | 'checksums'> &
  Partial<Pick<MultipartPart, 'partId' | 'checksums'>>;

/** A page of uploads (ListMultipartUploads), ordered by key then upload id. */
export interface MultipartUploadListing {
  uploads: MultipartUpload[];
  commonPrefixes: string[];
  isTruncated: boolean;
  nextKeyMarker: string | undefined;
  nextUploadIdMarker: string | undefined;
}
