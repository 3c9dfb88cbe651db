import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, systemClock } from '../clock.js';
import { ConflictError, PreconditionFailedError } from '../errors.js';
import { generateAccessKeyId, generateSecretAccessKey } from '../identity/credential-ids.js';
import type { Keyring } from '../identity/keyring.js';
import type { Store } from '../store/store.js';

/** The file the bootstrap administrator's key is written to, under the data directory. */
export const BOOTSTRAP_CREDENTIALS_FILE = 'bootstrap-credentials';
/** The bootstrap administrator's user name. */
export const ADMIN_USER_NAME = 'admin';
/** The managed policy that grants it everything, like AWS's `AdministratorAccess`. */
export const ADMIN_POLICY_NAME = 'AdministratorAccess';
/** The document of that policy: every action on every resource, decided by the engine like any other. */
export const ADMIN_POLICY_DOCUMENT = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Sid: 'AdministratorAccess', Effect: 'Allow', Action: '*', Resource: '*' }],
});

// Marks how far the bootstrap got, so a crash at any step resumes instead of redoing it.
const SETTING = 'bootstrap';

interface BootstrapState {
  accessKeyId: string;
  userArn: string;
  /** `pending` until the credentials file is on disk. */
  file: 'pending' | 'written';
}

/** What the bootstrap did. */
export interface BootstrapResult {
  /** True when this start created the administrator. */
  readonly created: boolean;
  /** True when this start wrote the credentials file. */
  readonly wroteFile: boolean;
  readonly credentialsPath: string;
  readonly accessKeyId: string;
  readonly userArn: string;
}

/** The encryption context of an access key's secret: binds the ciphertext to its row. */
export function accessKeySecretContext(accessKeyId: string): string {
  return `access-key:${accessKeyId}`;
}

/**
 * First start: creates the administrator `admin`, a managed policy `AdministratorAccess`
 * (`Action: *`, `Resource: *`) attached to it, and an access key whose secret is kept encrypted
 * under the keyring, all in one transaction; then writes `DATA_DIR/bootstrap-credentials` (AWS
 * shared-credentials INI, profile `default`, mode 0600, written to a temporary file and renamed,
 * so it is whole or absent). The administrator has no side door: its requests are decided by the
 * engine through that policy, like anyone's.
 *
 * Later starts do nothing: a `bootstrap` setting records the key and whether the file was
 * written. A crash between the commit and the file resumes by writing the file from the
 * encrypted secret; a file deleted by the operator after it was written is not recreated.
 * Several nodes starting at once on one PostgreSQL store create one administrator.
 */
export async function bootstrapAdministrator(options: {
  store: Store;
  keyring: Keyring;
  dataDir: string;
  clock?: Clock;
}): Promise<BootstrapResult> {
  const { store, keyring, dataDir } = options;
  const clock = options.clock ?? systemClock;
  const credentialsPath = join(dataDir, BOOTSTRAP_CREDENTIALS_FILE);
  let created = false;
  let setting = await store.getSetting(SETTING);
  if (setting === undefined) {
    try {
      await store.transaction(async (tx) => {
        if (await tx.getSetting(SETTING)) return;
        const policy =
          (await tx.findPolicyByName(ADMIN_POLICY_NAME)) ??
          (await tx.createPolicy({
            name: ADMIN_POLICY_NAME,
            path: '/',
            description:
              'Full access to every action on every resource. Attached to the bootstrap administrator.',
            document: ADMIN_POLICY_DOCUMENT,
          }));
        const user = await tx.createUser({
          name: ADMIN_USER_NAME,
          path: '/',
          tags: { 'aiam:bootstrap': 'true' },
        });
        await tx.attachPolicy(user.arn, policy.arn);
        const accessKeyId = generateAccessKeyId('long-term');
        const secret = generateSecretAccessKey();
        const sealed = keyring.encrypt(secret, accessKeySecretContext(accessKeyId));
        await tx.createAccessKey({
          userName: user.name,
          accessKeyId,
          secretCiphertext: Buffer.from(sealed, 'utf8'),
        });
        const state: BootstrapState = { accessKeyId, userArn: user.arn, file: 'pending' };
        await tx.putSetting(SETTING, JSON.stringify(state), null);
        created = true;
      });
    } catch (err) {
      // Another node won the race: its setting exists now.
      if (!(err instanceof ConflictError)) throw err;
    }
    setting = await store.getSetting(SETTING);
    if (setting === undefined) throw new Error('bootstrap did not record its state');
  }
  const state = JSON.parse(setting.value) as BootstrapState;
  let wroteFile = false;
  if (state.file === 'pending') {
    const key = await store.getAccessKey(state.accessKeyId);
    if (key === undefined) throw new Error(`the bootstrap access key ${state.accessKeyId} no longer exists`);
    const secret = keyring.decryptString(
      Buffer.from(key.secretCiphertext).toString('utf8'),
      accessKeySecretContext(state.accessKeyId),
    );
    await writeCredentialsFile(credentialsPath, state.accessKeyId, secret, clock.now());
    wroteFile = true;
    try {
      await store.putSetting(SETTING, JSON.stringify({ ...state, file: 'written' }), setting.version);
    } catch (err) {
      // Another node wrote the same file and marked it first; the file on disk is whole either way.
      if (!(err instanceof ConflictError) && !(err instanceof PreconditionFailedError)) throw err;
    }
  }
  return { created, wroteFile, credentialsPath, accessKeyId: state.accessKeyId, userArn: state.userArn };
}

/** Renders the AWS shared-credentials INI text of a key. */
export function renderCredentialsIni(accessKeyId: string, secret: string, createdAt: number): string {
  return [
    `# aiam bootstrap administrator (user "${ADMIN_USER_NAME}"), created ${new Date(createdAt).toISOString()}.`,
    '# Use it with any AWS tool: AWS_SHARED_CREDENTIALS_FILE=<this file>. Keep it private;',
    '# create personal users and delete this key once they exist.',
    '[default]',
    `aws_access_key_id = ${accessKeyId}`,
    `aws_secret_access_key = ${secret}`,
    '',
  ].join('\n');
}

async function writeCredentialsFile(
  path: string,
  accessKeyId: string,
  secret: string,
  now: number,
): Promise<void> {
  const dir = join(path, '..');
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp-${process.pid}`;
  await unlink(tmp).catch(() => {});
  // 'wx' + 0600: the secret is never readable by others, not even for an instant.
  await writeFile(tmp, renderCredentialsIni(accessKeyId, secret, now), { mode: 0o600, flag: 'wx' });
  await rename(tmp, path);
  const info = await stat(path);
  if (process.platform !== 'win32' && (info.mode & 0o077) !== 0) {
    throw new Error(`${path} is readable by other users; refusing to leave a secret there`);
  }
}
