import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readConfigFile } from './config-file.js';

const dir = mkdtempSync(join(tmpdir(), 'aiam-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('readConfigFile', () => {
  it('loads a .mjs config from its default export', async () => {
    const path = join(dir, 'access.mjs');
    writeFileSync(path, 'export default { users: { alice: { tags: { team: "ml" } } } };\n');
    const result = await readConfigFile(path);
    assert.deepEqual(result.errors, []);
    assert.deepEqual(result.config!.users.alice!.tags, { team: 'ml' });
  });

  it('reports YAML errors with the file name, and unknown extensions and missing files plainly', async () => {
    const yaml = join(dir, 'access.yaml');
    writeFileSync(yaml, '\uFEFFusers:\n  alice:\n    grups: [x]\n');
    const result = await readConfigFile(yaml);
    assert.equal(result.errors[0]!.file, yaml);
    assert.equal(result.errors[0]!.line, 3);
    assert.match(
      (await readConfigFile(join(dir, 'access.toml'))).errors[0]!.message,
      /Unknown config file type/,
    );
    assert.match((await readConfigFile(join(dir, 'missing.yaml'))).errors[0]!.message, /ENOENT/);
  });
});
