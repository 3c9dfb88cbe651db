import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { DomainClient } from '@aiam/client';
import {
  applyExample,
  type ExampleServer,
  exampleFile,
  s3Client,
  secretAt,
  startExampleServer,
} from './example-server.js';

type Creds = { accessKeyId: string; secretAccessKey: string; sessionToken?: string };

// The server trusts X-Forwarded-For from loopback, so a test chooses its source address.
const INSIDE = '10.20.3.4';
const ALSO_INSIDE = '192.0.2.77';
const OUTSIDE = '203.0.113.9';

const refused = (err: Error & { $metadata?: { httpStatusCode?: number } }) =>
  err.$metadata?.httpStatusCode === 403;

describe('seed 004: a domain whose people share an execution role yet see only their own data', () => {
  let ex: ExampleServer;
  const keys: Record<string, Creds> = {};

  /** The domain API as `who`, from source address `from`. */
  const domains = (who: Creds, from: string) =>
    new DomainClient({
      endpoint: ex.server.url,
      credentials: who,
      fetch: (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set('x-forwarded-for', from);
        return fetch(input, { ...init, headers });
      },
    });
  const s3 = (who: Creds, from: string) => s3Client(ex, who, { 'x-forwarded-for': from });
  /** The profile's session credentials, started by the person from `from`. */
  const session = async (user: string, from = INSIDE) => {
    const s = await domains(keys[user]!, from).startSession('my-sagemaker-domain', user);
    const credentials: Creds = {
      accessKeyId: s.accessKeyId,
      secretAccessKey: s.secretAccessKey,
      sessionToken: s.sessionToken,
    };
    return { ...s, credentials };
  };

  before(async () => {
    ex = await startExampleServer({ trustedProxies: ['127.0.0.1'] });
    const applied = await applyExample(ex, exampleFile('seed-004-fine-grained-data-access.yaml'));
    assert.equal(applied.code, 0, applied.stderr);
    for (const user of ['alice', 'bob'])
      keys[user] = secretAt(applied.secrets, 'users', user, 'accessKeys', 'laptop') as Creds;
    const admin = s3(ex.admin, INSIDE);
    for (const [key, body] of [
      ['users/alice/notes.txt', 'alice'],
      ['users/bob/notes.txt', 'bob'],
      ['shared/readme.txt', 'shared'],
    ] as const)
      await admin.send(new PutObjectCommand({ Bucket: 'ml-project-data', Key: key, Body: body }));
  });
  after(() => ex?.close());

  it('the domain has authMode IAM, the execution role, the networks, the tags and two profiles', async () => {
    const admin = domains(ex.admin, INSIDE);
    const d = await admin.getDomain('my-sagemaker-domain');
    assert.equal(d.authMode, 'IAM');
    assert.match(d.defaultUserSettings.executionRoleArn ?? '', /:role\/SageMakerExecutionRole$/);
    assert.deepEqual(d.defaultUserSettings.allowedNetworks, ['10.20.0.0/16', '192.0.2.0/24']);
    assert.deepEqual(d.tags, { Environment: 'Development', Project: 'MachineLearning' });
    const profiles = await admin.listUserProfiles('my-sagemaker-domain');
    assert.deepEqual(
      profiles.map((p) => `${p.name}:${p.user}`),
      ['alice:alice', 'bob:bob'],
    );
  });

  it("each profile's session is the shared role with the person as source identity, and reads only their prefix", async () => {
    const alice = await session('alice');
    assert.equal(alice.sourceIdentity, 'alice');
    assert.match(alice.assumedRoleArn, /assumed-role\/SageMakerExecutionRole\/alice$/);
    const a = s3(alice.credentials, INSIDE);
    const own = await a.send(
      new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'users/alice/notes.txt' }),
    );
    assert.equal(await own.Body!.transformToString(), 'alice');
    await a.send(new PutObjectCommand({ Bucket: 'ml-project-data', Key: 'users/alice/new.txt', Body: 'n' }));
    const shared = await a.send(
      new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'shared/readme.txt' }),
    );
    assert.equal(await shared.Body!.transformToString(), 'shared');
    const listed = await a.send(
      new ListObjectsV2Command({ Bucket: 'ml-project-data', Prefix: 'users/alice/' }),
    );
    assert.deepEqual(
      listed.Contents?.map((c) => c.Key),
      ['users/alice/new.txt', 'users/alice/notes.txt'],
    );
    await assert.rejects(
      a.send(new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'users/bob/notes.txt' })),
      refused,
    );
    await assert.rejects(
      a.send(new PutObjectCommand({ Bucket: 'ml-project-data', Key: 'users/bob/x.txt', Body: 'x' })),
      refused,
    );
    await assert.rejects(
      a.send(new ListObjectsV2Command({ Bucket: 'ml-project-data', Prefix: 'users/bob/' })),
      refused,
    );
    await assert.rejects(a.send(new ListObjectsV2Command({ Bucket: 'ml-project-data' })), refused);
    await assert.rejects(
      a.send(new PutObjectCommand({ Bucket: 'ml-project-data', Key: 'shared/x.txt', Body: 'x' })),
      refused,
    );
    const bob = s3((await session('bob', ALSO_INSIDE)).credentials, ALSO_INSIDE);
    const hers = await bob.send(
      new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'users/bob/notes.txt' }),
    );
    assert.equal(await hers.Body!.transformToString(), 'bob');
    await assert.rejects(
      bob.send(new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'users/alice/notes.txt' })),
      refused,
    );
  });

  it("a person's own key reaches their home prefix (keyed on aws:username), and no one else's", async () => {
    const a = s3(keys.alice!, INSIDE);
    const got = await a.send(
      new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'users/alice/notes.txt' }),
    );
    assert.equal(await got.Body!.transformToString(), 'alice');
    await assert.rejects(
      a.send(new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'users/bob/notes.txt' })),
      refused,
    );
  });

  it("nobody starts another person's session, and nothing works from outside the allowed networks", async () => {
    await assert.rejects(domains(keys.alice!, INSIDE).startSession('my-sagemaker-domain', 'bob'), {
      status: 403,
    });
    await assert.rejects(session('alice', OUTSIDE), { status: 403 });
    const alice = await session('alice');
    await assert.rejects(
      s3(alice.credentials, OUTSIDE).send(
        new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'users/alice/notes.txt' }),
      ),
      refused,
    );
    // The bucket policy refuses even the person's own key from outside.
    await assert.rejects(
      s3(keys.alice!, OUTSIDE).send(
        new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'users/alice/notes.txt' }),
      ),
      refused,
    );
  });

  it('a person presigns a console link for their own profile, scoped to the domain, and not for another', async () => {
    const link = await domains(keys.alice!, INSIDE).presignedUrl('my-sagemaker-domain', 'alice', {
      expiresInSeconds: 60,
    });
    const url = new URL(link.url);
    assert.equal(url.origin, new URL(ex.server.url).origin);
    assert.equal(url.pathname, '/console/domains/my-sagemaker-domain/login');
    assert.equal(url.searchParams.get('profile'), 'alice');
    assert.ok(link.expiresAt <= Date.now() + 61_000);
    await assert.rejects(domains(keys.alice!, INSIDE).presignedUrl('my-sagemaker-domain', 'bob'), {
      status: 403,
    });
    await assert.rejects(domains(keys.alice!, OUTSIDE).presignedUrl('my-sagemaker-domain', 'alice'), {
      status: 403,
    });
  });

  it('the console link opens once, from the domain networks only', async () => {
    const { url } = await domains(keys.alice!, INSIDE).presignedUrl('my-sagemaker-domain', 'alice');
    const open = (from: string) => fetch(url, { headers: { 'x-forwarded-for': from }, redirect: 'manual' });
    assert.equal((await open(OUTSIDE)).status, 403);
    const opened = await open(INSIDE);
    assert.equal(opened.status, 200);
    const body = (await opened.json()) as { domain: string; userProfile: string };
    assert.deepEqual([body.domain, body.userProfile], ['my-sagemaker-domain', 'alice']);
    assert.equal((await open(INSIDE)).status, 403, 'single use');
  });
});
