// The S3 data plane's protocol pieces, free of HTTP-server concerns (they take headers,
// strings and streams). The HTTP wiring, per request:
//   1. classifyS3Request(req)            -> operation, bucket/key, authorizations, conditions
//   2. authenticate (SigV4), then authorize every `authorizations` entry with `conditions`
//      (+ s3:ExistingObjectTag/… when needsExistingObjectTags; per key for DeleteObjects)
//   3. bodies: AwsChunkedDecoder when isAwsChunkedMode(x-amz-content-sha256);
//      expectedChecksumsFromHeaders / trailerChecksumAlgorithms / mergeTrailerChecksums
//      -> ObjectBackend.put options; XML bodies via readBoundedBody + parse*
//   4. reads: resolveRange, checkConditionalHeaders, ObjectBackend.get
//   5. answers: render* from s3-xml-responses; errors: toS3Error + renderS3ErrorXml
export * from './aws-chunked-decoder.js';
export * from './bucket-name.js';
export * from './checksums.js';
export * from './conditional-request.js';
export * from './range-header.js';
export * from './s3-errors.js';
export * from './s3-request.js';
export * from './s3-xml.js';
export * from './s3-xml-responses.js';
export { escapeXml } from './xml-escape.js';
