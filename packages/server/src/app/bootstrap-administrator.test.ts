import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, unlink } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateMasterKey, Keyring } from '../identity/keyring.js';
import { bootstrap } from '../services/bootstrap.js';
import { openStore } from '../store/open-store.js';
import type { Store } from '../store/store.js';
import { BOOTSTRAP_CREDENTIALS_FILE, bootstrapAdministrator } from './bootstrap-administrator.js';

describe('bootstrapAdministrator', () => {
  let dir: string;
  let store: Store;
  const keyring = new Keyring(generateMasterKey());
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-bootstrap-'));
    store = await openStore({ url: ':memory:' });
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('resumes after a crash between the commit and the file: the file is written from the stored key', async () => {
    // The administrator was committed, then the process died before writing the file.
    const first = await bootstrap({ store, keyring });
    assert.ok(first);
    const result = await bootstrapAdministrator({ store, keyring, dataDir: join(dir, 'data') });
    assert.equal(result.created, false);
    assert.equal(result.wroteFile, true);
    assert.equal(result.accessKeyId, first.accessKeyId);
    const text = await readFile(join(dir, 'data', BOOTSTRAP_CREDENTIALS_FILE), 'utf8');
    assert.match(text, new RegExp(`aws_access_key_id = ${first.accessKeyId}\\n`));
    assert.match(
      text,
      new RegExp(`aws_secret_access_key = ${first.secretAccessKey.replace(/[+/]/g, '\\$&')}\\n`),
    );
    assert.equal((await stat(join(dir, 'data', BOOTSTRAP_CREDENTIALS_FILE))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dir, 'data'))).mode & 0o777, 0o700);
  });

  it('never recreates a file the operator deleted after it was written', async () => {
    await unlink(join(dir, 'data', BOOTSTRAP_CREDENTIALS_FILE));
    const again = await bootstrapAdministrator({ store, keyring, dataDir: join(dir, 'data') });
    assert.equal(again.wroteFile, false);
    await assert.rejects(stat(join(dir, 'data', BOOTSTRAP_CREDENTIALS_FILE)), { code: 'ENOENT' });
    assert.equal((await store.listUsers()).filter((u) => u.name === 'admin').length, 1);
  });
});
