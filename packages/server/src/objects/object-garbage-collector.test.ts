import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { FilesystemObjectBackend } from './filesystem-object-backend.js';
import { collectObjectGarbage } from './object-garbage-collector.js';
import { sourceOf } from './object-backend-contract.js';

describe('collectObjectGarbage', () => {
  it('deletes old unreferenced blobs and stale or unknown uploads, keeping the rest', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aiam-gc-'));
    try {
      const backend = new FilesystemObjectBackend({ root, fsync: false });
      const referenced = await backend.put(sourceOf(['keep']));
      const orphan = await backend.put(sourceOf(['orphan']));
      const knownUpload = await backend.createMultipartUpload();
      const unknownUpload = await backend.createMultipartUpload();
      const clock = fixedClock(Date.now());
      const options = {
        clock,
        isBlobReferenced: async (id: string) => id === referenced.id,
        isUploadKnown: async (id: string) => id === knownUpload,
      };

      // Young: nothing may go, an in-flight write could be about to commit.
      assert.deepEqual(await collectObjectGarbage(backend, options), {
        deletedBlobs: [],
        abortedUploads: [],
      });

      clock.advance(2 * 60 * 60 * 1000);
      assert.deepEqual(await collectObjectGarbage(backend, options), {
        deletedBlobs: [orphan.id],
        abortedUploads: [unknownUpload],
      });
      assert.deepEqual(await backend.stat(referenced.id), { size: 4 });
      assert.equal(await backend.stat(orphan.id), undefined);

      clock.advance(8 * 24 * 60 * 60 * 1000);
      assert.deepEqual((await collectObjectGarbage(backend, options)).abortedUploads, [knownUpload]);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
