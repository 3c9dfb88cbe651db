// The S3-compatible data plane over HTTP: every public export of the s3-api folder, named.
// startServer opens it with openS3Surface and registers its RawSurface after the gateway.
export { cleanObjectStorage, type ObjectJanitorOptions, type ObjectJanitorReport } from './object-janitor.js';
export { S3ApiHandler, type S3ApiHandlerOptions } from './s3-api-handler.js';
export {
  ANONYMOUS_PRINCIPAL,
  authenticateS3,
  buildS3Context,
  type S3Caller,
  type S3Identity,
  toS3AuthError,
} from './s3-authentication.js';
export { type S3BodySource, readSmallBody, uploadBody } from './s3-request-body.js';
export { openS3Surface, parseVirtualHostBases, type S3Surface, type S3SurfaceOptions } from './s3-surface.js';
export { isS3Request, RESERVED_BUCKET_NAMES } from './s3-surface-claim.js';
