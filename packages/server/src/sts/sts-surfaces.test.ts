import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import {
  AssumeRoleCommand,
  AssumeRoleWithWebIdentityCommand,
  GetCallerIdentityCommand,
  STSClient,
} from '@aws-sdk/client-sts';
import { createRemoteJWKSet, exportJWK, generateKeyPair, jwtVerify, SignJWT } from 'jose';
import { type RunningServer, startServer } from '../app/start-server.js';
import { loadKeyring } from '../identity/keyring.js';
import { silentLogger } from '../observability/logger.js';
import { IamService } from '../services/iam-service.js';
import { issuerHost } from '../services/sts-service.js';
import { signedFetch } from '../testing/signed-fetch.js';

interface Creds {
  accessKeyId: string;
  secretAccessKey: string;
  sessionToken?: string;
}

const doc = (statements: unknown[]) => JSON.stringify({ Version: '2012-10-17', Statement: statements });
const allow = (action: string, resource = '*') =>
  doc([{ Effect: 'Allow', Action: action, Resource: resource }]);

describe('STS, OIDC and workload credentials over HTTP', () => {
  let dir: string;
  let server: RunningServer;
  let iam: IamService;
  let admin: Creds;
  let alice: Creds;
  let acct: string;
  let offsetMs = 0;
  const sts = (credentials?: Creds, extra: { systemClockOffset?: number } = {}) =>
    new STSClient({
      endpoint: server.url,
      region: 'us-east-1',
      maxAttempts: 1,
      ...(credentials ? { credentials } : {}),
      ...extra,
    });
  const errorOf = async (p: Promise<unknown>) => {
    try {
      await p;
    } catch (e) {
      return e as { name: string; message: string; $metadata: { httpStatusCode?: number } };
    }
    assert.fail('expected an error');
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-sts-'));
    server = await startServer({
      dataDir: dir,
      port: 0,
      env: {},
      logger: silentLogger,
      clock: { now: () => Date.now() + offsetMs },
    });
    acct = server.store.accountId;
    const { keyring } = await loadKeyring({ dataDir: dir, env: {} });
    iam = new IamService({ store: server.store, keyring });
    const adminKey = await iam.createAccessKey('admin');
    admin = { accessKeyId: adminKey.accessKey.accessKeyId, secretAccessKey: adminKey.secretAccessKey };
    const u = await iam.createUser({ name: 'alice' });
    await iam.putInlinePolicy(u.arn, 'assume', allow('sts:AssumeRole', `arn:aws:iam::${acct}:role/*`));
    await iam.putInlinePolicy(u.arn, 'token', allow('sts:GetWebIdentityToken'));
    const k = await iam.createAccessKey('alice');
    alice = { accessKeyId: k.accessKey.accessKeyId, secretAccessKey: k.secretAccessKey };
    await iam.createUser({ name: 'bob' });
    await iam.createRole({
      name: 'reader',
      trustPolicy: doc([
        {
          Effect: 'Allow',
          Principal: { AWS: [u.arn, `arn:aws:iam::${acct}:user/bob`] },
          Action: 'sts:AssumeRole',
        },
      ]),
    });
    await iam.createRole({
      name: 'closed',
      trustPolicy: doc([
        { Effect: 'Allow', Principal: { AWS: `arn:aws:iam::${acct}:user/nobody` }, Action: 'sts:AssumeRole' },
      ]),
    });
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('GetCallerIdentity answers for a user with the stock SDK', async () => {
    const id = await sts(alice).send(new GetCallerIdentityCommand({}));
    assert.equal(id.Arn, `arn:aws:iam::${acct}:user/alice`);
    assert.equal(id.Account, acct);
    assert.match(id.UserId ?? '', /^AIDA/);
  });

  it('AssumeRole is allowed when identity and trust agree, and the session answers GetCallerIdentity', async () => {
    const out = await sts(alice).send(
      new AssumeRoleCommand({
        RoleArn: `arn:aws:iam::${acct}:role/reader`,
        RoleSessionName: 'job-1',
        DurationSeconds: 900,
      }),
    );
    const c = out.Credentials;
    assert.ok(c?.AccessKeyId?.startsWith('ASIA'));
    assert.ok(c?.SessionToken && c.SecretAccessKey);
    assert.ok(c?.Expiration instanceof Date && c.Expiration.getTime() > Date.now() + 800_000);
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${acct}:assumed-role/reader/job-1`);
    assert.equal(typeof out.PackedPolicySize, 'number');
    const session: Creds = {
      accessKeyId: c.AccessKeyId!,
      secretAccessKey: c.SecretAccessKey!,
      sessionToken: c.SessionToken!,
    };
    const id = await sts(session).send(new GetCallerIdentityCommand({}));
    assert.equal(id.Arn, `arn:aws:sts::${acct}:assumed-role/reader/job-1`);

    // Tampered session token: STS's InvalidClientTokenId.
    const t = session.sessionToken!;
    const flipped = `${t.slice(0, -6)}${t.slice(-6, -5) === 'A' ? 'B' : 'A'}${t.slice(-5)}`;
    const bad = await errorOf(
      sts({ ...session, sessionToken: flipped }).send(new GetCallerIdentityCommand({})),
    );
    assert.equal(bad.name, 'InvalidClientTokenId');
    assert.equal(bad.$metadata.httpStatusCode, 403);

    // Expired: both clocks moved past the 900 s session (the SDK signs with its offset).
    offsetMs = 901_000;
    try {
      const expired = await errorOf(
        sts(session, { systemClockOffset: 901_000 }).send(new GetCallerIdentityCommand({})),
      );
      assert.equal(expired.name, 'ExpiredToken');
    } finally {
      offsetMs = 0;
    }
  });

  it('AssumeRole is refused by the trust policy and by the identity policy with AccessDenied', async () => {
    const byTrust = await errorOf(
      sts(alice).send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${acct}:role/closed`, RoleSessionName: 'sx' }),
      ),
    );
    assert.equal(byTrust.name, 'AccessDenied');
    assert.equal(byTrust.$metadata.httpStatusCode, 403);
    const bobKey = await iam.createAccessKey('bob');
    const bob = { accessKeyId: bobKey.accessKey.accessKeyId, secretAccessKey: bobKey.secretAccessKey };
    const byIdentity = await errorOf(
      sts(bob).send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${acct}:role/reader`, RoleSessionName: 'bob' }),
      ),
    );
    assert.equal(byIdentity.name, 'AccessDenied');
    assert.match(byIdentity.message, /sts:AssumeRole/);
  });

  it('refuses bad input and bad signatures in STS error XML', async () => {
    const short = await errorOf(
      sts(alice).send(
        new AssumeRoleCommand({ RoleArn: `arn:aws:iam::${acct}:role/reader`, RoleSessionName: 'x' }),
      ),
    );
    assert.equal(short.name, 'ValidationError');
    const wrong = await errorOf(
      // Another last character (a fixed one was the right one about once in 62 runs).
      sts({
        ...alice,
        secretAccessKey: `${alice.secretAccessKey.slice(0, -1)}${alice.secretAccessKey.endsWith('x') ? 'y' : 'x'}`,
      }).send(new GetCallerIdentityCommand({})),
    );
    assert.equal(wrong.name, 'SignatureDoesNotMatch');
    const anon = await fetch(server.url, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'Action=GetCallerIdentity&Version=2011-06-15',
    });
    assert.equal(anon.status, 403);
    const text = await anon.text();
    assert.match(
      text,
      /^<\?xml[^>]*>\n<ErrorResponse xmlns="https:\/\/sts.amazonaws.com\/doc\/2011-06-15\/"><Error><Type>Sender<\/Type><Code>MissingAuthenticationToken<\/Code>/,
    );
    assert.match(text, /<RequestId>[^<]+<\/RequestId><\/ErrorResponse>$/);
    const unknown = await fetch(`${server.url}/?Action=GetSessionToken&Version=2011-06-15`);
    assert.equal(unknown.status, 400);
    assert.match(await unknown.text(), /<Code>InvalidAction<\/Code>/);
  });

  it("AssumeRoleWithWebIdentity accepts aiam's own tokens, verifiable with jose against the served JWKS", async () => {
    const discovery = (await (
      await fetch(`${server.url}/.well-known/openid-configuration`)
    ).json()) as Record<string, unknown>;
    assert.equal(discovery.issuer, server.url);
    assert.equal(discovery.jwks_uri, `${server.url}/.well-known/jwks.json`);
    assert.deepEqual(discovery.id_token_signing_alg_values_supported, ['ES256']);
    const jwks = (await (await fetch(discovery.jwks_uri as string)).json()) as {
      keys: Record<string, unknown>[];
    };
    assert.ok(jwks.keys.length >= 1);
    for (const k of jwks.keys) assert.equal(k.d, undefined, 'no private part is published');

    const refused = await fetch(`${server.url}/oauth2/token`, {
      method: 'POST',
      body: 'grant_type=client_credentials',
    });
    assert.equal(refused.status, 401);
    const res = await signedFetch(`${server.url}/oauth2/token`, alice, {
      service: 'sts',
      method: 'POST',
      body: 'grant_type=client_credentials',
      contentType: 'application/x-www-form-urlencoded',
    });
    assert.equal(res.status, 200);
    const { access_token: token, token_type } = (await res.json()) as {
      access_token: string;
      token_type: string;
    };
    assert.equal(token_type, 'Bearer');
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(discovery.jwks_uri as string)), {
      issuer: server.url,
      audience: 'sts.amazonaws.com',
    });
    assert.equal(payload.sub, `arn:aws:iam::${acct}:user/alice`);

    const host = issuerHost(server.url);
    await iam.createRole({
      name: 'web',
      trustPolicy: doc([
        {
          Effect: 'Allow',
          Principal: { Federated: server.url },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringEquals: { [`${host}:sub`]: `arn:aws:iam::${acct}:user/alice` } },
        },
      ]),
    });
    const out = await sts().send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: `arn:aws:iam::${acct}:role/web`,
        RoleSessionName: 'fed',
        WebIdentityToken: token,
      }),
    );
    assert.equal(out.AssumedRoleUser?.Arn, `arn:aws:sts::${acct}:assumed-role/web/fed`);
    assert.equal(out.SubjectFromWebIdentityToken, `arn:aws:iam::${acct}:user/alice`);
    assert.equal(out.Provider, server.url);
    assert.ok(out.Credentials?.AccessKeyId?.startsWith('ASIA'));
  });

  it('AssumeRoleWithWebIdentity honours a trusted external issuer and refuses a tampered token', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const issuer = 'https://ci.example.com';
    await iam.createTrustedIssuer({
      issuer,
      audiences: ['sts.amazonaws.com'],
      jwks: JSON.stringify({
        keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' }],
      }),
    });
    await iam.createRole({
      name: 'ci',
      trustPolicy: doc([
        {
          Effect: 'Allow',
          Principal: { Federated: issuer },
          Action: 'sts:AssumeRoleWithWebIdentity',
          Condition: { StringLike: { 'ci.example.com:sub': 'repo:org/*' } },
        },
      ]),
    });
    const sign = (sub: string) =>
      new SignJWT({})
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(issuer)
        .setSubject(sub)
        .setAudience('sts.amazonaws.com')
        .setIssuedAt()
        .setExpirationTime('5m')
        .sign(privateKey);
    const ok = await sts().send(
      new AssumeRoleWithWebIdentityCommand({
        RoleArn: `arn:aws:iam::${acct}:role/ci`,
        RoleSessionName: 'build',
        WebIdentityToken: await sign('repo:org/app'),
      }),
    );
    assert.equal(ok.AssumedRoleUser?.Arn, `arn:aws:sts::${acct}:assumed-role/ci/build`);
    const denied = await errorOf(
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: `arn:aws:iam::${acct}:role/ci`,
          RoleSessionName: 'build',
          WebIdentityToken: await sign('repo:other/app'),
        }),
      ),
    );
    assert.equal(denied.name, 'AccessDenied');
    const token = await sign('repo:org/app');
    const [h, p, s] = token.split('.') as [string, string, string];
    const forged = `${h}.${Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), sub: 'repo:org/x' })).toString('base64url')}.${s}`;
    const tampered = await errorOf(
      sts().send(
        new AssumeRoleWithWebIdentityCommand({
          RoleArn: `arn:aws:iam::${acct}:role/ci`,
          RoleSessionName: 'build',
          WebIdentityToken: forged,
        }),
      ),
    );
    // The SDK names the modeled error InvalidIdentityTokenException (wire code InvalidIdentityToken).
    assert.equal(tampered.name, 'InvalidIdentityTokenException');
  });

  it('serves a managed identity credentials through the container-credentials protocol', async () => {
    const identity = await iam.createUserAssignedIdentity({ name: 'pipeline' });
    // alice may not run workloads as the identity.
    const refused = await signedFetch(`${server.url}/workload/v1/authorizations`, alice, {
      service: 'sts',
      method: 'POST',
      body: JSON.stringify({ identity: 'pipeline' }),
    });
    assert.equal(refused.status, 403);
    const res = await signedFetch(`${server.url}/workload/v1/authorizations`, admin, {
      service: 'sts',
      method: 'POST',
      body: JSON.stringify({ identity: 'pipeline' }),
    });
    assert.equal(res.status, 201);
    const auth = (await res.json()) as {
      authorizationToken: string;
      identityArn: string;
      credentialsPath: string;
    };
    assert.equal(auth.identityArn, identity.arn);
    const provider = fromHttp({
      awsContainerCredentialsFullUri: `${server.url}${auth.credentialsPath}`,
      awsContainerAuthorizationToken: auth.authorizationToken,
    });
    const creds = await provider();
    assert.ok(creds.accessKeyId.startsWith('ASIA'));
    const id = await sts(creds as Creds).send(new GetCallerIdentityCommand({}));
    assert.equal(id.Arn, identity.arn);

    const bad = await fetch(`${server.url}${auth.credentialsPath}`, { headers: { authorization: 'nope' } });
    assert.equal(bad.status, 401);
    const text = await bad.text();
    assert.ok(!text.includes('AccessKeyId'));
  });
});
