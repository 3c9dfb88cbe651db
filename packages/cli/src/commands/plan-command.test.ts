import assert from 'node:assert/strict';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createLogger, startServer } from '@aiam/server';
import type { CliIo } from '../cli-io.js';
import { main } from '../main.js';

const EXAMPLES = fileURLToPath(new URL('../../../../examples/', import.meta.url));

function bufferIo(): CliIo & { out: string[]; err: string[] } {
  const out: string[] = [];
  const err: string[] = [];
  return {
    out,
    err,
    stdout: { write: (t: string) => out.push(t) },
    stderr: { write: (t: string) => err.push(t) },
    readTextFile: (p) => readFile(p, 'utf8'),
  };
}

interface PlanJson {
  resourceChanges: { action: string }[];
  accessChanges: { principal: string; action: string; resource: string; change: 'gain' | 'loss' }[];
}

async function planJson(file: string): Promise<PlanJson & { text: string }> {
  const io = bufferIo();
  assert.equal(await main(['plan', '-f', file, '--format', 'json'], io), 0, io.err.join(''));
  const text = bufferIo();
  assert.equal(await main(['plan', '-f', file], text), 0, text.err.join(''));
  return { ...(JSON.parse(io.out.join('')) as PlanJson), text: text.out.join('') };
}

describe('aiam plan: the access diff is against the state after the apply', () => {
  const ENV = [
    'AIAM_ENDPOINT',
    'AWS_SHARED_CREDENTIALS_FILE',
    'AWS_ACCESS_KEY_ID',
    'AWS_SECRET_ACCESS_KEY',
    'AWS_PROFILE',
  ];
  const saved: Record<string, string | undefined> = {};
  let seeds: string[];
  before(async () => {
    for (const k of ENV) saved[k] = process.env[k];
    seeds = (await readdir(EXAMPLES)).filter((f) => /^seed-00\d.*\.yaml$/.test(f)).sort();
    assert.equal(seeds.length, 5);
  });
  after(() => {
    for (const k of ENV) {
      if (saved[k] === undefined) delete process.env[k];
      else process.env[k] = saved[k];
    }
  });

  it('a seed file on a fresh server only gains access (the admin is left alone); after apply, no access change', async () => {
    for (const seed of seeds) {
      const dir = await mkdtemp(join(tmpdir(), 'aiam-plan-'));
      const server = await startServer({
        dataDir: join(dir, 'data'),
        port: 0,
        logger: createLogger({ level: 'error', write: () => {} }),
      });
      try {
        for (const k of ENV) delete process.env[k];
        process.env.AIAM_ENDPOINT = server.url;
        process.env.AWS_SHARED_CREDENTIALS_FILE = server.bootstrap.credentialsPath;
        const file = join(EXAMPLES, seed);

        const first = await planJson(file);
        assert.ok(!first.resourceChanges.some((c) => c.action === 'delete'), `${seed}: nothing is deleted`);
        assert.ok(first.accessChanges.length > 0, `${seed}: the file grants something`);
        const lost = first.accessChanges.filter((c) => c.change === 'loss');
        if (seed.startsWith('seed-004')) {
          // Seed 004's bucket policy denies everyone outside the domain networks and its role
          // trusts only the people: the admin's access to those new resources really narrows
          // to "conditional" (by source network). Nothing is lost outright.
          assert.ok(lost.length > 0);
          for (const c of lost) {
            assert.equal((c as { after?: string }).after, 'conditional', JSON.stringify(c));
            assert.match(c.resource, /ml-project-data|SageMakerExecutionRole/, JSON.stringify(c));
          }
        } else {
          assert.deepEqual(lost, [], `${seed}: no grant is lost`);
          assert.ok(
            !first.accessChanges.some((c) => c.principal === 'user/admin'),
            `${seed}: the administrator's access does not change`,
          );
          assert.match(first.text, /grants? gained, 0 grants lost/);
        }

        const io = bufferIo();
        const code = await main(
          ['apply', '-f', file, '--yes', '--secrets-out', join(dir, 'secrets.json')],
          io,
        );
        assert.equal(code, 0, io.err.join(''));

        const again = await planJson(file);
        assert.deepEqual(again.resourceChanges, [], `${seed}: a second plan changes nothing`);
        assert.deepEqual(again.accessChanges, [], `${seed}: and no access changes`);
      } finally {
        await server.close();
        await rm(dir, { recursive: true, force: true });
      }
    }
  });
});
