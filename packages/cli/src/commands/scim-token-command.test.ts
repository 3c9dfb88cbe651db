import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type RunningServer, startServer } from '@aiam/server';
import { main } from '../main.js';
import type { ApiCliIo } from './api-command-support.js';

describe('aiam scim-token against an in-process server', () => {
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
    dir = await mkdtemp(join(tmpdir(), 'aiam-cli-scim-'));
    server = await startServer({ dataDir: join(dir, 'data'), port: 0 });
    env = { AIAM_ENDPOINT: server.url, AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath };
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('creates a token shown once, lists it without the secret, and revokes it', async () => {
    const created = await run(['scim-token', 'create', '--description', 'Entra ID']);
    assert.equal(created.code, 0, created.err);
    const token = created.out.trim();
    assert.match(token, /^aiam_scim_[A-Za-z0-9_-]+$/);
    assert.match(created.err, /cannot be shown again/);
    const scim = () =>
      fetch(`${server.url}/scim/v2/Users`, { headers: { authorization: `Bearer ${token}` } }).then(
        (r) => r.status,
      );
    assert.equal(await scim(), 200);

    const listed = await run(['scim-token', 'list', '--json']);
    assert.equal(listed.code, 0, listed.err);
    assert.ok(!listed.out.includes(token), 'list never shows the secret');
    const { tokens } = JSON.parse(listed.out) as { tokens: { id: string; description: string }[] };
    assert.equal(tokens.length, 1);
    assert.equal(tokens[0]!.description, 'Entra ID');

    const file = join(dir, 'okta.token');
    const toFile = await run(['scim-token', 'create', '--out', file]);
    assert.equal(toFile.code, 0, toFile.err);
    assert.doesNotMatch(toFile.out, /aiam_scim_/);
    assert.equal((await stat(file)).mode & 0o777, 0o600);

    const revoked = await run(['scim-token', 'revoke', tokens[0]!.id]);
    assert.equal(revoked.code, 0, revoked.err);
    assert.equal(await scim(), 401);
    const again = await run(['scim-token', 'revoke', tokens[0]!.id]);
    assert.notEqual(again.code, 0);
  });
});
