import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  ConfigClient,
  exportConfig,
  MlClient,
  parseConfigText,
  planChanges,
  toApplyChanges,
} from '@aiam/client';
import { type RunningServer, startServer } from '../app/start-server.js';
import { createLogger } from '../observability/logger.js';

async function withServer<T>(fn: (server: RunningServer, client: ConfigClient, ml: MlClient) => Promise<T>) {
  const dir = await mkdtemp(join(tmpdir(), 'aiam-config-identity-'));
  const server = await startServer({
    dataDir: dir,
    port: 0,
    logger: createLogger({ level: 'error', write: () => {} }),
  });
  try {
    const env = { AWS_SHARED_CREDENTIALS_FILE: server.bootstrap.credentialsPath };
    return await fn(
      server,
      new ConfigClient({ endpoint: server.url, env }),
      new MlClient({ endpoint: server.url, env }),
    );
  } finally {
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
}

/** Plans `text` against the server and applies it; returns the plan's changes as strings. */
async function apply(client: ConfigClient, text: string): Promise<string[]> {
  const { revision, accountId, state } = await client.getState();
  const loaded = parseConfigText(text, { accountId });
  assert.ok(loaded.config, `config errors: ${JSON.stringify(loaded.errors)}`);
  const plan = planChanges(loaded.config, state);
  if (plan.changes.length > 0) await client.apply(revision, toApplyChanges(plan, loaded.config, state));
  return plan.changes.map((c) => `${c.action} ${c.address}`);
}

const file = (ws: string, ep: string) => `
identities:
  pipeline: {}
workspaces:
  w1:
    identity: ${ws}
    endpoints:
      e1:
        identity: ${ep}
`;

describe('config apply: workspace and endpoint identities', () => {
  it('records identity.type as the file says, exports it, and an applied export changes nothing', async () => {
    await withServer(async (_server, client, ml) => {
      const types = async () => [
        (await ml.getWorkspace('w1')).identity.type,
        (await ml.getEndpoint('w1', 'e1')).identity.type,
      ];
      const noOp = async () => {
        const { state } = await client.getState();
        assert.deepEqual(await apply(client, exportConfig(state)), [], 'applying the export changes nothing');
      };

      assert.ok((await apply(client, file('SystemAssigned', '[pipeline]'))).length > 0);
      assert.deepEqual(await types(), ['SystemAssigned', 'UserAssigned']);
      await noOp();

      // Turning identities on and off later (updates, not creates) is recorded too.
      await apply(client, file('{ systemAssigned: true, userAssigned: [pipeline] }', 'SystemAssigned'));
      assert.deepEqual(await types(), ['SystemAssigned,UserAssigned', 'SystemAssigned']);
      await noOp();

      await apply(client, file('None', 'None'));
      assert.deepEqual(await types(), ['None', 'None']);
      await noOp();
    });
  });
});
