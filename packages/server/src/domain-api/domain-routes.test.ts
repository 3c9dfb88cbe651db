import { chromium } from 'playwright-core';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import {
  AiamClient,
  type AwsCredentials,
  ConfigClient,
  parseConfigText,
  parseSharedCredentials,
  planChanges,
  signRequest,
  toApplyChanges,
} from '@aiam/client';
import { type RunningServer, startServer } from '../app/start-server.js';
import { createLogger } from '../observability/logger.js';
import { tamperedTail } from '../testing/tamper.js';

const SEED_004 = fileURLToPath(
  new URL('../../../../examples/seed-004-fine-grained-data-access.yaml', import.meta.url),
);
const INSIDE = '10.20.3.4';
const CHROMIUM = '/usr/bin/chromium';
const OUTSIDE = '203.0.113.9';

interface SessionCredentials extends AwsCredentials {
  sourceIdentity: string;
  assumedRoleArn: string;
}

describe('domains (seed 004): per-person data behind one shared execution role', () => {
  let dir: string;
  let server: RunningServer;
  let admin: AiamClient;
  const keys: Record<string, AwsCredentials> = {};
  let adminKey: AwsCredentials;

  /** A signed control-plane call from a chosen network (the server trusts loopback's X-Forwarded-For). */
  async function call(creds: AwsCredentials, method: string, path: string, from: string, body?: unknown) {
    const url = new URL(server.url + path);
    const text = body === undefined ? '' : JSON.stringify(body);
    const headers: Record<string, string> = { 'x-forwarded-for': from };
    if (body !== undefined) headers['content-type'] = 'application/json';
    const signed = signRequest({
      method,
      url,
      headers,
      body: text,
      credentials: creds,
      region: 'us-east-1',
      service: 'aiam',
      now: Date.now(),
    });
    const { host: _host, ...send } = signed;
    const res = await fetch(url, { method, headers: send, ...(text ? { body: text } : {}) });
    return { status: res.status, json: (await res.json()) as Record<string, unknown> };
  }

  function s3(creds: AwsCredentials, from: string): S3Client {
    const client = new S3Client({
      endpoint: server.url,
      region: 'us-east-1',
      forcePathStyle: true,
      credentials: {
        accessKeyId: creds.accessKeyId,
        secretAccessKey: creds.secretAccessKey,
        ...(creds.sessionToken ? { sessionToken: creds.sessionToken } : {}),
      },
    });
    client.middlewareStack.add(
      (next) => async (args) => {
        (args.request as { headers: Record<string, string> }).headers['x-forwarded-for'] = from;
        return next(args);
      },
      { step: 'build', name: 'sourceNetwork' },
    );
    return client;
  }

  async function session(user: string, from = INSIDE): Promise<SessionCredentials> {
    const r = await call(
      keys[user]!,
      'POST',
      `/api/v1/domains/my-sagemaker-domain/user-profiles/${user}/session`,
      from,
      {},
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    return r.json as unknown as SessionCredentials;
  }

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-domain-'));
    server = await startServer({
      dataDir: dir,
      port: 0,
      trustedProxies: ['127.0.0.1'],
      logger: createLogger({ level: 'error', write: () => {} }),
    });
    const env = { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath };
    admin = new AiamClient({ endpoint: server.url, env });
    const profile = parseSharedCredentials(await readFile(server.bootstrap.credentialsPath, 'utf8')).default!;
    adminKey = { accessKeyId: profile.aws_access_key_id!, secretAccessKey: profile.aws_secret_access_key! };
    const config = new ConfigClient({ endpoint: server.url, env });
    const { revision, accountId, state } = await config.getState();
    const loaded = parseConfigText(await readFile(SEED_004, 'utf8'), { accountId });
    assert.ok(loaded.config, JSON.stringify(loaded.errors));
    const plan = planChanges(loaded.config, state);
    await config.apply(revision, toApplyChanges(plan, loaded.config, state));
    // The people may start their profile's session (the seed grants the data; this grants the door).
    await admin.putInlinePolicy('group', 'ml-researchers', 'domainSessions', {
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Action: ['ml:StartUserProfileSession'],
          Resource: `arn:aiam:ml::${accountId}:domain/my-sagemaker-domain/user-profile/\${aws:username}`,
        },
        {
          Effect: 'Allow',
          Action: ['sts:AssumeRole', 'sts:SetSourceIdentity', 'sts:TagSession'],
          Resource: `arn:aws:iam::${accountId}:role/SageMakerExecutionRole`,
        },
      ],
    });
    for (const user of ['alice', 'bob']) {
      const k = await admin.createAccessKey(user);
      keys[user] = { accessKeyId: k.accessKey.accessKeyId, secretAccessKey: k.secretAccessKey };
    }
    await s3(keys.alice!, INSIDE)
      .send(new PutObjectCommand({ Bucket: 'ml-project-data', Key: 'shared/readme.txt', Body: 'x' }))
      .catch(() => {});
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('lists the domain and its profiles through the REST routes', async () => {
    const r = await call(keys.alice!, 'GET', '/api/v1/domains/my-sagemaker-domain/user-profiles', INSIDE);
    // Alice has no ml:ListUserProfiles: deny by default.
    assert.equal(r.status, 403);
    const d = await call(adminKey, 'GET', '/api/v1/domains/my-sagemaker-domain', INSIDE);
    assert.equal(d.status, 200);
    assert.equal(d.json.authMode, 'IAM');
    const profiles = await call(adminKey, 'GET', '/api/v1/domains/my-sagemaker-domain/user-profiles', INSIDE);
    assert.deepEqual(
      (profiles.json.items as { name: string; user: string }[]).map((p) => `${p.name}:${p.user}`),
      ['alice:alice', 'bob:bob'],
    );
  });

  it('each person reaches only their own prefix through the shared role, and the session names them', async () => {
    const alice = await session('alice');
    const bob = await session('bob');
    assert.equal(alice.sourceIdentity, 'alice');
    assert.match(alice.assumedRoleArn, /assumed-role\/SageMakerExecutionRole\/alice$/);
    const a = s3(alice, INSIDE);
    const b = s3(bob, INSIDE);
    await a.send(
      new PutObjectCommand({ Bucket: 'ml-project-data', Key: 'users/alice/notes.txt', Body: 'a' }),
    );
    await b.send(new PutObjectCommand({ Bucket: 'ml-project-data', Key: 'users/bob/notes.txt', Body: 'b' }));
    await assert.rejects(
      a.send(new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'users/bob/notes.txt' })),
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 403,
    );
    await assert.rejects(
      b.send(new PutObjectCommand({ Bucket: 'ml-project-data', Key: 'users/alice/x.txt', Body: 'b' })),
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 403,
    );
    const listed = await a.send(
      new ListObjectsV2Command({ Bucket: 'ml-project-data', Prefix: 'users/alice/' }),
    );
    assert.deepEqual(
      listed.Contents?.map((c) => c.Key),
      ['users/alice/notes.txt'],
    );
    await assert.rejects(
      a.send(new ListObjectsV2Command({ Bucket: 'ml-project-data', Prefix: 'users/bob/' })),
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 403,
    );
    // The audit trail names the person, not only the shared role.
    // (The audit writer flushes in batches: poll briefly.)
    let principals: (string | null)[] = [];
    for (let i = 0; i < 40; i++) {
      principals = (await admin.queryAudit({ limit: 1000 })).items
        .filter((r) => r.action === 's3:GetObject')
        .map((r) => r.principal);
      if (principals.some((p) => p?.endsWith('assumed-role/SageMakerExecutionRole/alice'))) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(
      principals.some((p) => p?.endsWith('assumed-role/SageMakerExecutionRole/alice')),
      JSON.stringify(principals),
    );
  });

  it('only from the domain networks: no session from outside, and the session is refused outside', async () => {
    const outside = await call(
      keys.alice!,
      'POST',
      '/api/v1/domains/my-sagemaker-domain/user-profiles/alice/session',
      OUTSIDE,
      {},
    );
    assert.equal(outside.status, 403);
    const alice = await session('alice');
    await assert.rejects(
      s3(alice, OUTSIDE).send(
        new GetObjectCommand({ Bucket: 'ml-project-data', Key: 'users/alice/notes.txt' }),
      ),
      (e: { $metadata?: { httpStatusCode?: number } }) => e.$metadata?.httpStatusCode === 403,
    );
  });

  it("refuses one person starting another's profile session", async () => {
    const r = await call(
      keys.alice!,
      'POST',
      '/api/v1/domains/my-sagemaker-domain/user-profiles/bob/session',
      INSIDE,
      {},
    );
    assert.equal(r.status, 403);
  });

  it('presigns a console link scoped to the domain and profile', async () => {
    const r = await call(
      adminKey,
      'POST',
      '/api/v1/domains/my-sagemaker-domain/user-profiles/alice/presigned-url',
      INSIDE,
      { expiresInSeconds: 60 },
    );
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.match(String(r.json.url), /\/console\/domains\/my-sagemaker-domain\/login\?profile=alice&/);
  });

  it('refuses a console link from outside the domain networks, even to a caller whose policy allows everything', async () => {
    const r = await call(
      adminKey,
      'POST',
      '/api/v1/domains/my-sagemaker-domain/user-profiles/alice/presigned-url',
      OUTSIDE,
      {},
    );
    assert.equal(r.status, 403, JSON.stringify(r.json));
    assert.match(JSON.stringify(r.json), /allowed networks/);
    // The refusal is the engine's: the decision it quotes is an explicit deny by the domain's
    // network statement.
    const decisionId = JSON.stringify(r.json).match(/"decisionId":"([^"]+)"/)?.[1];
    assert.ok(decisionId, JSON.stringify(r.json));
    const explained = await admin.explainDecision(decisionId);
    assert.equal(explained.decision, 'explicitDeny', JSON.stringify(explained));
    assert.match(JSON.stringify(explained), /DomainAllowedNetworks/);
  });

  describe('the console link', () => {
    async function link(): Promise<string> {
      const r = await call(
        adminKey,
        'POST',
        '/api/v1/domains/my-sagemaker-domain/user-profiles/alice/presigned-url',
        INSIDE,
        { expiresInSeconds: 5 },
      );
      assert.equal(r.status, 200, JSON.stringify(r.json));
      return String(r.json.url);
    }
    const open = (url: string, from = INSIDE, accept = 'application/json') =>
      fetch(url, { headers: { 'x-forwarded-for': from, accept }, redirect: 'manual' });

    it('opens once from the domain networks and names the domain and profile, no secret', async () => {
      const url = await link();
      const res = await open(url);
      assert.equal(res.status, 200);
      assert.equal(res.headers.get('cache-control'), 'no-store');
      assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
      const body = (await res.json()) as Record<string, unknown>;
      assert.equal(body.domain, 'my-sagemaker-domain');
      assert.equal(body.userProfile, 'alice');
      assert.ok(!JSON.stringify(body).includes(new URL(url).searchParams.get('signature')!));
      assert.equal((await open(url)).status, 403, 'single use');
    });

    it('opens in a real browser (Debian Chromium through Playwright), once', async () => {
      const browser = await chromium
        .launch({
          executablePath: CHROMIUM,
          // As root in a container, without Google's background services (the network is closed).
          args: [
            '--no-sandbox',
            '--disable-gpu',
            '--disable-background-networking',
            '--disable-component-update',
            '--disable-sync',
            '--no-first-run',
          ],
        })
        .catch((error: unknown) => {
          throw new Error(`Debian's Chromium must be installed at ${CHROMIUM} (apt-get install chromium)`, {
            cause: error,
          });
        });
      try {
        // The domain's networks: the server believes loopback's X-Forwarded-For.
        const context = await browser.newContext({ extraHTTPHeaders: { 'x-forwarded-for': INSIDE } });
        const page = await context.newPage();
        const url = await link();
        const first = await page.goto(url);
        assert.equal(first?.status(), 200);
        assert.equal(await page.title(), 'aiam domain my-sagemaker-domain');
        assert.equal(await page.locator('h1').textContent(), 'Domain my-sagemaker-domain');
        assert.match((await page.locator('body').textContent()) ?? '', /user profile alice/);
        // No script may run on it, and the signed URL is neither cached nor sent on as a referrer.
        assert.equal(first?.headers()['content-security-policy'], "default-src 'none'");
        assert.equal(first?.headers()['cache-control'], 'no-store');
        assert.equal(first?.headers()['referrer-policy'], 'no-referrer');
        assert.ok(!(await page.content()).includes(new URL(url).searchParams.get('signature')!));
        assert.deepEqual(await context.cookies(), []);
        // Single use: reloading the link in the browser is refused with a message to act on.
        const again = await page.goto(url);
        assert.equal(again?.status(), 403);
        assert.match((await page.locator('body').textContent()) ?? '', /Ask for a new one/);
      } finally {
        await browser.close();
      }
    });

    it('answers a browser with a small HTML page', async () => {
      const res = await open(await link(), INSIDE, 'text/html');
      assert.equal(res.status, 200);
      assert.match(res.headers.get('content-type') ?? '', /^text\/html/);
      assert.match(await res.text(), /my-sagemaker-domain[\s\S]*alice/);
    });

    it('refuses a link opened from outside the networks (and it stays unused)', async () => {
      const url = await link();
      assert.equal((await open(url, OUTSIDE)).status, 403);
      assert.equal((await open(url)).status, 200, 'the refused attempt did not use it up');
    });

    it('refuses a tampered link: another profile, a later expiry, a changed signature', async () => {
      const url = new URL(await link());
      const variants = [
        ['profile', 'bob'],
        ['expires', String(Number(url.searchParams.get('expires')) + 60_000)],
        ['signature', tamperedTail(url.searchParams.get('signature')!)],
      ] as const;
      for (const [key, value] of variants) {
        const t = new URL(url);
        t.searchParams.set(key, value);
        assert.equal((await open(t.toString())).status, 403, `tampered ${key}`);
      }
      const other = new URL(url);
      other.pathname = '/console/domains/other-domain/login';
      assert.equal((await open(other.toString())).status, 403, 'another domain');
      assert.equal((await open(url.toString())).status, 200, 'the genuine link still works');
    });

    it('refuses an expired link', async () => {
      const url = await link();
      await new Promise((r) => setTimeout(r, 5_100));
      assert.equal((await open(url)).status, 403);
    });
  });
});
