// Writes packages/client/src/api/openapi.json and docs/api.md from the control plane's route
// declarations. Run: npm run generate:openapi
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { renderApiDoc } from '../packages/server/src/api/api-doc.js';
import { controlPlaneOpenApi } from '../packages/server/src/api/control-plane-routes.js';

const document = controlPlaneOpenApi();
const openapi = new URL('../packages/client/src/api/openapi.json', import.meta.url);
writeFileSync(openapi, `${JSON.stringify(document, null, 2)}\n`);
// The repository's formatter owns JSON layout; format so `npm run lint` stays clean.
execFileSync('npx', ['biome', 'format', '--write', fileURLToPath(openapi)], { stdio: 'ignore' });
console.log(`wrote ${openapi.pathname}`);
const doc = new URL('../docs/api.md', import.meta.url);
writeFileSync(doc, renderApiDoc(document));
console.log(`wrote ${doc.pathname}`);
