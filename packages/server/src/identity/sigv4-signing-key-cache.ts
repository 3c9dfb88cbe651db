import { createHash, createHmac } from 'node:crypto';

/**
 * Derives the SigV4 signing key: four chained HMAC-SHA256 over the scope (AWS: "Calculate the
 * signature for AWS Signature Version 4").
 *
 * ```
 * kDate = HMAC("AWS4" + secret, yyyymmdd); kRegion = HMAC(kDate, region)
 * kService = HMAC(kRegion, service);       kSigning = HMAC(kService, "aws4_request")
 * ```
 */
export function deriveSigningKey(
  secretAccessKey: string,
  date: string,
  region: string,
  service: string,
): Buffer {
  const kDate = createHmac('sha256', `AWS4${secretAccessKey}`).update(date).digest();
  const kRegion = createHmac('sha256', kDate).update(region).digest();
  const kService = createHmac('sha256', kRegion).update(service).digest();
  return createHmac('sha256', kService).update('aws4_request').digest();
}

/** `maxEntries` of a bounded cache, when it is a positive integer; else a RangeError. */
export function checkCapacity(maxEntries: number): number {
  if (!Number.isInteger(maxEntries) || maxEntries < 1)
    throw new RangeError('maxEntries must be a positive integer');
  return maxEntries;
}

/** A short, non-reversible fingerprint of a secret, to key caches without holding the secret. */
export function secretFingerprint(secretAccessKey: string): string {
  return createHash('sha256').update(secretAccessKey).digest('base64url').slice(0, 22);
}

/**
 * A bounded LRU cache of derived signing keys, keyed by access key id, a fingerprint of the
 * secret, and the scope (date, region, service).
 *
 * Why it cannot outlive a revocation: the verifier still looks the access key up on every
 * request and only skips the four HMACs; a deleted or disabled key fails that lookup, and a
 * rotated secret has another fingerprint, so a stale entry is simply never hit again (and ages
 * out). `invalidate` drops a key's entries at once so they do not even linger in memory.
 */
export class SigningKeyCache {
  readonly #max: number;
  readonly #entries = new Map<string, Buffer>();

  /** @param maxEntries upper bound on cached keys (each is 32 bytes plus its map key). */
  constructor(maxEntries = 4096) {
    this.#max = checkCapacity(maxEntries);
  }

  /** Number of cached keys. */
  get size(): number {
    return this.#entries.size;
  }

  /** The signing key for this scope, derived on a miss and cached. */
  get(
    accessKeyId: string,
    fingerprint: string,
    secretAccessKey: string,
    date: string,
    region: string,
    service: string,
  ): Buffer {
    // NUL cannot occur in any of these (ids and scope parts are validated tokens).
    const key = `${accessKeyId}\0${fingerprint}\0${date}\0${region}\0${service}`;
    const hit = this.#entries.get(key);
    if (hit !== undefined) {
      // Refresh recency: Map iteration order is insertion order, the oldest comes first.
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const derived = deriveSigningKey(secretAccessKey, date, region, service);
    this.#entries.set(key, derived);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
    }
    return derived;
  }

  /** Drops every cached key of one access key id (call when it is deleted, disabled or rotated). */
  invalidate(accessKeyId: string): number {
    const prefix = `${accessKeyId}\0`;
    let n = 0;
    for (const key of this.#entries.keys()) {
      if (key.startsWith(prefix)) {
        this.#entries.delete(key);
        n++;
      }
    }
    return n;
  }

  /** Drops everything. */
  clear(): void {
    this.#entries.clear();
  }
}
