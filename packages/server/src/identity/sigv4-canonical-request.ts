import { createHash } from 'node:crypto';

/**
 * The canonical request of AWS Signature Version 4, built from a request as the server
 * received it. Reference: "Create a canonical request for Signature Version 4" in the AWS IAM
 * user guide, and the AWS SigV4 test suite (aws-c-auth, tests/aws-signing-test-suite/v4).
 *
 * ```
 * HTTPMethod \n CanonicalURI \n CanonicalQueryString \n CanonicalHeaders \n SignedHeaders \n HashedPayload
 * ```
 */

/** Request headers as received: lowercased names, each with one value or several (in order). */
export type SigV4Headers = Readonly<Record<string, string | readonly string[] | undefined>>;

/** How the path is canonicalized; S3 differs from every other service. */
export interface CanonicalUriOptions {
  /**
   * Other services URI-encode the already-encoded path a second time; S3 does not (AWS: "Each
   * path segment must be URI-encoded twice ... except for Amazon S3 which only gets URI-encoded
   * once"). Default true.
   */
  doubleEncode?: boolean;
  /**
   * Remove `.`/`..` segments and empty segments before encoding, as every service but S3 does.
   * S3 object keys may legitimately contain them. Default: same as `doubleEncode`.
   */
  normalize?: boolean;
}

const HEX = '0123456789ABCDEF';

function isUnreserved(b: number): boolean {
  // RFC 3986 section 2.3 unreserved characters: A-Z a-z 0-9 - . _ ~
  return (
    (b >= 0x41 && b <= 0x5a) ||
    (b >= 0x61 && b <= 0x7a) ||
    (b >= 0x30 && b <= 0x39) ||
    b === 0x2d ||
    b === 0x2e ||
    b === 0x5f ||
    b === 0x7e
  );
}

/**
 * URI-encodes bytes the way SigV4 requires: every byte except the RFC 3986 unreserved set
 * becomes `%XY` with upper-case hex; `/` is kept when `keepSlash` (paths) and encoded otherwise.
 */
export function uriEncodeBytes(bytes: Uint8Array, keepSlash: boolean): string {
  let out = '';
  let plainFrom = -1;
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i] as number;
    if (isUnreserved(b) || (keepSlash && b === 0x2f)) {
      if (plainFrom < 0) plainFrom = i;
      continue;
    }
    if (plainFrom >= 0) {
      out += String.fromCharCode(...bytes.subarray(plainFrom, i));
      plainFrom = -1;
    }
    out += `%${HEX[b >> 4]}${HEX[b & 15]}`;
  }
  if (plainFrom >= 0) out += String.fromCharCode(...bytes.subarray(plainFrom));
  return out;
}

/** URI-encodes a string's UTF-8 bytes (see {@link uriEncodeBytes}). */
export function uriEncode(value: string, keepSlash = false): string {
  // Without a Buffer while the string is ASCII (a character is then its one UTF-8 byte): most
  // names and values are, and most need no escape at all (returned as they are).
  let out: string | undefined;
  let plainFrom = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (isUnreserved(c) || (keepSlash && c === 0x2f)) continue;
    if (c >= 0x80) return uriEncodeBytes(Buffer.from(value, 'utf8'), keepSlash);
    out = `${out ?? ''}${value.slice(plainFrom, i)}%${HEX[c >> 4]}${HEX[c & 15]}`;
    plainFrom = i + 1;
  }
  return out === undefined ? value : out + value.slice(plainFrom);
}

