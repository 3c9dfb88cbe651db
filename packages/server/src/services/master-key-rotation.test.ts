import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { SignatureV4 } from '@smithy/signature-v4';
import { BOOTSTRAP_CREDENTIALS_FILE } from '../app/bootstrap-administrator.js';
import { startServer } from '../app/start-server.js';
import { PreconditionFailedError } from '../errors.js';
import { generateMasterKey, Keyring, loadKeyring } from '../identity/keyring.js';
import { createLogger } from '../observability/logger.js';
import { openStore } from '../store/open-store.js';
import { testDatabases } from '../store/store-test-databases.js';
import { accessKeySecretContext } from './iam-service.js';
import {
  countCiphertextsNotUnder,
  reencryptStore,
  retireOldMasterKeys,
  rotateStoreMasterKey,
} from './master-key-rotation.js';
import { NodeSha256 } from '../testing/signed-fetch.js';

async function signedGet(url: string, creds: { accessKeyId: string; secretAccessKey: string }) {
  const u = new URL(url);
  const signer = new SignatureV4({
    credentials: creds,
    region: 'us-east-1',
    service: 'aiam',
    sha256: NodeSha256,
  });
  const signed = await signer.sign({
    method: 'GET',
    protocol: u.protocol,
    hostname: u.hostname,
    port: Number(u.port),
    path: u.pathname,
    query: {},
    headers: { host: u.host },
  });
  const h: Record<string, string> = {};
  for (const [k, v] of Object.entries(signed.headers)) if (k !== 'host') h[k] = String(v);
  return fetch(url, { headers: h });
}

const silent = () => createLogger({ level: 'silent', write: () => {} });

/** Starts a server on `dataDir`, runs `fn` against it, stops it. */
async function withServer<T>(
  dataDir: string,
  fn: (url: string) => Promise<T>,
  env: Record<string, string> = {},
): Promise<T> {
  const server = await startServer({ dataDir, port: 0, env, logger: silent() });
  try {
    return await fn(server.url);
  } finally {
    await server.close();
  }
}

/** Every file of the SQLite database (main file, WAL, journal) as one buffer. */
async function databaseBytes(dataDir: string): Promise<Buffer> {
  const files = (await readdir(dataDir)).filter((f) => f.startsWith('aiam.db'));
  return Buffer.concat(await Promise.all(files.map((f) => readFile(join(dataDir, f)))));
}

