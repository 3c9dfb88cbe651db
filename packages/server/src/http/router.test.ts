import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InputError } from '../errors.js';
import { Router, RouteTemplateError } from './router.js';

describe('Router', () => {
  const r = new Router<string>();
  r.add('GET', '/healthz', 'health');
  r.add('GET', '/users', 'listUsers');
  r.add('POST', '/users', 'createUser');
  r.add('GET', '/users/{name}', 'getUser');
  r.add('DELETE', '/users/{name}', 'deleteUser');
  r.add('GET', '/users/me', 'me');
  r.add('GET', '/users/{name}/keys/{keyId}', 'getKey');
  r.add('GET', '/objects/{bucket}/{key+}', 'getObject');
  r.add('GET', '/', 'root');

  it('matches static paths and methods', () => {
    assert.deepEqual(r.match('GET', '/healthz'), { kind: 'found', value: 'health', params: {} });
    assert.deepEqual(r.match('POST', '/users'), { kind: 'found', value: 'createUser', params: {} });
    assert.deepEqual(r.match('GET', '/'), { kind: 'found', value: 'root', params: {} });
  });

  it('binds and percent-decodes parameters', () => {
    assert.deepEqual(r.match('GET', '/users/al%40ice'), {
      kind: 'found',
      value: 'getUser',
      params: { name: 'al@ice' },
    });
    assert.deepEqual(r.match('GET', '/users/a/keys/AKIA1'), {
      kind: 'found',
      value: 'getKey',
      params: { name: 'a', keyId: 'AKIA1' },
    });
  });

  it('prefers the more literal template', () => {
    assert.equal((r.match('GET', '/users/me') as { value: string }).value, 'me');
    // A static path without the method falls back to nothing, not to the template.
    assert.equal(r.match('DELETE', '/users/me').kind, 'method-not-allowed');
  });

  it('binds the rest of the path to a greedy parameter', () => {
    assert.deepEqual(r.match('GET', '/objects/b/a/b/c.txt'), {
      kind: 'found',
      value: 'getObject',
      params: { bucket: 'b', key: 'a/b/c.txt' },
    });
    assert.equal(r.match('GET', '/objects/b').kind, 'not-found');
  });

  it('answers 404 and 405 with the allowed methods (HEAD implied by GET)', () => {
    assert.deepEqual(r.match('GET', '/nope'), { kind: 'not-found' });
    assert.deepEqual(r.match('GET', '/users/a/b'), { kind: 'not-found' });
    assert.deepEqual(r.match('PUT', '/users/bob'), {
      kind: 'method-not-allowed',
      allow: ['DELETE', 'GET', 'HEAD'],
    });
    assert.equal((r.match('HEAD', '/users/bob') as { value: string }).value, 'getUser');
  });

  it('refuses empty parameters and undecodable ones', () => {
    assert.equal(r.match('GET', '/users//keys/x').kind, 'not-found');
    assert.throws(() => r.match('GET', '/users/%E0%A4%A'), InputError);
  });

  it('refuses malformed, duplicate and shadowing templates', () => {
    const t = new Router<number>();
    t.add('GET', '/a/{x}', 1);
    assert.throws(() => t.add('GET', '/a/{x}', 2), RouteTemplateError);
    assert.throws(() => t.add('GET', '/a/{y}', 2), /same shape/);
    assert.throws(() => t.add('GET', 'a', 2), RouteTemplateError);
    assert.throws(() => t.add('GET', '/b/{x', 2), RouteTemplateError);
    assert.throws(() => t.add('GET', '/b/{x}/{x}', 2), RouteTemplateError);
    assert.throws(() => t.add('GET', '/b/{x+}/c', 2), RouteTemplateError);
    assert.throws(() => t.add('FETCH' as 'GET', '/c', 2), RouteTemplateError);
  });
});
