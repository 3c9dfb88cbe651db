import { randomUUID } from 'node:crypto';
import { AuthenticationError, InputError, NotFoundError } from '../errors.js';
import {
  ENDPOINT_KEY_PREFIX,
  generateBearerKey,
  isBearerKey,
  type RandomSource,
  secureRandom,
} from '../identity/credential-ids.js';
import type { SecretHasher } from '../identity/secret-hash.js';
import type { OnlineEndpoint } from '../store/ml-registry-types.js';
import type { BearerKey } from '../store/store-types.js';
import type { Store, StoreTransaction } from '../store/store.js';

/** The two key slots of an endpoint, as Azure ML's primary and secondary keys. */
export type EndpointKeySlot = 'primary' | 'secondary';

const SLOTS: readonly EndpointKeySlot[] = ['primary', 'secondary'];
const PURPOSE = 'endpoint-key/';

/** Options of {@link EndpointKeyService}. */
export interface EndpointKeyServiceOptions {
  readonly store: Store;
  /** Hashes keys for storage and lookup (the server's pepper). */
  readonly hasher: SecretHasher;
  /** Randomness for new keys (tests pass a deterministic source). */
  readonly random?: RandomSource;
}

/** A key as listed: never the key itself. */
export interface EndpointKeyInfo {
  readonly slot: EndpointKeySlot;
  readonly id: string;
  readonly createdAt: number;
}

/** Who a valid endpoint key authenticates: the endpoint and the slot it used. */
export interface EndpointKeyPrincipal {
  readonly endpoint: OnlineEndpoint;
  readonly slot: EndpointKeySlot;
  readonly keyId: string;
}

/**
 * Endpoint keys (`Authorization: Bearer aiam_ek_…`), two per endpoint so that clients rotate
 * without downtime: move clients to the secondary, regenerate the primary, move back. A key is
 * shown once, when created or regenerated; the store keeps only its peppered HMAC hash (a
 * bearer key owned by the endpoint ARN, purpose `endpoint-key/primary|secondary`).
 */
export class EndpointKeyService {
  readonly #store: Store;
  readonly #hasher: SecretHasher;
  readonly #random: RandomSource;

  constructor(options: EndpointKeyServiceOptions) {
    this.#store = options.store;
    this.#hasher = options.hasher;
    this.#random = options.random ?? secureRandom;
  }

  async #endpoint(tx: StoreTransaction, name: string): Promise<OnlineEndpoint> {
    const e = await tx.getEndpoint(name);
    if (!e) throw new NotFoundError(`endpoint "${name}" does not exist`);
    return e;
  }

  async #issue(tx: StoreTransaction, endpoint: OnlineEndpoint, slot: EndpointKeySlot): Promise<string> {
    for (const old of await tx.listBearerKeys({ ownerArn: endpoint.arn, purpose: PURPOSE + slot })) {
      await tx.deleteBearerKey(old.id);
    }
    const key = generateBearerKey(ENDPOINT_KEY_PREFIX, this.#random);
    await tx.createBearerKey({
      id: `ek-${randomUUID()}`,
      hash: this.#hasher.hash(key),
      ownerArn: endpoint.arn,
      purpose: PURPOSE + slot,
    });
    return key;
  }

  /**
   * Creates the keys an endpoint lacks (both, for a new endpoint) and returns them: the only
   * time they are shown. Slots that already have a key are left alone (not returned).
   */
  ensureKeys(endpointName: string): Promise<Partial<Record<EndpointKeySlot, string>>> {
    return this.#store.transaction(async (tx) => {
      const endpoint = await this.#endpoint(tx, endpointName);
      const existing = await tx.listBearerKeys({ ownerArn: endpoint.arn });
      const out: Partial<Record<EndpointKeySlot, string>> = {};
      for (const slot of SLOTS) {
        if (!existing.some((k) => k.purpose === PURPOSE + slot))
          out[slot] = await this.#issue(tx, endpoint, slot);
      }
      return out;
    });
  }

  /** Replaces one slot's key (the old one stops working at commit; the other slot stays valid). Shown once. */
  async regenerateKey(endpointName: string, slot: EndpointKeySlot): Promise<string> {
    if (!SLOTS.includes(slot))
      throw new InputError(`key slot must be primary or secondary, not "${String(slot)}"`);
    return this.#store.transaction(async (tx) =>
      this.#issue(tx, await this.#endpoint(tx, endpointName), slot),
    );
  }

  /** The keys an endpoint has, without their values. */
  async listKeys(endpointName: string): Promise<EndpointKeyInfo[]> {
    const endpoint = await this.#store.getEndpoint(endpointName);
    if (!endpoint) throw new NotFoundError(`endpoint "${endpointName}" does not exist`);
    const keys = await this.#store.listBearerKeys({ ownerArn: endpoint.arn });
    return keys
      .filter((k) => k.purpose.startsWith(PURPOSE))
      .map((k) => ({
        slot: k.purpose.slice(PURPOSE.length) as EndpointKeySlot,
        id: k.id,
        createdAt: k.createdAt,
      }))
      .sort((a, b) => a.slot.localeCompare(b.slot));
  }

  /**
   * Authenticates `Authorization: Bearer KEY` for an endpoint with `authMode: key`. The key's
   * peppered HMAC is the lookup key (an index probe reveals nothing of the key), and the
   * stored hash is then compared in constant time. Every failure is the same
   * AuthenticationError (its `reason` is for the audit log only).
   */
  async authenticateEndpointKey(endpointName: string, presentedKey: string): Promise<EndpointKeyPrincipal> {
    if (typeof presentedKey !== 'string' || !isBearerKey(presentedKey, ENDPOINT_KEY_PREFIX))
      throw new AuthenticationError('not an endpoint key');
    const endpoint = await this.#store.getEndpoint(endpointName);
    if (!endpoint) throw new AuthenticationError('unknown endpoint');
    return { endpoint, ...(await this.authenticateKeyOf(endpoint, presentedKey)) };
  }

  /**
   * {@link authenticateEndpointKey} for an endpoint the caller already resolved (the gateway
   * holds it per store revision), with the bearer-key lookup replaceable by a cache of the same
   * store revision. Same errors.
   */
  async authenticateKeyOf(
    endpoint: Pick<OnlineEndpoint, 'arn' | 'authMode'>,
    presentedKey: string,
    lookup: (hash: string) => Promise<BearerKey | undefined> = (hash) => this.#store.getBearerKey({ hash }),
  ): Promise<Omit<EndpointKeyPrincipal, 'endpoint'>> {
    if (typeof presentedKey !== 'string' || !isBearerKey(presentedKey, ENDPOINT_KEY_PREFIX))
      throw new AuthenticationError('not an endpoint key');
    if (endpoint.authMode !== 'key') throw new AuthenticationError('endpoint does not take keys');
    for (const hash of this.#hasher.candidates(presentedKey)) {
      const stored = await lookup(hash);
      if (!stored) continue;
      const valid = this.#hasher.sameHash(hash, stored.hash);
      if (
        !valid ||
        stored.ownerArn !== endpoint.arn ||
        !stored.purpose.startsWith(PURPOSE) ||
        stored.status !== 'Active'
      )
        throw new AuthenticationError('key does not belong to this endpoint or is inactive');
      return { slot: stored.purpose.slice(PURPOSE.length) as EndpointKeySlot, keyId: stored.id };
    }
    throw new AuthenticationError('unknown key');
  }
}
