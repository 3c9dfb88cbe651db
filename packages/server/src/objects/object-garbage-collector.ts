import type { Clock } from '../clock.js';
import type { ObjectBackend } from './object-backend.js';

/** Options of `collectObjectGarbage`. */
export interface ObjectGarbageOptions {
  /** True when metadata points at this blob id (an object, or a version of one). */
  isBlobReferenced(id: string): Promise<boolean>;
  /** True when metadata still knows this multipart upload. */
  isUploadKnown(uploadId: string): Promise<boolean>;
  clock: Clock;
  /**
   * Blobs younger than this are left alone even when unreferenced: a write publishes its blob
   * first and commits metadata just after, so a young unreferenced blob may be about to be
   * referenced. Default one hour.
   */
  blobGraceMs?: number;
  /** Uploads untouched for this long are aborted even if known (S3 lifecycle's role). Default 7 days. */
  staleUploadMs?: number;
  /** Uploads unknown to metadata are aborted after this long (same race as blobs). Default one hour. */
  unknownUploadGraceMs?: number;
}

/** What a collection removed. Aborted uploads that metadata knew must be dropped from it too. */
export interface ObjectGarbageReport {
  deletedBlobs: string[];
  abortedUploads: string[];
}

/**
 * Removes what interrupted writes and abandoned uploads leave behind: blobs published but
 * never (or no longer) referenced by metadata — a process killed between the rename and the
 * metadata commit, or an overwrite whose old blob's delete failed — and multipart uploads that
 * are unknown to metadata or stale. Run it at startup after `sweepTemporary(0)` and then
 * periodically; it is idempotent and safe to interrupt.
 */
export async function collectObjectGarbage(
  backend: ObjectBackend,
  options: ObjectGarbageOptions,
): Promise<ObjectGarbageReport> {
  const now = options.clock.now();
  const blobGrace = options.blobGraceMs ?? 60 * 60 * 1000;
  const staleUpload = options.staleUploadMs ?? 7 * 24 * 60 * 60 * 1000;
  const unknownGrace = options.unknownUploadGraceMs ?? 60 * 60 * 1000;
  const report: ObjectGarbageReport = { deletedBlobs: [], abortedUploads: [] };
  for await (const blob of backend.listBlobs()) {
    if (now - blob.modifiedAt.getTime() < blobGrace) continue;
    if (await options.isBlobReferenced(blob.id)) continue;
    await backend.delete(blob.id);
    report.deletedBlobs.push(blob.id);
  }
  for await (const upload of backend.listMultipartUploads()) {
    const age = now - upload.modifiedAt.getTime();
    const known = await options.isUploadKnown(upload.uploadId);
    if ((known && age >= staleUpload) || (!known && age >= unknownGrace)) {
      await backend.abortMultipartUpload(upload.uploadId).catch((error: unknown) => {
        // Completed or aborted meanwhile: nothing left to collect.
        if ((error as { s3Code?: string }).s3Code !== 'NoSuchUpload') throw error;
      });
      report.abortedUploads.push(upload.uploadId);
    }
  }
  return report;
}