function hexValue(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Percent-decodes to bytes. A `%` not followed by two hex digits is kept literally (as browsers
 * and AWS do) instead of failing, so that a malformed escape leads to a signature mismatch, not
 * a crash. With `plusAsSpace`, `+` decodes to a space (application/x-www-form-urlencoded).
 */
export function percentDecode(value: string, plusAsSpace: boolean): Buffer {
  if (!/[%+]/.test(value)) return Buffer.from(value, 'utf8');
  const raw = Buffer.from(value, 'utf8');
  const out = Buffer.allocUnsafe(raw.length);
  let n = 0;
  for (let i = 0; i < raw.length; i++) {
    const b = raw[i] as number;
    if (b === 0x25 && i + 2 < raw.length) {
      const hi = hexValue(raw[i + 1] as number);
      const lo = hexValue(raw[i + 2] as number);
      if (hi >= 0 && lo >= 0) {
        out[n++] = (hi << 4) | lo;
        i += 2;
        continue;
      }
    }
    out[n++] = plusAsSpace && b === 0x2b ? 0x20 : b;
  }
  return out.subarray(0, n);
}

/** An empty, `.` or `..` segment after the leading `/`. */
const ABNORMAL_SEGMENT = /\/\/|\/\.\.?(?:\/|$)/;

/**
 * Removes `.` and `..` segments and collapses empty ones (`//`), as the SigV4 test suite's
 * `*-normalized` cases expect. A trailing slash is kept only when the path ends with `/` (so
 * `/a/b/..` gives `/a`), which is what the AWS SDK signers (smithy) do. Starts with `/`.
 */
export function normalizePath(path: string): string {
  // Most paths are normal already: no empty, `.` or `..` segment.
  if (path.startsWith('/') && !ABNORMAL_SEGMENT.test(path)) return path;
  return normalizeSegments(path);
}

/** `normalizePath` segment by segment, for any path (exported for its property test). */
export function normalizeSegments(path: string): string {
  const out: string[] = [];
  for (const s of path.split('/')) {
    if (s === '' || s === '.') continue;
    if (s === '..') out.pop();
    else out.push(s);
  }
  return `/${out.join('/')}${out.length > 0 && path.endsWith('/') ? '/' : ''}`;
}

/**
 * The canonical URI of a path as received on the wire (percent-encoded, no query).
 *
 * S3 (`doubleEncode: false`): the path is decoded and re-encoded once, which gives the same
 * result as the SDK signers for every key they produce, and the same result for clients that
 * encode more or fewer characters than strictly needed (`~`, `!`, `'`...).
 * Other services: the wire path, normalized, is encoded once more.
 */
export function canonicalUri(rawPath: string, options: CanonicalUriOptions = {}): string {
  const doubleEncode = options.doubleEncode ?? true;
  const normalize = options.normalize ?? doubleEncode;
  let path = rawPath === '' ? '/' : rawPath;
  if (normalize) path = normalizePath(path);
  if (doubleEncode) return uriEncode(path, true);
  // Segment by segment, so that an encoded slash (%2F) inside a segment stays encoded, as the
  // client signed it.
  if (!path.includes('%')) return uriEncode(path, true);
  return path
    .split('/')
    .map((segment) => uriEncodeBytes(percentDecode(segment, false), false))
    .join('/');
}

/** One query parameter, decoded. */
export interface QueryParameter {
  readonly name: string;
  readonly value: string;
}

/**
 * {@link percentDecode} to a UTF-8 string. Without a Buffer while every escape is of an ASCII
 * byte (as in SigV4's own parameters: `%2F` in the credential, `%3B` in the signed headers);
 * otherwise through the bytes, so that multi-byte sequences decode exactly as there.
 */
export function percentDecodeString(value: string, plusAsSpace: boolean): string {
  let out: string | undefined;
  let plainFrom = 0;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80) return percentDecode(value, plusAsSpace).toString('utf8');
    if (c === 0x25) {
      const hi = i + 2 < value.length ? hexValue(value.charCodeAt(i + 1)) : -1;
      const lo = hi >= 0 ? hexValue(value.charCodeAt(i + 2)) : -1;
      if (lo < 0) continue; // kept literally
      if (hi >= 8) return percentDecode(value, plusAsSpace).toString('utf8');
      out = `${out ?? ''}${value.slice(plainFrom, i)}${String.fromCharCode((hi << 4) | lo)}`;
      i += 2;
      plainFrom = i + 1;
    } else if (c === 0x2b && plusAsSpace) {
      out = `${out ?? ''}${value.slice(plainFrom, i)} `;
      plainFrom = i + 1;
    }
  }
  return out === undefined ? value : out + value.slice(plainFrom);
}

