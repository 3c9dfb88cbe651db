import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningServer, startServer } from '@aiam/server';
import { main } from '../main.js';
import type { ApiCliIo } from './api-command-support.js';

describe('aiam workspace/model/endpoint against an in-process server', () => {
  let dir: string;
  let server: RunningServer;
  let env: Record<string, string>;
  const run = async (args: string[]) => {
    let out = '';
    let err = '';
    const io: ApiCliIo = {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      readTextFile: (p) => readFile(p, 'utf8'),
      env,
    };
    return { code: await main(args, io), out, err };
  };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-cli-ml-'));
    server = await startServer({ dataDir: join(dir, 'data'), port: 0 });
    env = { AIAM_ENDPOINT: server.url, AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath };
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a workspace, a model version and a key endpoint; keys go to a 0600 file; rotates one slot', async () => {
    const ws = await run(['workspace', 'create', 'ml_workspace']);
    assert.equal(ws.code, 0, ws.err);
    assert.match(ws.out, /with identity arn:aiam:iam::\d+:managed-identity\/workspace\/ml_workspace/);
    assert.equal((await run(['model', 'create', 'ml_workspace', 'myModel'])).code, 0);
    assert.equal((await run(['model', 'create-version', 'ml_workspace', 'myModel', '1'])).code, 0);
    assert.match((await run(['model', 'list-versions', 'ml_workspace', 'myModel'])).out, /^1\s/m);
    const secrets = join(dir, 'keys.json');
    const ep = await run(['endpoint', 'create', 'ml_workspace', 'online_endpoint', '--secrets-out', secrets]);
    assert.equal(ep.code, 0, ep.err);
    assert.doesNotMatch(ep.out, /aiam_ek_/, 'keys are not printed when written to a file');
    assert.equal((await stat(secrets)).mode & 0o777, 0o600);
    const keys = JSON.parse(await readFile(secrets, 'utf8')) as Record<string, { primary: string }>;
    assert.match(keys.online_endpoint!.primary, /^aiam_ek_/);
    const dep = await run([
      'endpoint',
      'deploy',
      'ml_workspace',
      'online_endpoint',
      'blue',
      '--upstream',
      'http://127.0.0.1:9',
      '--model',
      'myModel:1',
      '--traffic',
      '100',
    ]);
    assert.equal(dep.code, 0, dep.err);
    const regen = await run(['endpoint', 'regenerate-key', 'ml_workspace', 'online_endpoint', 'primary']);
    assert.match(regen.out, /^primary: aiam_ek_/);
    assert.doesNotMatch((await run(['endpoint', 'keys', 'ml_workspace', 'online_endpoint'])).out, /aiam_ek_/);
    const bad = await run(['endpoint', 'regenerate-key', 'ml_workspace', 'online_endpoint', 'tertiary']);
    assert.equal(bad.code, 2);
    assert.equal((await run(['workspace', 'delete', 'ml_workspace', '--force'])).code, 0);
    assert.equal((await run(['workspace', 'get', 'ml_workspace'])).code, 1);
  });
});
