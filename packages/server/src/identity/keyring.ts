import { createCipheriv, createDecipheriv, createHash, hkdfSync } from 'node:crypto';
import { mkdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type RandomSource, secureRandom } from './credential-ids.js';
import { KeyringError } from './identity-errors.js';

/** A 256-bit master key and its id (derived from the key, so it is the same on every node). */
export interface MasterKey {
  readonly id: string;
  readonly key: Buffer;
}

/** The id of a master key: `mk` + the first 12 hex digits of SHA-256(key). Reveals nothing usable. */
export function masterKeyId(key: Uint8Array): string {
  return `mk${createHash('sha256').update(key).digest('hex').slice(0, 12)}`;
}

/** Parses a master key written as base64 (32 bytes); `source` names where it came from, for the error. */
export function parseMasterKey(base64: string, source: string): MasterKey {
  const text = base64.trim();
  const key = /^[A-Za-z0-9+/_-]{43}=?$/.test(text)
    ? Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64')
    : undefined;
  if (key === undefined || key.length !== 32) {
    throw new KeyringError(
      'ERR_MASTER_KEY_INVALID',
      `The master key from ${source} is not 32 bytes of base64. Generate one with: node -e "console.log(require('crypto').randomBytes(32).toString('base64'))"`,
    );
  }
  return { id: masterKeyId(key), key };
}

/** A new random master key. */
export function generateMasterKey(random: RandomSource = secureRandom): MasterKey {
  const key = Buffer.from(random(32));
  if (key.length !== 32) throw new RangeError('random source returned the wrong size');
  return { id: masterKeyId(key), key };
}

const VERSION = 'v1';
const CIPHERTEXT = /^v1\.(mk[0-9a-f]{12})\.([A-Za-z0-9_-]{16})\.([A-Za-z0-9_-]*)\.([A-Za-z0-9_-]{22})$/;

/**
 * Envelope encryption of secrets at rest: AES-256-GCM under a master key, one active for
 * encryption and any number of older ones for decryption during a rotation.
 *
 * Ciphertexts read `v1.<keyId>.<iv>.<ciphertext>.<tag>` (base64url). The associated data binds
 * each ciphertext to the format version, the key id and a caller-given `context` (e.g. the
 * access key id of the row): a ciphertext copied into another row, or relabelled with another
 * key id, fails authentication instead of decrypting to someone else's secret.
 *
 * ```ts
 * const sealed = keyring.encrypt(secretAccessKey, `access-key:${accessKeyId}`);
 * const secret = keyring.decryptString(sealed, `access-key:${accessKeyId}`);
 * ```
 */
export class Keyring {
  readonly #active: MasterKey;
  readonly #keys: ReadonlyMap<string, MasterKey>;
  readonly #random: RandomSource;

  constructor(active: MasterKey, previous: readonly MasterKey[] = [], random: RandomSource = secureRandom) {
    for (const k of [active, ...previous]) {
      if (k.key.length !== 32 || k.id !== masterKeyId(k.key)) {
        throw new KeyringError(
          'ERR_MASTER_KEY_INVALID',
          `master key ${k.id} is not a 32-byte key with its derived id`,
        );
      }
    }
    this.#active = active;
    this.#keys = new Map([active, ...previous].map((k) => [k.id, k]));
    this.#random = random;
  }

  /** The id of the key new ciphertexts are made with. */
  get activeKeyId(): string {
    return this.#active.id;
  }

