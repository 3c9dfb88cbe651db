import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CliIo, UsageError } from '../cli-io.js';
import { readServeSettings, runServe } from './serve-command.js';

const ROOT = resolve(import.meta.dirname, '../../../..');

describe('aiam serve settings', () => {
  it('takes flags over environment over defaults', () => {
    assert.deepEqual(readServeSettings([], {}), {
      dataDir: '.aiam',
      host: '127.0.0.1',
      port: 7477,
      databaseUrl: undefined,
      metricsPublic: false,
      trustedProxies: [],
    });
    const env = {
      AIAM_DATA_DIR: '/d',
      AIAM_HOST: '0.0.0.0',
      AIAM_PORT: '9000',
      AIAM_DATABASE_URL: 'postgres://h/db',
    };
    assert.deepEqual(readServeSettings([], env), {
      dataDir: '/d',
      host: '0.0.0.0',
      port: 9000,
      databaseUrl: 'postgres://h/db',
      metricsPublic: false,
      trustedProxies: [],
    });
    assert.deepEqual(
      readServeSettings(['--port', '0', '--data-dir=/x', '--metrics-public'], {
        ...env,
        AIAM_TRUSTED_PROXIES: '10.0.0.2, 10.0.0.3,',
      }),
      {
        dataDir: '/x',
        host: '0.0.0.0',
        port: 0,
        databaseUrl: 'postgres://h/db',
        metricsPublic: true,
        trustedProxies: ['10.0.0.2', '10.0.0.3'],
      },
    );
  });

  it('takes --object-store for an upstream S3-compatible store', () => {
    assert.equal(
      readServeSettings(['--object-store', 's3://b/p?endpoint=http://h:9000'], {}).objectStore,
      's3://b/p?endpoint=http://h:9000',
    );
  });

  it('refuses bad ports and unknown options with a usage error', () => {
    assert.throws(() => readServeSettings(['--port', '70000'], {}), UsageError);
    assert.throws(() => readServeSettings(['--port', 'http'], {}), /--port must be a port number/);
    assert.throws(() => readServeSettings([], { AIAM_PORT: '-1' }), /AIAM_PORT/);
    assert.throws(() => readServeSettings(['--port'], {}), /needs a value/);
    assert.throws(() => readServeSettings(['--verbose'], {}), /unknown option/);
  });
});

describe('aiam serve', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-serve-cli-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('prints the URL and the credentials path, never the secret, and stops on request', async () => {
    let stdout = '';
    let stderr = '';
    const io: CliIo = {
      stdout: { write: (t: string) => (stdout += t) },
      stderr: { write: (t: string) => (stderr += t) },
      readTextFile: (p) => readFile(p, 'utf8'),
    };
    let stop: (s: string) => void = () => {};
    const stopped = new Promise<string>((r) => {
      stop = r;
    });
    const running = runServe(['--port', '0', '--data-dir', join(dir, 'in-process')], io, {
      env: { AIAM_LOG_LEVEL: 'info' },
      stop: () => stopped,
    });
    for (let i = 0; i < 200 && !stdout.includes('listening on'); i++)
      await new Promise((r) => setTimeout(r, 25));
    const url = /listening on (http:\/\/\S+)/.exec(stdout)?.[1];
    assert.ok(url, stdout);
    assert.equal((await fetch(`${url}/healthz`)).status, 200);
    const file = join(dir, 'in-process', 'bootstrap-credentials');
    assert.match(
      stdout,
      new RegExp(`administrator credentials: ${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`),
    );
    const secret = /aws_secret_access_key = (\S+)/.exec(await readFile(file, 'utf8'))?.[1];
    assert.ok(secret);
    stop('test');
    assert.equal(await running, 0);
    assert.ok(!stdout.includes(secret) && !stderr.includes(secret), 'the secret is never printed');
    assert.match(stderr, /"msg":"listening"/, 'JSON logs go to stderr');
    assert.match(stdout, /aiam stopped\n$/);
  });

  it('shuts down on SIGTERM with status 0', async () => {
    const script = `import('${join(ROOT, 'packages/cli/src/main.ts')}').then(async (m) => { process.exitCode = await m.main(process.argv.slice(1)); })`;
    const child = spawn(
      process.execPath,
      [
        '--conditions=source',
        '--import',
        'tsx',
        '-e',
        script,
        'serve',
        '--port',
        '0',
        '--data-dir',
        join(dir, 'signal'),
      ],
      { cwd: ROOT, env: { ...process.env, AIAM_LOG_LEVEL: 'silent' }, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      for (let i = 0; i < 600 && !out.includes('listening on'); i++)
        await new Promise((r) => setTimeout(r, 25));
      const url = /listening on (http:\/\/\S+)/.exec(out)?.[1];
      assert.ok(url, `no URL printed: ${out} ${err}`);
      assert.equal((await fetch(`${url}/healthz`)).status, 200);
      child.kill('SIGTERM');
      assert.equal(await exited, 0, err);
    } finally {
      // A failed assertion must not leave the server running (and this test file waiting on it).
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
    assert.match(out, /aiam stopped/);
    assert.match(err, /SIGTERM received, shutting down/);
  });
});
