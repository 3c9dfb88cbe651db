import type { SigV4Headers } from './sigv4-canonical-request.js';
import { checkCapacity } from './sigv4-signing-key-cache.js';

/** What a verification proved about one presigned request, kept for the next use of its URL. */
interface Proof<T> {
  /** The headers the signature covers, and their values when it was verified. */
  readonly signed: readonly (readonly [string, string | readonly string[] | undefined])[];
  readonly value: T;
}

/**
 * Presigned URLs whose signature verified. A presigned URL is made to be used more than once
 * until it expires: a download in ranged parts, or many workers given one URL, send the same
 * method, path, query and signed headers again. The signature over the same inputs under the
 * same secret verifies alike, so the next use may skip the canonical request, its SHA-256 and
 * the HMAC. Only that proof is kept: the caller still checks the time, looks the access key up
 * (a disabled key or revoked session fails at once) and compares the secret's fingerprint.
 *
 * Bounded (least recently used out first), and an entry is never a reason to accept a request
 * the full verification would refuse: any difference in the inputs is a miss.
 */
export class PresignedVerificationCache<T> {
  readonly #max: number;
  readonly #entries = new Map<string, Proof<T>>();

  /** @param maxEntries upper bound on remembered URLs. */
  constructor(maxEntries = 4096) {
    this.#max = checkCapacity(maxEntries);
  }

  /** Number of remembered URLs. */
  get size(): number {
    return this.#entries.size;
  }

  /**
   * The key of a request: everything of it the signature covers besides the signed headers'
   * values (checked on a hit), and the payload hash it may have been given.
   */
  static keyOf(
    method: string,
    path: string,
    query: string,
    payloadHash: string | undefined,
    headers: SigV4Headers,
  ): string {
    const declared = headers['x-amz-content-sha256'];
    return `${method}\n${path}\n${query}\n${payloadHash ?? ''}\n${Array.isArray(declared) ? declared.join('\n') : (declared ?? '')}`;
  }

  /** What was proved for `key`, when the signed headers still have the values they had. */
  get(key: string, headers: SigV4Headers): T | undefined {
    const hit = this.#entries.get(key);
    if (hit === undefined) return undefined;
    for (const [name, value] of hit.signed) {
      if (!sameHeader(headers[name], value)) return undefined;
    }
    this.#entries.delete(key);
    this.#entries.set(key, hit);
    return hit.value;
  }

  /** Remembers a verified request. */
  set(key: string, headers: SigV4Headers, signedHeaders: readonly string[], value: T): void {
    const signed = signedHeaders.map((name) => [name, copy(headers[name])] as const);
    this.#entries.delete(key);
    this.#entries.set(key, { signed, value });
    if (this.#entries.size > this.#max) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  /** Forgets the entries `matches` selects (an access key's, when it is deleted or disabled). */
  forget(matches: (value: T) => boolean): void {
    for (const [key, proof] of this.#entries) if (matches(proof.value)) this.#entries.delete(key);
  }
}

function copy(v: string | readonly string[] | undefined): string | readonly string[] | undefined {
  return Array.isArray(v) ? [...v] : v;
}

function sameHeader(
  a: string | readonly string[] | undefined,
  b: string | readonly string[] | undefined,
): boolean {
  if (typeof a === 'string' || a === undefined || typeof b === 'string' || b === undefined) return a === b;
  return a.length === b.length && a.every((x, i) => x === b[i]);
}
