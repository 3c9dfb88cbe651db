import assert from 'node:assert/strict';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { KeyringError } from './identity-errors.js';
import {
  addMasterKey,
  generateMasterKey,
  Keyring,
  loadKeyring,
  masterKeyId,
  parseMasterKey,
  retireMasterKey,
  rotateMasterKey,
} from './keyring.js';

const dirs: string[] = [];
async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'aiam-keyring-'));
  dirs.push(d);
  return d;
}
after(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const isCode = (code: string) => (e: unknown) => e instanceof KeyringError && e.code === code;

describe('Keyring', () => {
  it('round-trips secrets bound to their record, in the versioned format', () => {
    const kr = new Keyring(generateMasterKey());
    const sealed = kr.encrypt('wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY', 'access-key:AKIAAAAAAAAAAAAAAAAA');
    assert.match(sealed, /^v1\.mk[0-9a-f]{12}\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{22}$/);
    assert.ok(sealed.startsWith(`v1.${kr.activeKeyId}.`));
    assert.ok(!sealed.includes('wJalr'));
    assert.equal(
      kr.decryptString(sealed, 'access-key:AKIAAAAAAAAAAAAAAAAA'),
      'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
    );
    assert.notEqual(kr.encrypt('same', 'ctx'), kr.encrypt('same', 'ctx'), 'IVs must differ');
  });

  it('refuses a ciphertext swapped to another record, tampered, relabelled or malformed', () => {
    const kr = new Keyring(generateMasterKey());
    const sealed = kr.encrypt('secret-a', 'access-key:A');
    assert.throws(() => kr.decrypt(sealed, 'access-key:B'), isCode('ERR_CIPHERTEXT_AUTH'));
    const parts = sealed.split('.');
    const flipped = (s: string) => (s[0] === 'A' ? 'B' : 'A') + s.slice(1);
    for (const i of [2, 3, 4]) {
      const t = [...parts];
      t[i] = flipped(t[i] as string);
      assert.throws(
        () => kr.decrypt(t.join('.'), 'access-key:A'),
        (e: unknown) => e instanceof KeyringError,
        `part ${i}`,
      );
    }
    // Relabelled with another key id the keyring holds: the key id is in the associated data.
    const k1 = generateMasterKey();
    const k2 = generateMasterKey();
    const both = new Keyring(k1, [k2]);
    const underK1 = both.encrypt('secret-a', 'access-key:A');
    const relabelled = underK1.replace(k1.id, k2.id);
    assert.throws(() => both.decrypt(relabelled, 'access-key:A'), isCode('ERR_CIPHERTEXT_AUTH'));
    // The tag's last character has unused low bits: a variant decoding to the same bytes is refused too.
    const tag = parts[4] as string;
    const lastIndex = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'.indexOf(
      tag.slice(-1),
    );
    const twin = [
      ...parts.slice(0, 4),
      tag.slice(0, -1) + 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'[lastIndex ^ 1],
    ].join('.');
    assert.throws(
      () => kr.decrypt(twin, 'access-key:A'),
      (e: unknown) => e instanceof KeyringError,
    );
    for (const bad of ['', 'v2.x', sealed.replace('v1.', 'v2.'), `${sealed}.x`, 'plain text']) {
      assert.throws(() => kr.decrypt(bad, 'access-key:A'), isCode('ERR_CIPHERTEXT_MALFORMED'));
    }
    assert.throws(() => kr.encrypt('x', ''), TypeError);
  });

  it('says which key is missing when the ciphertext was made with an unknown key', () => {
    const old = new Keyring(generateMasterKey());
    const sealed = old.encrypt('s', 'ctx');
    const fresh = new Keyring(generateMasterKey());
    assert.throws(
      () => fresh.decrypt(sealed, 'ctx'),
      (e: unknown) => isCode('ERR_MASTER_KEY_UNKNOWN')(e) && (e as Error).message.includes(old.activeKeyId),
    );
  });

  it('rotates: old ciphertexts decrypt with the previous key and are re-encrypted under the new one', async () => {
    const k1 = generateMasterKey();
    const k2 = generateMasterKey();
    const before = new Keyring(k1);
    const rows = Array.from({ length: 5 }, (_, i) => ({
      id: `AKIA${i}`,
      sealed: before.encrypt(`secret-${i}`, `access-key:AKIA${i}`),
    }));
    const during = new Keyring(k2, [k1]);
    rows.push({ id: 'AKIA9', sealed: during.encrypt('secret-9', 'access-key:AKIA9') });
    const access = {
      read: (r: { id: string; sealed: string }) => ({ ciphertext: r.sealed, context: `access-key:${r.id}` }),
      write: (r: { id: string; sealed: string }, ciphertext: string, previous: string) => {
        assert.equal(r.sealed, previous);
        r.sealed = ciphertext;
      },
    };
    assert.deepEqual(await rotateMasterKey(during, rows, access), { reencrypted: 5, alreadyCurrent: 1 });
    assert.deepEqual(await rotateMasterKey(during, rows, access), { reencrypted: 0, alreadyCurrent: 6 });
    const afterRetire = new Keyring(k2);
    rows.forEach((r, i) => {
      assert.equal(afterRetire.decryptString(r.sealed, `access-key:${r.id}`), `secret-${i === 5 ? 9 : i}`);
    });
  });

  it('derives distinct purpose keys', () => {
    const kr = new Keyring(generateMasterKey());
    assert.equal(kr.deriveKey('session-token').length, 32);
    assert.notDeepEqual(kr.deriveKey('session-token'), kr.deriveKey('other'));
    assert.throws(() => kr.deriveKey('x', 'mk000000000000'), isCode('ERR_MASTER_KEY_UNKNOWN'));
  });

  it('parses base64 master keys and refuses anything else', () => {
    const key = Buffer.alloc(32, 9);
    assert.equal(parseMasterKey(key.toString('base64'), 'test').id, masterKeyId(key));
    assert.equal(parseMasterKey(key.toString('base64url'), 'test').id, masterKeyId(key));
    for (const bad of [
      '',
      'short',
      Buffer.alloc(16).toString('base64'),
      Buffer.alloc(33).toString('base64'),
      `${key.toString('base64')}!`,
    ]) {
      assert.throws(() => parseMasterKey(bad, 'AIAM_MASTER_KEY'), isCode('ERR_MASTER_KEY_INVALID'));
    }
  });
});

