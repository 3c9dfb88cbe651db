import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { InputError, PreconditionFailedError } from '../errors.js';
import type { RandomSource } from '../identity/credential-ids.js';
import {
  addMasterKey,
  generateMasterKey,
  Keyring,
  loadKeyring,
  MASTER_KEY_FILE,
  type MasterKey,
  parseMasterKey,
  retireMasterKey,
} from '../identity/keyring.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import type { EncryptedRecordKind } from '../store/store-types.js';
import { accessKeySecretContext } from './iam-service.js';

/** Every kind of record holding a keyring ciphertext, in the order a pass visits them. */
export const ENCRYPTED_RECORD_KINDS: readonly EncryptedRecordKind[] = [
  'setting',
  'access-key',
  'session',
  'signing-key',
];

/**
 * The encryption context (associated data) a record's ciphertext was made for; re-encryption
 * must use the same one or the record no longer decrypts where it is read.
 */
export function encryptionContext(kind: EncryptedRecordKind, id: string): string {
  switch (kind) {
    case 'access-key':
    case 'session':
      // Temporary credentials are access keys too (ASIA…); same context as IamService uses.
      return accessKeySecretContext(id);
    case 'signing-key':
      return `oidc-signing-key:${id}`; // as OidcIssuer seals the private JWK
    case 'setting':
      return `setting:${id}`; // e.g. the pepper: 'setting:pepper'
  }
}

/** Counts per kind of record. */
export interface ReencryptionCounts {
  reencrypted: number;
  alreadyCurrent: number;
  /** Changed by someone else between read and write; the next pass picks them up. */
  skippedChanged: number;
}

/** The outcome of {@link reencryptStore}. */
export interface StoreReencryptionReport extends ReencryptionCounts {
  readonly activeKeyId: string;
  readonly byKind: Record<EncryptedRecordKind, ReencryptionCounts>;
  readonly batches: number;
}

/** Options of {@link reencryptStore}. */
export interface ReencryptStoreOptions {
  /** Records per transaction; default 200. */
  batchSize?: number;
  /** Called after each committed batch (progress output; tests use it to simulate a crash). */
  onBatch?: (progress: {
    kind: EncryptedRecordKind;
    batch: number;
    report: ReencryptionCounts;
  }) => void | Promise<void>;
}

function emptyCounts(): ReencryptionCounts {
  return { reencrypted: 0, alreadyCurrent: 0, skippedChanged: 0 };
}

/**
 * Re-encrypts every stored ciphertext (access-key and session secrets, OIDC signing-key private
 * JWKs, encrypted settings such as the pepper) under the keyring's active key, with the same
 * associated data. Each batch is one transaction. Idempotent and resumable: records already
 * under the active key are skipped, so an interrupted pass is simply run again.
 */
export async function reencryptStore(
  store: Store,
  keyring: Keyring,
  options: ReencryptStoreOptions = {},
): Promise<StoreReencryptionReport> {
  const batchSize = options.batchSize ?? 200;
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10_000) {
    throw new InputError(`batch size must be an integer from 1 to 10000, not ${batchSize}`);
  }
  const byKind = Object.fromEntries(ENCRYPTED_RECORD_KINDS.map((k) => [k, emptyCounts()])) as Record<
    EncryptedRecordKind,
    ReencryptionCounts
  >;
  let batches = 0;
  for (const kind of ENCRYPTED_RECORD_KINDS) {
    const counts = byKind[kind];
    let after: string | null = null;
    for (;;) {
      const last: string | null = await store.transaction(async (tx) => {
        const page = await tx.listEncryptedRecords(kind, after, batchSize);
        for (const r of page) {
          if (keyring.isCurrent(r.ciphertext)) {
            counts.alreadyCurrent++;
            continue;
          }
          const next = keyring.reencrypt(r.ciphertext, encryptionContext(kind, r.id));
          if (await tx.replaceCiphertext(kind, r.id, r.ciphertext, next)) counts.reencrypted++;
          else counts.skippedChanged++;
        }
        return page.length < batchSize ? null : (page[page.length - 1]?.id ?? null);
      });
      batches++;
      await options.onBatch?.({ kind, batch: batches, report: { ...counts } });
      if (last === null) break;
      after = last;
    }
  }
  const total = emptyCounts();
  for (const c of Object.values(byKind)) {
    total.reencrypted += c.reencrypted;
    total.alreadyCurrent += c.alreadyCurrent;
    total.skippedChanged += c.skippedChanged;
  }
  return { ...total, activeKeyId: keyring.activeKeyId, byKind, batches };
}

/** How many stored ciphertexts are NOT under `keyId` (0 means an older key can be retired). */
export async function countCiphertextsNotUnder(store: Store, keyId: string): Promise<number> {
  let n = 0;
  for (const kind of ENCRYPTED_RECORD_KINDS) {
    let after: string | null = null;
    for (;;) {
      const page = await store.listEncryptedRecords(kind, after, 1000);
      n += page.filter((r) => !r.ciphertext.startsWith(`v1.${keyId}.`)).length;
      if (page.length < 1000) break;
      after = page[page.length - 1]?.id ?? null;
    }
  }
  return n;
}

/**
 * Removes every key but the active one from `DATA_DIR/master.key`, after checking that no stored
 * ciphertext still needs them. Refused (PreconditionFailedError) while any record is under an
 * older key: run the re-encryption to completion first.
 */
