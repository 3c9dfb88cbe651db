import { createHash } from 'node:crypto';
import { S3Error } from '../s3/s3-errors.js';

/** Strips the quotes clients put around ETags (`"abc"` -> `abc`). */
export function unquoteEtag(etag: string): string {
  const t = etag.trim();
  return t.length >= 2 && t.startsWith('"') && t.endsWith('"') ? t.slice(1, -1) : t;
}

/**
 * S3's ETag of a completed multipart upload: the hex MD5 of the concatenated binary MD5s of
 * the parts, then `-` and the part count (not an MD5 of the object; clients such as the aws
 * CLI recompute it this way to verify downloads).
 *
 * @example multipartEtag(['5d41402abc4b2a76b9719d911017c592']) // '…-1'
 */
export function multipartEtag(partEtags: readonly string[]): string {
  const hash = createHash('md5');
  for (const etag of partEtags) {
    const hex = unquoteEtag(etag);
    if (!/^[0-9a-f]{32}$/i.test(hex))
      throw new S3Error('InvalidPart', `"${etag.slice(0, 80)}" is not a part ETag.`);
    hash.update(Buffer.from(hex, 'hex'));
  }
  return `${hash.digest('hex')}-${partEtags.length}`;
}
