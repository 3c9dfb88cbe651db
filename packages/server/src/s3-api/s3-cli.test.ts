import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
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

// Debian's awscli and python3-boto3 (installed by .ci/run). Skipped only when absent.
const hasAws = await which('aws', ['--version']);
const hasBoto3 = await which('python3', ['-c', 'import boto3']);

const BOTO3_SCRIPT = `
import os, sys, boto3
from botocore.config import Config
s3 = boto3.client('s3', endpoint_url=os.environ['ENDPOINT'], region_name='us-east-1',
                  config=Config(s3={'addressing_style': 'path'}, retries={'max_attempts': 1}))
s3.create_bucket(Bucket='boto')
s3.put_object(Bucket='boto', Key='dir/hello.txt', Body=b'hello from boto3')
s3.upload_file(sys.argv[1], 'boto', 'dir/file.bin')
got = s3.get_object(Bucket='boto', Key='dir/hello.txt')['Body'].read()
assert got == b'hello from boto3', got
listed = s3.list_objects_v2(Bucket='boto', Prefix='dir/')
print(','.join(o['Key'] for o in listed['Contents']))
s3.download_file('boto', 'dir/file.bin', sys.argv[2])
try:
    s3.get_object(Bucket='boto', Key='missing')
    print('NO ERROR')
except s3.exceptions.NoSuchKey:
    print('NoSuchKey')
`;

describe('S3 data plane with the aws CLI and boto3', () => {
  let dir: string;
  let server: RunningServer;
  let env: Record<string, string>;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-s3-cli-'));
    server = await startServer({
      dataDir: dir,
      port: 0,
      env: {},
      logger: silentLogger,
      s3: { fsync: false },
    });
    const { keyring } = await loadKeyring({ dataDir: dir, env: {} });
    const key = await new IamService({ store: server.store, keyring }).createAccessKey('admin');
    env = {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: dir,
      AWS_CONFIG_FILE: join(dir, 'none'),
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
      AWS_ACCESS_KEY_ID: key.accessKey.accessKeyId,
      AWS_SECRET_ACCESS_KEY: key.secretAccessKey,
      AWS_DEFAULT_REGION: 'us-east-1',
      AWS_EC2_METADATA_DISABLED: 'true',
      ENDPOINT: server.url,
    };
    for (const name of ['PYENV_ROOT', 'PYENV_VERSION', 'PYTHONPATH']) {
      const v = process.env[name];
      if (v !== undefined) env[name] = v;
    }
  });

  after(async () => {
    await server?.close();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('aws s3 mb / cp / ls and s3api put-object / get-object', {
    skip: hasAws ? false : 'the aws CLI is not installed (apt-get install awscli)',
  }, async () => {
    const aws = (...args: string[]) =>
      run('aws', ['--endpoint-url', server.url, ...args], { env, timeout: 60_000 });
    await aws('s3', 'mb', 's3://cli-bucket');
    const local = join(dir, 'upload.txt');
    await writeFile(local, 'data for the cli\n'.repeat(500));
    await aws('s3', 'cp', local, 's3://cli-bucket/folder/upload.txt');
    await aws('s3api', 'put-object', '--bucket', 'cli-bucket', '--key', 'folder/put.txt', '--body', local);
    const ls = await aws('s3', 'ls', 's3://cli-bucket/folder/');
    assert.match(ls.stdout, /upload\.txt/);
    assert.match(ls.stdout, /put\.txt/);
    const buckets = await aws('s3', 'ls');
    assert.match(buckets.stdout, /cli-bucket/);
    const out = join(dir, 'downloaded.txt');
    await aws('s3api', 'get-object', '--bucket', 'cli-bucket', '--key', 'folder/put.txt', out);
    assert.equal(await readFile(out, 'utf8'), await readFile(local, 'utf8'));
    const back = join(dir, 'back.txt');
    await aws('s3', 'cp', 's3://cli-bucket/folder/upload.txt', back);
    assert.equal(await readFile(back, 'utf8'), await readFile(local, 'utf8'));
  });

  it('boto3 put / upload_file / get / list / download_file', {
    skip: hasBoto3 ? false : 'python3-boto3 is not installed (apt-get install python3-boto3)',
  }, async () => {
    const source = join(dir, 'boto-in.bin');
    const target = join(dir, 'boto-out.bin');
    const data = Buffer.alloc(9 * 1024 * 1024);
    for (let i = 0; i < data.length; i += 4) data.writeUInt32LE(i, i);
    await writeFile(source, data);
    // upload_file switches to multipart at 8 MiB: this exercises parts through boto3 too.
    const { stdout } = await run('python3', ['-c', BOTO3_SCRIPT, source, target], { env, timeout: 120_000 });
    const [keys, missing] = stdout.trim().split('\n');
    assert.equal(keys, 'dir/file.bin,dir/hello.txt');
    assert.equal(missing, 'NoSuchKey');
    assert.ok((await readFile(target)).equals(data));
  });
});