describe('master-key rotation over the real store', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'aiam-mk-rotate-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('re-encrypts every secret; the restarted server authenticates the old key and serves the same JWKS', async () => {
    const dataDir = join(root, 'file');
    const { creds, jwks } = await withServer(dataDir, async (url) => {
      const ini = await readFile(join(dataDir, BOOTSTRAP_CREDENTIALS_FILE), 'utf8');
      const creds = {
        accessKeyId: /aws_access_key_id\s*=\s*(\S+)/.exec(ini)![1]!,
        secretAccessKey: /aws_secret_access_key\s*=\s*(\S+)/.exec(ini)![1]!,
      };
      assert.equal((await signedGet(`${url}/api/v1/server-info`, creds)).status, 200);
      return { creds, jwks: await (await fetch(`${url}/.well-known/jwks.json`)).json() };
    });
    assert.ok((jwks as { keys: unknown[] }).keys.length > 0, 'the server made an OIDC signing key');

    // A stored temporary session (its secret is keyring ciphertext too), and a few more records.
    const before = (await loadKeyring({ dataDir, env: {} })).keyring;
    const oldKeyId = before.activeKeyId;
    const store = await openStore({ url: `sqlite:${join(dataDir, 'aiam.db')}` });
    await store.createSession({
      accessKeyId: 'ASIAROTATIONTEST0001',
      secretCiphertext: Buffer.from(
        before.encrypt('s'.repeat(40), accessKeySecretContext('ASIAROTATIONTEST0001')),
      ),
      sessionTokenHash: 'h1.p1.x',
      principalArn: 'arn:aws:iam::000000000000:user/admin',
      expiresAt: Date.now() + 3_600_000,
    });
    assert.ok((await countCiphertextsNotUnder(store, oldKeyId)) === 0);
    const total = (await reencryptStore(store, before)).alreadyCurrent;
    assert.ok(total >= 4, `pepper, access key, session and signing key are found (${total})`);
    await store.close();
    assert.ok((await databaseBytes(dataDir)).includes(`v1.${oldKeyId}.`), 'the scan can see ciphertexts');

    // Killed half-way: the first batch commits, then the process "dies".
    await assert.rejects(
      rotateStoreMasterKey({
        dataDir,
        env: {},
        batchSize: 1,
        onBatch: ({ batch }) => {
          if (batch === 1) throw new Error('killed');
        },
      }),
      /killed/,
    );
    const mid = await loadKeyring({ dataDir, env: {} });
    assert.deepEqual(mid.keyring.keyIds.slice(1), [oldKeyId], 'the old key is kept for decryption');
    const midStore = await openStore({ url: `sqlite:${join(dataDir, 'aiam.db')}` });
    try {
      const stale = await countCiphertextsNotUnder(midStore, mid.keyring.activeKeyId);
      assert.equal(stale, total - 1, 'exactly the first batch was re-encrypted');
      await assert.rejects(retireOldMasterKeys(midStore, dataDir), PreconditionFailedError);
    } finally {
      await midStore.close();
    }
    assert.equal((await loadKeyring({ dataDir, env: {} })).keyring.keyIds.length, 2, 'nothing retired');

    const done = await rotateStoreMasterKey({
      dataDir,
      env: {},
      resume: true,
      retireOld: true,
      batchSize: 2,
    });
    assert.equal(done.newKeyId, mid.keyring.activeKeyId, 'resume adds no further key');
    assert.equal(done.report.reencrypted, total - 1);
    assert.equal(done.report.alreadyCurrent, 1);
    assert.deepEqual(done.retired, [oldKeyId]);
    assert.deepEqual((await loadKeyring({ dataDir, env: {} })).keyring.keyIds, [done.newKeyId]);
    assert.equal((await databaseBytes(dataDir)).includes(oldKeyId), false, 'no ciphertext under the old key');

    // Idempotent: a second pass changes nothing.
    const again = await rotateStoreMasterKey({ dataDir, env: {}, resume: true });
    assert.equal(again.report.reencrypted, 0);
    assert.equal(again.report.alreadyCurrent, total);

    await withServer(dataDir, async (url) => {
      assert.equal(
        (await signedGet(`${url}/api/v1/server-info`, creds)).status,
        200,
        'same secret still works',
      );
      const wrong = { ...creds, secretAccessKey: 'x'.repeat(40) };
      assert.equal((await signedGet(`${url}/api/v1/server-info`, wrong)).status, 401);
      assert.deepEqual(await (await fetch(`${url}/.well-known/jwks.json`)).json(), jwks);
    });
  });

  it('with keys from the environment, returns what the operator must set and re-encrypts under it', async () => {
    const dataDir = join(root, 'env');
    const old = generateMasterKey();
    const env = { AIAM_MASTER_KEY: old.key.toString('base64') };
    await withServer(dataDir, async () => {}, env);
    const r = await rotateStoreMasterKey({ dataDir, env });
    assert.equal(r.source, 'env');
    assert.ok(r.envKeys);
    assert.deepEqual(r.envKeys.previous, [env.AIAM_MASTER_KEY]);
    assert.notEqual(r.newKeyId, old.id);
    assert.ok(r.report.byKind.setting.reencrypted === 1 && r.report.byKind['access-key'].reencrypted === 1);
    assert.deepEqual(
      await readdir(dataDir).then((f) => f.includes('master.key')),
      false,
      'no key file written',
    );
    const store = await openStore({ url: `sqlite:${join(dataDir, 'aiam.db')}` });
    try {
      assert.equal(await countCiphertextsNotUnder(store, r.newKeyId), 0);
      // The new key alone decrypts everything: the old one may be dropped from the environment.
      const onlyNew = (await loadKeyring({ dataDir, env: { AIAM_MASTER_KEY: r.envKeys.active } })).keyring;
      assert.deepEqual(onlyNew.keyIds, [r.newKeyId]);
      assert.equal(onlyNew.activeKeyId, r.newKeyId);
      assert.equal((await reencryptStore(store, onlyNew)).reencrypted, 0);
    } finally {
      await store.close();
    }
    await withServer(
      dataDir,
      async (url) => {
        assert.equal((await fetch(`${url}/healthz`)).status, 200);
      },
      { AIAM_MASTER_KEY: r.envKeys.active },
    );
  });
  it('hands an env-held new key out before re-encrypting, so an interrupted pass can be resumed', async () => {
    const dataDir = join(root, 'env-crash');
    const env = { AIAM_MASTER_KEY: generateMasterKey().key.toString('base64') };
    await withServer(dataDir, async () => {}, env);
    let handed: { active: string; previous: string[] } | undefined;
    await assert.rejects(
      rotateStoreMasterKey({
        dataDir,
        env,
        batchSize: 1,
        onKeyReady: ({ envKeys }) => {
          handed = envKeys;
        },
        onBatch: () => {
          throw new Error('killed');
        },
      }),
      /killed/,
    );
    assert.ok(handed, 'the key was handed out before the crash');
    const resumed = await rotateStoreMasterKey({
      dataDir,
      env: { AIAM_MASTER_KEY: handed.active, AIAM_MASTER_KEYS_PREVIOUS: handed.previous.join(',') },
      resume: true,
    });
    assert.equal(resumed.envKeys, undefined, 'resume makes no new key');
    assert.equal(resumed.report.alreadyCurrent, 1);
    assert.ok(resumed.report.reencrypted >= 1);
  });
});

