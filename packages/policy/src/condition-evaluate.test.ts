// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${key}.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compileCondition, type EvaluationScratch } from './condition-evaluate.js';
import { parseConditionOperator } from './condition-operators.js';
import type { PolicyCondition } from './policy-document.js';
import { type ContextValue, createRequestContext } from './request-context.js';

function check(
  condition: PolicyCondition,
  context: Record<string, ContextValue>,
  version: '2012-10-17' | '2008-10-17' = '2012-10-17',
) {
  const scratch: EvaluationScratch = { missing: undefined };
  const result = compileCondition(condition, version).evaluate(createRequestContext(context), scratch);
  return { result, missing: scratch.missing ? [...scratch.missing].sort() : [] };
}
const holds = (c: PolicyCondition, ctx: Record<string, ContextValue>) => check(c, ctx).result;

// Rules: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
// unless another page is cited on the row.
describe('condition operators', () => {
  const table: [string, PolicyCondition, Record<string, ContextValue>, boolean][] = [
    // String
    [
      'StringEquals is exact and case-sensitive',
      { StringEquals: { 'aws:username': ['alice'] } },
      { 'aws:username': 'Alice' },
      false,
    ],
    [
      'StringEquals matches any listed value (OR)',
      { StringEquals: { 'aws:username': ['bob', 'alice'] } },
      { 'aws:username': 'alice' },
      true,
    ],
    [
      'StringNotEquals is true when no value matches',
      { StringNotEquals: { 'aws:username': ['bob'] } },
      { 'aws:username': 'alice' },
      true,
    ],
    [
      'StringEqualsIgnoreCase',
      { StringEqualsIgnoreCase: { 'aws:username': ['ALICE'] } },
      { 'aws:username': 'alice' },
      true,
    ],
    [
      'StringNotEqualsIgnoreCase',
      { StringNotEqualsIgnoreCase: { 'aws:username': ['ALICE'] } },
      { 'aws:username': 'alice' },
      false,
    ],
    ['StringLike globs', { StringLike: { 's3:prefix': ['home/*'] } }, { 's3:prefix': 'home/alice/x' }, true],
    ['StringLike ? is one character', { StringLike: { 's3:prefix': ['v?'] } }, { 's3:prefix': 'v10' }, false],
    ['StringNotLike', { StringNotLike: { 's3:prefix': ['home/*'] } }, { 's3:prefix': 'etc/x' }, true],
    // Numeric
    ['NumericLessThan', { NumericLessThan: { 's3:max-keys': ['10'] } }, { 's3:max-keys': '9' }, true],
    [
      'NumericLessThanEquals at the bound',
      { NumericLessThanEquals: { 's3:max-keys': ['10'] } },
      { 's3:max-keys': 10 },
      true,
    ],
    ['NumericGreaterThan', { NumericGreaterThan: { 's3:max-keys': ['10'] } }, { 's3:max-keys': '10' }, false],
    [
      'NumericGreaterThanEquals',
      { NumericGreaterThanEquals: { 's3:max-keys': ['10.5'] } },
      { 's3:max-keys': '11' },
      true,
    ],
    [
      'NumericEquals compares numbers, not text',
      { NumericEquals: { 's3:max-keys': ['10'] } },
      { 's3:max-keys': '10.0' },
      true,
    ],
    ['NumericNotEquals', { NumericNotEquals: { 's3:max-keys': ['10'] } }, { 's3:max-keys': '11' }, true],
    [
      'a non-numeric request value never matches',
      { NumericLessThan: { 's3:max-keys': ['10'] } },
      { 's3:max-keys': 'abc' },
      false,
    ],
    // Date
    [
      'DateLessThan with ISO 8601',
      { DateLessThan: { 'aws:CurrentTime': ['2030-01-01T00:00:00Z'] } },
      { 'aws:CurrentTime': '2026-11-23T09:00:00Z' },
      true,
    ],
    [
      'DateGreaterThan with epoch seconds',
      { DateGreaterThan: { 'aws:EpochTime': ['1700000000'] } },
      { 'aws:EpochTime': 1800000000 },
      true,
    ],
    [
      'DateEquals across formats',
      { DateEquals: { 'aws:CurrentTime': ['1970-01-01T00:00:10Z'] } },
      { 'aws:CurrentTime': 10 },
      true,
    ],
    [
      'DateNotEquals',
      { DateNotEquals: { 'aws:CurrentTime': ['2020-01-01'] } },
      { 'aws:CurrentTime': '2020-01-01T00:00:00Z' },
      false,
    ],
    [
      'DateLessThanEquals',
      { DateLessThanEquals: { 'aws:CurrentTime': ['2020-01-01T00:00:00Z'] } },
      { 'aws:CurrentTime': '2020-01-01T00:00:00Z' },
      true,
    ],
    [
      'DateGreaterThanEquals',
      { DateGreaterThanEquals: { 'aws:CurrentTime': ['2020-01-02'] } },
      { 'aws:CurrentTime': '2020-01-01' },
      false,
    ],
    // Bool, Binary
    ['Bool true', { Bool: { 'aws:SecureTransport': ['true'] } }, { 'aws:SecureTransport': true }, true],
    [
      'Bool false vs true',
      { Bool: { 'aws:SecureTransport': ['false'] } },
      { 'aws:SecureTransport': 'true' },
      false,
    ],
    [
      'BinaryEquals compares base64',
      { BinaryEquals: { 'aiam:Key': ['QmluYXJ5'] } },
      { 'aiam:Key': 'QmluYXJ5' },
      true,
    ],
    // IP
    [
      'IpAddress IPv4 CIDR',
      { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24'] } },
      { 'aws:SourceIp': '203.0.113.7' },
      true,
    ],
    [
      'IpAddress IPv4 outside',
      { IpAddress: { 'aws:SourceIp': ['203.0.113.0/24'] } },
      { 'aws:SourceIp': '203.0.114.7' },
      false,
    ],
    [
      'IpAddress IPv6 CIDR',
      { IpAddress: { 'aws:SourceIp': ['2001:db8::/32'] } },
      { 'aws:SourceIp': '2001:db8:1::5' },
      true,
    ],
    [
      'IpAddress IPv6 does not match an IPv4 block',
      { IpAddress: { 'aws:SourceIp': ['0.0.0.0/0'] } },
      { 'aws:SourceIp': '::1' },
      false,
    ],
    [
      'NotIpAddress',
      { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8'] } },
      { 'aws:SourceIp': '192.0.2.1' },
      true,
    ],
    // ARN
    [
      'ArnLike compares the six parts with globs',
      { ArnLike: { 'aws:SourceArn': ['arn:aws:s3:::bucket-*'] } },
      { 'aws:SourceArn': 'arn:aws:s3:::bucket-1' },
      true,
    ],
    [
      'ArnLike: a * does not cross the part boundary',
      { ArnLike: { 'aws:SourceArn': ['arn:aws:iam::*:role/x'] } },
      { 'aws:SourceArn': 'arn:aws:iam::1:2:role/x' },
      false,
    ],
    [
      'ArnEquals globs like ArnLike',
      { ArnEquals: { 'aws:SourceArn': ['arn:aws:iam::111122223333:role/*'] } },
      { 'aws:SourceArn': 'arn:aws:iam::111122223333:role/a' },
      true,
    ],
    [
      'ArnEquals is case-sensitive',
      { ArnEquals: { 'aws:SourceArn': ['arn:aws:iam::111122223333:role/A'] } },
      { 'aws:SourceArn': 'arn:aws:iam::111122223333:role/a' },
      false,
    ],
    [
      'ArnNotLike',
      { ArnNotLike: { 'aws:SourceArn': ['arn:aws:s3:::x'] } },
      { 'aws:SourceArn': 'arn:aws:s3:::y' },
      true,
    ],
    [
      'ArnNotEquals',
      { ArnNotEquals: { 'aws:SourceArn': ['arn:aws:s3:::x'] } },
      { 'aws:SourceArn': 'arn:aws:s3:::x' },
      false,
    ],
    [
      'a non-ARN value never matches ArnLike',
      { ArnLike: { 'aws:SourceArn': ['arn:aws:s3:::*'] } },
      { 'aws:SourceArn': 'bucket' },
      false,
    ],
    // Null
    ['Null true: key absent', { Null: { 'aws:TokenIssueTime': ['true'] } }, {}, true],
    [
      'Null true: key present',
      { Null: { 'aws:TokenIssueTime': ['true'] } },
      { 'aws:TokenIssueTime': 'x' },
      false,
    ],
    [
      'Null false: key present',
      { Null: { 'aws:TokenIssueTime': ['false'] } },
      { 'aws:TokenIssueTime': 'x' },
      true,
    ],
    // Missing keys
    [
      'a missing key makes a positive operator false',
      { StringEquals: { 'aws:PrincipalTag/team': ['ml'] } },
      {},
      false,
    ],
    [
      'a missing key makes a negated operator true',
      { StringNotEquals: { 'aws:PrincipalTag/team': ['ml'] } },
      {},
      true,
    ],
    [
      'NotIpAddress is true with no source IP',
      { NotIpAddress: { 'aws:SourceIp': ['10.0.0.0/8'] } },
      {},
      true,
    ],
    [
      'IfExists is true when the key is absent',
      { StringEqualsIfExists: { 'aws:PrincipalTag/team': ['ml'] } },
      {},
      true,
    ],
    [
      'IfExists still tests a present key',
      { StringEqualsIfExists: { 'aws:PrincipalTag/team': ['ml'] } },
      { 'aws:PrincipalTag/team': 'web' },
      false,
    ],
    // Keys are case-insensitive: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
    [
      'condition key names are case-insensitive',
      { StringEquals: { 'AWS:UserName': ['alice'] } },
      { 'aws:username': 'alice' },
      true,
    ],
    // AND/OR: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-logic-multiple-context-keys-or-values.html
    [
      'several keys are ANDed',
      { StringEquals: { 'aws:username': ['alice'], 'aws:PrincipalTag/team': ['ml'] } },
      { 'aws:username': 'alice', 'aws:PrincipalTag/team': 'web' },
      false,
    ],
    [
      'several operators are ANDed',
      { StringEquals: { 'aws:username': ['alice'] }, Bool: { 'aws:SecureTransport': ['true'] } },
      { 'aws:username': 'alice', 'aws:SecureTransport': 'true' },
      true,
    ],
    // Multi-valued keys: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
    [
      'ForAllValues: every request value in the policy set',
      { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'env'] } },
      { 'aws:TagKeys': ['team'] },
      true,
    ],
    [
      'ForAllValues: one value outside fails',
      { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] } },
      { 'aws:TagKeys': ['team', 'cost'] },
      false,
    ],
    [
      'ForAllValues is true when the key is missing',
      { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] } },
      {},
      true,
    ],
    [
      'ForAllValues is true for an empty set',
      { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team'] } },
      { 'aws:TagKeys': [] },
      true,
    ],
    [
      'ForAnyValue: one request value matching suffices',
      { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['team'] } },
      { 'aws:TagKeys': ['cost', 'team'] },
      true,
    ],
    [
      'ForAnyValue is false when the key is missing',
      { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['team'] } },
      {},
      false,
    ],
    [
      'ForAnyValue is false for an empty set',
      { 'ForAnyValue:StringEquals': { 'aws:TagKeys': ['team'] } },
      { 'aws:TagKeys': [] },
      false,
    ],
    [
      'ForAnyValue with IfExists is true when missing',
      { 'ForAnyValue:StringEqualsIfExists': { 'aws:TagKeys': ['team'] } },
      {},
      true,
    ],
    [
      'ForAnyValue:StringNotEquals: some value outside',
      { 'ForAnyValue:StringNotEquals': { 'aws:TagKeys': ['team'] } },
      { 'aws:TagKeys': ['team', 'cost'] },
      true,
    ],
    [
      'ForAllValues:StringNotEquals: no value inside',
      { 'ForAllValues:StringNotEquals': { 'aws:TagKeys': ['secret'] } },
      { 'aws:TagKeys': ['team', 'secret'] },
      false,
    ],
    [
      'ForAllValues:StringLike',
      { 'ForAllValues:StringLike': { 'aws:TagKeys': ['team-*'] } },
      { 'aws:TagKeys': ['team-a', 'team-b'] },
      true,
    ],
    [
      'a plain operator on a multi-valued key matches any value',
      { StringEquals: { 'aws:TagKeys': ['team'] } },
      { 'aws:TagKeys': ['x', 'team'] },
      true,
    ],
  ];
  for (const [name, condition, context, expected] of table) {
    it(name, () => assert.equal(holds(condition, context), expected));
  }

  it('reports missing keys, lowercased, without short-circuiting', () => {
    const r = check(
      {
        StringEquals: { 'aws:PrincipalTag/Team': ['ml'], 'aws:username': ['a'] },
        Bool: { 'aws:SecureTransport': ['true'] },
      },
      {},
    );
    assert.equal(r.result, false);
    assert.deepEqual(r.missing, ['aws:principaltag/team', 'aws:securetransport', 'aws:username']);
  });

  it('parses operator names strictly', () => {
    assert.deepEqual(parseConditionOperator('ForAllValues:StringLikeIfExists'), {
      name: 'ForAllValues:StringLikeIfExists',
      base: 'StringLike',
      family: 'String',
      comparison: 'like',
      negated: false,
      ifExists: true,
      setOperator: 'ForAllValues',
    });
    for (const bad of [
      'stringequals',
      'StringEqual',
      'NullIfExists',
      'ForAnyValue:Null',
      'ForSomeValues:StringEquals',
      'StringEqualsIfExistsIfExists',
    ]) {
      assert.equal(parseConditionOperator(bad), undefined, bad);
    }
  });
});

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
describe('policy variables in conditions', () => {
  it('substitutes ${aws:username} in StringLike values', () => {
    const c = { StringLike: { 's3:prefix': ['home/${aws:username}/*'] } };
    assert.equal(holds(c, { 's3:prefix': 'home/alice/x', 'aws:username': 'alice' }), true);
    assert.equal(holds(c, { 's3:prefix': 'home/bob/x', 'aws:username': 'alice' }), false);
  });

  it('a substituted value with * matches literally, never as a wildcard', () => {
    const c = { StringLike: { 's3:prefix': ['home/${aws:username}'] } };
    assert.equal(holds(c, { 's3:prefix': 'home/bob', 'aws:username': '*' }), false);
    assert.equal(holds(c, { 's3:prefix': 'home/*', 'aws:username': '*' }), true);
  });

  it('a missing variable makes the value match nothing, and is reported', () => {
    const r = check(
      { StringEquals: { 'aws:PrincipalTag/team': ['${aws:RequestTag/team}'] } },
      { 'aws:PrincipalTag/team': 'ml' },
    );
    assert.equal(r.result, false);
    assert.deepEqual(r.missing, ['aws:requesttag/team']);
  });

  it('uses the default value when the key is missing', () => {
    const c = { StringEquals: { 's3:prefix': ["${aws:PrincipalTag/team, 'shared'}"] } };
    assert.equal(holds(c, { 's3:prefix': 'shared' }), true);
    assert.equal(holds(c, { 's3:prefix': 'ml', 'aws:PrincipalTag/team': 'ml' }), true);
  });

  it('is literal text with Version 2008-10-17', () => {
    const c = { StringEquals: { 's3:prefix': ['${aws:username}'] } };
    assert.equal(
      check(c, { 's3:prefix': '${aws:username}', 'aws:username': 'a' }, '2008-10-17').result,
      true,
    );
    assert.equal(check(c, { 's3:prefix': 'a', 'aws:username': 'a' }, '2008-10-17').result, false);
  });
});
