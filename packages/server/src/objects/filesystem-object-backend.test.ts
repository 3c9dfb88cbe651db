import { closeSync, readSync } from 'node:fs';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { FilesystemObjectBackend } from './filesystem-object-backend.js';
import { describeObjectBackendContract, sourceOf } from './object-backend-contract.js';

async function fixture() {
  const root = await mkdtemp(join(tmpdir(), 'aiam-objects-'));
  return {
    root,
    backend: new FilesystemObjectBackend({ root }),
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
}

describeObjectBackendContract('filesystem', fixture);

async function walk(dir: string, out: string[] = []): Promise<string[]> {
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const p = join(dir, entry.name);
    if (entry.isDirectory()) await walk(p, out);
    else out.push(p);
  }
  return out;
}

describe('FilesystemObjectBackend', () => {
  it('leaves no temporary file after a failed or successful write', async () => {
    const { root, backend, cleanup } = await fixture();
    try {
      await backend.put(sourceOf(['ok']));
      await assert.rejects(backend.put(sourceOf(['half'], new Error('aborted'))));
      await assert.rejects(backend.put(sourceOf(['short']), { expectedSize: 99 }));
      assert.deepEqual(await readdir(join(root, 'tmp')), []);
    } finally {
      await cleanup();
    }
  });

  it('removes what a killed process left in tmp/ at the startup sweep, and only that', async () => {
    const { root, backend, cleanup } = await fixture();
    try {
      const kept = await backend.put(sourceOf(['published']));
      const uploadId = await backend.createMultipartUpload();
      // What a process killed mid-write leaves: a temporary data file and a half-written manifest.
      await writeFile(join(root, 'tmp', 'deadbeef.tmp'), 'partial');
      await writeFile(join(root, 'uploads', uploadId, 'manifest.json.tmp'), '{"si');
      const restarted = new FilesystemObjectBackend({ root });
      assert.equal(await restarted.sweepTemporary(60_000), 0, 'young files are kept when asked');
      assert.equal(await restarted.sweepTemporary(0), 2);
      assert.deepEqual(await readdir(join(root, 'tmp')), []);
      assert.deepEqual(await readdir(join(root, 'uploads', uploadId)), []);
      assert.deepEqual(await restarted.stat(kept.id), { size: 9 });
    } finally {
      await cleanup();
    }
  });

  it('lists published blobs, so unreferenced ones can be collected', async () => {
    const { backend, cleanup } = await fixture();
    try {
      const a = await backend.put(sourceOf(['a']));
      const u = await backend.createMultipartUpload();
      const p = await backend.putPart(u, 1, sourceOf(['bb']));
      const m = await backend.completeMultipartUpload(u, [p]);
      const found = [];
      for await (const b of backend.listBlobs()) found.push([b.id, b.size]);
      assert.deepEqual(
        found.sort(),
        [
          [a.id, 1],
          [m.id, 2],
        ].sort(),
      );
    } finally {
      await cleanup();
    }
  });

  it('stores files only under its root, named by id, never by key, mode 0600', async () => {
    const { root, backend, cleanup } = await fixture();
    try {
      await backend.put(sourceOf(['x']));
      const u = await backend.createMultipartUpload();
      await backend.putPart(u, 1, sourceOf(['y']));
      for (const file of await walk(root)) {
        const rel = relative(root, file);
        assert.match(
          rel,
          /^(blobs\/[0-9a-f]{2}\/[0-9a-f]{2}\/[0-9a-f]{32}|uploads\/[0-9a-f]{32}\/00001\.[0-9a-f]{32})$/,
        );
        assert.equal((await stat(file)).mode & 0o777, 0o600);
      }
    } finally {
      await cleanup();
    }
  });

  it('works with fsync off (tests) and on (default)', async () => {
    const { root, cleanup } = await fixture();
    try {
      const fast = new FilesystemObjectBackend({ root, fsync: false });
      const blob = await fast.put(sourceOf(['x']));
      assert.deepEqual(await fast.stat(blob.id), { size: 1 });
    } finally {
      await cleanup();
    }
  });
});

describe('FilesystemObjectBackend small reads and open files', () => {
  it('reads a small blob or range at once, and leaves larger or multipart ones to streams', async () => {
    const { backend, cleanup } = await fixture();
    try {
      const blob = await backend.put(sourceOf(['0123456789']));
      assert.equal(backend.readSmall(blob.id, undefined, 10)?.toString(), '0123456789');
      assert.equal(backend.readSmall(blob.id, { start: 2, end: 4 }, 10)?.toString(), '234');
      assert.equal(backend.readSmall(blob.id, { start: 3, end: 2 }, 10)?.length, 0);
      const limited = new FilesystemObjectBackend({ root: backend.root, smallReadBytes: 4 });
      assert.equal(limited.readSmall(blob.id, undefined, 10), undefined);
      assert.equal(limited.readSmall(blob.id, { start: 0, end: 3 }, 10)?.toString(), '0123');
      assert.equal(backend.readSmall(`m${'0'.repeat(32)}`, undefined, 10), undefined);
    } finally {
      await cleanup();
    }
  });

  it('refuses a blob shorter than its object, and a missing blob with NoSuchKey', async () => {
    const { backend, cleanup } = await fixture();
    try {
      const blob = await backend.put(sourceOf(['short']));
      assert.throws(() => backend.readSmall(blob.id, undefined, 50), /fewer bytes than its object's size/);
      await backend.delete(blob.id);
      assert.throws(() => backend.readSmall(blob.id, undefined, 5), { s3Code: 'NoSuchKey' });
      assert.throws(() => backend.openFile(blob.id), { s3Code: 'NoSuchKey' });
    } finally {
      await cleanup();
    }
  });

  it('opens a single-file blob that stays readable after it is deleted', async () => {
    const { backend, cleanup } = await fixture();
    try {
      const blob = await backend.put(sourceOf(['snapshot']));
      const fd = backend.openFile(blob.id);
      assert.ok(fd !== undefined);
      try {
        await backend.delete(blob.id);
        const buffer = Buffer.alloc(8);
        readSync(fd, buffer, 0, 8, 0);
        assert.equal(buffer.toString(), 'snapshot');
      } finally {
        closeSync(fd);
      }
      assert.equal(backend.openFile(`m${'0'.repeat(32)}`), undefined);
    } finally {
      await cleanup();
    }
  });
});
