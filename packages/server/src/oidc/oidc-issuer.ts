import { type Clock, systemClock } from '../clock.js';
import type { Keyring } from '../identity/keyring.js';
import { OidcSigningKeys, type SigningKeyRecord } from '../identity/oidc-signing-keys.js';
import { type Logger, silentLogger } from '../observability/logger.js';
import type { Store } from '../store/store.js';

/** Options of {@link OidcIssuer.open}. */
export interface OidcIssuerOptions {
  readonly store: Store;
  readonly keyring: Keyring;
  /** The public base URL, the `iss` of every token (no trailing slash). */
  readonly issuer: string;
  /** How long a key signs before a new one takes over. Default 30 days. */
  readonly rotationPeriodMs?: number;
  /** Longest token lifetime; retired keys stay published this long. Default 1 hour. */
  readonly maxTokenLifetimeSeconds?: number;
  /** How often the rotation schedule is checked. Default 1 minute. */
  readonly checkEveryMs?: number;
  readonly clock?: Clock;
  readonly logger?: Logger;
}

const DAY_MS = 86_400_000;

/**
 * aiam's OIDC issuer with its keys kept in the store: the private JWKs sealed with the keyring
 * (context `oidc-signing-key:KID`, so one key's ciphertext cannot be passed off as another's),
 * loaded at start, rotated on a schedule (`rotateIfDue`), and pruned once every token a retired
 * key signed has expired. Each change is written back to the store before it is relied on.
 *
 * @example
 * const issuer = await OidcIssuer.open({ store, keyring, issuer: 'https://aiam.example.com' });
 * issuer.start(); // rotation timer
 * const { token } = await issuer.keys.issue({ subject, audience: 'sts.amazonaws.com', ttlSeconds: 900 });
 */
export class OidcIssuer {
  readonly keys: OidcSigningKeys;
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #rotationPeriodMs: number;
  readonly #checkEveryMs: number;
  readonly #log: Logger;
  #timer: NodeJS.Timeout | undefined;
  #ticking: Promise<void> = Promise.resolve();
  #unsubscribe: (() => Promise<void>) | undefined;

  private constructor(keys: OidcSigningKeys, options: OidcIssuerOptions) {
    this.keys = keys;
    this.#store = options.store;
    this.#keyring = options.keyring;
    this.#rotationPeriodMs = options.rotationPeriodMs ?? 30 * DAY_MS;
    this.#checkEveryMs = options.checkEveryMs ?? 60_000;
    this.#log = options.logger ?? silentLogger;
  }

  /** Loads the stored keys (creating the first one when there is none) and persists any change. */
  static async open(options: OidcIssuerOptions): Promise<OidcIssuer> {
    if (!(options.rotationPeriodMs === undefined || options.rotationPeriodMs >= 60_000))
      throw new RangeError('rotationPeriodMs must be at least one minute');
    const records = await loadRecords(options.store, options.keyring);
    const keys = await OidcSigningKeys.create(
      {
        issuer: options.issuer,
        clock: options.clock ?? systemClock,
        ...(options.maxTokenLifetimeSeconds !== undefined
          ? { maxTokenLifetimeSeconds: options.maxTokenLifetimeSeconds }
          : {}),
      },
      records,
    );
    const issuer = new OidcIssuer(keys, options);
    await issuer.#persist();
    // Another node's rotation or pruning reaches this node through the store's change
    // notification ('*' after a lost notification channel), not only at the next restart.
    issuer.#unsubscribe = await options.store.subscribeChanges((change) => {
      if (change.kinds.includes('signing-key') || change.kinds.includes('*')) issuer.#reload();
    });
    return issuer;
  }

  /** Starts the rotation schedule (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => {
      this.tick().catch((err) => this.#log.error('OIDC signing-key rotation failed', { error: err }));
    }, this.#checkEveryMs);
    this.#timer.unref();
  }

  /** One turn of the schedule: rotate when due, prune expired retired keys, persist. */
  tick(): Promise<void> {
    this.#ticking = this.#ticking.then(async () => {
      const rotated = await this.keys.rotateIfDue(this.#rotationPeriodMs);
      const pruned = this.keys.prune();
      if (rotated || pruned.length) {
        await this.#persist();
        this.#log.info('OIDC signing keys changed', { active: this.keys.activeKid, rotated, pruned });
      }
    });
    return this.#ticking;
  }

  /** Stops the schedule and the change subscription, and waits for a running turn. */
  async close(): Promise<void> {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    const unsubscribe = this.#unsubscribe;
    this.#unsubscribe = undefined;
    await unsubscribe?.();
    await this.#ticking.catch(() => {});
  }

  // Takes the stored key set, in turn with the rotation schedule so the two never interleave.
  #reload(): void {
    this.#ticking = this.#ticking.then(async () => {
      if (await this.keys.reload(await loadRecords(this.#store, this.#keyring)))
        this.#log.info('OIDC signing keys reloaded after a change on another node', {
          active: this.keys.activeKid,
        });
    });
    this.#ticking.catch((err) => this.#log.error('reloading the OIDC signing keys failed', { error: err }));
    this.#ticking = this.#ticking.catch(() => {});
  }

  /** Brings the store in line with the live keys: new ones created, retirements and removals written. */
  async #persist(): Promise<void> {
    const live = this.keys.records();
    const stored = new Map((await this.#store.listSigningKeys()).map((k) => [k.kid, k]));
    for (const r of [...live].reverse()) {
      const s = stored.get(r.kid);
      if (s === undefined) {
        const sealed = this.#keyring.encrypt(JSON.stringify(r.privateJwk), `oidc-signing-key:${r.kid}`);
        const { d: _secret, ...publicJwk } = r.privateJwk;
        await this.#store.createSigningKey({
          kid: r.kid,
          alg: 'ES256',
          privateJwkCiphertext: Buffer.from(sealed, 'utf8'),
          publicJwk: JSON.stringify(publicJwk),
        });
      }
      if (r.retiredAt !== undefined && (s === undefined || s.retiredAt === null))
        await this.#store.retireSigningKey(r.kid, r.retiredAt);
    }
    const kids = new Set(live.map((r) => r.kid));
    for (const kid of stored.keys()) if (!kids.has(kid)) await this.#store.deleteSigningKey(kid);
  }
}

// The stored signing keys, private JWKs unsealed.
async function loadRecords(store: Store, keyring: Keyring): Promise<SigningKeyRecord[]> {
  return (await store.listSigningKeys()).map((k) => ({
    kid: k.kid,
    privateJwk: JSON.parse(
      keyring.decryptString(
        Buffer.from(k.privateJwkCiphertext).toString('utf8'),
        `oidc-signing-key:${k.kid}`,
      ),
    ),
    createdAt: k.createdAt,
    ...(k.retiredAt !== null ? { retiredAt: k.retiredAt } : {}),
  }));
}
