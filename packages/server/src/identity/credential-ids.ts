import { randomBytes } from 'node:crypto';

/** A source of cryptographically secure random bytes; injectable so tests are exact. */
export type RandomSource = (size: number) => Uint8Array;

/** The default random source: the operating system's CSPRNG. */
export const secureRandom: RandomSource = (size) => randomBytes(size);

// RFC 4648 base32 alphabet, the one AWS access key ids use after their prefix.
const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

function base32(bytes: Uint8Array): string {
  let out = '';
  let buffer = 0;
  let bits = 0;
  for (const b of bytes) {
    buffer = (buffer << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(buffer >>> (bits - 5)) & 31];
      bits -= 5;
    }
    buffer &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(buffer << (5 - bits)) & 31];
  return out;
}

function take(random: RandomSource, size: number): Uint8Array {
  const bytes = random(size);
  if (bytes.length !== size)
    throw new RangeError(`random source returned ${bytes.length} bytes, not ${size}`);
  return bytes;
}

/** Long-term keys (an IAM user's) start with AKIA; temporary ones (from STS) with ASIA, as AWS's do. */
export type AccessKeyKind = 'long-term' | 'temporary';

const ACCESS_KEY_ID = /^(AKIA|ASIA)[A-Z2-7]{16}$/;

/**
 * A new access key id: `AKIA` or `ASIA` and 16 base32 characters (80 random bits), 20 characters
 * in all like AWS's, so stock tools that validate the shape accept it.
 */
export function generateAccessKeyId(kind: AccessKeyKind, random: RandomSource = secureRandom): string {
  return (kind === 'long-term' ? 'AKIA' : 'ASIA') + base32(take(random, 10));
}

/** True for a well-formed aiam access key id. */
export function isAccessKeyId(value: string): boolean {
  return ACCESS_KEY_ID.test(value);
}

/** The kind of a well-formed access key id, `undefined` for anything else. */
export function accessKeyKind(value: string): AccessKeyKind | undefined {
  if (!ACCESS_KEY_ID.test(value)) return undefined;
  return value.startsWith('AKIA') ? 'long-term' : 'temporary';
}

/**
 * A new secret access key: 30 random bytes (240 bits) in base64, 40 characters from
 * `A-Za-z0-9+/`, the shape of AWS's secrets.
 */
export function generateSecretAccessKey(random: RandomSource = secureRandom): string {
  return Buffer.from(take(random, 30)).toString('base64');
}

/** The prefix of endpoint keys (`Authorization: Bearer aiam_ek_...`); it lets secret scanners find leaked keys. */
export const ENDPOINT_KEY_PREFIX = 'aiam_ek_';

const BEARER_BODY = /^[A-Za-z0-9_-]{43}$/;

/**
 * A new bearer key: `prefix` + 256 random bits in base64url (43 characters). Only its hash is
 * stored (see `SecretHasher`); the key itself is shown once.
 */
export function generateBearerKey(
  prefix: string = ENDPOINT_KEY_PREFIX,
  random: RandomSource = secureRandom,
): string {
  if (!/^[a-z][a-z0-9]*_[a-z0-9]+_$/.test(prefix)) {
    throw new TypeError(`bearer key prefix ${JSON.stringify(prefix)} must look like "aiam_ek_"`);
  }
  return prefix + Buffer.from(take(random, 32)).toString('base64url');
}

/** True if `value` is a bearer key with this prefix; a cheap check before any lookup. */
export function isBearerKey(value: string, prefix: string = ENDPOINT_KEY_PREFIX): boolean {
  return value.startsWith(prefix) && BEARER_BODY.test(value.slice(prefix.length));
}
