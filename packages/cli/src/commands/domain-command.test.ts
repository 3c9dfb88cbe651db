import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger, type RunningServer, startServer } from '@aiam/server';
import type { CliIo } from '../cli-io.js';
import { main } from '../main.js';

const SEED_004 = fileURLToPath(
  new URL('../../../../examples/seed-004-fine-grained-data-access.yaml', import.meta.url),
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

describe('aiam domain', () => {
  let dir: string;
  let server: RunningServer;
  const saved: Record<string, string | undefined> = {};
  const ENV = [
    'AIAM_ENDPOINT',
    'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_PROFILE',
  ];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-domain-cli-'));
    server = await startServer({
      dataDir: dir,
      port: 0,
      logger: createLogger({ level: 'error', write: () => {} }),
    });
    for (const k of ENV) {
      saved[k] = process.env[k];
      delete process.env[k];
    }
    process.env.AIAM_ENDPOINT = server.url;
    process.env.AWS_SHARED_CREDENTIALS_FILE = server.bootstrap.credentialsPath;
    const io = bufferIo();
    const secrets = join(dir, 'secrets.json');
    // The CLI calls from loopback: this copy of seed 004 also allows 127.0.0.0/8, so the test
    // exercises the CLI's plumbing; the network rule itself is tested in domain-api.
    const seed = join(dir, 'seed-004.yaml');
    await writeFile(
      seed,
      (await readFile(SEED_004, 'utf8')).replaceAll('192.0.2.0/24]', '192.0.2.0/24, 127.0.0.0/8]'),
    );
    assert.equal(
      await main(['apply', '-f', seed, '--yes', '--secrets-out', secrets], io),
      0,
      io.err.join(''),
    );
  });
  after(async () => {
    for (const k of ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the profiles applied from the file', async () => {
    const io = bufferIo();
    assert.equal(await main(['domain', 'profiles', 'my-sagemaker-domain'], io), 0);
    assert.deepEqual(
      io.out
        .join('')
        .trim()
        .split('\n')
        .map((l) => l.split('\t').slice(0, 2).join(' ')),
      ['alice alice', 'bob bob'],
    );
  });

  it('prints a console link scoped to the domain and profile', async () => {
    const io = bufferIo();
    assert.equal(
      await main(['domain', 'presigned-url', 'my-sagemaker-domain', 'alice', '--expires-in', '60'], io),
      0,
      io.err.join(''),
    );
    const url = new URL(io.out.join('').trim());
    assert.equal(url.pathname, '/console/domains/my-sagemaker-domain/login');
    assert.equal(url.searchParams.get('profile'), 'alice');
  });

  it('refuses a bad call with a usage error and an unknown profile with the server error', async () => {
    assert.equal(await main(['domain', 'presigned-url', 'my-sagemaker-domain'], bufferIo()), 2);
    const io = bufferIo();
    assert.equal(await main(['domain', 'presigned-url', 'my-sagemaker-domain', 'carol'], io), 1);
    assert.match(io.err.join(''), /carol/);
  });
});
