import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { parseSharedCredentials } from '@aiam/client';
import { createLogger, type RunningServer, startServer } from '@aiam/server';
import { type CliIo, UsageError } from '../cli-io.js';
import { runAsIdentity, runCommand, WorkloadCredentialsError } from './run-command.js';

function bufferIo(): CliIo & { err: string[] } {
  const err: string[] = [];
  return {
    err,
    stdout: { write: () => true },
    stderr: { write: (t: string) => err.push(t) },
    readTextFile: (p) => readFile(p, 'utf8'),
  };
}

// A stock SDK client inside the child: it finds its credentials through the container provider.
const CHILD = `
import { writeFileSync } from 'node:fs';
import { STSClient, GetCallerIdentityCommand } from '@aws-sdk/client-sts';
const client = new STSClient({ endpoint: process.env.AIAM_ENDPOINT, region: process.env.AWS_REGION });
const id = await client.send(new GetCallerIdentityCommand({}));
writeFileSync(process.argv[1], JSON.stringify({
  arn: id.Arn,
  secretsInEnv: Object.keys(process.env).filter((k) => /^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN|PROFILE)$/.test(k)),
  fullUri: process.env.AWS_CONTAINER_CREDENTIALS_FULL_URI,
}));
process.exit(Number(process.argv[2] ?? 0));
`;

describe('aiam run --identity', () => {
  let dir: string;
  let server: RunningServer;
  let admin: { accessKeyId: string; secretAccessKey: string };
  let identityArn: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-run-'));
    server = await startServer({ dataDir: dir, port: 0, env: {}, logger: createLogger({ level: 'silent' }) });
    const ini = parseSharedCredentials(await readFile(server.bootstrap.credentialsPath, 'utf8'));
    admin = {
      accessKeyId: ini.default!.aws_access_key_id!,
      secretAccessKey: ini.default!.aws_secret_access_key!,
    };
    identityArn = (await server.store.createManagedIdentity({ name: 'pipeline', kind: 'user' })).arn;
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('runs a stock SDK as the identity, with no long-lived secret in its environment, and returns its status', async () => {
    const out = join(dir, 'child.json');
    const io = bufferIo();
    const status = await runAsIdentity({
      identity: 'pipeline',
      endpoint: server.url,
      command: [process.execPath, '--input-type=module', '-e', CHILD, out, '3'],
      env: {
        ...process.env,
        AWS_ACCESS_KEY_ID: admin.accessKeyId,
        AWS_SECRET_ACCESS_KEY: admin.secretAccessKey,
      },
      credentials: admin,
      io,
    });
    assert.equal(status, 3, io.err.join(''));
    const child = JSON.parse(await readFile(out, 'utf8')) as {
      arn: string;
      secretsInEnv: string[];
      fullUri: string;
    };
    assert.equal(child.arn, identityArn);
    assert.deepEqual(child.secretsInEnv, []);
    assert.match(child.fullUri, /^http:\/\/127\.0\.0\.1:\d+\/credentials$/);
  });

  it('refuses before starting the command when the identity does not exist', async () => {
    await assert.rejects(
      runAsIdentity({
        identity: 'ghost',
        endpoint: server.url,
        command: [process.execPath, '-e', 'process.exit(0)'],
        env: {},
        credentials: admin,
        io: bufferIo(),
      }),
      WorkloadCredentialsError,
    );
  });

  it('checks its arguments', async () => {
    await assert.rejects(runCommand.run(['--identity', 'x'], bufferIo()), UsageError);
    await assert.rejects(runCommand.run(['--', 'true'], bufferIo()), UsageError);
    await assert.rejects(runCommand.run(['--bogus', '1', '--', 'true'], bufferIo()), UsageError);
  });
});
