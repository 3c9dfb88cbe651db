import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { type RunningServer, startServer } from '../app/start-server.js';
import { loadKeyring } from '../identity/keyring.js';
import { silentLogger } from '../observability/logger.js';
import { IamService } from '../services/iam-service.js';

const run = promisify(execFile);

async function which(binary: string, probe: string[]): Promise<boolean> {
  try {
    await run(binary, probe, { timeout: 30_000 });
    return true;
  } catch {
    return false;
  }
}

// Debian's s3cmd and rclone (installed by .ci/run), with their default settings: path-style
// requests at the server's base URL. Skipped only when absent.
const hasS3cmd = await which('s3cmd', ['--version']);
const hasRclone = await which('rclone', ['version']);

interface Keys {
  readonly id: string;
  readonly secret: string;
}

describe('S3 data plane with s3cmd and rclone', () => {
  let dir: string;
  let server: RunningServer;
  let admin: Keys;
  let reader: Keys;
  let baseEnv: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-s3-stock-'));
    server = await startServer({
      dataDir: dir,
      port: 0,
      env: {},
      logger: silentLogger,
      s3: { fsync: false },
    });
    const { keyring } = await loadKeyring({ dataDir: dir, env: {} });
    const iam = new IamService({ store: server.store, keyring });
    const a = await iam.createAccessKey('admin');
    admin = { id: a.accessKey.accessKeyId, secret: a.secretAccessKey };
    const user = await iam.createUser({ name: 'reader' });
    // Read-only on every bucket: list and get, nothing else.
    await iam.putInlinePolicy(user.arn, 'read-only', {
      Version: '2012-10-17',
      Statement: [
        { Effect: 'Allow', Action: ['s3:ListAllMyBuckets', 's3:ListBucket', 's3:GetObject'], Resource: '*' },
      ],
    });
    const r = await iam.createAccessKey('reader');
    reader = { id: r.accessKey.accessKeyId, secret: r.secretAccessKey };
    baseEnv = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dir };
    for (const name of ['PYENV_ROOT', 'PYENV_VERSION', 'PYTHONPATH']) {
      const v = process.env[name];
      if (v !== undefined) baseEnv[name] = v;
    }
  });

  after(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  /** An s3cmd config file pointing at the server: path-style, plain HTTP, SigV4. */
  async function s3cmdConfig(name: string, keys: Keys): Promise<string> {
    const host = new URL(server.url).host;
    const file = join(dir, `${name}.s3cfg`);
    await writeFile(
      file,
      [
        '[default]',
        `access_key = ${keys.id}`,
        `secret_key = ${keys.secret}`,
        `host_base = ${host}`,
        `host_bucket = ${host}`,
        'use_https = False',
        'signature_v2 = False',
        'bucket_location = us-east-1',
        '',
      ].join('\n'),
    );
    return file;
  }

  it('s3cmd mb / put / ls / get / del', {
    skip: hasS3cmd ? false : 's3cmd is not installed (apt-get install s3cmd)',
  }, async () => {
    const config = await s3cmdConfig('admin', admin);
    const s3cmd = (...args: string[]) =>
      run('s3cmd', ['-c', config, ...args], { env: baseEnv, timeout: 60_000 });
    await s3cmd('mb', 's3://s3cmd-bucket');
    const local = join(dir, 's3cmd-in.txt');
    await writeFile(local, 'bytes from s3cmd\n'.repeat(1000));
    await s3cmd('put', local, 's3://s3cmd-bucket/dir/one.txt');
    await s3cmd('put', local, 's3://s3cmd-bucket/dir/two.txt');
    const ls = await s3cmd('ls', 's3://s3cmd-bucket/dir/');
    assert.match(ls.stdout, /s3:\/\/s3cmd-bucket\/dir\/one\.txt/);
    assert.match(ls.stdout, /s3:\/\/s3cmd-bucket\/dir\/two\.txt/);
    const buckets = await s3cmd('ls');
    assert.match(buckets.stdout, /s3:\/\/s3cmd-bucket/);
    const out = join(dir, 's3cmd-out.txt');
    await s3cmd('get', 's3://s3cmd-bucket/dir/one.txt', out);
    assert.equal(await readFile(out, 'utf8'), await readFile(local, 'utf8'));
    await s3cmd('del', 's3://s3cmd-bucket/dir/one.txt');
    const after = await s3cmd('ls', 's3://s3cmd-bucket/dir/');
    assert.doesNotMatch(after.stdout, /one\.txt/);
    assert.match(after.stdout, /two\.txt/);

    // A read-only user: reads work, a write is refused with the tool's error and leaves nothing.
    const readOnly = await s3cmdConfig('reader', reader);
    const asReader = (...args: string[]) =>
      run('s3cmd', ['-c', readOnly, ...args], { env: baseEnv, timeout: 60_000 });
    const readBack = join(dir, 's3cmd-reader.txt');
    await asReader('get', 's3://s3cmd-bucket/dir/two.txt', readBack);
    assert.equal(await readFile(readBack, 'utf8'), await readFile(local, 'utf8'));
    await assert.rejects(
      asReader('put', local, 's3://s3cmd-bucket/dir/refused.txt'),
      (e: { stderr: string }) => {
        assert.match(e.stderr, /AccessDenied|403/);
        return true;
      },
    );
    const final = await s3cmd('ls', 's3://s3cmd-bucket/dir/');
    assert.doesNotMatch(final.stdout, /refused\.txt/);
  });

  it('rclone mkdir / copy / ls / cat / delete / sync with an S3 remote from the environment', {
    skip: hasRclone ? false : 'rclone is not installed (apt-get install rclone)',
  }, async () => {
    // rclone reads a remote named AIAM from RCLONE_CONFIG_AIAM_* (rclone docs: "Config file
    // … environment variables"); path-style is its default for provider Other.
    const remoteEnv = (keys: Keys) => ({
      ...baseEnv,
      RCLONE_CONFIG: join(dir, 'rclone-none.conf'),
      RCLONE_CONFIG_AIAM_TYPE: 's3',
      RCLONE_CONFIG_AIAM_PROVIDER: 'Other',
      RCLONE_CONFIG_AIAM_ENDPOINT: server.url,
      RCLONE_CONFIG_AIAM_ACCESS_KEY_ID: keys.id,
      RCLONE_CONFIG_AIAM_SECRET_ACCESS_KEY: keys.secret,
      RCLONE_CONFIG_AIAM_REGION: 'us-east-1',
      RCLONE_CONFIG_AIAM_FORCE_PATH_STYLE: 'true',
    });
    const rclone = (...args: string[]) =>
      run('rclone', ['--retries', '1', '--low-level-retries', '1', ...args], {
        env: remoteEnv(admin),
        timeout: 60_000,
      });
    await rclone('mkdir', 'aiam:rclone-bucket');
    const local = join(dir, 'rclone-in.txt');
    await writeFile(local, 'bytes from rclone\n'.repeat(1000));
    await rclone('copy', local, 'aiam:rclone-bucket/files/');
    const ls = await rclone('ls', 'aiam:rclone-bucket');
    assert.match(ls.stdout, /\s18000 files\/rclone-in\.txt/);
    const cat = await rclone('cat', 'aiam:rclone-bucket/files/rclone-in.txt');
    assert.equal(cat.stdout, await readFile(local, 'utf8'));

    // sync makes the destination match the source: new files up, changed ones replaced, stale ones deleted.
    const tree = join(dir, 'tree');
    await mkdir(join(tree, 'sub'), { recursive: true });
    await writeFile(join(tree, 'a.txt'), 'a');
    await writeFile(join(tree, 'sub', 'b.txt'), 'b');
    await writeFile(join(tree, 'sub', 'c.txt'), 'c');
    await rclone('sync', tree, 'aiam:rclone-bucket/tree');
    await rm(join(tree, 'sub', 'c.txt'));
    await writeFile(join(tree, 'a.txt'), 'a, changed');
    await rclone('sync', tree, 'aiam:rclone-bucket/tree');
    const synced = await rclone('lsf', '-R', '--files-only', 'aiam:rclone-bucket/tree');
    assert.deepEqual(synced.stdout.trim().split('\n').sort(), ['a.txt', 'sub/b.txt']);
    assert.equal((await rclone('cat', 'aiam:rclone-bucket/tree/a.txt')).stdout, 'a, changed');
    await rclone('check', tree, 'aiam:rclone-bucket/tree');

    await rclone('delete', 'aiam:rclone-bucket/files');
    const afterDelete = await rclone('lsf', '-R', '--files-only', 'aiam:rclone-bucket');
    assert.doesNotMatch(afterDelete.stdout, /rclone-in\.txt/);

    // A read-only user: reads work, a write is refused with the tool's error and leaves nothing.
    const asReader = (...args: string[]) =>
      run('rclone', ['--retries', '1', '--low-level-retries', '1', ...args], {
        env: remoteEnv(reader),
        timeout: 60_000,
      });
    assert.equal((await asReader('cat', 'aiam:rclone-bucket/tree/sub/b.txt')).stdout, 'b');
    await assert.rejects(asReader('copy', local, 'aiam:rclone-bucket/refused/'), (e: { stderr: string }) => {
      assert.match(e.stderr, /AccessDenied|403/);
      return true;
    });
    const final = await rclone('lsf', '-R', '--files-only', 'aiam:rclone-bucket');
    assert.doesNotMatch(final.stdout, /refused/);
  });
});
