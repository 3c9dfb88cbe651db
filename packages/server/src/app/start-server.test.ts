import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateAccessKeyId, generateSecretAccessKey } from '../identity/credential-ids.js';
import { loadKeyring } from '../identity/keyring.js';
import { createLogger } from '../observability/logger.js';
import { accessKeySecretContext } from '../services/iam-service.js';
import { BOOTSTRAP_CREDENTIALS_FILE } from './bootstrap-administrator.js';
import { API_TOKEN_AUDIENCE, type RunningServer, startServer } from './start-server.js';
import { signedFetch } from '../testing/signed-fetch.js';
import { tamperedTail } from '../testing/tamper.js';

/** Parses an AWS shared-credentials INI file into sections. */
function parseIni(text: string): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  let section: Record<string, string> | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#') || line.startsWith(';')) continue;
    const header = /^\[([^\]]+)\]$/.exec(line);
    if (header) {
      section = {};
      out[header[1]!] = section;
      continue;
    }
    const kv = /^([A-Za-z0-9_]+)\s*=\s*(.*)$/.exec(line);
    assert.ok(kv && section, `not INI: ${line}`);
    section[kv[1]!] = kv[2]!;
  }
  return out;
}

describe('startServer', () => {
  let dataDir: string;
  let server: RunningServer;
  const lines: string[] = [];
  let creds: { accessKeyId: string; secretAccessKey: string };
  let adminArn: string;

  before(async () => {
    dataDir = join(await mkdtemp(join(tmpdir(), 'aiam-serve-')), 'data');
    server = await startServer({
      dataDir,
      port: 0,
      env: {},
      // The route walk below sends one anonymous request per route; each comes from its own
      // forwarded address so the auth-failure limiter (per source IP) does not answer 429.
      trustedProxies: ['127.0.0.1'],
      logger: createLogger({ level: 'debug', write: (l) => lines.push(l) }),
    });
    const ini = parseIni(await readFile(join(dataDir, BOOTSTRAP_CREDENTIALS_FILE), 'utf8'));
    creds = {
      accessKeyId: ini.default!.aws_access_key_id!,
      secretAccessKey: ini.default!.aws_secret_access_key!,
    };
    assert.ok(server.bootstrap.userArn, 'the bootstrap reports the administrator ARN');
    adminArn = server.bootstrap.userArn;
  });
  after(async () => {
    await server.close();
    await rm(join(dataDir, '..'), { recursive: true, force: true });
  });

  it('bootstraps the administrator and writes its key as a 0600 INI file, never logging the secret', async () => {
    assert.equal(server.bootstrap.created, true);
    assert.equal(server.bootstrap.credentialsPath, join(dataDir, BOOTSTRAP_CREDENTIALS_FILE));
    const info = await stat(server.bootstrap.credentialsPath);
    assert.equal(info.mode & 0o777, 0o600);
    assert.match(creds.accessKeyId, /^AKIA[A-Z2-7]{16}$/);
    assert.ok(creds.secretAccessKey.length >= 40);
    const log = lines.join('\n');
    assert.ok(!log.includes(creds.secretAccessKey), 'the secret never appears in the log');
    assert.ok(log.includes(server.bootstrap.credentialsPath), 'the log says where the file is');
    assert.ok(log.includes(server.url), 'the log says where the server listens');
    const users = await server.store.listUsers();
    assert.deepEqual(
      users.map((u) => u.name),
      ['admin'],
    );
    // The secret is stored encrypted, not in clear.
    const key = await server.store.getAccessKey(creds.accessKeyId);
    assert.ok(key);
    assert.ok(!Buffer.from(key.secretCiphertext).toString('utf8').includes(creds.secretAccessKey));
  });

  it('answers /healthz and /readyz without credentials', async () => {
    const health = await fetch(`${server.url}/healthz`);
    assert.equal(health.status, 200);
    const ready = await fetch(`${server.url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(((await ready.json()) as { checks: unknown }).checks, {
      store: 'ok',
      migrations: 'ok',
      'access-model': 'ok',
      accepting: 'ok',
    });
  });

  it('authorizes the administrator through the engine (no side door)', async () => {
    const res = await signedFetch(`${server.url}/metrics`, creds);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    const text = await res.text();
    assert.match(text, /# TYPE aiam_http_requests_total counter/);
    // Detaching the policy takes the administrator's access away: the policy was the only grant.
    const policies = await server.store.listAttachedPolicies(adminArn);
    assert.equal(policies.length, 1);
    await server.store.detachPolicy(adminArn, policies[0]!.policyArn);
    try {
      const denied = await signedFetch(`${server.url}/metrics`, creds);
      assert.equal(denied.status, 403);
      const body = (await denied.json()) as { error: { code: string; decisionId?: string } };
      assert.equal(body.error.code, 'ERR_ACCESS_DENIED');
      assert.ok(body.error.decisionId);
    } finally {
      await server.store.attachPolicy(adminArn, policies[0]!.policyArn);
    }
    assert.equal((await signedFetch(`${server.url}/metrics`, creds)).status, 200);
  });

  it('answers GET /api/v1/server-info with the caller, by SigV4 and by an aiam JWT for the API', async () => {
    assert.equal((await fetch(`${server.url}/api/v1/server-info`)).status, 401);
    const signed = await signedFetch(`${server.url}/api/v1/server-info`, creds);
    assert.equal(signed.status, 200);
    const info = (await signed.json()) as { accountId: string; caller: { arn: string; type: string } };
    assert.deepEqual(info, {
      accountId: server.store.accountId,
      caller: { arn: adminArn, type: 'User', userId: (await server.store.getUser('admin'))!.id },
    });

    const token = async (audience: string): Promise<string> => {
      const res = await signedFetch(`${server.url}/oauth2/token`, creds, {
        method: 'POST',
        body: JSON.stringify({ grant_type: 'client_credentials', audience }),
      });
      assert.equal(res.status, 200);
      return ((await res.json()) as { access_token: string }).access_token;
    };
    const withJwt = (jwt: string) =>
      fetch(`${server.url}/api/v1/server-info`, { headers: { authorization: `Bearer ${jwt}` } });
    const jwt = await token(API_TOKEN_AUDIENCE);
    const byJwt = await withJwt(jwt);
    assert.equal(byJwt.status, 200);
    assert.equal(((await byJwt.json()) as { caller: { arn: string } }).caller.arn, adminArn);
    // A token minted for another audience (AssumeRoleWithWebIdentity's default) is not an API token.
    assert.equal((await withJwt(await token('sts.amazonaws.com'))).status, 401);
    // Nor is a tampered one.
    const [h, p, sig] = jwt.split('.');
    assert.equal((await withJwt(`${h}.${p}.${tamperedTail(sig!)}`)).status, 401);
  });

  it('refuses a wrong secret and a disabled key at once', async () => {
    const wrong = await signedFetch(`${server.url}/metrics`, { ...creds, secretAccessKey: 'x'.repeat(40) });
    assert.equal(wrong.status, 401);
    const key = (await server.store.getAccessKey(creds.accessKeyId))!;
    await server.store.updateAccessKeyStatus(creds.accessKeyId, 'Inactive', key.version);
    try {
      assert.equal((await signedFetch(`${server.url}/metrics`, creds)).status, 401);
    } finally {
      const k = (await server.store.getAccessKey(creds.accessKeyId))!;
      await server.store.updateAccessKeyStatus(creds.accessKeyId, 'Active', k.version);
    }
  });

  it('fails closed on every protected route: 401 without credentials, 403 without a grant', async () => {
    // A user with a valid key and no policy at all.
    const { keyring } = await loadKeyring({ dataDir, env: {} });
    const nobody = await server.store.createUser({ name: 'nobody' });
    const accessKeyId = generateAccessKeyId('long-term');
    const secretAccessKey = generateSecretAccessKey();
    await server.store.createAccessKey({
      userName: nobody.name,
      accessKeyId,
      secretCiphertext: Buffer.from(
        keyring.encrypt(secretAccessKey, accessKeySecretContext(accessKeyId)),
        'utf8',
      ),
    });
    const publicRoutes: string[] = [];
    let checked = 0;
    for (const route of server.routes.routes) {
      if (route.auth === 'none-public') {
        publicRoutes.push(`${route.method} ${route.path}`);
        continue;
      }
      assert.match(route.action, /^[a-z0-9-]+:[A-Za-z0-9]+$/, `${route.label} declares an action`);
      assert.equal(typeof route.resource, 'function', `${route.label} computes a resource`);
      const path = route.path.replace(/\{[^}]+\}/g, 'x');
      const body = ['POST', 'PUT', 'PATCH'].includes(route.method) ? '{}' : undefined;
      const forwarded = { 'x-forwarded-for': `10.8.${checked >> 8}.${checked & 255}` };
      const anon = await fetch(`${server.url}${path}`, {
        method: route.method,
        body,
        headers: body ? { 'content-type': 'application/json', ...forwarded } : forwarded,
      });
      assert.equal(anon.status, 401, `${route.label} refuses an anonymous caller`);
      const denied = await signedFetch(
        `${server.url}${path}`,
        { accessKeyId, secretAccessKey },
        { method: route.method, body, headers: forwarded },
      );
      // The caller has no grant, so the handler can never run: a 403, or a 400 when the resource
      // cannot even be computed from the (placeholder) input, both before anything is done.
      assert.ok(
        [400, 403].includes(denied.status),
        `${route.label} refuses a caller without a grant (${denied.status})`,
      );
      checked++;
    }
    assert.ok(checked >= 1);
    // Every public route is reviewed here: adding one must be a deliberate change to this list.
    // STS (`/`) authenticates per action in its handler; OIDC discovery/JWKS are public by nature;
    // workload credentials take the workload authorization token; the OpenAPI document holds no
    // data; a domain console link is its own credential (signed, expiring, single use; see their
    // publicReason).
    assert.deepEqual(publicRoutes.sort(), [
      'GET /',
      'GET /.well-known/jwks.json',
      'GET /.well-known/openid-configuration',
      'GET /api/v1/openapi.json',
      'GET /console/domains/{domain}/login',
      'GET /healthz',
      'GET /readyz',
      'GET /workload/v1/credentials',
      'POST /',
    ]);
  });

  it('does not bootstrap twice: same admin, same key, file untouched', async () => {
    const before = await readFile(server.bootstrap.credentialsPath, 'utf8');
    const mtime = (await stat(server.bootstrap.credentialsPath)).mtimeMs;
    await server.close();
    const out: string[] = [];
    server = await startServer({
      dataDir,
      port: 0,
      env: {},
      logger: createLogger({ level: 'debug', write: (l) => out.push(l) }),
    });
    assert.equal(server.bootstrap.created, false);
    assert.equal(server.bootstrap.wroteFile, false);
    assert.equal(server.bootstrap.accessKeyId, creds.accessKeyId);
    assert.equal(await readFile(server.bootstrap.credentialsPath, 'utf8'), before);
    assert.equal((await stat(server.bootstrap.credentialsPath)).mtimeMs, mtime);
    const admins = (await server.store.listUsers()).filter((u) => u.name === 'admin');
    assert.equal(admins.length, 1);
    assert.equal((await server.store.listAccessKeys('admin')).length, 1);
    assert.ok(!out.join('\n').includes(creds.secretAccessKey));
    assert.equal((await signedFetch(`${server.url}/metrics`, creds)).status, 200);
  });

  it('writes the audit trail and flushes it on close', async () => {
    await signedFetch(`${server.url}/metrics`, creds);
    await fetch(`${server.url}/metrics`);
    // Records wait in the writer's queue; close() must flush them before the store closes.
    await server.close();
    server = await startServer({ dataDir, port: 0, env: {}, logger: createLogger({ level: 'silent' }) });
    const page = await server.store.queryAudit({ limit: 1000 });
    const decisions = page.records.map((r) => r.decision);
    assert.ok(decisions.includes('allowed'));
    assert.ok(decisions.includes('unauthenticated'));
    assert.ok(page.records.every((r) => !JSON.stringify(r).includes(creds.secretAccessKey)));
  });
});
