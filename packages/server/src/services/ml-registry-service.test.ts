import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AuthenticationError, ConflictError, NotFoundError } from '../errors.js';
import { SecretHasher } from '../identity/secret-hash.js';
import type { Store } from '../store/store.js';
import { type TestDatabase, testDatabases } from '../store/store-test-databases.js';
import { EndpointKeyService } from './endpoint-key-service.js';
import { MlRegistryService } from './ml-registry-service.js';

const ACCT = '123456789012';
const ML = `arn:aiam:ml::${ACCT}`;
const MI = `arn:aiam:iam::${ACCT}:managed-identity`;

describe('ML registry and endpoint key services (SQLite store)', () => {
  let db: TestDatabase;
  let store: Store;
  let registry: MlRegistryService;
  let keys: EndpointKeyService;
  const hasher = new SecretHasher({ id: 'p1', key: new Uint8Array(32).fill(9) });

  before(async () => {
    db = testDatabases().find((d) => d.id === 'sqlite')!;
    store = await db.open({ accountId: ACCT });
    registry = new MlRegistryService({ store });
    keys = new EndpointKeyService({ store, hasher });
  });
  after(() => db.cleanup());

  it('creates and deletes system-assigned identities with their workspace and endpoint (seed 000)', async () => {
    const { workspace, identity } = await registry.createWorkspace({
      name: 'ml_workspace',
      identity: { type: 'SystemAssigned' },
    });
    assert.equal(identity?.arn, `${MI}/workspace/ml_workspace`);
    assert.equal(identity?.ownerArn, workspace.arn);
    const ep = await registry.createEndpoint({
      workspace: 'ml_workspace',
      name: 'online_endpoint',
      authMode: 'key',
      identity: { type: 'SystemAssigned' },
    });
    assert.equal(ep.identity?.arn, `${MI}/workspace/ml_workspace/endpoint/online_endpoint`);
    // A failure after the identity was created rolls both back.
    await assert.rejects(
      registry.createEndpoint({
        workspace: 'ml_workspace',
        name: 'online_endpoint',
        identity: { type: 'SystemAssigned' },
      }),
      ConflictError,
    );
    await store.createRoleDefinition({ name: 'DataReader', permissions: { dataActions: ['s3:GetObject'] } });
    await store.createRoleAssignment({
      principalArn: ep.identity!.arn,
      roleDefinition: 'DataReader',
      scope: 'arn:aws:s3:::training-data',
    });

    await registry.deleteEndpoint('online_endpoint');
    assert.equal(await store.getManagedIdentity({ ownerArn: ep.endpoint.arn }), undefined);
    assert.deepEqual(
      await store.listRoleAssignments({ principalArn: ep.identity!.arn }),
      [],
      'its grants go with it',
    );
    const turnedOff = await registry.updateWorkspace('ml_workspace', workspace.version, {
      identity: { type: 'None' },
    });
    assert.equal(await store.getManagedIdentity({ ownerArn: workspace.arn }), undefined);
    await registry.updateWorkspace('ml_workspace', turnedOff.version, {
      identity: { type: 'SystemAssigned' },
    });
    assert.ok(await store.getManagedIdentity({ ownerArn: workspace.arn }));
    await registry.deleteWorkspace('ml_workspace');
    assert.equal(await store.getManagedIdentity('workspace/ml_workspace'), undefined);
  });

  it('resolves an endpoint for the gateway: deployments, weights, model version ARNs, identity, limits', async () => {
    await registry.createWorkspace({ name: 'ws' });
    await registry.createModel({ workspace: 'ws', name: 'myModel' });
    await registry.createModelVersion({
      workspace: 'ws',
      model: 'myModel',
      label: '1',
      artifactLocation: 's3://models/my/1',
    });
    await registry.createModelVersion({ workspace: 'ws', model: 'myModel', label: '2' });
    const { endpoint } = await registry.createEndpoint({
      workspace: 'ws',
      name: 'chat',
      api: 'openai',
      limits: { requestsPerSecond: 10, maxConcurrent: 4 },
      identity: { type: 'SystemAssigned' },
    });
    await registry.createDeployment({
      endpoint: 'chat',
      name: 'blue',
      upstreamUrl: 'http://127.0.0.1:8001',
      modelRef: 'myModel:1',
      trafficWeight: 90,
      healthProbePath: '/health',
    });
    await registry.createDeployment({
      endpoint: 'chat',
      name: 'green',
      upstreamUrl: 'http://127.0.0.1:8002',
      modelRef: 'myModel:2',
      trafficWeight: 10,
    });
    const resolved = await registry.resolveEndpoint('CHAT');
    assert.ok(resolved);
    assert.equal(resolved.arn, `${ML}:workspace/ws/endpoint/chat`);
    assert.equal(resolved.arn, endpoint.arn);
    assert.deepEqual(
      [resolved.api, resolved.authMode, resolved.limits],
      ['openai', 'key', { requestsPerSecond: 10, maxConcurrent: 4 }],
    );
    assert.equal(resolved.identityArn, `${MI}/workspace/ws/endpoint/chat`);
    assert.deepEqual(resolved.deployments, [
      {
        name: 'blue',
        arn: `${ML}:workspace/ws/endpoint/chat/deployment/blue`,
        upstreamUrl: 'http://127.0.0.1:8001',
        trafficWeight: 90,
        model: 'myModel',
        modelRef: 'myModel:1',
        modelVersionArn: `${ML}:workspace/ws/model/myModel/version/1`,
        healthProbePath: '/health',
      },
      {
        name: 'green',
        arn: `${ML}:workspace/ws/endpoint/chat/deployment/green`,
        upstreamUrl: 'http://127.0.0.1:8002',
        trafficWeight: 10,
        model: 'myModel',
        modelRef: 'myModel:2',
        modelVersionArn: `${ML}:workspace/ws/model/myModel/version/2`,
        healthProbePath: undefined,
      },
    ]);
    assert.equal(resolved.revision, await store.getRevision());
    assert.equal(await registry.resolveEndpoint('nope'), undefined);
    await assert.rejects(registry.deleteModelVersion('ws', 'myModel', '2'), { code: 'ERR_DELETE_CONFLICT' });
    await assert.rejects(registry.deleteWorkspace('ws'), { code: 'ERR_DELETE_CONFLICT' });
  });

  it('issues primary and secondary keys once, stores only hashes, and rotates one slot at a time', async () => {
    const issued = await keys.ensureKeys('chat');
    assert.match(issued.primary!, /^aiam_ek_[A-Za-z0-9_-]{43}$/);
    assert.match(issued.secondary!, /^aiam_ek_[A-Za-z0-9_-]{43}$/);
    assert.deepEqual(await keys.ensureKeys('chat'), {}, 'existing keys are never shown again');
    const stored = await store.listBearerKeys({ ownerArn: `${ML}:workspace/ws/endpoint/chat` });
    assert.equal(stored.length, 2);
    for (const k of stored) {
      assert.ok(!k.hash.includes(issued.primary!.slice(8)) && !k.hash.includes(issued.secondary!.slice(8)));
      assert.match(k.hash, /^h1\.p1\./);
    }
    assert.equal((await keys.authenticateEndpointKey('chat', issued.primary!)).slot, 'primary');
    assert.equal((await keys.authenticateEndpointKey('chat', issued.secondary!)).slot, 'secondary');
    const newPrimary = await keys.regenerateKey('chat', 'primary');
    await assert.rejects(keys.authenticateEndpointKey('chat', issued.primary!), AuthenticationError);
    assert.equal(
      (await keys.authenticateEndpointKey('chat', issued.secondary!)).slot,
      'secondary',
      'the other slot stays valid',
    );
    assert.equal((await keys.authenticateEndpointKey('chat', newPrimary)).slot, 'primary');
    assert.deepEqual(
      (await keys.listKeys('chat')).map((k) => k.slot),
      ['primary', 'secondary'],
    );
  });

  it('refuses keys of other endpoints, malformed keys, and keys on token endpoints, all alike', async () => {
    await registry.createEndpoint({ workspace: 'ws', name: 'other' });
    const other = await keys.ensureKeys('other');
    const chatKey = await keys.regenerateKey('chat', 'secondary');
    for (const [endpoint, key] of [
      ['chat', other.primary!],
      ['chat', 'aiam_ek_short'],
      ['chat', `${chatKey.slice(0, -1)}${chatKey.endsWith('A') ? 'B' : 'A'}`],
      ['missing', chatKey],
    ] as const) {
      await assert.rejects(keys.authenticateEndpointKey(endpoint, key), (e: unknown) => {
        assert.ok(e instanceof AuthenticationError);
        assert.equal(e.message, 'The request could not be authenticated.');
        return true;
      });
    }
    const ep = await registry.getEndpoint('chat');
    await registry.updateEndpoint('chat', ep!.version, { authMode: 'token' });
    await assert.rejects(keys.authenticateEndpointKey('chat', chatKey), AuthenticationError);
    await assert.rejects(keys.ensureKeys('missing'), NotFoundError);
    await assert.rejects(keys.regenerateKey('chat', 'tertiary' as 'primary'), /primary or secondary/);
  });

  it('deleting a workspace with force removes endpoints, keys, identities and models in one transaction', async () => {
    await registry.deleteWorkspace('ws', { force: true });
    assert.equal(await registry.getEndpoint('chat'), undefined);
    assert.deepEqual(await store.listBearerKeys({ purpose: 'endpoint-key/primary' }), []);
    assert.equal(await store.getManagedIdentity('workspace/ws/endpoint/chat'), undefined);
    assert.deepEqual(await registry.listWorkspaces(), []);
  });
});