export async function retireOldMasterKeys(store: Store, dataDir: string): Promise<string[]> {
  const { keyring, source } = await loadKeyring({ dataDir, env: {} });
  if (source !== 'file') throw new InputError('only keys in master.key can be retired this way');
  const stale = await countCiphertextsNotUnder(store, keyring.activeKeyId);
  if (stale > 0) {
    throw new PreconditionFailedError(
      `${stale} stored secret(s) are not yet under the active master key ${keyring.activeKeyId}; run "aiam admin rotate-master-key --resume" to finish re-encrypting before retiring older keys`,
    );
  }
  const retired = keyring.keyIds.slice(1);
  for (const id of retired) await retireMasterKey(dataDir, id);
  return retired;
}

/** Options of {@link rotateStoreMasterKey}. */
export interface RotateStoreMasterKeyOptions {
  dataDir: string;
  /** postgres://… or sqlite:PATH; default SQLite in `dataDir` (as `aiam serve`). */
  databaseUrl?: string;
  /** Where `AIAM_MASTER_KEY` / `AIAM_MASTER_KEYS_PREVIOUS` are read; default process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Finish a pass interrupted earlier instead of adding another new key. */
  resume?: boolean;
  /** After a complete pass, remove the older keys from master.key. */
  retireOld?: boolean;
  batchSize?: number;
  random?: RandomSource;
  onBatch?: ReencryptStoreOptions['onBatch'];
  /**
   * Called with the new key ring's ids (and, for env-held keys, the keys to set) BEFORE any
   * record is re-encrypted: an env-held new key exists only in memory, so it must reach the
   * operator before a crash could leave records that only it decrypts.
   */
  onKeyReady?: (info: {
    newKeyId: string;
    previousKeyIds: string[];
    envKeys: StoreMasterKeyRotation['envKeys'];
  }) => void | Promise<void>;
}

/** The outcome of {@link rotateStoreMasterKey}. */
export interface StoreMasterKeyRotation {
  readonly source: 'env' | 'file';
  readonly keyFile: string | undefined;
  readonly newKeyId: string;
  /** The keys still held for decryption (before any retirement). */
  readonly previousKeyIds: string[];
  /** Env-held keys only: the new key and the previous ones (base64), for the operator to set. */
  readonly envKeys: { active: string; previous: string[] } | undefined;
  readonly report: StoreReencryptionReport;
  /** Key ids removed from master.key (with `retireOld`). */
  readonly retired: string[];
}

/**
 * The offline operator path of master-key rotation (run while the servers are stopped, or with
 * them running: they keep decrypting old ciphertexts until restarted with the new key ring).
 * 1. A new master key: written first into master.key (atomically, older keys kept after it for
 *    decryption), or for env-held keys generated in memory and returned for the operator to set.
 * 2. Every stored ciphertext re-encrypted under it ({@link reencryptStore}).
 * 3. With `retireOld`, the older keys removed from master.key once nothing needs them.
 * A pass that failed part-way is finished with `resume` (no further key is added).
 */
export async function rotateStoreMasterKey(
  options: RotateStoreMasterKeyOptions,
): Promise<StoreMasterKeyRotation> {
  const env = options.env ?? process.env;
  const keyFile = join(options.dataDir, MASTER_KEY_FILE);
  // loadKeyring would create a fresh key file; a rotation must never invent the key it rotates from.
  if ((env.AIAM_MASTER_KEY ?? '').trim() === '' && !(await exists(keyFile))) {
    throw new InputError(
      `no master key was found (${keyFile} does not exist and AIAM_MASTER_KEY is unset); point --data-dir at the server's data directory`,
    );
  }
  const loaded = await loadKeyring({ dataDir: options.dataDir, env, random: options.random });
  let keyring = loaded.keyring;
  let envKeys: StoreMasterKeyRotation['envKeys'];
  if (!options.resume) {
    if (loaded.source === 'file') {
      await addMasterKey(options.dataDir, options.random);
      keyring = (await loadKeyring({ dataDir: options.dataDir, env: {}, random: options.random })).keyring;
    } else {
      const added: MasterKey = generateMasterKey(options.random);
      const envPrevious = [env.AIAM_MASTER_KEY ?? '', ...(env.AIAM_MASTER_KEYS_PREVIOUS ?? '').split(',')]
        .map((s) => s.trim())
        .filter((s) => s !== '');
      keyring = new Keyring(
        added,
        envPrevious.map((b, i) => parseMasterKey(b, `environment key ${i + 1}`)),
        options.random,
      );
      envKeys = { active: added.key.toString('base64'), previous: envPrevious };
    }
  }
  const store = await openStore({
    url: options.databaseUrl ?? `sqlite:${join(options.dataDir, 'aiam.db')}`,
  });
  try {
    await options.onKeyReady?.({
      newKeyId: keyring.activeKeyId,
      previousKeyIds: keyring.keyIds.slice(1),
      envKeys,
    });
    const report = await reencryptStore(store, keyring, {
      batchSize: options.batchSize,
      onBatch: options.onBatch,
    });
    let retired: string[] = [];
    if (options.retireOld && loaded.source === 'file')
      retired = await retireOldMasterKeys(store, options.dataDir);
    return {
      source: loaded.source,
      keyFile: loaded.path,
      newKeyId: keyring.activeKeyId,
      previousKeyIds: keyring.keyIds.slice(1),
      envKeys,
      report,
      retired,
    };
  } finally {
    await store.close();
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw e;
  }
}
