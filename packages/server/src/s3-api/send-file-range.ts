import { read } from 'node:fs';
import type { ServerResponse } from 'node:http';

/** Bytes read and written per step: few syscalls and event-loop turns per object. */
const CHUNK_BYTES = 1024 * 1024;
/** Buffers kept for reuse across responses (16 MiB at most). */
const MAX_POOLED = 16;
const pool: Buffer[] = [];

/** A blob was shorter than its metadata, or the client went away: the response cannot complete. */
export class FileSendError extends Error {
  override readonly name = 'FileSendError';
}

/**
 * Sends `length` bytes of an open file (`fd`) from `start` as the body of `res` (headers already set,
 * including Content-Length) and ends it. Reads go into pooled 1 MiB buffers that return to the
 * pool once the socket has taken them (the write callback): a read stream allocates a fresh
 * buffer per chunk and its pipeline adds an AbortSignal per response, which together halved
 * throughput for 1 MiB objects. Backpressure is kept: the next read waits for `drain`.
 *
 * Rejects when a read fails, the file ends early (never a short 200 that looks whole) or the
 * client closes first; the caller then destroys the response. The caller closes the file.
 */
export function sendFileRange(res: ServerResponse, fd: number, start: number, length: number): Promise<void> {
  return new Promise<void>((resolve, reject) => {
    let position = start;
    let left = length;
    let settled = false;
    // A read in flight still uses `fd`: the promise settles (and the caller closes the file)
    // only once it has returned, so a descriptor is never closed, or reused, under a read.
    let reading = false;
    let clientGone = false;
    const gone = () => new FileSendError('the client closed the connection mid-response');
    const settle = (error?: Error): void => {
      if (settled) return;
      settled = true;
      res.off('close', onClose);
      res.off('drain', next);
      if (error) reject(error);
      else resolve();
    };
    const onClose = (): void => {
      clientGone = true;
      if (!reading) settle(gone());
    };
    res.once('close', onClose);

    function next(): void {
      if (settled) return;
      if (left === 0) {
        res.end(() => settle());
        return;
      }
      const buffer = pool.pop() ?? Buffer.allocUnsafeSlow(CHUNK_BYTES);
      reading = true;
      read(fd, buffer, 0, Math.min(buffer.length, left), position, (error, bytesRead) => {
        reading = false;
        if (clientGone) {
          release(buffer);
          settle(gone());
          return;
        }
        if (error || bytesRead === 0 || settled) {
          release(buffer);
          settle(
            error ?? (settled ? undefined : new FileSendError('the stored blob is shorter than its object')),
          );
          return;
        }
        position += bytesRead;
        left -= bytesRead;
        const chunk = bytesRead === buffer.length ? buffer : buffer.subarray(0, bytesRead);
        if (res.write(chunk, () => release(buffer))) next();
        else res.once('drain', next);
      });
    }
    // A client already gone (while the request was authorized) emits no 'close' any more.
    if (res.destroyed) settle(gone());
    else next();
  });
}

function release(buffer: Buffer): void {
  if (pool.length < MAX_POOLED) pool.push(buffer);
}
