import { randomBytes } from 'node:crypto';
import { closeSync, openSync, readSync } from 'node:fs';
import { type FileHandle, mkdir, open, readdir, readFile, rename, rm, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { Readable } from 'node:stream';
import { S3Error } from '../s3/s3-errors.js';
import { holdEarlyStreamErrors, IngestMeter } from './ingest-meter.js';
import { multipartEtag, unquoteEtag } from './multipart-etag.js';
import {
  type BlobInfo,
  type ByteRange,
  type CompletedPart,
  type CompleteOptions,
  MAX_PART_NUMBER,
  MIN_PART_NUMBER,
  MIN_PART_SIZE,
  type ObjectBackend,
  type PutOptions,
  type StoredBlob,
  type StoredPart,
  type UploadInfo,
} from './object-backend.js';

/** Options of `FilesystemObjectBackend`. */
export interface FilesystemObjectBackendOptions {
  /** Directory that holds everything (created if missing), e.g. `<data-dir>/objects`. */
  root: string;
  /**
   * fsync files and directories before publishing (default true). Only tests turn it off:
   * without it a power loss can lose objects whose metadata was already committed.
   */
  fsync?: boolean;
  /** Read-stream buffer size (default 1 MiB: fewer syscalls and event-loop turns per GET). */
  readHighWaterMark?: number;
  /**
   * Reads of at most this many bytes are done at once on the calling thread (`readSmall`);
   * default 64 KiB, 0 turns them off.
   */
  smallReadBytes?: number;
}

// Blob ids: 32 hex chars (128 random bits) for a single file; `m` + 32 hex for a completed
// multipart upload, stored as a directory of parts plus a manifest. Everything the client can
// send back (blob ids via metadata, upload ids directly) is checked against these patterns
// before it touches a path, so no input can name a file outside `root`.
const SINGLE_ID = /^[0-9a-f]{32}$/;
const MULTI_ID = /^m[0-9a-f]{32}$/;
const UPLOAD_ID = /^[0-9a-f]{32}$/;
const PART_FILE = /^(\d{5})\.([0-9a-f]{32})$/;
const MANIFEST = 'manifest.json';

interface Manifest {
  size: number;
  etag: string;
  parts: { file: string; size: number }[];
}

const newId = () => randomBytes(16).toString('hex');

function isNotFound(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/**
 * The embedded default object backend: blobs as files under `root`.
 *
 *   root/tmp/<random>.tmp                 writes in progress (same filesystem, so rename is atomic)
 *   root/blobs/ab/cd/<id>                 a blob (id = 32 random hex chars, sharded 256x256)
 *   root/blobs/ab/cd/m<id>/               a completed multipart blob: its part files + manifest.json
 *   root/uploads/<uploadId>/<nnnnn>.<md5> stored parts (the name carries part number and ETag)
 *   root/trash/m<id>/                     deleted multipart blobs, kept for GETs under way
 *
 * Durability: data is written to a temporary file, fsynced, renamed into place and the
 * directory fsynced; only then does the write resolve and may metadata be committed. A client
 * that disconnects mid-upload leaves nothing (the temporary file is removed), a killed
 * process leaves only temporary files, which `sweepTemporary(0)` removes at startup.
 *
 * Multipart: parts stay separate files and a completed object is the part list (a manifest),
 * streamed part after part. Completing is then O(parts), not O(bytes): S3 clients wait on
 * CompleteMultipartUpload synchronously and a 5 GiB copy would outlast their timeouts, and the
 * bytes are written once instead of twice. GETs of multipart objects cross file boundaries,
 * which costs one open per part; single-PUT objects (the common case for GET benchmarks) are
 * one file.
 */
export class FilesystemObjectBackend implements ObjectBackend {
  readonly root: string;
  readonly #tmp: string;
  readonly #blobs: string;
  readonly #uploads: string;
  readonly #trash: string;
  readonly #fsync: boolean;
  readonly #highWaterMark: number;
  readonly #smallReadBytes: number;
  #ready: Promise<void> | undefined;

  constructor(options: FilesystemObjectBackendOptions) {
    this.root = options.root;
    this.#tmp = join(this.root, 'tmp');
    this.#blobs = join(this.root, 'blobs');
    this.#uploads = join(this.root, 'uploads');
    this.#trash = join(this.root, 'trash');
    this.#fsync = options.fsync ?? true;
    this.#highWaterMark = options.readHighWaterMark ?? 1024 * 1024;
    this.#smallReadBytes = options.smallReadBytes ?? 64 * 1024;
  }

  #init(): Promise<void> {
    this.#ready ??= (async () => {
      for (const dir of [this.#tmp, this.#blobs, this.#uploads, this.#trash]) await this.#mkdirDurable(dir);
    })();
    return this.#ready;
  }

  async put(source: AsyncIterable<Uint8Array>, options?: PutOptions): Promise<StoredBlob> {
    const release = holdEarlyStreamErrors(source);
    try {
      return await this.#put(source, options);
    } finally {
      release();
    }
  }

  async #put(source: AsyncIterable<Uint8Array>, options?: PutOptions): Promise<StoredBlob> {
    await this.#init();
    const id = newId();
    const target = this.#singlePath(id);
    const written = await this.#writeDurable(source, options, async (tmpPath) => {
      await this.#mkdirDurable(dirname(target));
      await rename(tmpPath, target);
      await this.#syncDir(dirname(target));
    });
    return { id, size: written.size, etag: written.etag, checksums: written.checksums };
  }

  async get(id: string, range?: ByteRange): Promise<Readable> {
    if (SINGLE_ID.test(id)) {
      let handle: FileHandle;
      try {
        handle = await open(this.#singlePath(id), 'r');
      } catch (error) {
        if (isNotFound(error)) throw new S3Error('NoSuchKey');
        throw error;
      }
      let r: ByteRange | undefined;
      let size: number;
      try {
        size = (await handle.stat()).size;
        r = this.#checkRange(range, size);
      } catch (error) {
        await handle.close();
        throw error;
      }
      if (r && r.end < r.start) {
        await handle.close();
        return Readable.from([]);
      }
      return handle.createReadStream({
        start: r?.start ?? 0,
        end: r?.end ?? Math.max(size - 1, 0),
        highWaterMark: this.#highWaterMark,
        autoClose: true,
      });
    }
    if (MULTI_ID.test(id)) return this.#getMultipart(id, range);
    throw new S3Error('NoSuchKey');
  }

  /**
   * Opens a single-file blob on the calling thread (a page-cache open costs less than the two
   * thread-pool hops of an asynchronous one) and returns its descriptor: the caller reads it and
   * must `closeSync` it. Undefined for a multipart blob.
   */
  openFile(id: string): number | undefined {
    if (!SINGLE_ID.test(id)) return undefined;
    try {
      return openSync(this.#singlePath(id), 'r');
    } catch (error) {
      if (isNotFound(error)) throw new S3Error('NoSuchKey');
      throw error;
    }
  }

  /**
   * Reads a small single-part blob (or a small range of one) at once on the calling thread, as
   * nginx reads files by default: for a few KiB from the page cache, the three thread-pool round
   * trips of a stream (open, read, close) cost several times the read itself. Undefined when
   * the read is larger than `smallReadBytes` or the blob is multipart: stream it with `get`.
   * A blob shorter than the metadata says is an error, never a short 200.
   */
  readSmall(id: string, range: ByteRange | undefined, size: number): Buffer | undefined {
    const start = range?.start ?? 0;
    const length = range ? Math.max(range.end - range.start + 1, 0) : size;
    if (length > this.#smallReadBytes || !SINGLE_ID.test(id)) return undefined;
    let fd: number;
    try {
      fd = openSync(this.#singlePath(id), 'r');
    } catch (error) {
      if (isNotFound(error)) throw new S3Error('NoSuchKey');
      throw error;
    }
    try {
      const bytes = Buffer.allocUnsafe(length);
      let read = 0;
      while (read < length) {
        const n = readSync(fd, bytes, read, length - read, start + read);
        if (n === 0) throw new Error(`blob ${id} holds fewer bytes than its object's size (${size})`);
        read += n;
      }
      return bytes;
    } finally {
      closeSync(fd);
    }
  }

  async stat(id: string): Promise<{ size: number } | undefined> {
    try {
      if (SINGLE_ID.test(id)) return { size: (await stat(this.#singlePath(id))).size };
      if (MULTI_ID.test(id)) return { size: (await this.#readManifest(this.#multiPath(id))).size };
    } catch (error) {
      if (isNotFound(error)) return undefined;
      throw error;
    }
    return undefined;
  }

  async delete(id: string): Promise<void> {
    if (SINGLE_ID.test(id)) {
      await rm(this.#singlePath(id), { force: true });
    } else if (MULTI_ID.test(id)) {
      // Parts are opened lazily while streaming (a 10,000-part object cannot hold 10,000 file
      // descriptors), so a deleted multipart blob moves to trash/ first: a GET already under
      // way finds its remaining parts there. `sweepTemporary` empties the trash.
      await this.#init();
      try {
        await rename(this.#multiPath(id), join(this.#trash, id));
      } catch (error) {
        if (isNotFound(error)) return;
        const code = (error as { code?: string }).code;
        // Already in the trash (deleted twice, concurrently): nothing more to do.
        if (code === 'ENOTEMPTY' || code === 'EEXIST') {
          await rm(this.#multiPath(id), { recursive: true, force: true });
          return;
        }
        throw error;
      }
    }
  }

  async createMultipartUpload(): Promise<string> {
    await this.#init();
    const uploadId = newId();
    await mkdir(join(this.#uploads, uploadId));
    await this.#syncDir(this.#uploads);
    return uploadId;
  }

  async putPart(
    uploadId: string,
    partNumber: number,
    source: AsyncIterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<StoredPart> {
    const release = holdEarlyStreamErrors(source);
    try {
      return await this.#putPart(uploadId, partNumber, source, options);
    } finally {
      release();
    }
  }

  async #putPart(
    uploadId: string,
    partNumber: number,
    source: AsyncIterable<Uint8Array>,
    options?: PutOptions,
  ): Promise<StoredPart> {
    const dir = await this.#uploadDir(uploadId);
    if (!Number.isInteger(partNumber) || partNumber < MIN_PART_NUMBER || partNumber > MAX_PART_NUMBER) {
      throw new S3Error(
        'InvalidArgument',
        `Part number must be an integer between ${MIN_PART_NUMBER} and ${MAX_PART_NUMBER}, inclusive.`,
        { details: { ArgumentName: 'partNumber', ArgumentValue: String(partNumber) } },
      );
    }
    const prefix = String(partNumber).padStart(5, '0');
    let etag = '';
    const written = await this.#writeDurable(source, options, async (tmpPath, result) => {
      etag = result.etag;
      try {
        await rename(tmpPath, join(dir, `${prefix}.${etag}`));
      } catch (error) {
        // The upload was completed or aborted while this part streamed in.
        if (isNotFound(error))
          throw new S3Error('NoSuchUpload', undefined, { details: { UploadId: uploadId } });
        throw error;
      }
      await this.#syncDir(dir);
    });
    // A part uploaded again replaces the previous one (S3: the last upload of a number wins).
    for (const name of await this.#readdirOrEmpty(dir)) {
      if (name.startsWith(`${prefix}.`) && name !== `${prefix}.${etag}`)
        await rm(join(dir, name), { force: true });
    }
    return {
      partNumber,
      size: written.size,
      etag,
      checksums: written.checksums,
      lastModified: new Date(),
    };
  }

  async listParts(uploadId: string): Promise<StoredPart[]> {
    const dir = await this.#uploadDir(uploadId);
    const parts = await this.#scanParts(dir);
    return [...parts.values()].map((p) => ({
      partNumber: p.partNumber,
      size: p.size,
      etag: p.etag,
      checksums: {},
      lastModified: p.mtime,
    }));
  }

  async completeMultipartUpload(
    uploadId: string,
    parts: readonly CompletedPart[],
    options?: CompleteOptions,
  ): Promise<StoredBlob> {
    const dir = await this.#uploadDir(uploadId);
    if (parts.length === 0)
      throw new S3Error('MalformedXML', 'The multipart upload must list at least one part.');
    if (parts.length > MAX_PART_NUMBER)
      throw new S3Error('MalformedXML', `At most ${MAX_PART_NUMBER} parts.`);
    const stored = await this.#scanParts(dir);
    const minPartSize = options?.minPartSize ?? MIN_PART_SIZE;
    const chosen: { file: string; size: number; etag: string }[] = [];
    let previous = 0;
    for (const [i, part] of parts.entries()) {
      if (!Number.isInteger(part.partNumber) || part.partNumber <= previous) {
        throw new S3Error('InvalidPartOrder');
      }
      previous = part.partNumber;
      const have = stored.get(part.partNumber);
      const etag = unquoteEtag(part.etag).toLowerCase();
      if (!have || have.etag !== etag) {
        throw new S3Error('InvalidPart', undefined, {
          details: { UploadId: uploadId, PartNumber: part.partNumber, ETag: part.etag },
        });
      }
      if (i < parts.length - 1 && have.size < minPartSize) {
        throw new S3Error('EntityTooSmall', undefined, {
          details: {
            ProposedSize: have.size,
            MinSizeAllowed: minPartSize,
            PartNumber: part.partNumber,
            ETag: etag,
          },
        });
      }
      chosen.push({ file: have.file, size: have.size, etag });
    }
    const manifest: Manifest = {
      size: chosen.reduce((n, p) => n + p.size, 0),
      etag: multipartEtag(chosen.map((p) => p.etag)),
      parts: chosen.map(({ file, size }) => ({ file, size })),
    };
    const keep = new Set(chosen.map((p) => p.file));
    for (const name of await this.#readdirOrEmpty(dir)) {
      if (!keep.has(name)) await rm(join(dir, name), { force: true, recursive: true });
    }
    const manifestTmp = join(dir, `${MANIFEST}.tmp`);
    await this.#writeFileDurable(manifestTmp, JSON.stringify(manifest));
    await rename(manifestTmp, join(dir, MANIFEST));
    await this.#syncDir(dir);
    // One directory rename publishes the whole object, atomically.
    const id = `m${newId()}`;
    const target = this.#multiPath(id);
    await this.#mkdirDurable(dirname(target));
    try {
      await rename(dir, target);
    } catch (error) {
      if (isNotFound(error))
        throw new S3Error('NoSuchUpload', undefined, { details: { UploadId: uploadId } });
      throw error;
    }
    await this.#syncDir(dirname(target));
    await this.#syncDir(this.#uploads);
    return { id, size: manifest.size, etag: manifest.etag, checksums: {} };
  }

  async abortMultipartUpload(uploadId: string): Promise<void> {
    const dir = await this.#uploadDir(uploadId);
    await rm(dir, { recursive: true, force: true });
    await this.#syncDir(this.#uploads);
  }

  async *listBlobs(): AsyncIterable<BlobInfo> {
    await this.#init();
    for (const a of await this.#readdirOrEmpty(this.#blobs)) {
      for (const b of await this.#readdirOrEmpty(join(this.#blobs, a))) {
        const shard = join(this.#blobs, a, b);
        for (const name of await this.#readdirOrEmpty(shard)) {
          const path = join(shard, name);
          try {
            if (SINGLE_ID.test(name)) {
              const s = await stat(path);
              yield { id: name, size: s.size, modifiedAt: s.mtime };
            } else if (MULTI_ID.test(name)) {
              const s = await stat(path);
              const size = await this.#readManifest(path).then(
                (m) => m.size,
                () => 0,
              );
              yield { id: name, size, modifiedAt: s.mtime };
            }
          } catch (error) {
            if (!isNotFound(error)) throw error;
          }
        }
      }
    }
  }

  async *listMultipartUploads(): AsyncIterable<UploadInfo> {
    await this.#init();
    for (const name of await this.#readdirOrEmpty(this.#uploads)) {
      if (!UPLOAD_ID.test(name)) continue;
      try {
        const s = await stat(join(this.#uploads, name));
        yield { uploadId: name, modifiedAt: s.mtime };
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
  }

  async sweepTemporary(olderThanMs = 0): Promise<number> {
    await this.#init();
    const cutoff = Date.now() - olderThanMs;
    let removed = 0;
    const sweep = async (dir: string, match: (name: string) => boolean) => {
      for (const name of await this.#readdirOrEmpty(dir)) {
        if (!match(name)) continue;
        try {
          if ((await stat(join(dir, name))).mtimeMs <= cutoff) {
            await rm(join(dir, name), { force: true, recursive: true });
            removed++;
          }
        } catch (error) {
          if (!isNotFound(error)) throw error;
        }
      }
    };
    await sweep(this.#tmp, () => true);
    await sweep(this.#trash, () => true);
    // A completion interrupted between writing and renaming its manifest.
    for (const upload of await this.#readdirOrEmpty(this.#uploads)) {
      if (UPLOAD_ID.test(upload)) await sweep(join(this.#uploads, upload), (n) => n === `${MANIFEST}.tmp`);
    }
    return removed;
  }

  // --- internals ---------------------------------------------------------------------------

  #singlePath(id: string): string {
    return join(this.#blobs, id.slice(0, 2), id.slice(2, 4), id);
  }

  #multiPath(id: string): string {
    return join(this.#blobs, id.slice(1, 3), id.slice(3, 5), id);
  }

  async #uploadDir(uploadId: string): Promise<string> {
    await this.#init();
    const noSuchUpload = () => new S3Error('NoSuchUpload', undefined, { details: { UploadId: uploadId } });
    if (typeof uploadId !== 'string' || !UPLOAD_ID.test(uploadId)) throw noSuchUpload();
    const dir = join(this.#uploads, uploadId);
    try {
      if (!(await stat(dir)).isDirectory()) throw noSuchUpload();
    } catch (error) {
      if (isNotFound(error)) throw noSuchUpload();
      throw error;
    }
    return dir;
  }

  async #scanParts(dir: string) {
    const parts = new Map<
      number,
      { partNumber: number; file: string; etag: string; size: number; mtime: Date }
    >();
    for (const name of (await this.#readdirOrEmpty(dir)).sort()) {
      const m = PART_FILE.exec(name);
      if (!m) continue;
      try {
        const s = await stat(join(dir, name));
        const partNumber = Number(m[1]);
        const prev = parts.get(partNumber);
        // Two files for one number exist only briefly (a re-upload); the newer one wins.
        if (!prev || prev.mtime <= s.mtime) {
          parts.set(partNumber, { partNumber, file: name, etag: m[2]!, size: s.size, mtime: s.mtime });
        }
      } catch (error) {
        if (!isNotFound(error)) throw error;
      }
    }
    return new Map([...parts.entries()].sort((a, b) => a[0] - b[0]));
  }

  async #readManifest(dir: string): Promise<Manifest> {
    const manifest = JSON.parse(await readFile(join(dir, MANIFEST), 'utf8')) as Manifest;
    for (const p of manifest.parts) {
      // The manifest is our own file, but a path from it must still never leave the blob dir.
      if (!PART_FILE.test(p.file)) throw new Error(`corrupt manifest in ${dir}`);
    }
    return manifest;
  }

  #checkRange(range: ByteRange | undefined, size: number): ByteRange | undefined {
    if (!range) return undefined;
    const { start, end } = range;
    if (
      !Number.isSafeInteger(start) ||
      !Number.isSafeInteger(end) ||
      start < 0 ||
      end < start ||
      start >= size
    ) {
      if (size === 0 && start === 0) return { start: 0, end: -1 };
      throw new S3Error('InvalidRange', undefined, { details: { ActualObjectSize: size } });
    }
    return { start, end: Math.min(end, size - 1) };
  }

  async #getMultipart(id: string, range: ByteRange | undefined): Promise<Readable> {
    const dir = this.#multiPath(id);
    let manifest: Manifest;
    try {
      manifest = await this.#readManifest(dir);
    } catch (error) {
      if (isNotFound(error)) throw new S3Error('NoSuchKey');
      throw error;
    }
    const r = this.#checkRange(range, manifest.size) ?? { start: 0, end: manifest.size - 1 };
    const pieces: { file: string; start: number; end: number }[] = [];
    let offset = 0;
    for (const part of manifest.parts) {
      const partStart = offset;
      const partEnd = offset + part.size - 1;
      offset += part.size;
      if (part.size === 0 || partEnd < r.start || partStart > r.end) continue;
      pieces.push({
        file: part.file,
        start: Math.max(r.start, partStart) - partStart,
        end: Math.min(r.end, partEnd) - partStart,
      });
    }
    const trashDir = join(this.#trash, id);
    // Open parts one at a time, as they are reached; a part of a blob deleted meanwhile is
    // found in the trash (see `delete`). The first is opened now, so a blob deleted before
    // the GET answers is NoSuchKey rather than a broken stream.
    const openPart = async (file: string): Promise<FileHandle> => {
      try {
        return await open(join(dir, file), 'r');
      } catch (error) {
        if (!isNotFound(error)) throw error;
        return await open(join(trashDir, file), 'r');
      }
    };
    let firstHandle: FileHandle | undefined;
    if (pieces.length > 0) {
      try {
        firstHandle = await open(join(dir, pieces[0]!.file), 'r');
      } catch (error) {
        if (isNotFound(error)) throw new S3Error('NoSuchKey');
        throw error;
      }
    }
    const highWaterMark = this.#highWaterMark;
    let pending = firstHandle;
    async function* concatenate(): AsyncGenerator<Buffer> {
      for (const [i, piece] of pieces.entries()) {
        const handle = i === 0 ? pending! : await openPart(piece.file);
        pending = undefined;
        // From here the read stream owns the handle and closes it (autoClose).
        const stream = handle.createReadStream({
          start: piece.start,
          end: piece.end,
          highWaterMark,
          autoClose: true,
        });
        for await (const chunk of stream) yield chunk as Buffer;
      }
    }
    const out = Readable.from(concatenate(), { objectMode: false, highWaterMark });
    // The reader went away before the first part was reached: close its handle.
    out.once('close', () => {
      pending?.close().catch(() => {});
      pending = undefined;
    });
    return out;
  }

  /**
   * Streams `source` into a fresh temporary file, checks it, fsyncs it and hands it to
   * `publish` (which renames it into place). On any failure the temporary file is removed.
   */
  async #writeDurable(
    source: AsyncIterable<Uint8Array>,
    options: PutOptions | undefined,
    publish: (tmpPath: string, result: ReturnType<IngestMeter['finish']>) => Promise<void>,
  ) {
    const meter = new IngestMeter(options);
    const tmpPath = join(this.#tmp, `${newId()}.tmp`);
    const handle = await open(tmpPath, 'wx', 0o600);
    let open_ = true;
    try {
      for await (const chunk of source) {
        meter.observe(chunk);
        let written = 0;
        while (written < chunk.length) {
          const { bytesWritten } = await handle.write(chunk, written, chunk.length - written);
          written += bytesWritten;
        }
      }
      const result = meter.finish();
      if (this.#fsync) await handle.sync();
      await handle.close();
      open_ = false;
      await publish(tmpPath, result);
      return result;
    } catch (error) {
      if (open_) await handle.close().catch(() => {});
      await unlink(tmpPath).catch(() => {});
      throw error;
    }
  }

  async #writeFileDurable(path: string, data: string): Promise<void> {
    const handle = await open(path, 'w', 0o600);
    try {
      await handle.writeFile(data);
      if (this.#fsync) await handle.sync();
    } finally {
      await handle.close();
    }
  }

  async #readdirOrEmpty(dir: string): Promise<string[]> {
    try {
      return await readdir(dir);
    } catch (error) {
      if (isNotFound(error)) return [];
      throw error;
    }
  }

  /** Creates `dir` and parents; fsyncs the parent of each directory it created. */
  async #mkdirDurable(dir: string): Promise<void> {
    const first = await mkdir(dir, { recursive: true });
    if (first === undefined || !this.#fsync) return;
    // `first` is the topmost directory created: sync the parent of every level down to `dir`.
    let current = dir;
    for (;;) {
      const parent = dirname(current);
      await this.#syncDir(parent);
      if (current === first || parent === current) break;
      current = parent;
    }
  }

  async #syncDir(dir: string): Promise<void> {
    if (!this.#fsync) return;
    let handle: FileHandle | undefined;
    try {
      handle = await open(dir, 'r');
      await handle.sync();
    } catch (error) {
      // Some platforms refuse to fsync a directory (EISDIR/EPERM/EINVAL); the rename is still
      // atomic there, only its durability on power loss is the filesystem's business.
      const code = (error as { code?: string }).code;
      if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw error;
    } finally {
      await handle?.close();
    }
  }
}