for (const db of testDatabases()) {
  describe(`reencryptStore on ${db.id}`, () => {
    after(() => db.cleanup());

    it('re-encrypts each kind with its associated data, pages in batches, and compare-and-sets', async () => {
      const store = await db.open();
      const oldKey = generateMasterKey();
      const old = new Keyring(oldKey);
      await store.createUser({ name: 'alice' });
      const ids = ['AKIAROTATE0000000001', 'AKIAROTATE0000000002'];
      for (const id of ids) {
        const sealed = old.encrypt(`secret-${id}`, accessKeySecretContext(id));
        await store.createAccessKey({
          userName: 'alice',
          accessKeyId: id,
          secretCiphertext: Buffer.from(sealed),
        });
      }
      await store.createSigningKey({
        kid: 'k1',
        alg: 'ES256',
        privateJwkCiphertext: Buffer.from(old.encrypt('{"d":"x"}', 'oidc-signing-key:k1')),
        publicJwk: '{}',
      });
      const pepper = await store.putSetting('pepper', old.encrypt('pepper-bytes', 'setting:pepper'), null);
      await store.putSetting('plain', 'not a ciphertext', null);

      const next = new Keyring(generateMasterKey(), [generateMasterKey()]);
      await assert.rejects(reencryptStore(store, next), /ERR_MASTER_KEY_UNKNOWN|does not have/);

      const rotated = new Keyring(generateMasterKey(), [oldKey]);
      const report = await reencryptStore(store, rotated, { batchSize: 1 });
      assert.equal(report.reencrypted, 4);
      assert.deepEqual(report.byKind['access-key'], { reencrypted: 2, alreadyCurrent: 0, skippedChanged: 0 });
      assert.ok(report.batches >= 6, 'one record per transaction');
      assert.equal(await countCiphertextsNotUnder(store, rotated.activeKeyId), 0);
      for (const id of ids) {
        const k = await store.getAccessKey(id);
        const text = Buffer.from(k!.secretCiphertext).toString('utf8');
        assert.equal(rotated.decryptString(text, accessKeySecretContext(id)), `secret-${id}`);
      }
      const p = await store.getSetting('pepper');
      assert.equal(p?.version, pepper.version, 'the pepper keeps its version (its id)');
      assert.equal(rotated.decryptString(p!.value, 'setting:pepper'), 'pepper-bytes');
      assert.equal((await store.getSetting('plain'))?.value, 'not a ciphertext');
      const [sk] = await store.listSigningKeys();
      assert.equal(
        rotated.decryptString(Buffer.from(sk!.privateJwkCiphertext).toString(), 'oidc-signing-key:k1'),
        '{"d":"x"}',
      );
      // Compare-and-set: a stale previous value changes nothing.
      assert.equal(await store.replaceCiphertext('setting', 'pepper', 'stale', 'v1.x'), false);
      assert.equal((await reencryptStore(store, rotated)).reencrypted, 0);
    });
  });
}
