import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { FilesystemObjectBackend } from '../objects/filesystem-object-backend.js';
import { silentLogger } from '../observability/logger.js';
import { ObjectService } from '../services/object-service.js';
import { openStore } from '../store/open-store.js';
import { cleanObjectStorage } from './object-janitor.js';

async function* bytes(text: string): AsyncIterable<Uint8Array> {
  yield Buffer.from(text);
}

describe('cleanObjectStorage', () => {
  it('removes orphan blobs and stale uploads, keeps referenced blobs and young orphans', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'aiam-janitor-'));
    const store = await openStore({ url: `sqlite:${join(dir, 'aiam.db')}` });
    try {
      await store.migrate();
      const backend = new FilesystemObjectBackend({ root: join(dir, 'objects'), fsync: false });
      const objects = new ObjectService({ store });
      await store.createBucket({ name: 'bkt', ownerArn: 'arn:aws:iam::1:user/a' });
      const kept = await backend.put(bytes('kept'));
      await objects.putObject('bkt', 'k', kept);
      const orphan = await backend.put(bytes('orphan'));
      const uploadId = await backend.createMultipartUpload();
      await objects.createMultipartUpload('bkt', 'm', uploadId);
      let now = Date.now();
      const clock = { now: () => now };
      const young = await cleanObjectStorage({
        store,
        backend,
        clock,
        logger: silentLogger,
        temporaryOlderThanMs: 0,
      });
      assert.equal(young.orphanBlobs, 0);
      now += 8 * 24 * 60 * 60 * 1000;
      const old = await cleanObjectStorage({
        store,
        backend,
        clock,
        logger: silentLogger,
        temporaryOlderThanMs: 0,
      });
      assert.equal(old.orphanBlobs, 1);
      assert.equal(old.staleUploads, 1);
      assert.equal(await backend.stat(orphan.id), undefined);
      assert.deepEqual(await backend.stat(kept.id), { size: 4 });
      assert.equal(await store.getMultipartUpload(uploadId), undefined);
    } finally {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
