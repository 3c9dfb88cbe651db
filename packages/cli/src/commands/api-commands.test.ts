import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createLogger, type RunningServer, startServer } from '@aiam/server';
import { main } from '../main.js';
import type { ApiCliIo } from './api-command-support.js';

interface Run {
  code: number;
  out: string;
  err: string;
}

describe('aiam CLI against an in-process server', () => {
  let dir: string;
  let server: RunningServer;
  let adminEnv: Record<string, string>;
  const logs: string[] = [];

  const run = async (args: string[], env: Record<string, string> = adminEnv): Promise<Run> => {
    let out = '';
    let err = '';
    const io: ApiCliIo = {
      stdout: { write: (t: string) => (out += t) },
      stderr: { write: (t: string) => (err += t) },
      readTextFile: (p) => readFile(p, 'utf8'),
      env,
    };
    const code = await main(args, io);
    return { code, out, err };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-cli-api-'));
    server = await startServer({
      dataDir: join(dir, 'data'),
      port: 0,
      logger: createLogger({ level: 'debug', write: (line: string) => logs.push(line) }),
    });
    adminEnv = { AIAM_ENDPOINT: server.url, AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath };
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('user create → policy attach → the new key can do only what the policy allows; explain shows why', async () => {
    assert.equal((await run(['user', 'create', 'aiUser', '--tag', 'Project=AIModel'])).code, 0);
    const listed = await run(['user', 'list']);
    assert.match(listed.out, /^NAME\s+STATUS/m);
    assert.match(listed.out, /aiUser\s+active/);
    const doc = join(dir, 'policy.json');
    await import('node:fs/promises').then((fs) =>
      fs.writeFile(
        doc,
        JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['iam:GetUser'], // biome-ignore lint/suspicious/noTemplateCurlyInString: an IAM policy variable, not a template.
              Resource: 'arn:aws:iam::*:user/${aws:username}',
            },
          ],
        }),
      ),
    );
    assert.equal((await run(['policy', 'create', 'self-read', '--document', `file://${doc}`])).code, 0);
    const attached = await run(['policy', 'attach', 'self-read', '--user', 'aiUser']);
    assert.equal(attached.code, 0, attached.err);
    const secretsOut = join(dir, 'secrets.json');
    const created = await run(['access-key', 'create', 'aiUser', '--secrets-out', secretsOut]);
    assert.equal(created.code, 0, created.err);
    assert.equal((await stat(secretsOut)).mode & 0o777, 0o600);
    const { aiUser } = JSON.parse(await readFile(secretsOut, 'utf8')) as {
      aiUser: { AccessKeyId: string; SecretAccessKey: string };
    };
    assert.ok(!created.out.includes(aiUser.SecretAccessKey), 'with --secrets-out the secret is not printed');
    const keys = await run(['access-key', 'list', 'aiUser', '--json']);
    assert.ok(!keys.out.includes(aiUser.SecretAccessKey), 'list never shows the secret');
    assert.ok(!logs.join('\n').includes(aiUser.SecretAccessKey), 'the secret is never logged');

    const userEnv = {
      AIAM_ENDPOINT: server.url,
      AWS_ACCESS_KEY_ID: aiUser.AccessKeyId,
      AWS_SECRET_ACCESS_KEY: aiUser.SecretAccessKey,
    };
    const self = await run(['user', 'get', 'aiUser', '--json'], userEnv);
    assert.equal(self.code, 0, self.err);
    assert.equal(JSON.parse(self.out).name, 'aiUser');
    const other = await run(['user', 'get', 'admin'], userEnv);
    assert.equal(other.code, 1);
    const decisionId = /aiam explain ([0-9a-f-]{36})/.exec(other.err)?.[1];
    assert.ok(decisionId, `a refusal names its decision: ${other.err}`);
    assert.match(other.err, /ERR_ACCESS_DENIED/);
    const explained = await run(['explain', decisionId!]);
    assert.equal(explained.code, 0, explained.err);
    assert.match(explained.out, /^implicitDeny: .*user\/aiUser iam:GetUser .*user\/admin/);

    const sim = await run([
      'simulate',
      '--principal',
      'user/aiUser',
      '--action',
      'iam:GetUser',
      '--resource',
      `arn:aws:iam::${server.store.accountId}:user/aiUser`,
    ]);
    assert.equal(sim.code, 0, sim.out + sim.err);
    const simNo = await run([
      'simulate',
      '--principal',
      'user/aiUser',
      '--action',
      'iam:DeleteUser',
      '--resource',
      `arn:aws:iam::${server.store.accountId}:user/aiUser`,
    ]);
    assert.equal(simNo.code, 1);
    assert.match(simNo.out, /implicitDeny/);

    const who = await run([
      'whocan',
      'iam:GetUser',
      `arn:aws:iam::${server.store.accountId}:user/aiUser`,
      '--json',
    ]);
    assert.equal(who.code, 0, who.err);
    const names = (JSON.parse(who.out) as { name: string }[]).map((p) => p.name).sort();
    assert.deepEqual(names, ['admin', 'aiUser']);

    const audit = await run(['audit', '--since', '10m', '--decision', 'implicitDeny', '--json']);
    assert.equal(audit.code, 0, audit.err);
    // The audit writer batches; the refusal is there once flushed (poll briefly).
    let found = (JSON.parse(audit.out) as { items: { id: string }[] }).items.some((r) => r.id === decisionId);
    for (let i = 0; i < 20 && !found; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const again = await run(['audit', '--since', '10m', '--decision', 'implicitDeny', '--json']);
      found = (JSON.parse(again.out) as { items: { id: string }[] }).items.some((r) => r.id === decisionId);
    }
    assert.ok(found, 'the refusal is in the audit trail under its decision id');
  });

  it('access-key create prints the secret once to stdout; groups, roles, versions, assignments', async () => {
    await run(['user', 'create', 'bob']);
    const created = await run(['access-key', 'create', 'bob']);
    assert.equal(created.code, 0);
    assert.match(created.out, /SecretAccessKey: [A-Za-z0-9/+]{40}/);
    const id = /AccessKeyId:\s+(\S+)/.exec(created.out)![1]!;
    assert.equal((await run(['access-key', 'update', 'bob', id, '--status', 'Inactive'])).code, 0);
    assert.match((await run(['access-key', 'list', 'bob'])).out, new RegExp(`${id}\\s+Inactive`));

    assert.equal((await run(['group', 'create', 'ml'])).code, 0);
    assert.equal((await run(['group', 'add-user', 'ml', 'bob'])).code, 0);
    assert.match((await run(['group', 'get', 'ml'])).out, /members: bob/);
    assert.equal((await run(['group', 'remove-user', 'ml', 'bob'])).code, 0);

    const trust = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: `arn:aws:iam::${server.store.accountId}:root` },
          Action: 'sts:AssumeRole',
        },
      ],
    });
    const role = await run([
      'role',
      'create',
      'trainer',
      '--trust-policy',
      trust,
      '--max-session-duration',
      '7200',
    ]);
    assert.equal(role.code, 0, role.err);
    assert.match(
      (await run(['role', 'update', 'trainer', '--description', 'training jobs'])).out,
      /training jobs/,
    );

    const v1 = JSON.stringify({
      Version: '2012-10-17',
      Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }],
    });
    assert.equal((await run(['policy', 'create', 'reader', '--document', v1])).code, 0);
    const v2 = await run([
      'policy',
      'create-version',
      'reader',
      '--document',
      v1.replace('s3:GetObject', 's3:ListBucket'),
    ]);
    assert.match(v2.out, /created v2 of reader/);
    assert.match((await run(['policy', 'set-default-version', 'reader', 'v2'])).out, /reader now uses v2/);
    assert.match((await run(['policy', 'get', 'reader'])).out, /s3:ListBucket/);

    const ra = await run([
      'role-assignment',
      'create',
      '--principal',
      'user/bob',
      '--role',
      'Reader',
      '--scope',
      'workspace/ws',
    ]);
    assert.equal(ra.code, 0, ra.err);
    const raId = /created (\S+):/.exec(ra.out)![1]!;
    assert.match((await run(['role-assignment', 'list', '--principal', 'user/bob'])).out, new RegExp(raId));
    assert.equal((await run(['role-assignment', 'delete', raId])).code, 0);

    const read = JSON.parse((await run(['user', 'get', 'bob', '--json'])).out).version as number;
    const first = await run(['user', 'update', 'bob', '--path', '/ml/', '--if-match', String(read)]);
    assert.equal(first.code, 0, first.err);
    // A second writer still holding the version it read is refused, not silently overwritten.
    const stale = await run(['user', 'update', 'bob', '--status', 'disabled', '--if-match', String(read)]);
    assert.equal(stale.code, 1);
    assert.match(stale.err, /ERR_PRECONDITION_FAILED/);
  });

  it('exit 2 for usage mistakes; exit 1 with a clear message without credentials', async () => {
    assert.equal((await run(['user', 'create'])).code, 2);
    assert.equal((await run(['user', 'frobnicate'])).code, 2);
    assert.equal((await run(['policy', 'attach', 'p', '--user', 'a', '--role', 'b'])).code, 2);
    assert.equal((await run(['audit', '--since', 'yesterday-ish'])).code, 2);
    const noCreds = await run(['user', 'list'], {
      AIAM_ENDPOINT: server.url,
      AWS_SHARED_CREDENTIALS_FILE: join(dir, 'none'),
    });
    assert.equal(noCreds.code, 1);
    assert.match(noCreds.err, /no credentials/);
  });
});
