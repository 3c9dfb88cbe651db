import { mkdir, rename, stat, unlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type Clock, systemClock } from '../clock.js';
import { ConflictError } from '../errors.js';
import type { Keyring } from '../identity/keyring.js';
import { BOOTSTRAP_ADMIN_USER, bootstrap } from '../services/bootstrap.js';
import { accessKeySecretContext } from '../services/iam-service.js';
import type { Store } from '../store/store.js';

/** The file the bootstrap administrator's key is written to, under the data directory. */
export const BOOTSTRAP_CREDENTIALS_FILE = 'bootstrap-credentials';
// Set once the credentials file is on disk, so a later start never rewrites it.
const FILE_SETTING = 'bootstrap_credentials_file';

/** What the bootstrap did. */
export interface BootstrapResult {
  /** True when this start created the administrator. */
  readonly created: boolean;
  /** True when this start wrote the credentials file. */
  readonly wroteFile: boolean;
  readonly credentialsPath: string;
  /** The administrator's key id (undefined if it was deleted since). */
  readonly accessKeyId: string | undefined;
  readonly userArn: string | undefined;
}

/**
 * First start: runs the services' `bootstrap` (the administrator `admin`, the managed policy
 * `AdministratorAccess` with `Action: *` on `Resource: *` attached to it, an access key whose
 * secret is kept encrypted under the keyring, all in one transaction), then writes
 * `DATA_DIR/bootstrap-credentials`: AWS shared-credentials INI, profile `default`, mode 0600,
 * written to a temporary file and renamed, so it is whole or absent. The administrator has no
 * side door: its requests are decided by the engine through that policy, like anyone's.
 *
 * Later starts write nothing: a setting records that the file was written. A crash between the
 * commit and the file resumes on the next start by writing the file from the encrypted secret;
 * a file the operator deleted after it was written is not recreated.
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
  const first = await bootstrap({ store, keyring });
  const admin = await store.getUser(BOOTSTRAP_ADMIN_USER);
  const written = await store.getSetting(FILE_SETTING);
  if (written !== undefined) {
    return {
      created: first !== undefined,
      wroteFile: false,
      credentialsPath,
      accessKeyId: written.value,
      userArn: admin?.arn,
    };
  }
  let accessKeyId = first?.accessKeyId;
  let secret = first?.secretAccessKey;
  if (secret === undefined) {
    // Resuming after a crash between the bootstrap's commit and the file: read the key back.
    const key = admin ? (await store.listAccessKeys(admin.name))[0] : undefined;
    if (key === undefined) {
      return {
        created: false,
        wroteFile: false,
        credentialsPath,
        accessKeyId: undefined,
        userArn: admin?.arn,
      };
    }
    accessKeyId = key.accessKeyId;
    secret = keyring.decryptString(
      Buffer.from(key.secretCiphertext).toString('utf8'),
      accessKeySecretContext(key.accessKeyId),
    );
  }
  await writeCredentialsFile(credentialsPath, accessKeyId!, secret, clock.now());
  try {
    await store.putSetting(FILE_SETTING, accessKeyId!, null);
  } catch (err) {
    // Another node wrote the same file and marked it first; the file on disk is whole either way.
    if (!(err instanceof ConflictError)) throw err;
  }
  return {
    created: first !== undefined,
    wroteFile: true,
    credentialsPath,
    accessKeyId,
    userArn: admin?.arn ?? first?.userArn,
  };
}

/** Renders the AWS shared-credentials INI text of a key. */
export function renderCredentialsIni(accessKeyId: string, secret: string, createdAt: number): string {
  return [
    `# aiam bootstrap administrator (user "${BOOTSTRAP_ADMIN_USER}"), created ${new Date(createdAt).toISOString()}.`,
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
