import type { IncomingMessage } from 'node:http';
import { InputError } from '../errors.js';
import { PayloadTooLargeError } from './gateway-errors.js';

/** The default most bytes the gateway buffers to inspect a body: 16 MiB. */
export const DEFAULT_MAX_INSPECTED_BODY_BYTES = 16 * 1024 * 1024;

/**
 * Reads a whole request body into memory, refusing it (PayloadTooLargeError, 413) as soon as
 * it would exceed `limitBytes`: at once when Content-Length says so, otherwise when the
 * stream passes the limit. The caller should close the connection after a refusal, since
 * the rest of the body is not read.
 */
export function readBoundedBody(
  req: IncomingMessage,
  limitBytes = DEFAULT_MAX_INSPECTED_BODY_BYTES,
): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined && Number(declared) > limitBytes) {
    return Promise.reject(new PayloadTooLargeError(limitBytes));
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const fail = (error: Error): void => {
      if (done) return;
      done = true;
      req.off('data', onData);
      req.pause();
      reject(error);
    };
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limitBytes) {
        fail(new PayloadTooLargeError(limitBytes));
        return;
      }
      chunks.push(chunk);
    };
    req.on('data', onData);
    req.once('end', () => {
      if (done) return;
      done = true;
      resolve(chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, size));
    });
    req.once('error', (cause) => fail(new InputError('The request body could not be read.', { cause })));
    req.once('close', () => {
      if (!req.complete)
        fail(new InputError('The client closed the connection before sending the whole body.'));
    });
  });
}
