import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { access, mkdtemp, readFile, rm } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CreateBucketCommand, GetObjectCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import pg from 'pg';
import { loadKeyring } from '../identity/keyring.js';
import { FilesystemObjectBackend } from '../objects/filesystem-object-backend.js';
import { OidcIssuer } from '../oidc/oidc-issuer.js';
import { createLogger } from '../observability/logger.js';
import { testPostgresUrl } from '../store/store-test-databases.js';
import { BOOTSTRAP_CREDENTIALS_FILE } from './bootstrap-administrator.js';
import { type RunningServer, startServer } from './start-server.js';
import { signedFetch } from '../testing/signed-fetch.js';

// Two aiam nodes on one PostgreSQL schema: what one node writes is in force on the other once
// the other has the change notification (LISTEN/NOTIFY) and rebuilt its caches. The test
// measures that delay for revocation; docs/scale-out.md records the numbers.

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
}

/** Sends a control-plane request and returns the parsed body, asserting the status. */
async function api<T = unknown>(
  node: RunningServer,
  creds: Creds,
  method: string,
  path: string,
  body: unknown,
  status: number,
): Promise<T> {
  const res = await signedFetch(`${node.url}/api/v1${path}`, creds, {
    method,
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await res.text();
  assert.equal(res.status, status, `${method} ${path}: ${text}`);
  return (text ? JSON.parse(text) : undefined) as T;
}

let source = 0;
/**
 * Polls GET /api/v1/server-info on `node` with `creds` until the status is `want`, at most
 * `limitMs` and 2000 attempts; returns the milliseconds from `since` to that answer. Each poll
 * comes from its own forwarded address, so the per-source auth-failure limiter stays out of it.
 */
async function waitForStatus(
  node: RunningServer,
  creds: Creds,
  want: number,
  since: number,
  limitMs = 2000,
): Promise<number> {
  let last = 0;
  for (let i = 0; i < 2000; i++) {
    source = (source + 1) % 65_000;
    const res = await signedFetch(`${node.url}/api/v1/server-info`, creds, {
      headers: { 'x-forwarded-for': `10.9.${source >> 8}.${source & 255}` },
    });
    await res.arrayBuffer();
    last = res.status;
    const elapsed = performance.now() - since;
    if (last === want) return elapsed;
    if (elapsed > limitMs) break;
  }
  assert.fail(`node ${node.url} still answers ${last}, not ${want}, ${limitMs} ms after the change`);
}

const percentile = (xs: readonly number[], p: number): number => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
};
const ms = (x: number): string => `${x.toFixed(1)} ms`;

describe('two aiam nodes on one PostgreSQL schema', { timeout: 60_000 }, () => {
  const schema = `aiam_mn_${randomBytes(6).toString('hex')}`;
  const env = { AIAM_MASTER_KEY: randomBytes(32).toString('base64') };
  let dir: string;
  let a: RunningServer;
  let b: RunningServer;
  let admin: Creds;
  const measured: Record<string, string> = {};

  const start = (name: string): Promise<RunningServer> =>
    startServer({
      dataDir: join(dir, name),
      port: 0,
      env,
      databaseUrl: testPostgresUrl,
      databaseSchema: schema,
      trustedProxies: ['127.0.0.1'],
      logger: createLogger({ write: () => {} }),
      // One object directory for both nodes stands in for the shared upstream S3 store.
      s3: { backend: new FilesystemObjectBackend({ root: join(dir, 'objects'), fsync: false }) },
    });

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-multi-node-'));
    a = await start('node-a');
    b = await start('node-b');
    const ini = await readFile(join(a.dataDir, BOOTSTRAP_CREDENTIALS_FILE), 'utf8');
    admin = {
      accessKeyId: /aws_access_key_id\s*=\s*(\S+)/.exec(ini)![1]!,
      secretAccessKey: /aws_secret_access_key\s*=\s*(\S+)/.exec(ini)![1]!,
    };
  });

  after(async () => {
    await Promise.allSettled([a?.close(), b?.close()]);
    const client = new pg.Client({ connectionString: testPostgresUrl });
    await client.connect();
    try {
      await client.query(`drop schema if exists ${schema} cascade`);
    } finally {
      await client.end();
    }
    await rm(dir, { recursive: true, force: true });
    if (Object.keys(measured).length)
      console.log(
        `multi-node measurements (${new Date().toISOString().slice(0, 10)}, ${cpus().length}× ${cpus()[0]?.model ?? 'cpu'}): ${JSON.stringify(measured)}`,
      );
  });

  it('bootstraps once: the second node creates no administrator and writes no credentials file', async () => {
    assert.equal(a.bootstrap.created, true);
    assert.equal(a.bootstrap.wroteFile, true);
    assert.equal(b.bootstrap.created, false);
    assert.equal(b.bootstrap.wroteFile, false);
    assert.equal(b.bootstrap.accessKeyId, a.bootstrap.accessKeyId);
    await assert.rejects(access(join(b.dataDir, BOOTSTRAP_CREDENTIALS_FILE)), { code: 'ENOENT' });
    assert.deepEqual(
      (await b.store.listUsers()).map((u) => u.name),
      ['admin'],
    );
    assert.equal(b.store.accountId, a.store.accountId);
    // Node A's credentials file works on node B: the secret is sealed under the shared master key.
    const info = await api<{ caller: { arn: string } }>(b, admin, 'GET', '/server-info', undefined, 200);
    assert.equal(info.caller.arn, a.bootstrap.userArn);
  });

  let bob: Creds;
  it('a user, policy and key created through node A work on node B (read-your-writes across nodes)', async () => {
    await api(a, admin, 'POST', '/users', { name: 'bob' }, 201);
    await api(
      a,
      admin,
      'POST',
      '/policies',
      {
        name: 'bob-access',
        document: {
          Version: '2012-10-17',
          Statement: [{ Effect: 'Allow', Action: ['aiam:GetServerInfo'], Resource: '*' }],
        },
      },
      201,
    );
    const key = await api<{ accessKey: { accessKeyId: string }; secretAccessKey: string }>(
      a,
      admin,
      'POST',
      '/users/bob/access-keys',
      undefined,
      201,
    );
    bob = { accessKeyId: key.accessKey.accessKeyId, secretAccessKey: key.secretAccessKey };
    // The key alone grants nothing on either node: deny by default.
    assert.equal((await signedFetch(`${b.url}/api/v1/server-info`, bob)).status, 403);
    await api(a, admin, 'PUT', '/users/bob/attached-policies/bob-access', undefined, 204);
    const granted = performance.now();
    measured.grantVisibleOnB = ms(await waitForStatus(b, bob, 200, granted));
    assert.equal((await signedFetch(`${a.url}/api/v1/server-info`, bob)).status, 200);
  });

  it('a key deactivated on node A is refused on node B within the bound (20 trials)', async () => {
    const path = `/users/bob/access-keys/${bob.accessKeyId}`;
    const delays: number[] = [];
    for (let trial = 0; trial < 20; trial++) {
      await api(a, admin, 'PATCH', path, { status: 'Active' }, 200);
      await waitForStatus(b, bob, 200, performance.now());
      await api(a, admin, 'PATCH', path, { status: 'Inactive' }, 200);
      delays.push(await waitForStatus(b, bob, 401, performance.now()));
    }
    const p50 = percentile(delays, 50);
    const max = Math.max(...delays);
    measured.revocationP50 = ms(p50);
    measured.revocationMax = ms(max);
    // A correctness limit, not a performance target: NOTIFY delivery plus one cache rebuild.
    assert.ok(max < 2000, `revocation took ${ms(max)} on node B`);
    // Node A, which made the change, refuses at once.
    assert.equal((await signedFetch(`${a.url}/api/v1/server-info`, bob)).status, 401);
  });

  it('an object written through node A is read through node B (shared object store)', async () => {
    const client = (node: RunningServer) =>
      new S3Client({
        endpoint: node.url,
        region: 'us-east-1',
        forcePathStyle: true,
        credentials: admin,
      });
    const s3a = client(a);
    const s3b = client(b);
    try {
      await s3a.send(new CreateBucketCommand({ Bucket: 'shared-data' }));
      const body = `weights ${randomBytes(16).toString('hex')}`;
      await s3a.send(new PutObjectCommand({ Bucket: 'shared-data', Key: 'models/m.bin', Body: body }));
      const got = await s3b.send(new GetObjectCommand({ Bucket: 'shared-data', Key: 'models/m.bin' }));
      assert.equal(await got.Body!.transformToString(), body);
    } finally {
      s3a.destroy();
      s3b.destroy();
    }
  });

  it("SCIM deprovisioning on node A stops the user's key on node B", async () => {
    const { token } = await api<{ token: string }>(
      a,
      admin,
      'POST',
      '/scim-tokens',
      { description: 'IdP' },
      201,
    );
    const scim = (method: string, path: string, body: unknown) =>
      fetch(`${a.url}/scim/v2${path}`, {
        method,
        headers: { authorization: `Bearer ${token}`, 'content-type': 'application/scim+json' },
        body: JSON.stringify(body),
      });
    const created = await scim('POST', '/Users', {
      schemas: ['urn:ietf:params:scim:schemas:core:2.0:User'],
      userName: 'carol@example.com',
      active: true,
    });
    assert.equal(created.status, 201, await created.clone().text());
    const scimId = ((await created.json()) as { id: string }).id;
    const user = encodeURIComponent('carol@example.com');
    const key = await api<{ accessKey: { accessKeyId: string }; secretAccessKey: string }>(
      a,
      admin,
      'POST',
      `/users/${user}/access-keys`,
      undefined,
      201,
    );
    const carol = { accessKeyId: key.accessKey.accessKeyId, secretAccessKey: key.secretAccessKey };
    await api(a, admin, 'PUT', `/users/${user}/attached-policies/bob-access`, undefined, 204);
    await waitForStatus(b, carol, 200, performance.now());

    const off = await scim('PATCH', `/Users/${scimId}`, {
      schemas: ['urn:ietf:params:scim:api:messages:2.0:PatchOp'],
      Operations: [{ op: 'replace', path: 'active', value: false }],
    });
    assert.equal(off.status, 200, await off.clone().text());
    measured.scimDeprovisionOnB = ms(await waitForStatus(b, carol, 401, performance.now()));
    assert.equal((await b.store.getAccessKey(carol.accessKeyId))?.status, 'Inactive');
  });
  it("an OIDC signing key rotated through node A's store is in node B's JWKS without a restart", async () => {
    const kids = async (node: RunningServer): Promise<string[]> => {
      const res = await fetch(`${node.url}/.well-known/jwks.json`);
      assert.equal(res.status, 200);
      return ((await res.json()) as { keys: { kid: string }[] }).keys.map((k) => k.kid);
    };
    const before = await kids(b);
    assert.deepEqual(await kids(a), before);
    // A rotation as node A's schedule would do it, 31 days on (the default period is 30 days).
    const { keyring } = await loadKeyring({ dataDir: a.dataDir, env });
    const later = Date.now() + 31 * 86_400_000;
    const rotator = await OidcIssuer.open({
      store: a.store,
      keyring,
      issuer: a.url,
      clock: { now: () => later },
    });
    let rotated: string;
    try {
      await rotator.tick();
      rotated = rotator.keys.activeKid;
    } finally {
      await rotator.close();
    }
    assert.ok(!before.includes(rotated));
    const since = performance.now();
    for (let i = 0; ; i++) {
      const onB = await kids(b);
      if (onB.includes(rotated)) {
        assert.ok(
          before.every((k) => onB.includes(k)),
          'the retired key stays published',
        );
        measured.signingKeyVisibleOnB = ms(performance.now() - since);
        break;
      }
      assert.ok(i < 200 && performance.now() - since < 2000, "node B's JWKS never showed the rotated key");
      await new Promise((r) => setTimeout(r, 5));
    }
  });
});
