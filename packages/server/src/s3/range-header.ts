import type { ByteRange } from '../objects/object-backend.js';
import { S3Error } from './s3-errors.js';

/**
 * Resolves a `Range` header against an object's size (RFC 9110 §14.1.2 and §14.2, as S3
 * applies it). Returns the inclusive byte range to send with 206, or undefined to send the
 * whole object with 200: no header, another unit, a syntactically invalid spec (RFC: ignore
 * it), or several ranges (S3 serves one range per request). An unsatisfiable range
 * (first byte at or past the end, `bytes=-0`, any range of an empty object) -> InvalidRange.
 *
 * @example resolveRange('bytes=-500', 10_000) // { start: 9500, end: 9999 }
 */
export function resolveRange(header: string | undefined, size: number): ByteRange | undefined {
  if (header === undefined) return undefined;
  const m = /^\s*bytes\s*=\s*(\d*)\s*-\s*(\d*)\s*$/i.exec(header);
  if (!m) return undefined;
  const [, first, last] = m as unknown as [string, string, string];
  if (first === '' && last === '') return undefined;
  const unsatisfiable = () =>
    new S3Error('InvalidRange', undefined, {
      details: { RangeRequested: header.slice(0, 100), ActualObjectSize: size },
    });
  if (first === '') {
    const suffix = Number(last);
    if (suffix === 0 || size === 0) throw unsatisfiable();
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(first);
  const end = last === '' ? Number.MAX_SAFE_INTEGER : Number(last);
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) return undefined;
  if (start >= size) throw unsatisfiable();
  return { start, end: Math.min(end, size - 1) };
}

/** The `Content-Range` value of a 206 response: `bytes 0-499/1234`. */
export function formatContentRange(range: ByteRange, size: number): string {
  return `bytes ${range.start}-${range.end}/${size}`;
}
