import { createCipheriv, createDecipheriv, hkdfSync } from 'node:crypto';
import { type Clock, systemClock } from '../clock.js';
import { InputError } from '../errors.js';
import {
  generateAccessKeyId,
  generateSecretAccessKey,
  isAccessKeyId,
  type RandomSource,
  secureRandom,
} from './credential-ids.js';
import { SigV4Error } from './identity-errors.js';
import type { Keyring } from './keyring.js';
import type { SigV4Credential, SigV4SecretLookup } from './sigv4-verifier.js';

/** What a session token carries, once opened. */
export interface SessionClaims {
  /** The temporary access key id (ASIA…) the token belongs to. */
  readonly accessKeyId: string;
  /** Who the session acts as, e.g. `arn:aws:sts::000000000000:assumed-role/reader/ci-run-42`. */
  readonly principal: string;
  /** Issue and expiry times, ms since the epoch. */
  readonly issuedAt: number;
  readonly expiresAt: number;
  /** Anything else the issuer needs back on each request (session policy, tags, source identity). JSON. */
  readonly context: Readonly<Record<string, unknown>>;
}

/** A set of temporary credentials, as STS returns them. */
export interface TemporaryCredentials {
  readonly accessKeyId: string;
  /** Shown to the caller once; aiam keeps it only inside the sealed session token. */
  readonly secretAccessKey: string;
  readonly sessionToken: string;
  readonly expiration: Date;
}

/** Options of a {@link SessionTokenIssuer}. */
export interface SessionTokenOptions {
  readonly keyring: Keyring;
  readonly clock?: Clock;
  readonly random?: RandomSource;
  /** Refuse tokens longer than this many characters (default 4096). */
  readonly maxTokenLength?: number;
  /** Bound on the cache of opened tokens (default 10000; 0 for none). */
  readonly cacheSize?: number;
}

/** The shortest session AWS allows: 15 minutes. */
export const MIN_SESSION_SECONDS = 900;
/** The longest session AWS allows (GetSessionToken): 36 hours. */
export const MAX_SESSION_SECONDS = 129600;

const PREFIX = 'aiamst1';
const TOKEN = /^aiamst1\.(mk[0-9a-f]{12})\.([A-Za-z0-9_-]+)$/;
const SALT_BYTES = 16;
const IV_BYTES = 12;
const TAG_BYTES = 16;
// Tokens from a node whose clock runs slightly ahead are still accepted.
const ISSUED_AT_SKEW_MS = 5 * 60 * 1000;

interface SealedPayload {
  v: 1;
  k: string;
  s: string;
  p: string;
  iat: number;
  exp: number;
  c: Record<string, unknown>;
}

/**
 * Issues and opens session tokens for temporary credentials.
 *
 * The design choice: the token is self-contained and authenticated-encrypted (AES-256-GCM),
 * carrying the temporary secret, the principal, the expiry and the session context; nothing is
 * stored per session. Why: workloads refresh credentials constantly (container credentials,
 * `aiam run`), and a store write per AssumeRole would make STS the busiest writer and require
 * every node to read a shared table on every request; AWS's own session tokens are sealed blobs
 * for the same reason. It stays safe because:
 * - Tamper-evidence: GCM authenticates every byte of the token and, as associated data, the
 *   access key id it is presented with; any change fails with `InvalidToken`.
 * - Revocation: the caller still looks up the principal on each request (a disabled user or a
 *   deleted role fails at once) and may refuse tokens issued before a per-principal
 *   "revoke sessions" time (`issuedAt`), which is how AWS revokes role sessions.
 * - Key wear: each token is sealed under its own key, HKDF-derived from a random salt and the
 *   keyring's session-token key, so the GCM random-nonce limit per key never comes into play.
 * - Master-key rotation: the token names its master key id; tokens outlive a rotation until
 *   they expire (36 hours at most), after which the old key can be retired.
 */
