import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { getContextValue } from '@aiam/policy';
import type { AuthenticatedPrincipal } from './authenticator.js';
import { buildRequestContext } from './request-context-builder.js';

const facts = {
  sourceIp: '203.0.113.7',
  secureTransport: true,
  receivedAt: Date.UTC(2026, 0, 2, 3, 4, 5, 678),
  userAgent: 'aws-sdk-js/3',
  referer: undefined,
};

const alice: AuthenticatedPrincipal = {
  principal: { arn: 'arn:aws:iam::111122223333:user/alice', account: '111122223333' },
  type: 'User',
  userName: 'alice',
  userId: 'AIDAALICE',
  tags: { Team: 'ml', CostCenter: '42' },
  context: { 'aws:SourceIdentity': 'alice@example.com' },
};

describe('buildRequestContext', () => {
  it('sets the AWS global keys from the request and the principal', () => {
    const ctx = buildRequestContext(facts, alice);
    const get = (k: string) => getContextValue(ctx, k);
    assert.equal(get('aws:SourceIp'), '203.0.113.7');
    assert.equal(get('aws:SecureTransport'), true);
    assert.equal(get('aws:CurrentTime'), '2026-01-02T03:04:05.678Z');
    assert.equal(get('aws:EpochTime'), 1767323045);
    assert.equal(get('aws:UserAgent'), 'aws-sdk-js/3');
    assert.equal(get('aws:Referer'), undefined);
    assert.equal(get('aws:PrincipalArn'), 'arn:aws:iam::111122223333:user/alice');
    assert.equal(get('aws:PrincipalAccount'), '111122223333');
    assert.equal(get('aws:PrincipalType'), 'User');
    assert.equal(get('aws:username'), 'alice');
    assert.equal(get('aws:userid'), 'AIDAALICE');
    assert.equal(get('aws:PrincipalTag/Team'), 'ml');
    assert.equal(get('aws:principaltag/costcenter'), '42');
    assert.equal(get('aws:SourceIdentity'), 'alice@example.com');
  });

  it('sets aws:username only for IAM users, as AWS does', () => {
    const session: AuthenticatedPrincipal = {
      ...alice,
      type: 'AssumedRole',
      principal: { arn: 'arn:aws:sts::111122223333:assumed-role/trainer/s1', account: '111122223333' },
      userId: 'AROATRAINER:s1',
    };
    const ctx = buildRequestContext(facts, session);
    assert.equal(getContextValue(ctx, 'aws:username'), undefined);
    assert.equal(getContextValue(ctx, 'aws:userid'), 'AROATRAINER:s1');
  });

  it('sets aws:PrincipalArn of a role session to the role ARN, not the session ARN, as AWS does', () => {
    const session: AuthenticatedPrincipal = {
      ...alice,
      type: 'AssumedRole',
      principal: {
        arn: 'arn:aws:sts::111122223333:assumed-role/trainer/s1',
        account: '111122223333',
        identityArns: ['arn:aws:iam::111122223333:role/ml/trainer'],
      },
      userId: 'AROATRAINER:s1',
    };
    const ctx = buildRequestContext(facts, session);
    assert.equal(getContextValue(ctx, 'aws:PrincipalArn'), 'arn:aws:iam::111122223333:role/ml/trainer');
    assert.equal(getContextValue(ctx, 'aws:PrincipalType'), 'AssumedRole');
    // Without the resolved role, the role ARN is derived from the session ARN.
    const bare = buildRequestContext(facts, {
      ...session,
      principal: { arn: 'arn:aws:sts::111122223333:assumed-role/trainer/s1', account: '111122223333' },
    });
    assert.equal(getContextValue(bare, 'aws:PrincipalArn'), 'arn:aws:iam::111122223333:role/trainer');
  });

  it('never lets route keys or credential keys override the request facts', () => {
    const spoofing: AuthenticatedPrincipal = { ...alice, context: { 'aws:SourceIp': '10.0.0.1' } };
    const ctx = buildRequestContext(facts, spoofing, {
      'AWS:SOURCEIP': '10.0.0.1',
      'aws:PrincipalArn': 'arn:aws:iam::111122223333:user/root',
      'aws:username': 'root',
      'aws:SecureTransport': false,
      'iam:PolicyARN': 'arn:aws:iam::111122223333:policy/p',
      'aws:RequestTag/env': 'prod',
      'aws:TagKeys': ['env'],
    });
    assert.equal(getContextValue(ctx, 'aws:SourceIp'), '203.0.113.7');
    assert.equal(getContextValue(ctx, 'aws:PrincipalArn'), 'arn:aws:iam::111122223333:user/alice');
    assert.equal(getContextValue(ctx, 'aws:username'), 'alice');
    assert.equal(getContextValue(ctx, 'aws:SecureTransport'), true);
    assert.equal(getContextValue(ctx, 'iam:PolicyARN'), 'arn:aws:iam::111122223333:policy/p');
    assert.equal(getContextValue(ctx, 'aws:RequestTag/env'), 'prod');
    assert.deepEqual(getContextValue(ctx, 'aws:TagKeys'), ['env']);
  });
});
