import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { listActions } from './catalog.js';
import { renderActionsDoc } from './render-actions-doc.js';

describe('docs/actions.md', () => {
  it('is up to date with the catalog', () => {
    const path = new URL('../../../../docs/actions.md', import.meta.url);
    const onDisk = readFileSync(path, 'utf8');
    assert.ok(
      onDisk === renderActionsDoc(),
      'docs/actions.md is stale: run `node --conditions=source --import tsx scripts/generate-actions-doc.ts`',
    );
  });

  it('lists every action', () => {
    const doc = renderActionsDoc();
    for (const a of listActions()) assert.ok(doc.includes(`| \`${a.name}\` |`), a.name);
  });
});
