import { createHmac, timingSafeEqual } from 'node:crypto';
import { InputError } from '../errors.js';

/** A server pepper: a random key that never leaves the server, with an id so it can be rotated. */
export interface Pepper {
  /** A short identifier stored with each hash (`p1`, `2026-11`...). */
  readonly id: string;
  /** At least 32 random bytes. */
  readonly key: Uint8Array;
}

const PEPPER_ID = /^[A-Za-z0-9-]{1,16}$/;
const STORED = /^h1\.([A-Za-z0-9-]{1,16})\.([A-Za-z0-9_-]{43})$/;

/**
 * Hashes bearer keys and session tokens for storage: `h1.<pepperId>.<base64url HMAC-SHA256>`.
 *
 * Why HMAC-SHA256 and not a slow KDF (bcrypt, scrypt, Argon2): slow KDFs exist to make guessing
 * low-entropy *passwords* expensive. These secrets are 256 random bits drawn by the server;
 * nobody can enumerate 2^256 candidates however cheap each guess is, so a slow hash would add
 * only latency (tens of milliseconds on every request) and a denial-of-service lever. The
 * pepper (a server-side key) adds that a stolen database alone cannot even check a guess.
 * Being deterministic, the hash is also the lookup key: the store indexes it and finds the
 * record in one query, with no secret in clear anywhere.
 */
export class SecretHasher {
  readonly #active: Pepper;
  readonly #peppers: ReadonlyMap<string, Pepper>;

  /**
   * @param active the pepper new hashes use.
   * @param previous older peppers, still accepted by `verify` and `candidates` during a rotation.
   */
  constructor(active: Pepper, previous: readonly Pepper[] = []) {
    for (const p of [active, ...previous]) {
      if (!PEPPER_ID.test(p.id))
        throw new InputError(`pepper id ${JSON.stringify(p.id)} must be 1-16 of A-Z a-z 0-9 -`);
      if (p.key.length < 32)
        throw new InputError(`pepper ${p.id} has ${p.key.length} bytes; it needs at least 32`);
    }
    this.#active = active;
    this.#peppers = new Map([active, ...previous].map((p) => [p.id, p]));
  }

  /** The storable hash of a secret, under the active pepper. */
  hash(secret: string): string {
    return this.#hashWith(this.#active, secret);
  }

  /**
   * The hash under every known pepper, active first: during a pepper rotation the store looks
   * each up (one indexed query per pepper) and re-hashes a hit under the active one.
   */
  candidates(secret: string): string[] {
    return [...this.#peppers.values()].map((p) => this.#hashWith(p, secret));
  }

  /** True if `secret` matches `stored`, compared in constant time. False for malformed or unknown-pepper hashes. */
  verify(secret: string, stored: string): boolean {
    const m = STORED.exec(stored);
    const pepper = m ? this.#peppers.get(m[1] as string) : undefined;
    if (!m || !pepper) return false;
    // Compare the canonical text, not decoded bytes: base64url's last character carries unused
    // bits, so decoding would accept several spellings of one digest as the same hash.
    const expected = Buffer.from(
      createHmac('sha256', pepper.key).update(secret, 'utf8').digest('base64url'),
      'latin1',
    );
    const given = Buffer.from(m[2] as string, 'latin1');
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  /**
   * True if `computed` (one of `candidates(secret)`) is `stored`, compared in constant time: a
   * record found by its hash is checked without hashing the secret a second time.
   */
  sameHash(computed: string, stored: string): boolean {
    const a = Buffer.from(computed, 'latin1');
    const b = Buffer.from(stored, 'latin1');
    return a.length === b.length && STORED.test(stored) && timingSafeEqual(a, b);
  }

  /** True if `stored` was made with an older pepper and should be re-hashed. */
  needsRehash(stored: string): boolean {
    return STORED.exec(stored)?.[1] !== this.#active.id;
  }

  #hashWith(pepper: Pepper, secret: string): string {
    return `h1.${pepper.id}.${createHmac('sha256', pepper.key).update(secret, 'utf8').digest('base64url')}`;
  }
}
