import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AiamApiError, AiamClient, MlClient } from '@aiam/client';
import { type RunningServer, startServer } from '../app/start-server.js';

async function status(p: Promise<unknown>): Promise<number> {
  try {
    await p;
  } catch (err) {
    assert.ok(err instanceof AiamApiError, String(err));
    return err.status;
  }
  return 200;
}

describe('explain a decision after a restart (from the audit trail)', () => {
  let dir: string;
  let server: RunningServer;
  const ids: { control?: string; other?: string; gateway?: string; s3?: string } = {};
  let opsCreds: { accessKeyId: string; secretAccessKey: string };

  const clients = () => {
    const env = { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath };
    return {
      admin: new AiamClient({ endpoint: server.url, env }),
      ml: new MlClient({ endpoint: server.url, env }),
      ops: new AiamClient({ endpoint: server.url, credentials: opsCreds }),
    };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'aiam-explain-'));
    server = await startServer({ dataDir: dir, port: 0 });
    const env = { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath };
    const admin = new AiamClient({ endpoint: server.url, env });
    const ml = new MlClient({ endpoint: server.url, env });
    await admin.createUser({ name: 'ops' });
    await admin.putInlinePolicy('user', 'ops', 'scoped', {
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'TaggedOnly',
          Effect: 'Allow',
          Action: 'iam:CreateUser',
          Resource: '*',
          Condition: { StringEquals: { 'aws:RequestTag/team': 'ml' } },
        },
        { Effect: 'Allow', Action: 'aiam:ExplainDecision', Resource: 'arn:aws:iam::*:user/ml-*' },
      ],
    });
    const key = await admin.createAccessKey('ops');
    opsCreds = { accessKeyId: key.accessKey.accessKeyId, secretAccessKey: key.secretAccessKey };
    const { ops } = clients();
    const refusal = async (p: Promise<unknown>) => {
      const err = await p.then(
        () => assert.fail('expected a 403'),
        (e: unknown) => e,
      );
      assert.ok(err instanceof AiamApiError && err.status === 403 && err.decisionId, String(err));
      return err.decisionId;
    };
    ids.control = await refusal(ops.createUser({ name: 'ml-bob' }));
    ids.other = await refusal(ops.createUser({ name: 'fin-cy', tags: { team: 'finance' } }));

    // A gateway refusal: a deny assignment freezes the endpoint for everyone.
    await ml.createWorkspace({ name: 'ws', identity: { type: 'SystemAssigned' } });
    await ml.createModel('ws', { name: 'm' });
    await ml.createModelVersion('ws', 'm', { version: '1' });
    const ep = await ml.createEndpoint('ws', { name: 'frozen', authMode: 'key', api: 'openai' });
    await ml.createDeployment('ws', 'frozen', {
      name: 'blue',
      upstreamUrl: 'http://127.0.0.1:9',
      model: 'm:1',
      trafficWeight: 100,
    });
    await admin.createDenyAssignment({
      name: 'freeze',
      scope: 'workspace/ws/endpoint/frozen',
      principals: ['*'],
      permissions: { dataActions: ['ml:InvokeEndpoint'] },
    });
    const res = await fetch(`${server.url}/endpoints/frozen/v1/models`, {
      headers: { authorization: `Bearer ${ep.keys?.primary}` },
    });
    assert.equal(res.status, 403);
    ids.gateway = ((await res.json()) as { error: { decisionId: string } }).error.decisionId;
    assert.ok(ids.gateway);

    // An S3 AccessDenied: ops has no s3 permission; its decision id is in the audit trail.
    const s3 = new S3Client({
      endpoint: server.url,
      region: 'us-east-1',
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: opsCreds,
    });
    await assert.rejects(s3.send(new GetObjectCommand({ Bucket: 'ai-model-data', Key: 'k' })), {
      name: 'AccessDenied',
    });
    s3.destroy();
    await server.close();

    // The same data directory, a new process state: nothing is in memory any more.
    server = await startServer({ dataDir: dir, port: 0 });
    const audit = await clients().admin.queryAudit({ action: 's3:GetObject', decision: 'implicitDeny' });
    ids.s3 = audit.items.find((r) => r.principal?.endsWith(':user/ops'))?.id;
    assert.ok(ids.s3, 'the S3 refusal is in the audit trail');
  });
  after(async () => {
    await server?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('explains a control-plane refusal made before the restart, with its missing context keys', async () => {
    const { ops } = clients();
    const trace = await ops.explainDecision(ids.control!);
    assert.equal(trace.decisionId, ids.control);
    assert.equal(trace.decision, 'implicitDeny');
    assert.equal(trace.reason, 'no-allow');
    assert.equal(trace.action, 'iam:CreateUser');
    assert.ok(trace.resource.endsWith(':user/ml-bob'));
    assert.ok(trace.principal.endsWith(':user/ops'));
    assert.deepEqual(trace.missingContextValues, ['aws:requesttag/team']);
    assert.match(trace.explanation, /aws:requesttag\/team/i);
  });

  it('explains a gateway 403 with the deny assignment that decided', async () => {
    const trace = await clients().admin.explainDecision(ids.gateway!);
    assert.equal(trace.decision, 'explicitDeny');
    assert.equal(trace.reason, 'explicit-deny');
    assert.equal(trace.action, 'ml:InvokeEndpoint');
    const matched = trace.matched as { policyKind: string; effect: string }[];
    assert.ok(matched.some((m) => m.policyKind === 'deny-assignment' && m.effect === 'Deny'));
    assert.match(trace.explanation, /deny/i);
  });

  it('explains an S3 AccessDenied whose id is in the audit trail', async () => {
    const trace = await clients().admin.explainDecision(ids.s3!);
    assert.equal(trace.decision, 'implicitDeny');
    assert.equal(trace.action, 's3:GetObject');
    assert.equal(trace.resource, 'arn:aws:s3:::ai-model-data/k');
  });

  it('refuses a caller who may not explain decisions about that resource; 404 for an unknown id', async () => {
    const { ops, admin } = clients();
    assert.equal(await status(ops.explainDecision(ids.other!)), 403, 'fin-cy is not a user/ml-* resource');
    assert.equal(await status(ops.explainDecision(ids.gateway!)), 403);
    assert.equal(await status(admin.explainDecision('01890000-0000-7000-8000-000000000000')), 404);
    // An unknown id is authorized on the audit log: ops cannot learn that it does not exist.
    assert.equal(await status(ops.explainDecision('01890000-0000-7000-8000-000000000000')), 403);
  });
});
