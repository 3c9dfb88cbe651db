import {
  calculateJwkThumbprint,
  createLocalJWKSet,
  exportJWK,
  generateKeyPair,
  importJWK,
  type JSONWebKeySet,
  type JWK,
  type JWTPayload,
  jwtVerify,
  SignJWT,
} from 'jose';
import { type Clock, systemClock } from '../clock.js';
import { InputError } from '../errors.js';
import { type RandomSource, secureRandom } from './credential-ids.js';
import { TokenError } from './identity-errors.js';

const ALG = 'ES256';

type PrivateKey = Awaited<ReturnType<typeof generateKeyPair>>['privateKey'];

/** A signing key as persisted (the private JWK is secret: encrypt it with the keyring at rest). */
export interface SigningKeyRecord {
  readonly kid: string;
  /** The private key as a JWK (with `d`). */
  readonly privateJwk: JWK;
  /** When it was created, ms since the epoch. */
  readonly createdAt: number;
  /** When it stopped signing (a newer key took over), ms since the epoch. */
  readonly retiredAt?: number;
}

/** Options of {@link OidcSigningKeys}. */
export interface OidcSigningKeysOptions {
  /** The issuer URL, the `iss` of every token (e.g. `https://aiam.example.com`). */
  readonly issuer: string;
  /**
   * The longest lifetime of an issued token. A retired key stays published this long after it
   * stopped signing, so that every token it signed can still be verified until it expires.
   * Default 1 hour.
   */
  readonly maxTokenLifetimeSeconds?: number;
  /** Bound on the verified-token cache. Default 10000. */
  readonly cacheSize?: number;
  readonly clock?: Clock;
  readonly random?: RandomSource;
}

interface LiveKey {
  record: SigningKeyRecord;
  privateKey: PrivateKey;
  publicJwk: JWK;
}

interface CachedVerification {
  payload: JWTPayload;
  expiresAt: number;
  kid: string;
}

/** What {@link OidcSigningKeys.issue} returns. */
export interface IssuedToken {
  readonly token: string;
  readonly jti: string;
  readonly expiresAt: number;
}

/**
 * aiam as an OIDC issuer: ES256 signing keys, the JWKS, rotation, and issuing and verifying
 * aiam's JWTs.
 *
 * Rotation: `rotate()` makes a new key the one that signs; the previous one is retired but stays
 * in the JWKS until `maxTokenLifetime` after its retirement (every token it signed has expired
 * by then); `prune()` then drops it. Verifiers that cache the JWKS see the new `kid` and refetch.
 *
 * Verification results are cached (an ES256 verification costs ~75 us) but only until the
 * token's `exp`, never past the removal of its key, and `invalidateSubject` drops a subject's
 * entries at once. The cache only remembers that a signature was valid: the caller still checks
 * that the subject exists and is enabled on every request.
 */
export class OidcSigningKeys {
  readonly issuer: string;
  readonly #maxLifetimeMs: number;
  readonly #clock: Clock;
  readonly #random: RandomSource;
  readonly #cacheSize: number;
  #keys: LiveKey[] = [];
  #jwks: ReturnType<typeof createLocalJWKSet> | undefined;
  readonly #cache = new Map<string, CachedVerification>();

  private constructor(options: OidcSigningKeysOptions) {
    let url: URL;
    try {
      url = new URL(options.issuer);
    } catch (cause) {
      throw new InputError(`The OIDC issuer ${JSON.stringify(options.issuer)} is not a URL.`, { cause });
    }
    if (url.protocol !== 'https:' && url.hostname !== 'localhost' && url.hostname !== '127.0.0.1') {
      // OIDC Discovery 1.0 section 3 requires https; plain http is tolerated for local development only.
      throw new InputError(
        `The OIDC issuer must be an https URL (or http on localhost); got ${options.issuer}.`,
      );
    }
    this.issuer = options.issuer;
    this.#maxLifetimeMs = (options.maxTokenLifetimeSeconds ?? 3600) * 1000;
    this.#clock = options.clock ?? systemClock;
    this.#random = options.random ?? secureRandom;
    this.#cacheSize = options.cacheSize ?? 10000;
  }

