import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, startServer } from '@aiam/server';
import type { CliIo } from '../cli-io.js';
import { main } from '../main.js';
import { runRotateMasterKey } from './admin-command.js';

function capture(): CliIo & { out: string; err: string } {
  const io = {
    out: '',
    err: '',
    stdout: { write: (t: string) => (io.out += t) },
    stderr: { write: (t: string) => (io.err += t) },
    readTextFile: (p: string) => readFile(p, 'utf8'),
  };
  return io;
}

async function makeDataDir(dataDir: string, env: Record<string, string> = {}): Promise<void> {
  const server = await startServer({
    dataDir,
    port: 0,
    env,
    logger: createLogger({ level: 'silent', write: () => {} }),
  });
  await server.close();
}

const keyLines = async (dataDir: string) =>
  (await readFile(join(dataDir, 'master.key'), 'utf8'))
    .split('\n')
    .filter((l) => l !== '' && !l.startsWith('#'));

describe('aiam admin rotate-master-key', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'aiam-cli-admin-'));
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('rotates the key file, re-encrypts, and retires the old key with --retire-old', async () => {
    const dataDir = join(root, 'file');
    await makeDataDir(dataDir);
    const [oldKey] = await keyLines(dataDir);
    const io = capture();
    assert.equal(
      await main(['admin', 'rotate-master-key', '--data-dir', dataDir, '--retire-old'], io),
      0,
      io.err,
    );
    const lines = await keyLines(dataDir);
    assert.equal(lines.length, 1);
    assert.notEqual(lines[0], oldKey);
    assert.match(io.out, /re-encrypted [1-9]\d* secret/);
    assert.match(io.out, /retired: mk[0-9a-f]{12}/);
    assert.ok(!io.out.includes(lines[0]!) && !io.out.includes(oldKey!), 'no key printed');
    // The server starts with the rotated key ring.
    await makeDataDir(dataDir);
  });

  it('keeps the old key without --retire-old and says how to retire it', async () => {
    const dataDir = join(root, 'keep');
    await makeDataDir(dataDir);
    const io = capture();
    assert.equal(
      await main(['admin', 'rotate-master-key', `--data-dir=${dataDir}`, '--batch-size', '1'], io),
      0,
    );
    assert.equal((await keyLines(dataDir)).length, 2);
    assert.match(io.out, /still held for decryption: mk[0-9a-f]{12}; .*--resume --retire-old/);
    const retire = capture();
    assert.equal(
      await main(['admin', 'rotate-master-key', '--data-dir', dataDir, '--resume', '--retire-old'], retire),
      0,
    );
    assert.match(retire.out, /re-encrypted 0 secret/);
    assert.equal((await keyLines(dataDir)).length, 1);
  });

  it('for keys from the environment, refuses without --print-new-key, else prints what to set', async () => {
    const dataDir = join(root, 'env');
    const env = { AIAM_MASTER_KEY: randomBytes(32).toString('base64') };
    await makeDataDir(dataDir, env);
    await assert.rejects(runRotateMasterKey(['--data-dir', dataDir], capture(), env), /--print-new-key/);
    const missing = capture();
    assert.equal(await main(['admin', 'rotate-master-key', '--data-dir', join(root, 'none')], missing), 1);
    assert.match(missing.err, /no master key was found/);
    const io = capture();
    assert.equal(await runRotateMasterKey(['--data-dir', dataDir, '--print-new-key'], io, env), 0);
    const active = /AIAM_MASTER_KEY=(\S+)/.exec(io.out)?.[1];
    assert.ok(active && active !== env.AIAM_MASTER_KEY);
    assert.ok(io.out.includes(`AIAM_MASTER_KEYS_PREVIOUS=${env.AIAM_MASTER_KEY}`));
    await makeDataDir(dataDir, { AIAM_MASTER_KEY: active });
    assert.ok(!(await readdir(dataDir)).includes('master.key'), 'no key file was created');
  });

  it('rejects unknown subcommands and options with usage', async () => {
    const io = capture();
    assert.equal(await main(['admin', 'rotate'], io), 2);
    assert.equal(await main(['admin', 'rotate-master-key', '--bogus'], io), 2);
    assert.equal(await main(['admin', 'rotate-master-key', '--batch-size', '0'], io), 2);
  });
});
