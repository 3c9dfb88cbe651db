import { ConflictError } from '../errors.js';
import {
  generateAccessKeyId,
  generateSecretAccessKey,
  type RandomSource,
  secureRandom,
} from '../identity/credential-ids.js';
import type { Keyring } from '../identity/keyring.js';
import type { Pepper } from '../identity/secret-hash.js';
import type { Store, StoreTransaction } from '../store/store.js';
import { accessKeySecretContext } from './iam-service.js';

/** The settings key that marks a completed bootstrap. */
export const BOOTSTRAP_SETTING = 'bootstrap_completed_at';
/** The settings key of the bearer-key pepper (encrypted under the keyring). */
export const PEPPER_SETTING = 'pepper';
/** The bootstrap administrator's user name and policy name. */
export const BOOTSTRAP_ADMIN_USER = 'admin';
export const ADMINISTRATOR_POLICY = 'AdministratorAccess';

const PEPPER_CONTEXT = 'setting:pepper';
const ADMIN_DOCUMENT = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'AdministratorAccess', Effect: 'Allow', Action: '*', Resource: '*' }],
});

/** What the first start produced: the administrator's key, for the credentials file. */
export interface BootstrapResult {
  readonly accountId: string;
  readonly userName: string;
  readonly userArn: string;
  readonly policyArn: string;
  readonly accessKeyId: string;
  /** Shown once: write it to `DATA_DIR/bootstrap-credentials` (mode 0600) and forget it. */
  readonly secretAccessKey: string;
}

/** Options of {@link bootstrap}. */
export interface BootstrapOptions {
  readonly store: Store;
  readonly keyring: Keyring;
  readonly random?: RandomSource;
}

/**
 * First-start bootstrap, in one transaction: the pepper (32 random bytes, stored encrypted
 * under the keyring), an `AdministratorAccess` managed policy (Allow * on *), the user `admin`
 * with that policy attached, and one access key for it. There is no side door: the
 * administrator's power is that attached policy, decided by the same engine as everyone's.
 * Idempotent: once done (or when another node did it concurrently) it does nothing and returns
 * undefined.
 *
 * @example
 * const first = await bootstrap({ store, keyring });
 * if (first) await writeCredentialsFile(first.accessKeyId, first.secretAccessKey);
 */
export async function bootstrap(options: BootstrapOptions): Promise<BootstrapResult | undefined> {
  const { store, keyring } = options;
  const random = options.random ?? secureRandom;
  if (await store.getSetting(BOOTSTRAP_SETTING)) return undefined;
  try {
    return await store.transaction(async (tx) => {
      if (await tx.getSetting(BOOTSTRAP_SETTING)) return undefined;
      await ensurePepperIn(tx, keyring, random);
      const policy =
        (await tx.findPolicyByName(ADMINISTRATOR_POLICY)) ??
        (await tx.createPolicy({
          name: ADMINISTRATOR_POLICY,
          description: 'Full access to every action on every resource (the bootstrap administrator)',
          document: ADMIN_DOCUMENT,
        }));
      const user = await tx.createUser({ name: BOOTSTRAP_ADMIN_USER, tags: { 'aiam:bootstrap': 'true' } });
      await tx.attachPolicy(user.arn, policy.arn);
      const accessKeyId = generateAccessKeyId('long-term', random);
      const secretAccessKey = generateSecretAccessKey(random);
      await tx.createAccessKey({
        userName: user.name,
        accessKeyId,
        secretCiphertext: Buffer.from(
          keyring.encrypt(secretAccessKey, accessKeySecretContext(accessKeyId)),
          'utf8',
        ),
      });
      // Inserted last with "must not exist": two nodes racing here cannot both commit.
      await tx.putSetting(BOOTSTRAP_SETTING, new Date().toISOString(), null);
      return {
        accountId: store.accountId,
        userName: user.name,
        userArn: user.arn,
        policyArn: policy.arn,
        accessKeyId,
        secretAccessKey,
      };
    });
  } catch (error) {
    // Another node completed the bootstrap first (its marker or its admin user won the race).
    if (error instanceof ConflictError && (await store.getSetting(BOOTSTRAP_SETTING))) return undefined;
    throw error;
  }
}

async function ensurePepperIn(tx: StoreTransaction, keyring: Keyring, random: RandomSource): Promise<void> {
  if (await tx.getSetting(PEPPER_SETTING)) return;
  const bytes = Buffer.from(random(32));
  await tx.putSetting(PEPPER_SETTING, keyring.encrypt(bytes, PEPPER_CONTEXT), null);
}

/**
 * The server's pepper for `SecretHasher`, decrypted from the settings (created on first use, so
 * a server started before bootstrap still gets one). The id is the setting's version.
 */
export async function loadPepper(
  store: Store,
  keyring: Keyring,
  random: RandomSource = secureRandom,
): Promise<Pepper> {
  let setting = await store.getSetting(PEPPER_SETTING);
  if (!setting) {
    try {
      await store.transaction((tx) => ensurePepperIn(tx, keyring, random));
    } catch (error) {
      if (!(error instanceof ConflictError)) throw error;
    }
    setting = await store.getSetting(PEPPER_SETTING);
  }
  if (!setting) throw new Error('the pepper setting could not be created');
  return { id: `p${setting.version}`, key: keyring.decrypt(setting.value, PEPPER_CONTEXT) };
}
