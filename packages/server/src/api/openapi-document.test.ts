import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { findAction } from '@aiam/policy';
import { renderApiDoc } from './api-doc.js';
import { controlPlaneOpenApi } from './control-plane-routes.js';

const committed = (path: string) => readFileSync(new URL(path, import.meta.url), 'utf8');
type Op = { operationId: string; 'x-aiam-action': string; parameters?: { name: string; in: string }[] };

describe('OpenAPI document', () => {
  const document = controlPlaneOpenApi() as { openapi: string; paths: Record<string, Record<string, Op>> };

  it('is committed up to date (run `npm run generate:openapi` after changing a route)', () => {
    const file = JSON.parse(committed('../../../client/src/api/openapi.json'));
    assert.deepEqual(
      file,
      document,
      'packages/client/src/api/openapi.json is stale: run npm run generate:openapi',
    );
    assert.equal(
      committed('../../../../docs/api.md'),
      renderApiDoc(document),
      'docs/api.md is stale: run npm run generate:openapi',
    );
  });

  it('is OpenAPI 3.1 with unique operation ids, catalogued actions and every path parameter declared', () => {
    assert.equal(document.openapi, '3.1.0');
    const ids = new Set<string>();
    for (const [path, ops] of Object.entries(document.paths)) {
      assert.ok(path.startsWith('/api/v1/'), path);
      for (const [method, op] of Object.entries(ops)) {
        assert.ok(!ids.has(op.operationId), `duplicate operationId ${op.operationId}`);
        ids.add(op.operationId);
        assert.ok(
          findAction(op['x-aiam-action']),
          `${method} ${path}: ${op['x-aiam-action']} is not catalogued`,
        );
        for (const [, name] of path.matchAll(/\{(\w+)\}/g)) {
          assert.ok(
            op.parameters?.some((p) => p.in === 'path' && p.name === name),
            `${op.operationId} declares path parameter ${name}`,
          );
        }
      }
    }
    assert.ok(ids.size > 60);
  });
});
