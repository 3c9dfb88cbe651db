import assert from 'node:assert/strict';
import { after, afterEach, describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { ConflictError, InputError, NotFoundError, PreconditionFailedError } from '../errors.js';
import type { Store } from './store.js';
import { testDatabases } from './store-test-databases.js';

const ACCT = '123456789012';
const ML = `arn:aiam:ml::${ACCT}`;

for (const database of testDatabases()) {
  describe(`ML registry store contract: ${database.id}`, () => {
    let store: Store;
    const clock = fixedClock('2026-01-01T00:00:00Z');
    const open = async () => {
      store = await database.open({ clock, accountId: ACCT });
      return store;
    };
    after(() => database.cleanup());
    afterEach(() => store?.close());

    it('keeps workspaces, models and versions with their ARNs, and refuses to orphan them', async () => {
      await open();
      const ws = await store.createWorkspace({
        name: 'ml_workspace',
        identity: { type: 'SystemAssigned' },
        tags: { a: 'b' },
      });
      assert.equal(ws.arn, `${ML}:workspace/ml_workspace`);
      assert.deepEqual(ws.identity, { type: 'SystemAssigned', userAssigned: [] });
      await assert.rejects(store.createWorkspace({ name: 'ML_Workspace' }), ConflictError);
      await assert.rejects(store.createWorkspace({ name: 'bad/name' }), InputError);
      await assert.rejects(
        store.createWorkspace({ name: 'w2', identity: { type: 'UserAssigned' } }),
        InputError,
      );
      await assert.rejects(
        store.createWorkspace({ name: 'w2', identity: { userAssigned: ['ghost'] } }),
        NotFoundError,
      );
      await store.createManagedIdentity({ name: 'pipeline', kind: 'user' });
      const w2 = await store.createWorkspace({ name: 'w2', identity: { userAssigned: ['pipeline'] } });
      assert.deepEqual(w2.identity, { type: 'UserAssigned', userAssigned: ['pipeline'] });

      const model = await store.createModel({ workspace: 'ml_workspace', name: 'myModel', description: 'd' });
      assert.equal(model.arn, `${ML}:workspace/ml_workspace/model/myModel`);
      await assert.rejects(store.createModel({ workspace: 'ml_workspace', name: 'mymodel' }), ConflictError);
      await store.createModel({ workspace: 'w2', name: 'myModel' });
      const v1 = await store.createModelVersion({
        workspace: 'ml_workspace',
        model: 'myModel',
        label: '1',
        artifactLocation: 's3://models/my-model/1/',
        metadata: { framework: 'pytorch' },
      });
      assert.equal(v1.arn, `${ML}:workspace/ml_workspace/model/myModel/version/1`);
      await store.createModelVersion({ workspace: 'ml_workspace', model: 'myModel', label: '2' });
      await assert.rejects(
        store.createModelVersion({
          workspace: 'ml_workspace',
          model: 'myModel',
          label: '3',
          artifactLocation: 'http://x',
        }),
        InputError,
      );
      assert.deepEqual(
        (await store.listModelVersions('ml_workspace', 'myModel')).map((v) => v.label),
        ['1', '2'],
      );
      const updated = await store.updateModelVersion('ml_workspace', 'myModel', '1', 1, {
        tags: { stage: 'prod' },
      });
      assert.equal(updated.version, 2);
      assert.equal(updated.artifactLocation, 's3://models/my-model/1/');
      await assert.rejects(
        store.updateModelVersion('ml_workspace', 'myModel', '1', 1, {}),
        PreconditionFailedError,
      );
      await assert.rejects(store.deleteWorkspace('ml_workspace'), { code: 'ERR_DELETE_CONFLICT' });
      await store.deleteModelVersion('ml_workspace', 'myModel', '2');
      await store.deleteModel('ml_workspace', 'myModel');
      await store.deleteWorkspace('ml_workspace');
      assert.equal(await store.getWorkspace('ml_workspace'), undefined);
    });

    it('keeps endpoints unique per server and deployments tied to model versions of their workspace', async () => {
      await open();
      await store.createWorkspace({ name: 'ws' });
      await store.createWorkspace({ name: 'other' });
      await store.createModel({ workspace: 'ws', name: 'llama' });
      await store.createModelVersion({ workspace: 'ws', model: 'llama', label: '1' });
      await store.createModel({ workspace: 'other', name: 'only-there' });
      await store.createModelVersion({ workspace: 'other', model: 'only-there', label: '1' });
      const ep = await store.createEndpoint({
        workspace: 'ws',
        name: 'online_endpoint',
        authMode: 'key',
        api: 'openai',
        limits: { requestsPerSecond: 5, maxConcurrent: 2 },
        identity: { type: 'SystemAssigned' },
      });
      assert.equal(ep.arn, `${ML}:workspace/ws/endpoint/online_endpoint`);
      await assert.rejects(
        store.createEndpoint({ workspace: 'other', name: 'ONLINE_endpoint' }),
        ConflictError,
      );
      await assert.rejects(
        store.createEndpoint({ workspace: 'ws', name: 'e2', limits: { maxConcurrent: 0 } }),
        InputError,
      );
      await assert.rejects(
        store.createEndpoint({ workspace: 'ws', name: 'e2', authMode: 'aad' as 'key' }),
        InputError,
      );
      const blue = await store.createDeployment({
        endpoint: 'online_endpoint',
        name: 'blue',
        upstreamUrl: 'http://127.0.0.1:8001',
        modelRef: 'llama:1',
        trafficWeight: 100,
        healthProbePath: '/health',
      });
      assert.equal(blue.modelVersionArn, `${ML}:workspace/ws/model/llama/version/1`);
      assert.equal(blue.arn, `${ep.arn}/deployment/blue`);
      await assert.rejects(
        store.createDeployment({
          endpoint: 'online_endpoint',
          name: 'x',
          upstreamUrl: 'http://h',
          modelRef: 'only-there:1',
        }),
        NotFoundError,
        'a model of another workspace is not reachable',
      );
      await assert.rejects(
        store.createDeployment({ endpoint: 'online_endpoint', name: 'x', upstreamUrl: 'ftp://h' }),
        InputError,
      );
      await assert.rejects(
        store.createDeployment({ endpoint: 'online_endpoint', name: 'x', upstreamUrl: 'http://u:p@h' }),
        InputError,
      );
      await assert.rejects(
        store.createDeployment({
          endpoint: 'online_endpoint',
          name: 'x',
          upstreamUrl: 'http://h',
          trafficWeight: 101,
        }),
        InputError,
      );
      await assert.rejects(
        store.createDeployment({
          endpoint: 'online_endpoint',
          name: 'x',
          upstreamUrl: 'http://h',
          modelRef: 'llama',
        }),
        InputError,
      );
      const green = await store.createDeployment({
        endpoint: 'online_endpoint',
        name: 'green',
        upstreamUrl: 'http://h:2',
      });
      const moved = await store.updateDeployment('online_endpoint', 'green', green.version, {
        trafficWeight: 10,
        modelRef: 'llama:1',
      });
      assert.equal(moved.trafficWeight, 10);
      assert.equal(moved.modelVersionArn, blue.modelVersionArn);
      assert.deepEqual(
        (await store.listDeployments('online_endpoint')).map((d) => d.name),
        ['blue', 'green'],
      );
      await assert.rejects(store.deleteModelVersion('ws', 'llama', '1'), { code: 'ERR_DELETE_CONFLICT' });
      await store.createBearerKey({
        id: 'k1',
        hash: 'h1.p1.x',
        ownerArn: ep.arn,
        purpose: 'endpoint-key/primary',
      });
      const patched = await store.updateEndpoint('online_endpoint', 1, { authMode: 'token', api: 'http' });
      assert.deepEqual([patched.authMode, patched.api, patched.version], ['token', 'http', 2]);
      assert.equal((await store.getEndpoint('ONLINE_ENDPOINT'))?.workspace, 'ws');
      assert.deepEqual(
        (await store.listEndpoints('ws')).map((e) => e.name),
        ['online_endpoint'],
      );
      await store.deleteEndpoint('online_endpoint');
      assert.equal(await store.getBearerKey({ id: 'k1' }), undefined, 'its keys go with it');
      await store.deleteModelVersion('ws', 'llama', '1');
    });

    it('keeps domains with validated user settings, user profiles and SCIM group mappings', async () => {
      await open();
      const before = await store.getRevision();
      const d = await store.createDomain({
        name: 'my-sagemaker-domain',
        authMode: 'IAM',
        defaultUserSettings: {
          executionRoleArn: `arn:aws:iam::${ACCT}:role/SageMakerExecutionRole`,
          allowedNetworks: ['10.0.0.0/8', '2001:db8::/32'],
        },
        tags: { Environment: 'Development' },
      });
      assert.equal(d.arn, `${ML}:domain/my-sagemaker-domain`);
      assert.ok((await store.getRevision()) > before);
      await assert.rejects(
        store.createDomain({ name: 'd2', defaultUserSettings: { allowedNetworks: ['10.0.0.0/33'] } }),
        InputError,
      );
      await assert.rejects(
        store.createDomain({ name: 'd2', defaultUserSettings: { executionRoleArn: 'role' } }),
        InputError,
      );
      await assert.rejects(store.createDomain({ name: 'd2', authMode: 'OAUTH' as 'IAM' }), InputError);
      const p = await store.createUserProfile({ domain: 'my-sagemaker-domain', name: 'alice' });
      assert.equal(p.arn, `${ML}:domain/my-sagemaker-domain/user-profile/alice`);
      assert.equal(p.executionRoleArn, null);
      const p2 = await store.updateUserProfile('my-sagemaker-domain', 'alice', 1, {
        executionRoleArn: `arn:aws:iam::${ACCT}:role/Other`,
      });
      assert.equal(p2.executionRoleArn, `arn:aws:iam::${ACCT}:role/Other`);
      await assert.rejects(store.deleteDomain('my-sagemaker-domain'), { code: 'ERR_DELETE_CONFLICT' });
      await store.deleteUserProfile('my-sagemaker-domain', 'alice');
      await store.deleteDomain('my-sagemaker-domain');

      const m = await store.createScimGroupMapping({
        groupName: 'ml-readers',
        roleDefinition: 'ModelReader',
        scope: `${ML}:workspace/ws/model/x`,
      });
      await assert.rejects(
        store.createScimGroupMapping({
          groupName: 'ML-Readers',
          roleDefinition: 'ModelReader',
          scope: m.scope,
        }),
        ConflictError,
      );
      await assert.rejects(
        store.createScimGroupMapping({ groupName: 'g', roleDefinition: 'R', scope: 'workspace/x' }),
        InputError,
      );
      assert.deepEqual(
        (await store.listScimGroupMappings({ groupName: 'ML-READERS' })).map((x) => x.id),
        [m.id],
      );
      await store.deleteScimGroupMapping(m.id);
      await assert.rejects(store.deleteScimGroupMapping(m.id), NotFoundError);
    });
  });
}
