import { S3Error } from './s3-errors.js';

type HeaderBag = Readonly<Record<string, string | readonly string[] | undefined>>;

/** What conditional headers are checked against. */
export interface ConditionalTarget {
  /** Whether the object exists (for PUT's `If-None-Match: *` and `If-Match`). */
  exists: boolean;
  /** Unquoted ETag of the current object. */
  etag?: string;
  lastModified?: Date;
}

function first(headers: HeaderBag, name: string): string | undefined {
  const v = headers[name];
  return v === undefined ? undefined : typeof v === 'string' ? v : v.join(',');
}

/** Splits an ETag list (`"a", W/"b"`, or `*`), dropping weak prefixes and quotes. */
function etagList(value: string): string[] {
  return value
    .split(',')
    .map((t) =>
      t
        .trim()
        .replace(/^W\//, '')
        .replace(/^"(.*)"$/, '$1'),
    )
    .filter((t) => t !== '');
}

function matches(list: string[], target: ConditionalTarget): boolean {
  if (!target.exists) return false;
  return list.some((t) => t === '*' || t === target.etag);
}

/** An HTTP date, or undefined for anything unparsable (RFC 9110: such a header is ignored). */
function httpDate(value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  const t = Date.parse(value);
  return Number.isNaN(t) ? undefined : t;
}

/** HTTP dates have one-second resolution: compare Last-Modified truncated to the second. */
function seconds(date: Date | undefined): number | undefined {
  return date === undefined ? undefined : Math.floor(date.getTime() / 1000) * 1000;
}

/**
 * Evaluates `If-Match`, `If-Unmodified-Since`, `If-None-Match` and `If-Modified-Since` in
 * the order of RFC 9110 §13.2.2, which is also S3's documented behaviour (If-Match true wins
 * over If-Unmodified-Since false; If-None-Match false wins over If-Modified-Since true).
 * Throws PreconditionFailed (412) or, for GET/HEAD, NotModified (304); returns when the
 * request may proceed. For writes (`PUT` with `If-None-Match: *`), pass `exists`.
 */
export function checkConditionalHeaders(method: string, headers: HeaderBag, target: ConditionalTarget): void {
  const read = method === 'GET' || method === 'HEAD';
  const ifMatch = first(headers, 'if-match');
  const ifNoneMatch = first(headers, 'if-none-match');
  const condition = (name: string) => ({ details: { Condition: name } });
  if (ifMatch !== undefined) {
    if (!matches(etagList(ifMatch), target)) {
      // S3 answers a write's If-Match on a missing object with NoSuchKey.
      if (!read && !target.exists) throw new S3Error('NoSuchKey');
      throw new S3Error('PreconditionFailed', undefined, condition('If-Match'));
    }
  } else {
    const since = httpDate(first(headers, 'if-unmodified-since'));
    const modified = seconds(target.lastModified);
    if (since !== undefined && modified !== undefined && modified > since) {
      throw new S3Error('PreconditionFailed', undefined, condition('If-Unmodified-Since'));
    }
  }
  if (ifNoneMatch !== undefined) {
    if (matches(etagList(ifNoneMatch), target)) {
      if (read) throw new S3Error('NotModified');
      throw new S3Error('PreconditionFailed', undefined, condition('If-None-Match'));
    }
  } else if (read) {
    const since = httpDate(first(headers, 'if-modified-since'));
    const modified = seconds(target.lastModified);
    if (since !== undefined && modified !== undefined && modified <= since) throw new S3Error('NotModified');
  }
}
