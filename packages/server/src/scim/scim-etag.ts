import { ScimError } from './scim-errors.js';

/**
 * The weak ETag of a resource version (RFC 7644 §3.14, RFC 9110 §8.8.3): `W/"3"`. Weak,
 * because two representations of one version differ by `attributes` projection.
 */
export function etagForVersion(version: number | string): string {
  return `W/"${String(version)}"`;
}

/** Parses an entity-tag list header (`W/"1", "2"` or `*`) into opaque tags; `*` is kept as is. */
export function parseEtagList(header: string): string[] {
  const tags: string[] = [];
  const re = /\s*(\*|(?:W\/)?"([^"]*)")\s*(?:,|$)/gy;
  let m: RegExpExecArray | null;
  let consumed = 0;
  // biome-ignore lint/suspicious/noAssignInExpressions: a sticky-regex scan loop
  while (consumed < header.length && (m = re.exec(header)) !== null) {
    tags.push(m[1] === '*' ? '*' : m[2]!);
    consumed = re.lastIndex;
    if (m[0].length === 0) break;
  }
  if (consumed < header.trim().length || tags.length === 0) {
    throw new ScimError(
      'invalidSyntax',
      `Malformed entity tag list: "${header.slice(0, 80)}". Use W/"<version>" as returned in ETag.`,
    );
  }
  return tags;
}

/** Conditional request headers relevant to SCIM (RFC 7644 §3.14). */
export interface ConditionalHeaders {
  ifMatch?: string | undefined;
  ifNoneMatch?: string | undefined;
}

/** What a precondition check decided: go on, or answer 304 Not Modified (GET only). */
export type PreconditionOutcome = 'proceed' | 'not-modified';

/**
 * Evaluates If-Match / If-None-Match against the current version (undefined: no resource)
 * for a SCIM request. Tags are compared weakly (opaque-tag equality), as RFC 7644 §3.14's
 * examples send `If-Match: W/"…"` back. A failed If-Match on PUT/PATCH/DELETE, or a matched
 * If-None-Match on them, is a 412 with no scimType (RFC 7644 §3.12 defines none for 412);
 * a matched If-None-Match on GET/HEAD is 304.
 */
export function checkPreconditions(
  method: string,
  headers: ConditionalHeaders,
  currentVersion: number | string | undefined,
): PreconditionOutcome {
  const current = currentVersion === undefined ? undefined : String(currentVersion);
  const read = method === 'GET' || method === 'HEAD';
  if (headers.ifMatch !== undefined && headers.ifMatch.trim() !== '') {
    const tags = parseEtagList(headers.ifMatch);
    const ok = current !== undefined && tags.some((t) => t === '*' || t === current);
    if (!ok) {
      throw new ScimError(
        undefined,
        `The resource has changed: its version is ${current === undefined ? 'gone' : etagForVersion(current)}, not ${headers.ifMatch.slice(0, 80)}. Fetch it again and retry.`,
        { status: 412 },
      );
    }
  }
  if (headers.ifNoneMatch !== undefined && headers.ifNoneMatch.trim() !== '') {
    const tags = parseEtagList(headers.ifNoneMatch);
    const matched = current !== undefined && tags.some((t) => t === '*' || t === current);
    if (matched) {
      if (read) return 'not-modified';
      throw new ScimError(
        undefined,
        `If-None-Match matched the current version ${etagForVersion(current!)}.`,
        { status: 412 },
      );
    }
  }
  return 'proceed';
}