describe('loadKeyring', () => {
  it('creates DATA_DIR/master.key with mode 0600 on first start and reuses it after', async () => {
    const dir = join(await tempDir(), 'data');
    const first = await loadKeyring({ dataDir: dir, env: {} });
    assert.equal(first.created, true);
    assert.equal(first.source, 'file');
    if (process.platform !== 'win32') assert.equal((await stat(join(dir, 'master.key'))).mode & 0o777, 0o600);
    const sealed = first.keyring.encrypt('s', 'ctx');
    const second = await loadKeyring({ dataDir: dir, env: {} });
    assert.equal(second.created, false);
    assert.equal(second.keyring.decryptString(sealed, 'ctx'), 's');
  });

  it('prefers AIAM_MASTER_KEY and its previous keys from the environment', async () => {
    const dir = await tempDir();
    const k1 = generateMasterKey();
    const k2 = generateMasterKey();
    const loaded = await loadKeyring({
      dataDir: dir,
      env: {
        AIAM_MASTER_KEY: k2.key.toString('base64'),
        AIAM_MASTER_KEYS_PREVIOUS: ` ${k1.key.toString('base64')} ,`,
      },
    });
    assert.equal(loaded.source, 'env');
    assert.deepEqual(loaded.keyring.keyIds, [k2.id, k1.id]);
    await assert.rejects(
      loadKeyring({ dataDir: dir, env: { AIAM_MASTER_KEY: 'not-a-key' } }),
      isCode('ERR_MASTER_KEY_INVALID'),
    );
  });

  it('refuses a key file readable by others, an empty one, and a corrupt one', async () => {
    if (process.platform === 'win32') return;
    const dir = await tempDir();
    const path = join(dir, 'master.key');
    await writeFile(path, `${generateMasterKey().key.toString('base64')}\n`, { mode: 0o644 });
    await chmod(path, 0o644);
    await assert.rejects(loadKeyring({ dataDir: dir, env: {} }), isCode('ERR_MASTER_KEY_PERMISSIONS'));
    await writeFile(path, '# nothing here\n', { mode: 0o600 });
    await chmod(path, 0o600);
    await assert.rejects(loadKeyring({ dataDir: dir, env: {} }), isCode('ERR_MASTER_KEY_MISSING'));
    await writeFile(path, 'garbage\n');
    await assert.rejects(loadKeyring({ dataDir: dir, env: {} }), isCode('ERR_MASTER_KEY_INVALID'));
  });

  it('adds and retires keys in the key file (the documented rotation)', async () => {
    const dir = await tempDir();
    const { keyring: kr1 } = await loadKeyring({ dataDir: dir, env: {} });
    const sealed = kr1.encrypt('s', 'ctx');
    const added = await addMasterKey(dir);
    const { keyring: kr2 } = await loadKeyring({ dataDir: dir, env: {} });
    assert.deepEqual(kr2.keyIds, [added.id, kr1.activeKeyId]);
    const rows = [{ sealed }];
    await rotateMasterKey(kr2, rows, {
      read: (r) => ({ ciphertext: r.sealed, context: 'ctx' }),
      write: (r, c) => {
        r.sealed = c;
      },
    });
    await assert.rejects(retireMasterKey(dir, added.id), isCode('ERR_MASTER_KEY_INVALID'));
    await assert.rejects(retireMasterKey(dir, 'mk000000000000'), isCode('ERR_MASTER_KEY_UNKNOWN'));
    await retireMasterKey(dir, kr1.activeKeyId);
    const { keyring: kr3 } = await loadKeyring({ dataDir: dir, env: {} });
    assert.deepEqual(kr3.keyIds, [added.id]);
    assert.equal(kr3.decryptString(rows[0]?.sealed as string, 'ctx'), 's');
    assert.ok((await readFile(join(dir, 'master.key'), 'utf8')).startsWith('#'));
  });
});
