import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { fixedClock } from '../clock.js';
import { PreconditionFailedError } from '../errors.js';
import { MemoryScimRepository } from './fixtures/memory-scim-repository.js';
import { SCIM_PATCH_OP_SCHEMA } from './scim-patch.js';
import { SCIM_USER_SCHEMA } from './scim-schema.js';
import { ScimService } from './scim-service.js';

function setup(options: { maxScan?: number } = {}) {
  const repository = new MemoryScimRepository();
  let n = 0;
  const clock = fixedClock('2026-03-01T00:00:00Z');
  const svc = new ScimService({
    repository,
    clock,
    baseUrl: 'https://aiam.example/scim/v2',
    newId: () => `id${++n}`,
    ...options,
  });
  const createUser = async (userName: string, extra: Record<string, unknown> = {}) => {
    const r = await svc.handle({
      method: 'POST',
      path: '/Users',
      body: { schemas: [SCIM_USER_SCHEMA], userName, ...extra },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    return (r.body as { id: string }).id;
  };
  return { svc, repository, clock, createUser };
}

describe('ScimService', () => {
  it('create answers 201 with Location, ETag and meta', async () => {
    const { svc } = setup();
    const r = await svc.handle({
      method: 'POST',
      path: '/Users',
      body: { schemas: [SCIM_USER_SCHEMA], userName: 'a' },
    });
    assert.equal(r.status, 201);
    assert.equal(r.headers.location, 'https://aiam.example/scim/v2/Users/id1');
    assert.equal(r.headers.etag, 'W/"1"');
    assert.match(r.headers['content-type']!, /application\/scim\+json/);
    assert.deepEqual((r.body as { meta: unknown }).meta, {
      resourceType: 'User',
      created: '2026-03-01T00:00:00.000Z',
      lastModified: '2026-03-01T00:00:00.000Z',
      location: 'https://aiam.example/scim/v2/Users/id1',
      version: 'W/"1"',
    });
  });

  it('PUT keeps created, moves lastModified and the version', async () => {
    const { svc, clock, createUser } = setup();
    const id = await createUser('a');
    clock.advance(60_000);
    const r = await svc.handle({
      method: 'PUT',
      path: `/Users/${id}`,
      body: { schemas: [SCIM_USER_SCHEMA], userName: 'a', title: 'T' },
    });
    assert.equal(r.status, 200);
    const meta = (r.body as { meta: Record<string, string> }).meta;
    assert.equal(meta.created, '2026-03-01T00:00:00.000Z');
    assert.equal(meta.lastModified, '2026-03-01T00:01:00.000Z');
    assert.equal(meta.version, 'W/"2"');
  });

  it('filters that the store cannot narrow are bounded by maxScan (tooMany)', async () => {
    const { svc, createUser } = setup({ maxScan: 5 });
    for (let i = 0; i < 6; i++) await createUser(`u${i}`, { title: i % 2 ? 'odd' : 'even' });
    const scan = await svc.handle({ method: 'GET', path: '/Users', query: { filter: 'title eq "odd"' } });
    assert.equal(scan.status, 400);
    assert.equal((scan.body as { scimType: string }).scimType, 'tooMany');
    assert.match((scan.body as { detail: string }).detail, /userName/);
    // An indexed equality narrows the candidates first, so it stays answerable.
    const narrow = await svc.handle({
      method: 'GET',
      path: '/Users',
      query: { filter: 'userName eq "U3" and title eq "odd"' },
    });
    assert.equal(narrow.status, 200);
    assert.equal((narrow.body as { totalResults: number }).totalResults, 1);
    // Unfiltered listing pages in the store, whatever the size.
    const all = await svc.handle({ method: 'GET', path: '/Users', query: { startIndex: '6', count: '10' } });
    assert.deepEqual(
      [
        (all.body as { totalResults: number }).totalResults,
        (all.body as { itemsPerPage: number }).itemsPerPage,
      ],
      [6, 1],
    );
  });

  it('PATCH without If-Match retries on a concurrent write; with If-Match it answers 412', async () => {
    const { svc, repository, createUser } = setup();
    const id = await createUser('a');
    const original = repository.replace.bind(repository);
    let conflicts = 1;
    repository.replace = async (...args) => {
      if (conflicts-- > 0) {
        const current = await repository.get('User', id);
        await original(
          'User',
          id,
          { ...current!.resource, nickName: 'concurrent' },
          current!.version,
          args[4],
        );
        throw new PreconditionFailedError('raced');
      }
      return original(...args);
    };
    const body = {
      schemas: [SCIM_PATCH_OP_SCHEMA],
      Operations: [{ op: 'replace', path: 'title', value: 'T' }],
    };
    const r = await svc.handle({ method: 'PATCH', path: `/Users/${id}`, body });
    assert.equal(r.status, 200);
    assert.deepEqual(
      [(r.body as { title: string }).title, (r.body as { nickName: string }).nickName],
      ['T', 'concurrent'],
    );
    conflicts = 1;
    const body2 = {
      schemas: [SCIM_PATCH_OP_SCHEMA],
      Operations: [{ op: 'replace', path: 'title', value: 'T2' }],
    };
    const stale = await svc.handle({
      method: 'PATCH',
      path: `/Users/${id}`,
      headers: { ifMatch: 'W/"3"' },
      body: body2,
    });
    assert.equal(stale.status, 412);
  });

  it('unknownAttributes: reject makes undefined attributes an error', async () => {
    const svc = new ScimService({
      repository: new MemoryScimRepository(),
      clock: fixedClock(0),
      baseUrl: 'https://x',
      normalize: { unknownAttributes: 'reject' },
    });
    const r = await svc.handle({
      method: 'POST',
      path: '/Users',
      body: { schemas: [SCIM_USER_SCHEMA], userName: 'a', shoe: 1 },
    });
    assert.equal(r.status, 400);
    assert.equal((r.body as { scimType: string }).scimType, 'invalidValue');
  });

  it('store failures become a 500 that says nothing of the cause', async () => {
    const { svc, repository } = setup();
    repository.find = async () => {
      throw new Error('connection to db://user:pw@host failed');
    };
    const r = await svc.handle({ method: 'GET', path: '/Users' });
    assert.equal(r.status, 500);
    assert.doesNotMatch(JSON.stringify(r.body), /pw@host/);
  });

  it('discovery endpoints answer only GET; paths are case-insensitive', async () => {
    const { svc } = setup();
    assert.equal((await svc.handle({ method: 'GET', path: '/serviceproviderconfig' })).status, 200);
    assert.equal((await svc.handle({ method: 'GET', path: '/ResourceTypes/' })).status, 200);
    assert.equal((await svc.handle({ method: 'GET', path: '/ResourceTypes/Widget' })).status, 404);
    assert.equal((await svc.handle({ method: 'POST', path: '/Schemas' })).status, 405);
    assert.equal((await svc.handle({ method: 'GET', path: '/Users/a/b' })).status, 404);
  });
});
