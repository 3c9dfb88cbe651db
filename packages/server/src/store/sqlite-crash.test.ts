import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';
import { openStore } from './open-store.js';

const writer = fileURLToPath(new URL('./fixtures/crash-writer.ts', import.meta.url));
/** Every writer started, killed on the way out even when the test failed half-way. */
const started = new Set<ChildProcess>();

/** Starts a writer; resolves with it once it has reported `commits` commits. */
function startWriter(
  path: string,
  prefix: string,
  committed: string[],
  commits: number,
): Promise<ChildProcess> {
  const child = spawn(process.execPath, ['--conditions=source', '--import', 'tsx', writer, path, prefix], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  started.add(child);
  child.on('exit', () => started.delete(child));
  let stderr = '';
  child.stderr!.on('data', (d) => {
    stderr += d;
  });
  return new Promise((resolve, reject) => {
    let buffer = '';
    let mine = 0;
    child.stdout!.on('data', (d: Buffer) => {
      buffer += d.toString();
      const lines = buffer.split('\n');
      buffer = lines.pop()!;
      committed.push(...lines);
      mine += lines.length;
      if (mine >= commits) resolve(child);
    });
    child.on('exit', (code, signal) => {
      if (signal !== 'SIGKILL') reject(new Error(`writer exited early (${code ?? signal}): ${stderr}`));
    });
  });
}

function kill(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    child.on('exit', () => resolve());
    child.kill('SIGKILL');
  });
}

describe('sqlite store: crash safety', () => {
  const dir = mkdtempSync(join(tmpdir(), 'aiam-crash-'));
  const path = join(dir, 'aiam.db');
  after(async () => {
    await Promise.all([...started].map(kill));
    rmSync(dir, { recursive: true, force: true });
  });

  it('survives SIGKILL of two concurrent writers mid-burst: no half-applied transaction, nothing reported lost', async () => {
    const committed: string[] = [];
    for (let round = 0; round < 2; round++) {
      // Two processes write at once: BEGIN IMMEDIATE + busy_timeout serialize them across processes.
      const children = await Promise.all([
        startWriter(path, `r${round}x`, committed, 15),
        startWriter(path, `r${round}y`, committed, 15),
      ]);
      await Promise.all(children.map(kill));
    }

    const raw = new Database(path, { readonly: true });
    try {
      assert.equal(raw.pragma('integrity_check', { simple: true }), 'ok');
      assert.deepEqual(raw.pragma('foreign_key_check'), []);
    } finally {
      raw.close();
    }

    const store = await openStore({ url: `sqlite:${path}` });
    try {
      const groups = await store.listGroups();
      const names = new Set(groups.map((g) => g.name));
      for (const name of committed) assert.ok(names.has(name), `commit ${name} was reported but is missing`);
      const policy = (await store.findPolicyByName('crash-policy'))!;
      const attached = new Set((await store.listPolicyAttachments(policy.arn)).map((a) => a.principalArn));
      for (const g of groups) {
        // Every group either exists whole (3 members, policy attached) or not at all.
        assert.equal((await store.listGroupMembers(g.name)).length, 3, `group ${g.name} is half-applied`);
        assert.ok(attached.has(g.arn), `group ${g.name} lacks its attachment`);
      }
      assert.equal((await store.listUsers()).length, groups.length * 3);
      // Paged: a fast machine commits more groups than one page (1,000) holds.
      let audited = 0;
      let cursor: string | undefined;
      do {
        const page = await store.queryAudit({ action: 'crash:write', limit: 1000, cursor });
        audited += page.records.length;
        cursor = page.nextCursor;
      } while (cursor);
      assert.equal(audited, groups.length);
      // One revision per committed transaction: the policy's creation plus one per group.
      assert.equal(await store.getRevision(), groups.length + 1);
      assert.ok(groups.length >= committed.length);
    } finally {
      await store.close();
    }
  });
});