  /**
   * Loads persisted keys (newest unretired one signs), or generates the first key when there
   * are none. Persist `records()` after creation and after each `rotate()`/`prune()`.
   */
  static async create(
    options: OidcSigningKeysOptions,
    records: readonly SigningKeyRecord[] = [],
  ): Promise<OidcSigningKeys> {
    const keys = new OidcSigningKeys(options);
    keys.#keys = await liveKeys(records);
    if (keys.#keys.length === 0 || keys.#keys[0]?.record.retiredAt !== undefined) await keys.rotate();
    keys.#rebuild();
    return keys;
  }

  /**
   * Takes the key set another node persisted (after its rotation or pruning), so that this node
   * signs with the same key and publishes the same JWKS. A set without a key that may sign is
   * ignored (this node keeps its keys). Returns true when the set changed.
   */
  async reload(records: readonly SigningKeyRecord[]): Promise<boolean> {
    const next = await liveKeys(records);
    if (next.length === 0 || next[0]?.record.retiredAt !== undefined) return false;
    const shape = (ks: readonly LiveKey[]) => ks.map((k) => `${k.record.kid}/${k.record.retiredAt}`).join();
    if (shape(next) === shape(this.#keys)) return false;
    const kids = new Set(next.map((k) => k.record.kid));
    this.#keys = next;
    for (const [key, entry] of this.#cache) if (!kids.has(entry.kid)) this.#cache.delete(key);
    this.#rebuild();
    return true;
  }

  /** The kid of the key that signs now. */
  get activeKid(): string {
    return (this.#keys[0] as LiveKey).record.kid;
  }

  /** Every key, for persistence (private JWKs: encrypt before storing). */
  records(): SigningKeyRecord[] {
    return this.#keys.map((k) => k.record);
  }

  /** The JWKS to publish: public keys only, with `kid`, `use: sig` and `alg`. */
  jwks(): JSONWebKeySet {
    return { keys: this.#keys.map((k) => ({ ...k.publicJwk })) };
  }

  /** Generates a new signing key and makes it active; the previous one is retired now. */
  async rotate(): Promise<SigningKeyRecord> {
    const now = this.#clock.now();
    const { privateKey } = await generateKeyPair(ALG, { extractable: true });
    const privateJwk = await exportJWK(privateKey);
    const kid = await calculateJwkThumbprint({
      kty: privateJwk.kty,
      crv: privateJwk.crv,
      x: privateJwk.x,
      y: privateJwk.y,
    } as JWK);
    const record: SigningKeyRecord = {
      kid,
      privateJwk: { ...privateJwk, kid, alg: ALG, use: 'sig' },
      createdAt: now,
    };
    this.#keys = this.#keys.map((k) =>
      k.record.retiredAt === undefined ? { ...k, record: { ...k.record, retiredAt: now } } : k,
    );
    this.#keys.unshift({
      record,
      privateKey: privateKey as PrivateKey,
      publicJwk: publicPart(record.privateJwk, kid),
    });
    this.#rebuild();
    return record;
  }

  /** Rotates if the active key is older than `periodMs`; true if it did. */
  async rotateIfDue(periodMs: number): Promise<boolean> {
    if (this.#clock.now() - (this.#keys[0] as LiveKey).record.createdAt < periodMs) return false;
    await this.rotate();
    return true;
  }

  /** Drops retired keys whose tokens have all expired; returns their kids. */
  prune(): string[] {
    const now = this.#clock.now();
    const dropped = this.#keys
      .filter((k) => k.record.retiredAt !== undefined && now > k.record.retiredAt + this.#maxLifetimeMs)
      .map((k) => k.record.kid);
    if (dropped.length === 0) return dropped;
    this.#keys = this.#keys.filter((k) => !dropped.includes(k.record.kid));
    for (const [key, entry] of this.#cache) if (dropped.includes(entry.kid)) this.#cache.delete(key);
    this.#rebuild();
    return dropped;
  }

  /**
   * Issues a JWT signed by the active key: `iss`, `sub`, `aud`, `iat`, `exp`, a random `jti`,
   * and `claims` (which may not override the registered ones).
   */
  async issue(request: {
    subject: string;
    audience: string | string[];
    ttlSeconds: number;
    claims?: Record<string, unknown>;
  }): Promise<IssuedToken> {
    const ttlMs = request.ttlSeconds * 1000;
    if (!Number.isInteger(request.ttlSeconds) || request.ttlSeconds < 1 || ttlMs > this.#maxLifetimeMs) {
      throw new InputError(
        `Token lifetime must be 1 to ${this.#maxLifetimeMs / 1000} seconds; got ${request.ttlSeconds}.`,
      );
    }
    if (request.subject === '') throw new InputError('A token needs a subject.');
    for (const reserved of ['iss', 'sub', 'aud', 'exp', 'iat', 'nbf', 'jti']) {
      if (request.claims && reserved in request.claims)
        throw new InputError(`Custom claims may not set "${reserved}".`);
    }
    const active = this.#keys[0] as LiveKey;
    const now = this.#clock.now();
    const iat = Math.floor(now / 1000);
    const jti = Buffer.from(this.#random(16)).toString('base64url');
    const token = await new SignJWT({ ...request.claims })
      .setProtectedHeader({ alg: ALG, kid: active.record.kid, typ: 'JWT' })
      .setIssuer(this.issuer)
      .setSubject(request.subject)
      .setAudience(request.audience)
      .setIssuedAt(iat)
      .setExpirationTime(iat + request.ttlSeconds)
      .setJti(jti)
      .sign(active.privateKey);
    return { token, jti, expiresAt: (iat + request.ttlSeconds) * 1000 };
  }

  /**
   * Verifies an aiam JWT for `audience`: signature by a published key, `iss`, `aud`, `exp`,
   * `nbf`. Throws a {@link TokenError}.
   */
  async verify(token: string, audience: string): Promise<JWTPayload> {
    const now = this.#clock.now();
    const cacheKey = `${audience}\0${token}`;
    const hit = this.#cache.get(cacheKey);
    if (hit !== undefined) {
      this.#cache.delete(cacheKey);
      if (now < hit.expiresAt) {
        this.#cache.set(cacheKey, hit); // most recently used goes last
        return hit.payload;
      }
    }
    if (token.length > 8192) throw new TokenError('ERR_JWT_INVALID', `token of ${token.length} characters`);
    let payload: JWTPayload;
    let kid: string;
    try {
      const result = await jwtVerify(token, this.#jwks as ReturnType<typeof createLocalJWKSet>, {
        issuer: this.issuer,
        audience,
        algorithms: [ALG],
        currentDate: new Date(now),
        requiredClaims: ['sub', 'exp', 'iat', 'jti'],
      });
      payload = result.payload;
      kid = result.protectedHeader.kid as string;
    } catch (e) {
      throw tokenErrorFrom(e);
    }
    this.#cache.set(cacheKey, { payload, expiresAt: (payload.exp as number) * 1000, kid });
    if (this.#cache.size > this.#cacheSize) this.#cache.delete(this.#cache.keys().next().value as string);
    return payload;
  }

  /** Drops cached verifications of one subject's tokens (call when it is disabled or deleted). */
  invalidateSubject(subject: string): number {
    let n = 0;
    for (const [key, entry] of this.#cache) {
      if (entry.payload.sub === subject) {
        this.#cache.delete(key);
        n++;
      }
    }
    return n;
  }

  /** Number of cached verifications. */
  get cacheSize(): number {
    return this.#cache.size;
  }

  #rebuild(): void {
    this.#jwks = createLocalJWKSet(this.jwks());
  }
}

// Imports persisted keys, newest first. Only the newest key signs; an older one persisted
// without a retirement time (an interrupted rotation) is retired as of the newest key's
// creation, so it is pruned in time.
async function liveKeys(records: readonly SigningKeyRecord[]): Promise<LiveKey[]> {
  const keys: LiveKey[] = [];
  for (const record of records) {
    const privateKey = (await importJWK(record.privateJwk, ALG, { extractable: true })) as PrivateKey;
    keys.push({ record, privateKey, publicJwk: publicPart(record.privateJwk, record.kid) });
  }
  keys.sort((a, b) => b.record.createdAt - a.record.createdAt);
  const newest = keys[0]?.record;
  return keys.map((k, i) =>
    i > 0 && k.record.retiredAt === undefined && newest !== undefined
      ? { ...k, record: { ...k.record, retiredAt: newest.createdAt } }
      : k,
  );
}

function publicPart(jwk: JWK, kid: string): JWK {
  return { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y, kid, use: 'sig', alg: ALG };
}

/** Maps a jose (or fetch) failure to a {@link TokenError} with a stable code. */
export function tokenErrorFrom(e: unknown): TokenError {
  const code = (e as { code?: unknown })?.code;
  const message = e instanceof Error ? e.message : String(e);
  switch (code) {
    case 'ERR_JWT_EXPIRED':
      return new TokenError('ERR_JWT_EXPIRED', message, { cause: e });
    case 'ERR_JWT_CLAIM_VALIDATION_FAILED': {
      const claim = (e as { claim?: string }).claim;
      const mapped =
        claim === 'aud'
          ? 'ERR_JWT_AUDIENCE'
          : claim === 'iss'
            ? 'ERR_JWT_ISSUER'
            : claim === 'nbf' || claim === 'iat'
              ? 'ERR_JWT_NOT_YET_VALID'
              : 'ERR_JWT_INVALID';
      return new TokenError(mapped, message, { cause: e });
    }
    case 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED':
    case 'ERR_JWKS_NO_MATCHING_KEY':
    case 'ERR_JWKS_MULTIPLE_MATCHING_KEYS':
    case 'ERR_JOSE_ALG_NOT_ALLOWED':
      return new TokenError('ERR_JWT_SIGNATURE', message, { cause: e });
    case 'ERR_JWKS_TIMEOUT':
    case 'ERR_JWKS_INVALID':
      return new TokenError('ERR_JWKS_UNAVAILABLE', message, { cause: e });
    default:
      return new TokenError('ERR_JWT_INVALID', message, { cause: e });
  }
}
