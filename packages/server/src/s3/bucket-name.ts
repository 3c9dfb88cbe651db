import { S3Error } from './s3-errors.js';

/** S3's limit on an object key: 1,024 bytes of UTF-8 (S3 User Guide, "Naming objects"). */
export const MAX_KEY_BYTES = 1024;

// S3 User Guide, "General purpose bucket naming rules": prefixes and suffixes reserved by AWS.
const RESERVED_PREFIXES = ['xn--', 'sthree-', 'amzn-s3-demo-'];
const RESERVED_SUFFIXES = ['-s3alias', '--ol-s3', '.mrap', '--x-s3', '--table-s3'];

/**
 * Why `name` is not a valid bucket name under S3's rules for general purpose buckets, or
 * undefined when it is: 3 to 63 characters of lowercase letters, digits, dots and hyphens;
 * starting and ending with a letter or digit; no two adjacent dots; not shaped like an IPv4
 * address; none of AWS's reserved prefixes and suffixes. The legacy us-east-1 names (capitals,
 * underscores) are refused, as S3 has refused them for new buckets since 2018.
 */
export function bucketNameProblem(name: string): string | undefined {
  if (name.length < 3 || name.length > 63) return 'must be between 3 and 63 characters long';
  if (!/^[a-z0-9.-]+$/.test(name))
    return 'may contain only lowercase letters, digits, dots (.) and hyphens (-)';
  if (!/^[a-z0-9]/.test(name) || !/[a-z0-9]$/.test(name)) return 'must begin and end with a letter or digit';
  if (name.includes('..')) return 'must not contain two adjacent dots';
  if (/^\d{1,3}\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(name)) return 'must not be formatted as an IP address';
  // Virtual-host addressing needs every label to be a DNS label; `a.-b` is not one.
  if (name.includes('.-') || name.includes('-.')) return 'must not have a dot next to a hyphen';
  for (const p of RESERVED_PREFIXES)
    if (name.startsWith(p)) return `must not start with the reserved prefix "${p}"`;
  for (const s of RESERVED_SUFFIXES)
    if (name.endsWith(s)) return `must not end with the reserved suffix "${s}"`;
  return undefined;
}

/** True when `name` is a valid S3 bucket name (see `bucketNameProblem`). */
export function isValidBucketName(name: string): boolean {
  return bucketNameProblem(name) === undefined;
}

/** Throws InvalidBucketName, saying which rule `name` breaks. */
export function assertValidBucketName(name: string): void {
  const problem = bucketNameProblem(name);
  if (problem) {
    throw new S3Error('InvalidBucketName', `The specified bucket is not valid: a bucket name ${problem}.`, {
      details: { BucketName: name },
    });
  }
}

/**
 * Why `key` is not a valid object key, or undefined. S3 accepts any UTF-8 up to 1,024 bytes,
 * including `..`, `//`, a leading `/` and control characters; aiam refuses only the empty key,
 * NUL (which no S3 client can send through XML and which C-string tooling truncates) and
 * lone UTF-16 surrogates (not encodable as UTF-8).
 */
export function objectKeyProblem(key: string): string | undefined {
  if (key.length === 0) return 'must not be empty';
  if (Buffer.byteLength(key, 'utf8') > MAX_KEY_BYTES)
    return `must be at most ${MAX_KEY_BYTES} bytes of UTF-8`;
  if (key.includes('\u0000')) return 'must not contain the NUL character';
  if (/[\u{d800}-\u{dfff}]/u.test(key)) return 'must be valid Unicode (it contains a lone surrogate)';
  return undefined;
}

/** Throws KeyTooLongError or InvalidArgument (naming the rule) for an invalid object key. */
export function assertValidObjectKey(key: string): void {
  const problem = objectKeyProblem(key);
  if (!problem) return;
  if (problem.startsWith('must be at most')) {
    throw new S3Error('KeyTooLongError', `The object key ${problem}.`, {
      details: { Key: key.slice(0, 64) },
    });
  }
  throw new S3Error('InvalidArgument', `The object key ${problem}.`);
}
