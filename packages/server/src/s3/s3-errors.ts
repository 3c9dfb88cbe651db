import { AiamError, isAiamError } from '@aiam/policy';
import { escapeXml } from './xml-escape.js';

/**
 * S3's error vocabulary: every code the data plane can answer with, its HTTP status and S3's
 * default message (AWS S3 API reference, "Error responses" / "List of error codes"). Stock
 * clients branch on the code (the AWS SDK retries `RequestTimeTooSkewed` after correcting its
 * clock, `SlowDown`/`InternalError`/`ServiceUnavailable` with back-off), so codes and statuses
 * must be exactly S3's.
 */
export const S3_ERROR_CODES = {
  AccessDenied: [403, 'Access Denied'],
  AccountProblem: [403, 'There is a problem with your account that prevents the operation from completing.'],
  BadRequest: [400, 'Bad Request'],
  BadDigest: [
    400,
    'The Content-MD5 or checksum value that you specified did not match what the server received.',
  ],
  BucketAlreadyExists: [
    409,
    'The requested bucket name is not available. The bucket namespace is shared by all users of the system. Select a different name and try again.',
  ],
  BucketAlreadyOwnedByYou: [409, 'The bucket that you tried to create already exists, and you own it.'],
  BucketNotEmpty: [409, 'The bucket that you tried to delete is not empty.'],
  EntityTooLarge: [400, 'Your proposed upload exceeds the maximum allowed object size.'],
  EntityTooSmall: [400, 'Your proposed upload is smaller than the minimum allowed object size.'],
  ExpiredToken: [400, 'The provided token has expired.'],
  IncompleteBody: [
    400,
    'You did not provide the number of bytes specified by the Content-Length HTTP header.',
  ],
  InternalError: [500, 'We encountered an internal error. Please try again.'],
  InvalidAccessKeyId: [403, 'The AWS access key ID that you provided does not exist in our records.'],
  InvalidArgument: [400, 'Invalid Argument'],
  InvalidBucketName: [400, 'The specified bucket is not valid.'],
  InvalidDigest: [400, 'The Content-MD5 or checksum value that you specified is not valid.'],
  InvalidLocationConstraint: [400, 'The specified location constraint is not valid.'],
  InvalidObjectState: [403, 'The operation is not valid for the current state of the object.'],
  InvalidPart: [
    400,
    "One or more of the specified parts could not be found. The part might not have been uploaded, or the specified ETag might not have matched the uploaded part's ETag.",
  ],
  InvalidPartOrder: [
    400,
    'The list of parts was not in ascending order. The parts list must be specified in order by part number.',
  ],
  InvalidRange: [416, 'The requested range is not satisfiable.'],
  InvalidRequest: [400, 'Invalid Request'],
  InvalidTag: [400, 'The tag provided was not a valid tag.'],
  InvalidToken: [400, 'The provided token is malformed or otherwise invalid.'],
  InvalidURI: [400, "Couldn't parse the specified URI."],
  KeyTooLongError: [400, 'Your key is too long.'],
  MalformedPolicy: [400, "Policies must be valid JSON and the first byte must be '{'"],
  MalformedXML: [
    400,
    'The XML you provided was not well-formed or did not validate against our published schema.',
  ],
  MaxMessageLengthExceeded: [400, 'Your request was too big.'],
  MetadataTooLarge: [400, 'Your metadata headers exceed the maximum allowed metadata size.'],
  MethodNotAllowed: [405, 'The specified method is not allowed against this resource.'],
  MissingContentLength: [411, 'You must provide the Content-Length HTTP header.'],
  MissingRequestBodyError: [400, 'Request Body is empty.'],
  MissingSecurityHeader: [400, 'Your request is missing a required header.'],
  NoSuchBucket: [404, 'The specified bucket does not exist.'],
  NoSuchBucketPolicy: [404, 'The bucket policy does not exist.'],
  NoSuchKey: [404, 'The specified key does not exist.'],
  NoSuchTagSet: [404, 'The TagSet does not exist.'],
  NoSuchUpload: [
    404,
    'The specified multipart upload does not exist. The upload ID might not be valid, or the multipart upload might have been aborted or completed.',
  ],
  NoSuchVersion: [404, 'The version ID specified in the request does not match an existing version.'],
  NotImplemented: [501, 'A header or query you provided implies functionality that is not implemented.'],
  NotModified: [304, 'Not Modified'],
  OperationAborted: [
    409,
    'A conflicting conditional operation is currently in progress against this resource. Try again.',
  ],
  PreconditionFailed: [412, 'At least one of the preconditions that you specified did not hold.'],
  RequestTimeout: [
    400,
    'Your socket connection to the server was not read from or written to within the timeout period.',
  ],
  RequestTimeTooSkewed: [403, "The difference between the request time and the server's time is too large."],
  ServiceUnavailable: [503, 'Service is unable to handle request.'],
  SignatureDoesNotMatch: [
    403,
    'The request signature we calculated does not match the signature you provided. Check your key and signing method.',
  ],
  SlowDown: [503, 'Please reduce your request rate.'],
  TooManyBuckets: [400, 'You have attempted to create more buckets than allowed.'],
  XAmzContentSHA256Mismatch: [
    400,
    "The provided 'x-amz-content-sha256' header does not match what was computed.",
  ],
} as const satisfies Record<string, readonly [number, string]>;

