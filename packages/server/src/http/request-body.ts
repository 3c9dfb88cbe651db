import type { IncomingMessage } from 'node:http';
import { JsonSyntaxError, parseJsonSource } from '@aiam/policy';
import { InputError } from '../errors.js';
import { PayloadTooLargeError, UnsupportedMediaTypeError } from './http-errors.js';

/** Default body limit of control-plane operations: 1 MiB (AWS IAM's largest document is 10 KiB). */
export const DEFAULT_MAX_BODY_BYTES = 1024 * 1024;

const EMPTY = Buffer.alloc(0);

/**
 * Reads a request body into memory, refusing more than `limit` bytes: at once when
 * `Content-Length` says so, else as soon as the stream passes it. The rest of an oversized body
 * is not read; the caller answers 413 and closes the connection.
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = req.headers['content-length'];
  if (declared !== undefined) {
    const n = Number(declared);
    if (n > limit) return Promise.reject(new PayloadTooLargeError(limit));
    if (n === 0) return Promise.resolve(EMPTY);
  } else if (req.headers['transfer-encoding'] === undefined) {
    // RFC 9112 §6.3: without Content-Length or Transfer-Encoding a request has no body.
    return Promise.resolve(EMPTY);
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        reject(new PayloadTooLargeError(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error) => {
      cleanup();
      reject(err);
    };
    const onAborted = () => {
      cleanup();
      reject(new InputError('The client closed the connection before the body was complete.'));
    };
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

/** True for `application/json` and `application/*+json` (RFC 6839), parameters ignored. */
export function isJsonMediaType(contentType: string | undefined): boolean {
  if (contentType === undefined) return false;
  const type = contentType.split(';', 1)[0]!.trim().toLowerCase();
  return type === 'application/json' || (type.startsWith('application/') && type.endsWith('+json'));
}

/**
 * Decodes a JSON body. An empty body is `undefined`; a body of another media type is a 415;
 * text that is not JSON is a 400 saying where (`line L, column C`), found by re-reading the text
 * with the engine's position-tracking parser only on failure, so valid bodies cost one JSON.parse.
 */
export function parseJsonBody(body: Buffer, contentType: string | undefined): unknown {
  if (body.length === 0) return undefined;
  if (!isJsonMediaType(contentType)) {
    throw new UnsupportedMediaTypeError(contentType ?? '(none)', 'application/json');
  }
  let text: string;
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(body);
  } catch {
    throw new InputError('The request body is not valid UTF-8.', { code: 'ERR_JSON_SYNTAX' });
  }
  try {
    return JSON.parse(text);
  } catch {
    try {
      parseJsonSource(text);
    } catch (err) {
      if (err instanceof JsonSyntaxError) {
        throw new InputError(`The request body is not valid JSON: ${err.message}.`, {
          code: 'ERR_JSON_SYNTAX',
          cause: err,
        });
      }
    }
    throw new InputError('The request body is not valid JSON.', { code: 'ERR_JSON_SYNTAX' });
  }
}
