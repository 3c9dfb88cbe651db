// Object storage backends: the byte store under the S3 data plane (see object-backend.ts).
export * from './filesystem-object-backend.js';
export { holdEarlyStreamErrors, IngestMeter } from './ingest-meter.js';
export * from './multipart-etag.js';
export * from './object-backend.js';
export * from './object-garbage-collector.js';
export * from './s3-object-backend.js';
