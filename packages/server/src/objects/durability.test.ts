import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { buffer } from 'node:stream/consumers';
import { describe, it } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { AwsChunkedDecoder } from '../s3/aws-chunked-decoder.js';
import {
  ChecksumCalculator,
  expectedChecksumsFromHeaders,
  mergeTrailerChecksums,
  trailerChecksumAlgorithms,
} from '../s3/checksums.js';
import { S3Error } from '../s3/s3-errors.js';
import { FilesystemObjectBackend } from './filesystem-object-backend.js';

const here = fileURLToPath(new URL('.', import.meta.url));

describe('durability and wiring', () => {
  it('a process killed mid-write leaves no object, and the startup sweep leaves no bytes', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aiam-kill-'));
    const script = join(root, 'writer.mts');
    const backendUrl = pathToFileURL(join(here, 'filesystem-object-backend.ts')).href;
    await writeFile(
      script,
      `import { FilesystemObjectBackend } from ${JSON.stringify(backendUrl)};
const backend = new FilesystemObjectBackend({ root: ${JSON.stringify(join(root, 'data'))} });
async function* endless() {
  for (let i = 0; ; i++) {
    if (i === 16) process.stdout.write('ready\\n');
    yield Buffer.alloc(64 * 1024, i);
    await new Promise((r) => setTimeout(r, 1));
  }
}
await backend.put(endless());
`,
    );
    // The writer never stops by itself: whatever happens below, it is killed on the way out.
    const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', script], {
      cwd: join(here, '../../../..'),
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const exited = new Promise((r) => child.once('exit', r));
    try {
      await new Promise<void>((resolve, reject) => {
        child.stdout.on('data', (d: Buffer) => {
          if (d.toString().includes('ready')) resolve();
        });
        child.on('exit', (code) => reject(new Error(`writer exited early (${code})`)));
        setTimeout(() => reject(new Error('the writer never reported ready')), 60_000).unref();
      });
      child.kill('SIGKILL');
      await exited;

      const backend = new FilesystemObjectBackend({ root: join(root, 'data') });
      const blobs = [];
      for await (const b of backend.listBlobs()) blobs.push(b);
      assert.deepEqual(blobs, [], 'no partial object is visible');
      assert.equal(
        (await readdir(join(root, 'data', 'tmp'))).length,
        1,
        'the interrupted write left its temp file',
      );
      assert.equal(await backend.sweepTemporary(0), 1);
      assert.deepEqual(await readdir(join(root, 'data', 'tmp')), []);
    } finally {
      child.kill('SIGKILL');
      await exited;
      await rm(root, { recursive: true, force: true });
    }
  });

  it('an aws-chunked upload with a trailing CRC32C streams into the backend and is verified', async () => {
    const root = await mkdtemp(join(tmpdir(), 'aiam-wire-'));
    try {
      const backend = new FilesystemObjectBackend({ root, fsync: false });
      const payload = Buffer.alloc(200_000, 'x');
      const crc = new ChecksumCalculator(['CRC32C']);
      crc.update(payload);
      const good = crc.digest().CRC32C!.toString('base64');
      const frame = (trailer: string) =>
        Buffer.concat([
          Buffer.from(`${(150_000).toString(16)}\r\n`),
          payload.subarray(0, 150_000),
          Buffer.from(`\r\n${(50_000).toString(16)}\r\n`),
          payload.subarray(150_000),
          Buffer.from(`\r\n0\r\nx-amz-checksum-crc32c:${trailer}\r\n\r\n`),
        ]);
      // What the HTTP layer will do for PutObject with STREAMING-UNSIGNED-PAYLOAD-TRAILER.
      const upload = (body: Buffer) => {
        const headers = {
          'x-amz-content-sha256': 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          'x-amz-trailer': 'x-amz-checksum-crc32c',
          'x-amz-decoded-content-length': String(payload.length),
        };
        const decoder = new AwsChunkedDecoder({
          mode: 'STREAMING-UNSIGNED-PAYLOAD-TRAILER',
          decodedContentLength: Number(headers['x-amz-decoded-content-length']),
          expectedTrailers: [headers['x-amz-trailer']],
        });
        const fromHeaders = expectedChecksumsFromHeaders(headers);
        return backend.put(Readable.from([body.subarray(0, 1000), body.subarray(1000)]).pipe(decoder), {
          expectedSize: payload.length,
          checksumAlgorithms: trailerChecksumAlgorithms(headers['x-amz-trailer']),
          expected: () => mergeTrailerChecksums(fromHeaders, decoder.trailers),
        });
      };
      const blob = await upload(frame(good));
      assert.equal(blob.checksums.CRC32C, good);
      assert.equal(blob.etag, createHash('md5').update(payload).digest('hex'));
      assert.ok((await buffer(await backend.get(blob.id))).equals(payload));

      await assert.rejects(
        upload(frame('AAAAAA==')),
        (e: unknown) => e instanceof S3Error && e.s3Code === 'BadDigest',
      );
      await assert.rejects(
        upload(frame(good).subarray(0, 120_000)),
        (e: unknown) => e instanceof S3Error && e.s3Code === 'IncompleteBody',
      );
      const ids = [];
      for await (const b of backend.listBlobs()) ids.push(b.id);
      assert.deepEqual(ids, [blob.id], 'failed uploads left nothing');
      assert.deepEqual(await readdir(join(root, 'tmp')), []);
    } finally {
      await rm(root, { recursive: true, force: true });
    }
  });
});
