#!/usr/bin/env node
// Runs every *.test.ts under packages/ (or the paths given) with Node's own test runner.
// Node 20's `--test` takes no globs, so the files are collected here. Tests run from the
// TypeScript sources (the `source` export condition) through tsx, without a build.
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

function collect(path, out) {
  if (statSync(path).isDirectory()) {
    for (const name of readdirSync(path)) {
      if (name === 'node_modules' || name === 'dist') continue;
      collect(join(path, name), out);
    }
  } else if (path.endsWith('.test.ts')) {
    out.push(path);
  }
  return out;
}

const roots = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const flags = process.argv.slice(2).filter((a) => a.startsWith('--'));
const files = (roots.length ? roots : ['packages', 'examples']).flatMap((r) => collect(r, [])).sort();
if (files.length === 0) {
  console.error('no test files found');
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ['--conditions=source', '--import', 'tsx', '--test', '--test-reporter=spec', ...flags, ...files],
  { stdio: 'inherit', env: { ...process.env, AIAM_LOG_LEVEL: process.env.AIAM_LOG_LEVEL ?? 'silent' } },
);
process.exit(result.status ?? 1);
