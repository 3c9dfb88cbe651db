import type { Clock } from '../clock.js';
import type { ObjectBackend } from '../objects/object-backend.js';
import { collectObjectGarbage } from '../objects/object-garbage-collector.js';
import type { Logger } from '../observability/logger.js';
import { ObjectService } from '../services/object-service.js';
import type { Store } from '../store/store.js';

/** Options of {@link cleanObjectStorage}. */
export interface ObjectJanitorOptions {
  readonly store: Store;
  readonly backend: ObjectBackend;
  readonly clock: Clock;
  readonly logger: Logger;
  /** Temporary files older than this are removed (0 at startup: nothing is writing yet). */
  readonly temporaryOlderThanMs: number;
  /** Multipart uploads initiated longer ago are aborted (S3's lifecycle rule role). Default 7 days. */
  readonly staleUploadMs?: number;
}

/** What one cleaning pass removed. */
export interface ObjectJanitorReport {
  temporary: number;
  staleUploads: number;
  orphanBlobs: number;
  unknownUploads: number;
}

/** Every blob id metadata references, read bucket by bucket (the store has no reverse index). */
async function referencedBlobs(store: Store): Promise<Set<string>> {
  const ids = new Set<string>();
  for (const bucket of await store.listBuckets()) {
    let after: { value: string; isPrefix: boolean } | undefined;
    for (;;) {
      const page = await store.listObjects(bucket.name, { maxKeys: 1000, ...(after ? { after } : {}) });
      for (const o of page.objects) {
        const meta = await store.getObject(bucket.name, o.key);
        if (meta) ids.add(meta.blobId);
      }
      if (!page.isTruncated || !page.next) break;
      after = page.next;
    }
  }
  return ids;
}

/**
 * One cleaning pass over object storage: removes temporary files of interrupted writes,
 * aborts multipart uploads older than `staleUploadMs` (metadata first, then bytes), and
 * deletes blobs and uploads that no metadata references (a crash between publishing a blob
 * and committing its metadata). Young unreferenced blobs are left alone: a write in progress
 * publishes first and commits just after (the collector's grace period).
 */
export async function cleanObjectStorage(options: ObjectJanitorOptions): Promise<ObjectJanitorReport> {
  const { store, backend, clock } = options;
  const staleUploadMs = options.staleUploadMs ?? 7 * 24 * 60 * 60 * 1000;
  const temporary = await backend.sweepTemporary(options.temporaryOlderThanMs);
  const staleUploads = await new ObjectService({ store }).cleanupStaleUploads(
    staleUploadMs,
    clock.now(),
    (id) => backend.abortMultipartUpload(id),
  );
  let referenced: Promise<Set<string>> | undefined;
  const garbage = await collectObjectGarbage(backend, {
    clock,
    staleUploadMs,
    isBlobReferenced: async (id) => {
      referenced ??= referencedBlobs(store);
      return (await referenced).has(id);
    },
    isUploadKnown: async (uploadId) => (await store.getMultipartUpload(uploadId)) !== undefined,
  });
  const report = {
    temporary,
    staleUploads,
    orphanBlobs: garbage.deletedBlobs.length,
    unknownUploads: garbage.abortedUploads.length,
  };
  if (Object.values(report).some((n) => n > 0)) options.logger.info('cleaned object storage', { ...report });
  return report;
}
