import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { AiamError } from '@aiam/policy';
import {
  AuthenticationError,
  ConflictError,
  InputError,
  NotAllowedError,
  NotFoundError,
  PreconditionFailedError,
} from '../errors.js';
import { SCIM_ERROR_SCHEMA, SCIM_TYPES, ScimError, isScimError, toScimErrorResponse } from './scim-errors.js';

describe('SCIM errors (RFC 7644 §3.12)', () => {
  it('every scimType renders with its status as a string', () => {
    for (const [type, status] of Object.entries(SCIM_TYPES)) {
      const e = new ScimError(type as keyof typeof SCIM_TYPES, `bad ${type}`);
      assert.ok(isScimError(e));
      assert.equal(e.code.startsWith('ERR_SCIM_'), true);
      assert.deepEqual(toScimErrorResponse(e), {
        status,
        body: { schemas: [SCIM_ERROR_SCHEMA], status: String(status), scimType: type, detail: `bad ${type}` },
      });
    }
    assert.equal(new ScimError('invalidFilter', 'x').code, 'ERR_SCIM_INVALID_FILTER');
  });
  it('status-only errors have no scimType', () => {
    const r = toScimErrorResponse(new ScimError(undefined, 'gone', { status: 404 }));
    assert.deepEqual(r, {
      status: 404,
      body: { schemas: [SCIM_ERROR_SCHEMA], status: '404', detail: 'gone' },
    });
  });
  it('maps the server domain errors', () => {
    const cases: [unknown, number, string | undefined][] = [
      [new NotFoundError('nope'), 404, undefined],
      [new ConflictError('taken'), 409, 'uniqueness'],
      [new PreconditionFailedError('stale'), 412, undefined],
      [new InputError('bad'), 400, 'invalidValue'],
      [new NotAllowedError('denied'), 403, undefined],
    ];
    for (const [error, status, scimType] of cases) {
      const r = toScimErrorResponse(error);
      assert.equal(r.status, status);
      assert.equal(r.body.scimType, scimType);
      assert.equal(r.body.status, String(status));
    }
  });
  it('never leaks why authentication failed or what an unknown error said', () => {
    const auth = toScimErrorResponse(new AuthenticationError('secret key AKIA... revoked'));
    assert.equal(auth.status, 401);
    assert.doesNotMatch(JSON.stringify(auth), /AKIA|revoked/);
    const boom = toScimErrorResponse(new Error('password=hunter2 in connection string'));
    assert.equal(boom.status, 500);
    assert.doesNotMatch(JSON.stringify(boom), /hunter2/);
    assert.equal(toScimErrorResponse(new AiamError('ERR_SOMETHING_ODD', 'internal detail')).status, 500);
    assert.equal(toScimErrorResponse('a string').status, 500);
  });
});
