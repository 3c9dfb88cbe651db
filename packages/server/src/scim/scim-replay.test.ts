import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { MemoryScimRepository } from './fixtures/memory-scim-repository.js';
import { type ReplayFixture, replayScimFixture } from './fixtures/scim-replay.js';
import { ScimService } from './scim-service.js';

function load(name: string): ReplayFixture {
  return JSON.parse(readFileSync(new URL(`./fixtures/${name}`, import.meta.url), 'utf8')) as ReplayFixture;
}

function service(options: { maxScan?: number } = {}) {
  let n = 0;
  const repository = new MemoryScimRepository();
  const svc = new ScimService({
    repository,
    clock: fixedClock('2026-01-02T03:04:05Z'),
    baseUrl: 'https://aiam.example/scim/v2/',
    newId: () => `id-${++n}`,
    ...options,
  });
  return { svc, repository };
}

describe('SCIM replay fixtures', () => {
  for (const file of ['entra-id-replay.json', 'okta-replay.json', 'bad-input-replay.json']) {
    it(file, async () => {
      const { svc } = service({ maxScan: 50 });
      const failures = await replayScimFixture(load(file), (req) => svc.handle(req));
      assert.deepEqual(failures, []);
    });
  }
});
