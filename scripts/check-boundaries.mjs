#!/usr/bin/env node
// Keeps the architecture of STYLE.md true: which package may import which.
//   policy  imports nothing of ours and no node:* module (it is pure and runs anywhere)
//   client  imports policy only; never server
//   server  imports policy only; never client or cli
//   cli     imports policy and client; server only through a lazy `await import()` (for `aiam serve`)
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';

const allowed = {
  policy: [],
  client: ['policy'],
  server: ['policy'],
  cli: ['policy', 'client'],
};
const problems = [];

function walk(dir, out = []) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p, out);
    else if (p.endsWith('.ts')) out.push(p);
  }
  return out;
}

for (const pkg of Object.keys(allowed)) {
  const src = join('packages', pkg, 'src');
  let files = [];
  try {
    files = walk(src);
  } catch {
    continue;
  }
  for (const file of files) {
    const isTest = file.endsWith('.test.ts');
    const text = readFileSync(file, 'utf8');
    const staticImports = [...text.matchAll(/^\s*(?:import|export)\s[^'"]*?from\s+['"]([^'"]+)['"]/gm)].map(
      (m) => m[1],
    );
    const sideEffectImports = [...text.matchAll(/^\s*import\s+['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    for (const spec of [...staticImports, ...sideEffectImports]) {
      const ours = /^@aiam\/([a-z-]+)/.exec(spec);
      if (ours && ours[1] !== pkg && !allowed[pkg].includes(ours[1]) && !isTest) {
        problems.push(`${file}: ${pkg} must not import ${spec}`);
      }
      if (pkg === 'policy' && !isTest && (spec.startsWith('node:') || (!spec.startsWith('.') && !ours))) {
        problems.push(`${file}: the policy package is pure; it must not import ${spec}`);
      }
    }
  }
}
if (problems.length) {
  console.error(`Package boundary violations:\n${problems.join('\n')}`);
  process.exit(1);
}
console.log('package boundaries: ok');
