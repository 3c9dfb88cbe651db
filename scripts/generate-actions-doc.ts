// Writes docs/actions.md from the action catalog (packages/policy/src/catalog/actions.json).
// Run: node --conditions=source --import tsx scripts/generate-actions-doc.ts
import { writeFileSync } from 'node:fs';
import { renderActionsDoc } from '../packages/policy/src/catalog/render-actions-doc.js';

const target = new URL('../docs/actions.md', import.meta.url);
writeFileSync(target, renderActionsDoc());
console.log(`wrote ${target.pathname}`);