  /** Every key id this keyring can decrypt, the active one first. */
  get keyIds(): string[] {
    return [...this.#keys.keys()];
  }

  /** Encrypts under the active key, bound to `context` (must be non-empty). */
  encrypt(plaintext: string | Uint8Array, context: string): string {
    requireContext(context);
    const iv = Buffer.from(this.#random(12));
    if (iv.length !== 12) throw new RangeError('random source returned the wrong size');
    const cipher = createCipheriv('aes-256-gcm', this.#active.key, iv);
    cipher.setAAD(aad(this.#active.id, context));
    const ct = Buffer.concat([
      cipher.update(typeof plaintext === 'string' ? Buffer.from(plaintext, 'utf8') : plaintext),
      cipher.final(),
    ]);
    const tag = cipher.getAuthTag();
    return `${VERSION}.${this.#active.id}.${iv.toString('base64url')}.${ct.toString('base64url')}.${tag.toString('base64url')}`;
  }

  /** Decrypts a ciphertext made for `context`; throws a {@link KeyringError} for any mismatch. */
  decrypt(ciphertext: string, context: string): Buffer {
    requireContext(context);
    const m = CIPHERTEXT.exec(ciphertext);
    if (!m) {
      throw new KeyringError(
        'ERR_CIPHERTEXT_MALFORMED',
        'The stored ciphertext is not in the v1.<keyId>.<iv>.<data>.<tag> format.',
      );
    }
    const [, keyId, iv, data, tag] = m as unknown as [string, string, string, string, string];
    // Node's decoder ignores unused trailing bits; only canonical encodings are accepted.
    if ([iv, data, tag].some((part) => Buffer.from(part, 'base64url').toString('base64url') !== part)) {
      throw new KeyringError('ERR_CIPHERTEXT_MALFORMED', 'The stored ciphertext is not canonical base64url.');
    }
    const key = this.#keys.get(keyId);
    if (key === undefined) {
      throw new KeyringError(
        'ERR_MASTER_KEY_UNKNOWN',
        `The ciphertext was made with master key ${keyId}, which this server does not have (it has ${this.keyIds.join(', ')}). Restore that key as a previous key (AIAM_MASTER_KEYS_PREVIOUS or a later line of master.key).`,
      );
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', key.key, Buffer.from(iv, 'base64url'));
      decipher.setAAD(aad(keyId, context));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(data, 'base64url')), decipher.final()]);
    } catch (cause) {
      throw new KeyringError(
        'ERR_CIPHERTEXT_AUTH',
        `The ciphertext does not authenticate under master key ${keyId} for this record: it was altered, or belongs to another record.`,
        { cause },
      );
    }
  }

  /** {@link decrypt} as UTF-8 text. */
  decryptString(ciphertext: string, context: string): string {
    return this.decrypt(ciphertext, context).toString('utf8');
  }

  /** True if the ciphertext is already under the active key (no re-encryption needed). */
  isCurrent(ciphertext: string): boolean {
    return CIPHERTEXT.exec(ciphertext)?.[1] === this.#active.id;
  }

  /** Decrypts and encrypts again under the active key (same context). */
  reencrypt(ciphertext: string, context: string): string {
    return this.encrypt(this.decrypt(ciphertext, context), context);
  }

  /**
   * A 256-bit key for one purpose (e.g. `session-token`), derived with HKDF-SHA256 from a master
   * key (the active one by default), so no other purpose's ciphertexts can be confused with it.
   */
  deriveKey(purpose: string, keyId: string = this.#active.id): Buffer {
    const key = this.#keys.get(keyId);
    if (key === undefined)
      throw new KeyringError('ERR_MASTER_KEY_UNKNOWN', `No master key ${keyId} to derive ${purpose} from.`);
    return Buffer.from(hkdfSync('sha256', key.key, Buffer.alloc(0), `aiam:${purpose}`, 32));
  }
}

function requireContext(context: string): void {
  if (context === '')
    throw new TypeError('encryption context must name the record (e.g. "access-key:AKIA...")');
}

function aad(keyId: string, context: string): Buffer {
  return Buffer.from(`aiam-keyring:${VERSION}:${keyId}:${context}`, 'utf8');
}

/** Where the master keys came from. */
export interface LoadedKeyring {
  readonly keyring: Keyring;
  readonly source: 'env' | 'file';
  /** The key file (when `source` is `file`). */
  readonly path: string | undefined;
  /** True if this start created the key file. */
  readonly created: boolean;
}

/** The key file's name under the data directory. */
export const MASTER_KEY_FILE = 'master.key';

/**
 * Loads the master keys. From the environment when `AIAM_MASTER_KEY` is set (base64, 32 bytes;
 * older keys still needed for decryption in `AIAM_MASTER_KEYS_PREVIOUS`, comma-separated);
 * otherwise from `DATA_DIR/master.key` (one base64 key per line, the first active, `#` starts a
 * comment), which is created with mode 0600 on first start. A key file readable by group or
 * others is refused.
 */
export async function loadKeyring(options: {
  dataDir: string;
  env?: Readonly<Record<string, string | undefined>>;
  random?: RandomSource;
}): Promise<LoadedKeyring> {
  const env = options.env ?? process.env;
  const random = options.random ?? secureRandom;
  const fromEnv = env.AIAM_MASTER_KEY;
  if (fromEnv !== undefined && fromEnv.trim() !== '') {
    const active = parseMasterKey(fromEnv, 'AIAM_MASTER_KEY');
    const previous = (env.AIAM_MASTER_KEYS_PREVIOUS ?? '')
      .split(',')
      .filter((s) => s.trim() !== '')
      .map((s, i) => parseMasterKey(s, `AIAM_MASTER_KEYS_PREVIOUS (entry ${i + 1})`));
    return { keyring: new Keyring(active, previous, random), source: 'env', path: undefined, created: false };
  }

  const path = join(options.dataDir, MASTER_KEY_FILE);
  let created = false;
  let text: string;
  try {
    text = await readKeyFile(path);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
    await mkdir(options.dataDir, { recursive: true, mode: 0o700 });
    const key = generateMasterKey(random);
    try {
      // 'wx': never overwrite a key another process wrote a moment ago.
      await writeFile(path, `${keyFileHeader()}${key.key.toString('base64')}\n`, { mode: 0o600, flag: 'wx' });
      created = true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    text = await readKeyFile(path);
  }
  const keys = parseKeyFile(text, path);
  return { keyring: new Keyring(keys[0] as MasterKey, keys.slice(1), random), source: 'file', path, created };
}

async function readKeyFile(path: string): Promise<string> {
  const info = await stat(path);
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new KeyringError(
      'ERR_MASTER_KEY_PERMISSIONS',
      `${path} is readable by other users (mode ${(info.mode & 0o777).toString(8)}). Run: chmod 600 ${path}`,
    );
  }
  return readFile(path, 'utf8');
}

function parseKeyFile(text: string, path: string): MasterKey[] {
  const keys = text
    .split('\n')
    .map((line) => line.replace(/#.*/, '').trim())
    .filter((line) => line !== '')
    .map((line, i) => parseMasterKey(line, `${path} (key ${i + 1})`));
  if (keys.length === 0) {
    throw new KeyringError(
      'ERR_MASTER_KEY_MISSING',
      `${path} holds no key. Restore it from backup, or set AIAM_MASTER_KEY.`,
    );
  }
  return keys;
}

function keyFileHeader(): string {
  return '# aiam master keys: base64, one per line. The first encrypts; later ones only decrypt.\n# Back this file up: without it the stored secrets cannot be read.\n';
}

async function writeKeyFile(path: string, keys: readonly MasterKey[]): Promise<void> {
  const tmp = `${path}.tmp-${process.pid}`;
  await writeFile(tmp, keyFileHeader() + keys.map((k) => `${k.key.toString('base64')}\n`).join(''), {
    mode: 0o600,
    flag: 'w',
  });
  await rename(tmp, path); // atomic replace: a crash leaves the old file or the new one, never half of one.
}

/** Rotation step 1: adds a new key to `DATA_DIR/master.key` and makes it the active one. */
export async function addMasterKey(dataDir: string, random: RandomSource = secureRandom): Promise<MasterKey> {
  const path = join(dataDir, MASTER_KEY_FILE);
  const keys = parseKeyFile(await readKeyFile(path), path);
  const added = generateMasterKey(random);
  await writeKeyFile(path, [added, ...keys]);
  return added;
}

/** Rotation step 3: removes a no-longer-used key from `DATA_DIR/master.key` (never the active one). */
export async function retireMasterKey(dataDir: string, keyId: string): Promise<void> {
  const path = join(dataDir, MASTER_KEY_FILE);
  const keys = parseKeyFile(await readKeyFile(path), path);
  if (keys[0]?.id === keyId) {
    throw new KeyringError(
      'ERR_MASTER_KEY_INVALID',
      `${keyId} is the active key; add a new key and re-encrypt before retiring it.`,
    );
  }
  if (!keys.some((k) => k.id === keyId))
    throw new KeyringError('ERR_MASTER_KEY_UNKNOWN', `${path} has no key ${keyId}.`);
  await writeKeyFile(
    path,
    keys.filter((k) => k.id !== keyId),
  );
}

/** How {@link rotateMasterKey} reads and writes one kind of record. */
export interface ReencryptAccess<R> {
  /** The record's ciphertext and the context it was encrypted for. */
  read(record: R): { ciphertext: string; context: string };
  /** Stores the new ciphertext (ideally compare-and-set on the old one, in a transaction). */
  write(record: R, ciphertext: string, previous: string): Promise<void> | void;
}

/** The outcome of a re-encryption pass. */
export interface RotationReport {
  readonly reencrypted: number;
  readonly alreadyCurrent: number;
}

/**
 * Rotation step 2: re-encrypts every record under the active key. Idempotent and resumable:
 * records already under the active key are skipped, so a pass interrupted by a crash is simply
 * run again. When it reports for every kind of record, the old key can be retired.
 */
export async function rotateMasterKey<R>(
  keyring: Keyring,
  records: Iterable<R> | AsyncIterable<R>,
  access: ReencryptAccess<R>,
): Promise<RotationReport> {
  let reencrypted = 0;
  let alreadyCurrent = 0;
  for await (const record of records) {
    const { ciphertext, context } = access.read(record);
    if (keyring.isCurrent(ciphertext)) {
      alreadyCurrent++;
      continue;
    }
    await access.write(record, keyring.reencrypt(ciphertext, context), ciphertext);
    reencrypted++;
  }
  return { reencrypted, alreadyCurrent };
}