/**
 * Splits a raw query string (without `?`) into decoded parameters, in order. `+` is read as a
 * space, as `URLSearchParams` (and so every handler that acts on the query) reads it: the
 * signature must cover what the server will act on.
 */
export function parseQuery(rawQuery: string): QueryParameter[] {
  const params: QueryParameter[] = [];
  if (rawQuery === '') return params;
  for (const piece of rawQuery.split('&')) {
    if (piece === '') continue;
    const eq = piece.indexOf('=');
    const name = eq < 0 ? piece : piece.slice(0, eq);
    const value = eq < 0 ? '' : piece.slice(eq + 1);
    params.push({ name: percentDecodeString(name, true), value: percentDecodeString(value, true) });
  }
  return params;
}

/**
 * The canonical query string: every parameter (except `exclude`, i.e. `X-Amz-Signature` in the
 * presigned form) URI-encoded, sorted by encoded name then encoded value, joined with `&`.
 * Takes the raw query, or its parameters as `parseQuery` returned them (parsed once per request).
 */
export function canonicalQueryString(rawQuery: string | readonly QueryParameter[], exclude?: string): string {
  if (rawQuery === '' || rawQuery.length === 0) return '';
  const pairs: [string, string][] = [];
  for (const p of typeof rawQuery === 'string' ? parseQuery(rawQuery) : rawQuery) {
    if (p.name === exclude) continue;
    pairs.push([uriEncode(p.name), uriEncode(p.value)]);
  }
  // AWS sorts by code point of the encoded strings; they are ASCII, so < compares correctly.
  pairs.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
  let out = '';
  for (const [n, v] of pairs) out += out === '' ? `${n}=${v}` : `&${n}=${v}`;
  return out;
}

/**
 * A header value in canonical form: surrounding whitespace trimmed and each run of inner
 * whitespace collapsed to one space (AWS: "Trimall"); several values joined with `,` in the
 * order received.
 */
export function canonicalHeaderValue(value: string | readonly string[]): string {
  if (typeof value === 'string') return trimAll(value);
  return value.map(trimAll).join(',');
}

function trimAll(v: string): string {
  const t = v.trim();
  return /\s\s|[\t\r\n]/.test(t) ? t.replace(/\s+/g, ' ') : t;
}

/** Everything the canonical request is made of, already extracted from the request. */
export interface CanonicalRequestParts {
  readonly method: string;
  readonly canonicalUri: string;
  readonly canonicalQuery: string;
  /** The signed header names, lowercased and sorted (as in `SignedHeaders=`). */
  readonly signedHeaders: readonly string[];
  readonly headers: SigV4Headers;
  /** The hashed payload line: a lowercase hex SHA-256 or one of the SigV4 payload constants. */
  readonly payloadHash: string;
}

/**
 * Joins the parts into the canonical request. Returns `undefined` if a signed header is missing
 * from the request (the caller reports it): signing an absent header is never valid.
 */
export function buildCanonicalRequest(parts: CanonicalRequestParts): string | undefined {
  let headerBlock = '';
  for (const name of parts.signedHeaders) {
    const value = parts.headers[name];
    if (value === undefined) return undefined;
    headerBlock += `${name}:${canonicalHeaderValue(value)}\n`;
  }
  return `${parts.method}\n${parts.canonicalUri}\n${parts.canonicalQuery}\n${headerBlock}\n${parts.signedHeaders.join(';')}\n${parts.payloadHash}`;
}

/** Lowercase hex SHA-256 of a string (UTF-8) or bytes. */
export function sha256Hex(data: string | Uint8Array): string {
  // Bodiless requests (most GETs) all hash alike.
  if (data.length === 0) return EMPTY_SHA256;
  return createHash('sha256').update(data).digest('hex');
}

const EMPTY_SHA256 = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';

/** The SigV4 string to sign for a canonical request. */
export function buildStringToSign(amzDate: string, scope: string, canonicalRequest: string): string {
  return `AWS4-HMAC-SHA256\n${amzDate}\n${scope}\n${sha256Hex(canonicalRequest)}`;
}
