import type { AuthenticatedPrincipal } from '../http/authenticator.js';
import type { SigV4Identity } from '../http/sigv4-authenticator.js';
import type { Keyring } from '../identity/keyring.js';
import type { SigV4Credential } from '../identity/sigv4-verifier.js';
import type { Store } from '../store/store.js';
import type { StoreChange } from '../store/store-types.js';
import { accessKeySecretContext } from './bootstrap-administrator.js';

type Entry = SigV4Identity & SigV4Credential;

// Changes to these kinds can disable a key, a user, or change what the identity carries.
const RELEVANT = new Set(['access-key', 'user', 'group', '*']);

/**
 * Finds a long-term (`AKIA…`) access key's secret and owner for the SigV4 verifier: the key
 * must be Active and its user active. Results are cached in memory and the whole cache is
 * dropped on any committed change to keys, users or groups (the store notifies in-process
 * synchronously after commit, and across nodes through its change channel), so disabling a
 * key or a user takes effect on the very next request on this node.
 *
 * Temporary (`ASIA…`) credentials are STS's: pass its lookup as `temporary`.
 */
export class AccessKeyLookup {
  readonly #store: Store;
  readonly #keyring: Keyring;
  readonly #cache = new Map<string, Entry | null>();
  readonly #max: number;
  readonly #temporary:
    | ((id: string, sessionToken: string | undefined) => Promise<Entry | undefined>)
    | undefined;
  #generation = 0;

  constructor(options: {
    store: Store;
    keyring: Keyring;
    maxEntries?: number;
    temporary?: (accessKeyId: string, sessionToken: string | undefined) => Promise<Entry | undefined>;
  }) {
    this.#store = options.store;
    this.#keyring = options.keyring;
    this.#max = options.maxEntries ?? 10_000;
    this.#temporary = options.temporary;
  }

  /** Drops cached entries after a relevant store change; pass to `store.subscribeChanges`. */
  onChange = (change: StoreChange): void => {
    if (change.kinds.some((k) => RELEVANT.has(k))) {
      this.#generation++;
      this.#cache.clear();
    }
  };

  /** The `SigV4SecretLookup` function. */
  lookup = async (accessKeyId: string, context: { readonly sessionToken: string | undefined }) => {
    if (accessKeyId.startsWith('ASIA')) return this.#temporary?.(accessKeyId, context.sessionToken);
    const cached = this.#cache.get(accessKeyId);
    if (cached !== undefined) return cached ?? undefined;
    const generation = this.#generation;
    const entry = await this.#load(accessKeyId);
    // A change committed while loading may have made this entry stale: do not cache it.
    if (generation === this.#generation) {
      if (this.#cache.size >= this.#max) this.#cache.delete(this.#cache.keys().next().value as string);
      this.#cache.set(accessKeyId, entry ?? null);
    }
    return entry;
  };

  async #load(accessKeyId: string): Promise<Entry | undefined> {
    if (!/^AKIA[A-Z2-7]{16}$/.test(accessKeyId)) return undefined;
    const key = await this.#store.getAccessKey(accessKeyId);
    if (key === undefined || key.status !== 'Active') return undefined;
    const user = await this.#store.getUser(key.userName);
    if (user === undefined || user.status !== 'active') return undefined;
    const groups = await this.#store.listGroupsForUser(user.name);
    const secretAccessKey = this.#keyring.decryptString(
      Buffer.from(key.secretCiphertext).toString('utf8'),
      accessKeySecretContext(accessKeyId),
    );
    const identity: AuthenticatedPrincipal = {
      principal: {
        arn: user.arn,
        account: this.#store.accountId,
        ...(groups.length ? { groupArns: groups.map((g) => g.arn) } : {}),
      },
      type: 'User',
      userName: user.name,
      userId: user.id,
      tags: user.tags,
      credentialId: accessKeyId,
    };
    return { identity, secretAccessKey, fingerprint: `${accessKeyId}:${key.version}` };
  }
}