/** One of S3's error codes, e.g. `NoSuchKey`. */
export type S3ErrorCode = keyof typeof S3_ERROR_CODES;

/** Fields S3 adds to some error documents (`<BucketName>`, `<Key>`, `<UploadId>`, …). */
export type S3ErrorDetails = Readonly<Record<string, string | number | undefined>>;

/** `NoSuchKey` -> `ERR_S3_NO_SUCH_KEY`: the stable `AiamError.code` of an S3 error. */
function aiamCodeOf(s3Code: string): string {
  return `ERR_S3_${s3Code
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .toUpperCase()}`;
}

/**
 * An error the S3 data plane answers with. `s3Code` and `status` are S3's; `code` is the
 * aiam-style stable code (`ERR_S3_NO_SUCH_KEY`). `details` become extra elements of the XML
 * error document, as S3 sends them (e.g. `<BucketName>` for NoSuchBucket).
 *
 * @example throw new S3Error('NoSuchKey', undefined, { details: { Key: key } })
 */
export class S3Error extends AiamError {
  readonly s3Code: S3ErrorCode;
  readonly status: number;
  readonly details: S3ErrorDetails;

  constructor(
    s3Code: S3ErrorCode,
    message?: string,
    options?: { cause?: unknown; details?: S3ErrorDetails },
  ) {
    const [status, defaultMessage] = S3_ERROR_CODES[s3Code];
    super(aiamCodeOf(s3Code), message ?? defaultMessage, options);
    this.s3Code = s3Code;
    this.status = status;
    this.details = options?.details ?? {};
  }
}

/** True for an `S3Error`, also across duplicated module copies. */
export function isS3Error(value: unknown): value is S3Error {
  return (
    value instanceof S3Error ||
    (isAiamError(value) &&
      typeof (value as { s3Code?: unknown }).s3Code === 'string' &&
      Object.hasOwn(S3_ERROR_CODES, (value as unknown as { s3Code: string }).s3Code))
  );
}

/**
 * Codes of other aiam errors that have an exact S3 counterpart. The identity module raises
 * `AuthenticationError` with one of the first codes; S3 clients need the distinction (the SDK
 * corrects its clock on RequestTimeTooSkewed), and S3 itself reveals it, so this is the one
 * place where an authentication failure is told apart. Messages stay S3's generic ones.
 */
