import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ConfigClient } from '@aiam/client';
import { createLogger, type RunningServer, startServer } from '@aiam/server';
import type { CliIo } from '../cli-io.js';
import { main } from '../main.js';

const SEED_002 = fileURLToPath(
  new URL('../../../../examples/seed-002-user-provisioning.yaml', import.meta.url),
);

function bufferIo(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    readTextFile: (p) => readFile(p, 'utf8'),
  };
}

describe('aiam plan / apply / export', () => {
  let dir: string;
  let server: RunningServer;
  let client: ConfigClient;
  const saved: Record<string, string | undefined> = {};
  const ENV = [
    'AIAM_ENDPOINT',
    'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_PROFILE',
  ];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-apply-'));
    server = await startServer({
      dataDir: join(dir, 'data'),
      port: 0,
      logger: createLogger({ level: 'error', write: () => {} }),
    });
    for (const k of ENV) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
    process.env.AIAM_ENDPOINT = server.url;
    process.env.AWS_SHARED_CREDENTIALS_FILE = server.bootstrap.credentialsPath;
    client = new ConfigClient();
  });
  after(async () => {
    for (const k of ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses an invalid file with file:line:col and changes nothing', async () => {
    const bad = join(dir, 'bad.yaml');
    await writeFile(bad, 'users:\n  alice:\n    policies: [noSuchPolicy]\n    colour: blue\n');
    const before = (await client.getState()).revision;
    const io = bufferIo();
    assert.equal(await main(['apply', '-f', bad, '--yes'], io), 1);
    assert.match(io.err.join(''), /bad\.yaml:\d+:\d+/);
    assert.equal((await client.getState()).revision, before);
  });

  it('plans, refuses to lose a secret, applies with --secrets-out (0600, never on stdout), then is a no-op', async () => {
    const plan = bufferIo();
    assert.equal(await main(['plan', '-f', SEED_002], plan), 0);
    assert.match(plan.out.join(''), /users\.aiUser/);
    assert.match(plan.out.join(''), /Access changes/);

    const noOut = bufferIo();
    assert.equal(await main(['apply', '-f', SEED_002, '--yes'], noOut), 2);
    assert.match(noOut.err.join(''), /--secrets-out/);

    const secrets = join(dir, 'secrets.json');
    await writeFile(secrets, 'occupied');
    const occupied = bufferIo();
    assert.equal(await main(['apply', '-f', SEED_002, '--yes', '--secrets-out', secrets], occupied), 2);
    assert.match(occupied.err.join(''), /exists.*--force/);
    assert.equal((await client.getState()).state.users.aiUser, undefined, 'nothing applied');
    await rm(secrets);

    const io = bufferIo();
    assert.equal(await main(['apply', '-f', SEED_002, '--yes', '--secrets-out', secrets], io), 0);
    const written = JSON.parse(await readFile(secrets, 'utf8')) as {
      users: { aiUser: { accessKeys: { aiAccessKey: { accessKeyId: string; secretAccessKey: string } } } };
    };
    const key = written.users.aiUser.accessKeys.aiAccessKey;
    assert.match(key.accessKeyId, /^AKIA/);
    assert.ok(key.secretAccessKey.length >= 40);
    assert.equal((await stat(secrets)).mode & 0o777, 0o600);
    const printed = io.out.join('') + io.err.join('');
    assert.ok(!printed.includes(key.secretAccessKey), 'the secret is never printed');
    assert.match(io.out.join(''), /1 new secret written/);

    const again = bufferIo();
    assert.equal(await main(['apply', '-f', SEED_002, '--yes'], again), 0);
    assert.match(again.out.join(''), /No changes/);
  });

  it('exports YAML that applies as a no-op and holds no secret', async () => {
    const io = bufferIo();
    assert.equal(await main(['export'], io), 0);
    const text = io.out.join('');
    assert.match(text, /aiDataAccessPolicy/);
    assert.ok(!/secretAccessKey/.test(text));
    const file = join(dir, 'export.yaml');
    await writeFile(file, text);
    const before = (await client.getState()).revision;
    const apply = bufferIo();
    assert.equal(await main(['apply', '-f', file, '--yes'], apply), 0, apply.err.join(''));
    assert.match(apply.out.join(''), /No changes/);
    assert.equal((await client.getState()).revision, before);
  });
});
