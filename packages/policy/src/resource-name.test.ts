import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InvalidResourceNameError, parseArn, resolveResourcePath, scopeContains } from './resource-name.js';

describe('parseArn', () => {
  it('splits the six fields and keeps colons inside the resource', () => {
    assert.deepEqual(parseArn('arn:aws:logs:us-east-1:123456789012:log-group:x:*'), {
      partition: 'aws',
      service: 'logs',
      region: 'us-east-1',
      account: '123456789012',
      resource: 'log-group:x:*',
    });
    assert.equal(parseArn('arn:aws:s3:::bucket/key')?.resource, 'bucket/key');
  });
  it('refuses what is not an ARN', () => {
    assert.equal(parseArn('s3://bucket'), undefined);
    assert.equal(parseArn('arn:aws:s3'), undefined);
    assert.equal(parseArn('arn::s3:::x'), undefined);
  });
});

describe('scopeContains', () => {
  const v1 = 'arn:aiam:ml::111122223333:workspace/ws/model/m/version/1';
  it('covers the scope itself and everything below it', () => {
    assert.ok(scopeContains('arn:aiam:ml::111122223333:workspace/ws', v1));
    assert.ok(scopeContains('arn:aiam:ml::111122223333:workspace/ws/model/m', v1));
    assert.ok(scopeContains(v1, v1));
    assert.ok(scopeContains('*', v1));
    assert.ok(scopeContains('arn:aws:s3:::training-data', 'arn:aws:s3:::training-data/a/b'));
  });
  it('matches whole segments only, never a sibling with a longer name', () => {
    assert.ok(
      !scopeContains(
        'arn:aiam:ml::111122223333:workspace/ws/model/m',
        'arn:aiam:ml::111122223333:workspace/ws/model/m2',
      ),
    );
    assert.ok(!scopeContains(v1, 'arn:aiam:ml::111122223333:workspace/ws/model/m/version/10'));
    assert.ok(!scopeContains('arn:aws:s3:::training-data', 'arn:aws:s3:::training-data-private/x'));
  });
  it('is case-sensitive, as ARNs are', () => {
    assert.ok(!scopeContains('arn:aws:s3:::Data', 'arn:aws:s3:::data/x'));
  });
});

describe('resolveResourcePath', () => {
  it('maps shorthand paths to ARNs', () => {
    assert.equal(
      resolveResourcePath('1', 'workspace/w/model/m/version/1'),
      'arn:aiam:ml::1:workspace/w/model/m/version/1',
    );
    assert.equal(resolveResourcePath('1', 'user/alice'), 'arn:aws:iam::1:user/alice');
    assert.equal(resolveResourcePath('1', 'bucket/data/x'), 'arn:aws:s3:::data/x');
    assert.equal(resolveResourcePath('1', 'arn:aws:s3:::b'), 'arn:aws:s3:::b');
  });
  it('refuses paths it cannot place, with a typed error', () => {
    assert.throws(() => resolveResourcePath('1', 'project/x'), InvalidResourceNameError);
    assert.throws(() => resolveResourcePath('1', 'user/'), InvalidResourceNameError);
  });
});
