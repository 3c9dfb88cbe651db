import { randomBytes } from 'node:crypto';
import { InputError, NotFoundError } from '../errors.js';
import { generateBearerKey } from '../identity/credential-ids.js';
import type { SecretHasher } from '../identity/secret-hash.js';
import type { Store, StoreTransaction } from '../store/store.js';

/** The purpose of a bearer key that is a SCIM provisioning token. */
export const SCIM_TOKEN_PURPOSE = 'scim';
/** The prefix of SCIM tokens (secret scanners can recognize them). */
export const SCIM_TOKEN_PREFIX = 'aiam_scim_';
/**
 * The principal that owns every SCIM token: a user-assigned managed identity whose only grant is
 * `scim:*`, so a token can provision and nothing else (the engine decides, like everywhere).
 */
export const SCIM_PROVISIONER_NAME = 'aiam-scim-provisioner';

const PROVISIONER_POLICY_NAME = 'scim-provisioning';
const PROVISIONER_POLICY = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'ScimProvisioningOnly', Effect: 'Allow', Action: 'scim:*', Resource: '*' }],
});
const SETTING_PREFIX = 'scim-token:';
const MAX_DESCRIPTION = 256;

/** A SCIM token as listed: never the secret. */
export interface ScimTokenInfo {
  readonly id: string;
  readonly description: string;
  readonly status: 'Active' | 'Inactive';
  readonly createdAt: string;
}

/** A new SCIM token: `token` is shown this once and stored only as a peppered hash. */
export interface CreatedScimToken extends ScimTokenInfo {
  readonly token: string;
}

/**
 * Creates, lists and revokes SCIM provisioning tokens: bearer keys with purpose `scim`, owned by
 * the provisioner identity ({@link SCIM_PROVISIONER_NAME}), created with the identity on first use.
 */
export class ScimTokenService {
  readonly #store: Store;
  readonly #hasher: SecretHasher;

  constructor(options: { store: Store; hasher: SecretHasher }) {
    this.#store = options.store;
    this.#hasher = options.hasher;
  }

  /** Creates a token; the secret is in the result and nowhere else. */
  async create(input: { description?: string } = {}): Promise<CreatedScimToken> {
    const description = input.description ?? '';
    if (typeof description !== 'string' || description.length > MAX_DESCRIPTION)
      throw new InputError(`description must be a string of at most ${MAX_DESCRIPTION} characters`);
    const token = generateBearerKey(SCIM_TOKEN_PREFIX);
    const id = `ST${randomBytes(8).toString('hex').toUpperCase()}`;
    const key = await this.#store.transaction(async (tx) => {
      const owner = await this.#provisionerArn(tx);
      const created = await tx.createBearerKey({
        id,
        hash: this.#hasher.hash(token),
        ownerArn: owner,
        purpose: SCIM_TOKEN_PURPOSE,
      });
      await tx.putSetting(SETTING_PREFIX + id, JSON.stringify({ description }), null);
      return created;
    });
    return { id, description, status: key.status, createdAt: new Date(key.createdAt).toISOString(), token };
  }

  /** Every SCIM token, oldest first, without secrets. */
  async list(): Promise<ScimTokenInfo[]> {
    const keys = await this.#store.listBearerKeys({ purpose: SCIM_TOKEN_PURPOSE });
    const out: ScimTokenInfo[] = [];
    for (const k of keys.sort((a, b) => a.createdAt - b.createdAt || a.id.localeCompare(b.id))) {
      const setting = await this.#store.getSetting(SETTING_PREFIX + k.id);
      const description = setting
        ? String((JSON.parse(setting.value) as { description?: unknown }).description ?? '')
        : '';
      out.push({ id: k.id, description, status: k.status, createdAt: new Date(k.createdAt).toISOString() });
    }
    return out;
  }

  /** Revokes (deletes) a token: the next request that carries it is refused. */
  async revoke(id: string): Promise<void> {
    await this.#store.transaction(async (tx) => {
      const key = await tx.getBearerKey({ id });
      if (!key || key.purpose !== SCIM_TOKEN_PURPOSE)
        throw new NotFoundError(`SCIM token ${id} does not exist`);
      await tx.deleteBearerKey(id);
      const setting = await tx.getSetting(SETTING_PREFIX + id);
      if (setting) await tx.deleteSetting(setting.key, setting.version);
    });
  }

  /** True when `credentialId` is an active SCIM token (the only credential /scim/v2 accepts). */
  async isScimToken(credentialId: string | undefined): Promise<boolean> {
    if (credentialId === undefined) return false;
    const key = await this.#store.getBearerKey({ id: credentialId });
    return key?.purpose === SCIM_TOKEN_PURPOSE && key.status === 'Active';
  }

  /** The provisioner identity's ARN, creating it (and its only grant) on first use. */
  async #provisionerArn(tx: StoreTransaction): Promise<string> {
    const existing = await tx.getManagedIdentity(SCIM_PROVISIONER_NAME);
    if (existing) return existing.arn;
    const identity = await tx.createManagedIdentity({
      name: SCIM_PROVISIONER_NAME,
      kind: 'user',
      tags: { 'aiam:purpose': 'scim-provisioning' },
    });
    await tx.putInlinePolicy(identity.arn, PROVISIONER_POLICY_NAME, PROVISIONER_POLICY, null);
    return identity.arn;
  }
}
