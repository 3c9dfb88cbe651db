import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import {
  diffAccess,
  emptyState,
  exportConfig,
  isEmptyPlan,
  loadConfigText,
  planChanges,
  readConfigFile,
  renderPlan,
} from '@aiam/client';

const dir = import.meta.dirname;
const files = readdirSync(dir)
  .filter((f) => /^seed-\d{3}-.*\.yaml$/.test(f))
  .sort();

async function load(file: string) {
  const result = await readConfigFile(join(dir, file));
  assert.deepEqual([...result.errors, ...result.warnings], [], file);
  return result.config!;
}

describe('examples', () => {
  it('has one file per seed document', () => {
    assert.deepEqual(
      files.map((f) => f.slice(0, 8)),
      ['seed-000', 'seed-001', 'seed-002', 'seed-003', 'seed-004'],
    );
  });

  for (const file of files) {
    it(`${file} loads without errors or warnings, plans against an empty state, and round-trips`, async () => {
      const config = await load(file);
      const plan = planChanges(config, emptyState());
      assert.ok(plan.changes.length > 0);
      assert.ok(plan.changes.every((c) => c.action === 'create'));
      const text = renderPlan(plan, diffAccess(config, emptyState()));
      assert.match(text, /Plan: \d+ to create, 0 to update, 0 to replace, 0 to delete/);
      assert.ok(isEmptyPlan(planChanges(loadConfigText(exportConfig(config)).config, config)));
    });
  }

  it('seed 001 grants model version 1 only', async () => {
    const config = await load('seed-001-model-endpoint-access.yaml');
    const gains = diffAccess(config, emptyState()).changes.filter(
      (c) => c.principal === 'user/modelConsumer',
    );
    const models = new Set(
      gains
        .filter((c) => c.action.startsWith('ml:') && c.resource.includes('/model/'))
        .map((c) => c.resource),
    );
    assert.deepEqual([...models], ['workspace/mlWorkspace/model/myModel/version/1']);
  });

  it('seed 002 lets the user list and read ai-model-data, and not write', async () => {
    const config = await load('seed-002-user-provisioning.yaml');
    const gains = diffAccess(config, emptyState()).changes.filter((c) => c.principal === 'user/aiUser');
    assert.deepEqual(gains.map((c) => `${c.action} ${c.resource}`).sort(), [
      's3:GetObject arn:aws:s3:::ai-model-data/*',
      's3:ListBucket arn:aws:s3:::ai-model-data',
    ]);
    const plan = planChanges(config, emptyState());
    assert.equal(plan.changes.find((c) => c.kind === 'accessKey')?.returnsSecret, true);
  });

  it('seed 004 gives each user their own prefix only', async () => {
    const config = await load('seed-004-fine-grained-data-access.yaml');
    const gains = diffAccess(config, emptyState()).changes.filter((c) => c.principal === 'user/alice');
    assert.ok(gains.some((c) => c.resource === 'arn:aws:s3:::ml-project-data/users/alice/*'));
    assert.ok(!gains.some((c) => c.resource.includes('/users/bob/')));
  });
});