export class SessionTokenIssuer {
  readonly #keyring: Keyring;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #maxLength: number;
  readonly #baseKeys = new Map<string, Buffer>();
  readonly #cacheSize: number;
  // Opened tokens, so a busy session is decrypted once (~20 us), not on every request. Entries
  // are used only until the token's expiry; revocation is unaffected, because the principal
  // check (`secretLookup`'s `check`) runs on every request, cached or not.
  readonly #opened = new Map<string, SessionClaims & { readonly secretAccessKey: string }>();

  constructor(options: SessionTokenOptions) {
    this.#keyring = options.keyring;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? secureRandom;
    this.#maxLength = options.maxTokenLength ?? 4096;
    this.#cacheSize = options.cacheSize ?? 10000;
  }

  /** Issues temporary credentials for `principal`, valid `durationSeconds` from now. */
  issue(request: {
    principal: string;
    durationSeconds: number;
    context?: Record<string, unknown>;
  }): TemporaryCredentials {
    const { principal, durationSeconds } = request;
    if (
      !Number.isInteger(durationSeconds) ||
      durationSeconds < MIN_SESSION_SECONDS ||
      durationSeconds > MAX_SESSION_SECONDS
    ) {
      throw new InputError(
        `DurationSeconds must be an integer from ${MIN_SESSION_SECONDS} to ${MAX_SESSION_SECONDS}; got ${durationSeconds}.`,
        { code: 'ValidationError' },
      );
    }
    if (principal === '') throw new InputError('A session needs a principal.');
    const now = this.#clock.now();
    const accessKeyId = generateAccessKeyId('temporary', this.#random);
    const secretAccessKey = generateSecretAccessKey(this.#random);
    const payload: SealedPayload = {
      v: 1,
      k: accessKeyId,
      s: secretAccessKey,
      p: principal,
      iat: now,
      exp: now + durationSeconds * 1000,
      c: request.context ?? {},
    };
    const keyId = this.#keyring.activeKeyId;
    const salt = this.#bytes(SALT_BYTES);
    const iv = this.#bytes(IV_BYTES);
    const cipher = createCipheriv('aes-256-gcm', this.#tokenKey(keyId, salt), iv);
    cipher.setAAD(aad(keyId, accessKeyId));
    const ct = Buffer.concat([cipher.update(JSON.stringify(payload), 'utf8'), cipher.final()]);
    const sessionToken = `${PREFIX}.${keyId}.${Buffer.concat([salt, iv, ct, cipher.getAuthTag()]).toString('base64url')}`;
    if (sessionToken.length > this.#maxLength) {
      throw new InputError(
        `The session context makes a ${sessionToken.length}-character token, over the ${this.#maxLength} limit; shorten the session policy or tags.`,
        { code: 'PackedPolicyTooLarge' },
      );
    }
    return { accessKeyId, secretAccessKey, sessionToken, expiration: new Date(payload.exp) };
  }

  /**
   * Opens a session token presented with `accessKeyId`. Throws `SigV4Error('InvalidToken')`
   * for anything malformed, altered, or presented with another key id, and
   * `SigV4Error('ExpiredToken')` once it has expired.
   */
  open(sessionToken: string, accessKeyId: string): SessionClaims & { readonly secretAccessKey: string } {
    const hit = this.#opened.get(sessionToken);
    if (hit !== undefined && hit.accessKeyId === accessKeyId && this.#clock.now() < hit.expiresAt) return hit;
    const opened = this.#open(sessionToken, accessKeyId);
    if (this.#cacheSize > 0) {
      this.#opened.delete(sessionToken);
      this.#opened.set(sessionToken, opened);
      if (this.#opened.size > this.#cacheSize)
        this.#opened.delete(this.#opened.keys().next().value as string);
    }
    return opened;
  }

  #open(sessionToken: string, accessKeyId: string): SessionClaims & { readonly secretAccessKey: string } {
    if (sessionToken.length > this.#maxLength) throw invalid(`token of ${sessionToken.length} characters`);
    const m = TOKEN.exec(sessionToken);
    if (!m || !isAccessKeyId(accessKeyId)) throw invalid('malformed token or access key id');
    const keyId = m[1] as string;
    if (!this.#keyring.keyIds.includes(keyId))
      throw invalid(`token sealed under unknown master key ${keyId}`);
    const raw = Buffer.from(m[2] as string, 'base64url');
    // Node's decoder ignores stray trailing characters; only the canonical encoding is accepted,
    // so that no two different strings open as the same token.
    if (raw.toString('base64url') !== m[2]) throw invalid('token is not canonical base64url');
    if (raw.length < SALT_BYTES + IV_BYTES + TAG_BYTES + 2) throw invalid('token too short');
    let payload: SealedPayload;
    try {
      const salt = raw.subarray(0, SALT_BYTES);
      const iv = raw.subarray(SALT_BYTES, SALT_BYTES + IV_BYTES);
      const decipher = createDecipheriv('aes-256-gcm', this.#tokenKey(keyId, salt), iv);
      decipher.setAAD(aad(keyId, accessKeyId));
      decipher.setAuthTag(raw.subarray(raw.length - TAG_BYTES));
      const plain = Buffer.concat([
        decipher.update(raw.subarray(SALT_BYTES + IV_BYTES, raw.length - TAG_BYTES)),
        decipher.final(),
      ]);
      payload = JSON.parse(plain.toString('utf8')) as SealedPayload;
    } catch (cause) {
      throw invalid('token does not authenticate', cause);
    }
    // Authenticated, so these hold unless the issuer itself was wrong; checked anyway.
    if (payload.v !== 1 || payload.k !== accessKeyId || typeof payload.s !== 'string')
      throw invalid('token payload inconsistent');
    const now = this.#clock.now();
    if (now >= payload.exp) {
      throw new SigV4Error(
        'ExpiredToken',
        `session token for ${accessKeyId} expired at ${new Date(payload.exp).toISOString()}`,
      );
    }
    if (payload.iat > now + ISSUED_AT_SKEW_MS) throw invalid('token issued in the future');
    return {
      accessKeyId,
      secretAccessKey: payload.s,
      principal: payload.p,
      issuedAt: payload.iat,
      expiresAt: payload.exp,
      context: payload.c,
    };
  }

  /**
   * A secret lookup for `SigV4Verifier` that serves temporary (ASIA…) keys from their session
   * tokens and passes long-term keys to `longTerm`. `check` sees every opened session and
   * returns extra principal info, or `undefined` to refuse it (disabled principal, revoked
   * sessions).
   */
  secretLookup<P extends object, Q extends object>(
    check: (claims: SessionClaims) => Promise<Q | undefined>,
    longTerm: SigV4SecretLookup<P>,
  ): SigV4SecretLookup<P | (Q & { session: SessionClaims })> {
    return async (accessKeyId, { sessionToken }) => {
      if (!accessKeyId.startsWith('ASIA')) return longTerm(accessKeyId, { sessionToken });
      if (sessionToken === undefined) {
        throw new SigV4Error(
          'MissingSecurityToken',
          `temporary key ${accessKeyId} used without a session token`,
        );
      }
      const { secretAccessKey, ...claims } = this.open(sessionToken, accessKeyId);
      const extra = await check(claims);
      if (extra === undefined) return undefined;
      const credential: SigV4Credential = {
        secretAccessKey,
        sessionTokenRequired: true,
        fingerprint: 'session',
      };
      return { ...extra, session: claims, ...credential };
    };
  }

  #bytes(n: number): Buffer {
    const b = Buffer.from(this.#random(n));
    if (b.length !== n) throw new RangeError('random source returned the wrong size');
    return b;
  }

  #tokenKey(keyId: string, salt: Uint8Array): Buffer {
    let base = this.#baseKeys.get(keyId);
    if (base === undefined) {
      base = this.#keyring.deriveKey('session-token', keyId);
      this.#baseKeys.set(keyId, base);
    }
    return Buffer.from(hkdfSync('sha256', base, salt, 'aiam session token v1', 32));
  }
}

function aad(keyId: string, accessKeyId: string): Buffer {
  return Buffer.from(`aiam-session-token:v1:${keyId}:${accessKeyId}`, 'utf8');
}

function invalid(reason: string, cause?: unknown): SigV4Error {
  return new SigV4Error('InvalidToken', reason, { cause });
}