const CODE_TO_S3: Readonly<Record<string, S3ErrorCode>> = {
  ERR_SIGNATURE_DOES_NOT_MATCH: 'SignatureDoesNotMatch',
  ERR_SIGNATURE_MISMATCH: 'SignatureDoesNotMatch',
  ERR_INVALID_ACCESS_KEY_ID: 'InvalidAccessKeyId',
  ERR_UNKNOWN_ACCESS_KEY: 'InvalidAccessKeyId',
  ERR_REQUEST_TIME_TOO_SKEWED: 'RequestTimeTooSkewed',
  ERR_CLOCK_SKEW: 'RequestTimeTooSkewed',
  ERR_EXPIRED_TOKEN: 'ExpiredToken',
  ERR_INVALID_TOKEN: 'InvalidToken',
  ERR_CONTENT_SHA256_MISMATCH: 'XAmzContentSHA256Mismatch',
  ERR_MISSING_SECURITY_HEADER: 'MissingSecurityHeader',
  ERR_POLICY_INVALID: 'MalformedPolicy',
  ERR_INVALID_RESOURCE_NAME: 'InvalidArgument',
  ERR_NO_SUCH_BUCKET: 'NoSuchBucket',
  ERR_NO_SUCH_KEY: 'NoSuchKey',
  ERR_NO_SUCH_UPLOAD: 'NoSuchUpload',
  ERR_NO_SUCH_BUCKET_POLICY: 'NoSuchBucketPolicy',
  ERR_NO_SUCH_VERSION: 'NoSuchVersion',
  ERR_BUCKET_NOT_EMPTY: 'BucketNotEmpty',
  ERR_BUCKET_ALREADY_EXISTS: 'BucketAlreadyExists',
  ERR_BUCKET_ALREADY_OWNED_BY_YOU: 'BucketAlreadyOwnedByYou',
  ERR_PRECONDITION_FAILED: 'PreconditionFailed',
  ERR_RATE_LIMITED: 'SlowDown',
  ERR_UNAVAILABLE: 'ServiceUnavailable',
  ERR_LIMIT_EXCEEDED: 'InvalidRequest',
};

/** Authentication codes whose detail S3 does not reveal: they all read as AccessDenied. */
const AUTH_FALLBACK = /^ERR_(UNAUTHENTICATED|EXPIRED|ACCESS_DENIED|.*_DISABLED)/;

/**
 * Maps any thrown value to the `S3Error` the data plane answers with: the one place where
 * aiam's domain errors (`packages/server/src/errors.ts`, `@aiam/policy`) become S3 codes.
 * `hint` tells which 404 a generic `NotFoundError` means. Unknown values become InternalError
 * with S3's generic message: internal details never reach the client (they stay in `cause`).
 */
export function toS3Error(error: unknown, hint?: { bucket?: string; key?: string }): S3Error {
  if (isS3Error(error)) return error;
  if (!isAiamError(error)) return new S3Error('InternalError', undefined, { cause: error });
  const mapped = CODE_TO_S3[error.code];
  if (mapped) {
    // Authentication and internal failures keep S3's fixed message; domain errors keep theirs.
    const generic =
      mapped === 'SignatureDoesNotMatch' ||
      mapped === 'InvalidAccessKeyId' ||
      mapped === 'RequestTimeTooSkewed' ||
      mapped === 'ServiceUnavailable';
    return new S3Error(mapped, generic ? undefined : error.message, { cause: error });
  }
  // Otherwise by kind (the class name survives duplicated module copies), so a domain error
  // with a code of its own still gets the right family of S3 answer.
  const kind = error.name;
  if (error.code === 'ERR_NOT_FOUND' || kind === 'NotFoundError') {
    const code: S3ErrorCode = hint?.key !== undefined ? 'NoSuchKey' : 'NoSuchBucket';
    return new S3Error(code, undefined, { cause: error });
  }
  if (error.code === 'ERR_INVALID_INPUT' || kind === 'InputError') {
    return new S3Error('InvalidArgument', error.message, { cause: error });
  }
  if (error.code === 'ERR_CONFLICT' || kind === 'ConflictError') {
    return new S3Error('OperationAborted', error.message, { cause: error });
  }
  if (kind === 'AuthenticationError' || kind === 'NotAllowedError' || AUTH_FALLBACK.test(error.code)) {
    return new S3Error('AccessDenied', undefined, { cause: error });
  }
  return new S3Error('InternalError', undefined, { cause: error });
}

/**
 * Renders S3's XML error document:
 * `<Error><Code/><Message/>[details]<Resource/><RequestId/></Error>`. A HEAD response carries
 * no body; the HTTP layer sends status and `x-amz-request-id` only.
 */
export function renderS3ErrorXml(error: S3Error, requestId: string, resource?: string): string {
  let xml = `<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${error.s3Code}</Code><Message>${escapeXml(error.message)}</Message>`;
  for (const [name, value] of Object.entries(error.details)) {
    if (value === undefined || !/^[A-Za-z][A-Za-z0-9]*$/.test(name)) continue;
    xml += `<${name}>${escapeXml(String(value))}</${name}>`;
  }
  if (resource !== undefined) xml += `<Resource>${escapeXml(resource)}</Resource>`;
  xml += `<RequestId>${escapeXml(requestId)}</RequestId></Error>`;
  return xml;
}
