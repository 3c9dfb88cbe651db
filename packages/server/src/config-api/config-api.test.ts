import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import {
  AiamApiError,
  AiamClient,
  ConfigClient,
  exportConfig,
  parseConfigText,
  planChanges,
  toApplyChanges,
} from '@aiam/client';
import { type RunningServer, startServer } from '../app/start-server.js';
import { createLogger } from '../observability/logger.js';

const EXAMPLES = fileURLToPath(new URL('../../../../examples/', import.meta.url));
const quiet = () => createLogger({ level: 'error', write: () => {} });

async function withServer<T>(fn: (server: RunningServer, client: ConfigClient) => Promise<T>): Promise<T> {
  const dir = await mkdtemp(join(tmpdir(), 'aiam-config-'));
  const server = await startServer({ dataDir: dir, port: 0, logger: quiet() });
  try {
    const client = new ConfigClient({
      endpoint: server.url,
      env: { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath },
    });
    return await fn(server, client);
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Loads YAML text against the server's account, plans, and applies; returns the plan and result. */
async function applyText(client: ConfigClient, text: string) {
  const { revision, accountId, state } = await client.getState();
  const loaded = parseConfigText(text, { accountId });
  assert.ok(loaded.config, `config errors: ${JSON.stringify(loaded.errors)}`);
  const plan = planChanges(loaded.config, state);
  const result =
    plan.changes.length === 0
      ? undefined
      : await client.apply(revision, toApplyChanges(plan, loaded.config, state));
  return { plan, result, desired: loaded.config };
}

async function planText(client: ConfigClient, text: string) {
  const { accountId, state } = await client.getState();
  const loaded = parseConfigText(text, { accountId });
  assert.ok(loaded.config);
  return planChanges(loaded.config, state);
}

describe('access as code against a running server', () => {
  let seeds: string[];
  before(async () => {
    seeds = (await readdir(EXAMPLES)).filter((f) => /^seed-00\d.*\.yaml$/.test(f)).sort();
    assert.equal(seeds.length, 5);
  });

  it('applies every seed file to an empty server; a second apply and an applied export change nothing', async () => {
    for (const seed of seeds) {
      const text = await readFile(join(EXAMPLES, seed), 'utf8');
      await withServer(async (_server, client) => {
        const first = await applyText(client, text);
        assert.ok(first.plan.changes.length > 0, `${seed}: the first plan creates resources`);
        assert.equal(first.result?.applied, first.plan.changes.length);
        if (seed.startsWith('seed-000')) {
          // authMode: key: both endpoint keys come back once, keyed like the file.
          const keys = first.result?.secrets.find(
            (s) => s.path.join('.') === 'workspaces.ml_workspace.endpoints.online_endpoint.keys',
          );
          assert.ok(
            keys?.value.primary && keys.value.secondary,
            JSON.stringify(first.result?.secrets.map((s) => s.path)),
          );
        }
        const again = await planText(client, text);
        assert.deepEqual(
          again.changes.map((c) => `${c.action} ${c.address} ${JSON.stringify(c.fields)}`),
          [],
          `${seed}: a second apply is a no-op`,
        );
        const { state } = await client.getState();
        const exported = exportConfig(state);
        assert.ok(!/secretAccessKey|aiam_ek_/i.test(exported), 'no secret in an export');
        const fromExport = await planText(client, exported);
        assert.deepEqual(
          fromExport.changes.map((c) => `${c.action} ${c.address} ${JSON.stringify(c.fields)}`),
          [],
          `${seed}: applying the export changes nothing`,
        );
      });
    }
  });

  it('returns new access key secrets once, usable at once (read-your-writes); drops what the file drops', async () => {
    await withServer(async (server, client) => {
      const text = await readFile(join(EXAMPLES, 'seed-002-user-provisioning.yaml'), 'utf8');
      const { result } = await applyText(client, text);
      const secret = result?.secrets.find((s) => s.address === 'users.aiUser.accessKeys.aiAccessKey');
      assert.ok(secret?.value.accessKeyId && secret.value.secretAccessKey);
      assert.deepEqual(secret.path, ['users', 'aiUser', 'accessKeys', 'aiAccessKey']);
      // The new key works on the very next request (no sleep-and-retry as with cloud IAM).
      const asUser = new AiamClient({
        endpoint: server.url,
        credentials: {
          accessKeyId: secret.value.accessKeyId!,
          secretAccessKey: secret.value.secretAccessKey!,
        },
      });
      await assert.rejects(asUser.listUsers(), (e: unknown) => e instanceof AiamApiError && e.status === 403);
      // The file drops the user: config created it, so apply deletes it and its key.
      const { plan } = await applyText(client, text.replace(/^users:[\s\S]*$/m, ''));
      assert.ok(plan.changes.some((c) => c.action === 'delete' && c.address === 'users.aiUser'));
      const { state } = await client.getState();
      assert.equal(state.users.aiUser, undefined);
    });
  });

  it('refuses a stale plan and an invalid change without changing anything', async () => {
    await withServer(async (server, client) => {
      const { revision, accountId, state } = await client.getState();
      const loaded = parseConfigText('users:\n  carol: {}\n', { accountId });
      const plan = planChanges(loaded.config!, state);
      const changes = toApplyChanges(plan, loaded.config!, state);
      // Someone changes the server between plan and apply.
      const admin = new AiamClient({
        endpoint: server.url,
        env: { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath },
      });
      await admin.createUser({ name: 'dave' });
      await assert.rejects(client.apply(revision, changes), (e: unknown) => {
        assert.ok(e instanceof AiamApiError);
        assert.equal(e.status, 409);
        assert.match(e.message, /run plan again/);
        return true;
      });
      const after = await client.getState();
      assert.equal(after.state.users.carol, undefined);

      // A change the server refuses (dave exists already) rolls back the changes before it.
      const more = parseConfigText('users:\n  erin: {}\n', { accountId });
      assert.ok(more.config);
      const morePlan = planChanges(more.config, after.state);
      const clash = {
        action: 'create',
        kind: 'user',
        address: 'users.dave',
        names: ['dave'],
        value: {},
      } as const;
      await assert.rejects(
        client.apply(after.revision, [...toApplyChanges(morePlan, more.config, after.state), clash]),
        (e: unknown) => e instanceof AiamApiError && e.status === 409 && /dave/.test(e.message),
      );
      const unchanged = await client.getState();
      assert.equal(unchanged.revision, after.revision, 'nothing was written');
      assert.equal(unchanged.state.users.erin, undefined);
    });
  });

  it('authorizes every change as the caller: no iam:CreateUser, no apply, nothing changed', async () => {
    await withServer(async (server, client) => {
      const setup = await applyText(
        client,
        `policies:
  applyOnly:
    document:
      Version: "2012-10-17"
      Statement:
        - Effect: Allow
          Action: [aiam:ExportConfiguration, aiam:ApplyConfiguration, s3:CreateBucket, s3:PutBucketTagging]
          Resource: "*"
users:
  operator:
    policies: [applyOnly]
    accessKeys: [k]
`,
      );
      const key = setup.result!.secrets[0]!.value;
      const operator = new ConfigClient({
        endpoint: server.url,
        credentials: { accessKeyId: key.accessKeyId!, secretAccessKey: key.secretAccessKey! },
      });
      const { revision, accountId, state } = await operator.getState();
      const loaded = parseConfigText(
        `${exportConfig(state)}\nbuckets:\n  ops-bucket: {}\n`.replace(/^buckets: \{\}\n/m, ''),
        { accountId },
      );
      assert.ok(loaded.config, JSON.stringify(loaded.errors));
      const withUser = {
        ...loaded.config,
        users: { ...loaded.config.users, mallory: loaded.config.users.operator! },
      };
      const plan = planChanges(withUser, state);
      assert.ok(plan.changes.some((c) => c.address === 'users.mallory'));
      await assert.rejects(operator.apply(revision, toApplyChanges(plan, withUser, state)), (e: unknown) => {
        assert.ok(e instanceof AiamApiError);
        assert.equal(e.status, 403);
        assert.match(e.message, /iam:CreateUser/);
        assert.ok(e.decisionId);
        return true;
      });
      const after = await operator.getState();
      assert.equal(after.revision, revision);
      // The refused decision is in the audit trail, with the change that needed it.
      const admin = new AiamClient({
        endpoint: server.url,
        env: { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath },
      });
      const denied = (await admin.queryAudit({ limit: 1000 })).items.find(
        (r) => r.action === 'iam:CreateUser' && r.decision === 'implicitDeny',
      );
      assert.ok(denied, 'the denied iam:CreateUser decision is audited');
      assert.match(JSON.stringify(denied.extra), /users\.mallory/);
      assert.equal(after.state.buckets['ops-bucket'], undefined, 'the allowed bucket was not created either');
      // Without the user the same operator may apply the bucket.
      const bucketOnly = planChanges(loaded.config, state);
      await operator.apply(revision, toApplyChanges(bucketOnly, loaded.config, state));
      assert.ok((await operator.getState()).state.buckets['ops-bucket']);
    });
  });

  it('applies custom role definitions and SCIM group mappings idempotently, and drops them with the file', async () => {
    await withServer(async (_server, client) => {
      const text = `roleDefinitions:
  ModelAuditor:
    description: Reads models and their versions
    actions: [ml:GetModel, ml:ListModels]
    dataActions: [ml:DownloadModelVersion]
    assignableScopes: [workspace/ws]
workspaces:
  ws: {}
users:
  erin: {}
roleAssignments:
  - { principal: user/erin, role: ModelAuditor, scope: workspace/ws }
scimGroupMappings:
  ml-readers:
    - { role: ModelReader, scope: workspace/ws }
    - { role: ModelAuditor, scope: workspace/ws }
`;
      const first = await applyText(client, text);
      assert.ok(first.result);
      const { state } = await client.getState();
      assert.deepEqual(state.roleDefinitions.ModelAuditor?.dataActions, ['ml:DownloadModelVersion']);
      assert.equal(state.scimGroupMappings['ml-readers']?.grants.length, 2);
      assert.equal(state.scimGroupMappings['ml-readers']?.source, 'config');
      assert.deepEqual((await planText(client, text)).changes, []);
      assert.deepEqual((await planText(client, exportConfig(state))).changes, []);
      // A typo in an action is refused by the server and nothing changes.
      const typo = await client.getState();
      const bad = parseConfigText(text.replace('ml:ListModels', 'ml:ListModelz'), {
        accountId: typo.accountId,
      });
      if (bad.config) {
        const plan = planChanges(bad.config, typo.state);
        await assert.rejects(
          client.apply(typo.revision, toApplyChanges(plan, bad.config, typo.state)),
          (e: unknown) => e instanceof AiamApiError && e.status === 400 && /ListModelz/.test(e.message),
        );
      } else {
        // The loader catches it first, with its place in the file.
        assert.match(JSON.stringify(bad.errors), /ListModelz/);
      }
      await applyText(client, 'workspaces:\n  ws: {}\n');
      const after = await client.getState();
      assert.deepEqual(Object.keys(after.state.roleDefinitions), []);
      assert.deepEqual(Object.keys(after.state.scimGroupMappings), []);
      assert.deepEqual(Object.keys(after.state.roleAssignments), []);
    });
  });

  it('leaves users that arrived by SCIM or the API alone, and shows them as drift', async () => {
    await withServer(async (server, client) => {
      const admin = new AiamClient({
        endpoint: server.url,
        env: { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath },
      });
      await admin.createUser({ name: 'handmade', tags: { team: 'a' } });
      await server.store.createUser({ name: 'from-idp', source: 'scim' });
      const plan = await planText(client, 'users:\n  handmade: { tags: { team: b } }\n');
      assert.deepEqual(
        plan.changes.map((c) => `${c.action} ${c.address}`),
        ['update users.handmade'],
      );
      assert.ok(plan.unmanaged.some((u) => u.address === 'users.from-idp' && u.source === 'scim'));
    });
  });
});
