import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  InvalidSimulationRequestError,
  type SimulateCustomPolicyResponse,
  simulateCustomPolicy,
} from './simulate-custom-policy.js';

function ok(input: unknown): SimulateCustomPolicyResponse {
  const r = simulateCustomPolicy(input);
  assert.ok(r.ok, JSON.stringify(r));
  return r.response;
}

// The first example of https://docs.aws.amazon.com/cli/latest/reference/iam/simulate-custom-policy.html
const DATE_POLICY =
  '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"dynamodb:*","Resource":"*","Condition":{"DateGreaterThan":{"aws:CurrentTime":"2018-08-16T12:00:00Z"}}}}';

const SEED_002 = JSON.stringify(
  {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Action: ['s3:GetObject', 's3:ListBucket'],
        Resource: ['arn:aws:s3:::ai-model-data/*', 'arn:aws:s3:::ai-model-data'],
      },
    ],
  },
  null,
  2,
);

describe('simulateCustomPolicy: the AWS CLI examples', () => {
  it('allows after the date, with the statement position IAM reports (line 1, columns 38..167)', () => {
    const response = ok({
      PolicyInputList: [DATE_POLICY],
      ActionNames: ['dynamodb:CreateBackup'],
      ContextEntries: [
        {
          ContextKeyName: 'aws:CurrentTime',
          ContextKeyValues: ['2019-04-25T11:00:00Z'],
          ContextKeyType: 'date',
        },
      ],
    });
    assert.deepEqual(response, {
      EvaluationResults: [
        {
          EvalActionName: 'dynamodb:CreateBackup',
          EvalResourceName: '*',
          EvalDecision: 'allowed',
          MatchedStatements: [
            {
              SourcePolicyId: 'PolicyInputList.1',
              SourcePolicyType: 'none',
              StartPosition: { Line: 1, Column: 38 },
              EndPosition: { Line: 1, Column: 167 },
            },
          ],
          MissingContextValues: [],
        },
      ],
      IsTruncated: false,
    });
  });

  it('denies implicitly before the date, and reports a missing aws:CurrentTime', () => {
    const before = ok({
      PolicyInputList: [DATE_POLICY],
      ActionNames: ['dynamodb:CreateBackup'],
      ContextEntries: [
        {
          ContextKeyName: 'aws:CurrentTime',
          ContextKeyValues: ['2014-04-25T11:00:00Z'],
          ContextKeyType: 'date',
        },
      ],
    });
    assert.equal(before.EvaluationResults[0]!.EvalDecision, 'implicitDeny');
    assert.deepEqual(before.EvaluationResults[0]!.MatchedStatements, []);
    const missing = ok({ PolicyInputList: [DATE_POLICY], ActionNames: ['dynamodb:CreateBackup'] });
    assert.equal(missing.EvaluationResults[0]!.EvalDecision, 'implicitDeny');
    assert.deepEqual(missing.EvaluationResults[0]!.MissingContextValues, ['aws:currenttime']);
  });
});

describe('simulateCustomPolicy: mapping', () => {
  it('seed 002: s3:GetObject allowed, s3:PutObject implicitly denied, one result per action and resource', () => {
    const response = ok({
      PolicyInputList: [SEED_002],
      ActionNames: ['s3:GetObject', 's3:PutObject'],
      ResourceArns: ['arn:aws:s3:::ai-model-data/train.csv'],
    });
    assert.deepEqual(
      response.EvaluationResults.map((r) => [r.EvalActionName, r.EvalResourceName, r.EvalDecision]),
      [
        ['s3:GetObject', 'arn:aws:s3:::ai-model-data/train.csv', 'allowed'],
        ['s3:PutObject', 'arn:aws:s3:::ai-model-data/train.csv', 'implicitDeny'],
      ],
    );
    // Pretty-printed: the statement opens on line 3 ("    {") and closes on line 13.
    assert.deepEqual(response.EvaluationResults[0]!.MatchedStatements[0], {
      SourcePolicyId: 'PolicyInputList.1',
      SourcePolicyType: 'none',
      StartPosition: { Line: 4, Column: 6 },
      EndPosition: { Line: 14, Column: 6 },
    });
    assert.deepEqual(response.EvaluationResults[0]!.EvalDecisionDetails, {});
  });

  it('an explicit deny lists only the deny statements', () => {
    const deny =
      '{"Version":"2012-10-17","Statement":[{"Sid":"NoWrites","Effect":"Deny","Action":"s3:Put*","Resource":"*"}]}';
    const response = ok({
      PolicyInputList: [SEED_002.replace('"s3:ListBucket"', '"s3:PutObject"'), deny],
      ActionNames: ['s3:PutObject'],
      ResourceArns: ['arn:aws:s3:::ai-model-data/x'],
    });
    const r = response.EvaluationResults[0]!;
    assert.equal(r.EvalDecision, 'explicitDeny');
    assert.deepEqual(
      r.MatchedStatements.map((s) => s.SourcePolicyId),
      ['PolicyInputList.2'],
    );
  });

  it('a permissions boundary caps the identity policy', () => {
    const boundary =
      '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:ListBucket","Resource":"*"}}';
    const response = ok({
      PolicyInputList: [SEED_002],
      PermissionsBoundaryPolicyInputList: [boundary],
      ActionNames: ['s3:GetObject', 's3:ListBucket'],
      ResourceArns: ['arn:aws:s3:::ai-model-data/x', 'arn:aws:s3:::ai-model-data'],
    });
    const byPair = Object.fromEntries(
      response.EvaluationResults.map((r) => [
        `${r.EvalActionName} ${r.EvalResourceName}`,
        [r.EvalDecision, r.PermissionsBoundaryDecisionDetail?.AllowedByPermissionsBoundary],
      ]),
    );
    assert.deepEqual(byPair['s3:GetObject arn:aws:s3:::ai-model-data/x'], ['implicitDeny', false]);
    assert.deepEqual(byPair['s3:ListBucket arn:aws:s3:::ai-model-data'], ['allowed', true]);
  });

  it('a same-account resource policy grants on its own; cross-account needs both sides', () => {
    const bucketPolicy = JSON.stringify({
      Version: '2012-10-17',
      Statement: [
        {
          Effect: 'Allow',
          Principal: { AWS: 'arn:aws:iam::111122223333:user/alice' },
          Action: 's3:GetObject',
          Resource: 'arn:aws:s3:::shared/*',
        },
      ],
    });
    const empty = '{"Version":"2012-10-17","Statement":{"Effect":"Deny","Action":"iam:*","Resource":"*"}}';
    const same = ok({
      PolicyInputList: [empty],
      ResourcePolicy: bucketPolicy,
      CallerArn: 'arn:aws:iam::111122223333:user/alice',
      ResourceOwner: 'arn:aws:iam::111122223333:root',
      ActionNames: ['s3:GetObject'],
      ResourceArns: ['arn:aws:s3:::shared/a'],
    }).EvaluationResults[0]!;
    assert.equal(same.EvalDecision, 'allowed');
    assert.equal(same.MatchedStatements[0]!.SourcePolicyType, 'resource');
    assert.deepEqual(same.EvalDecisionDetails, {});
    const cross = ok({
      PolicyInputList: [empty],
      ResourcePolicy: bucketPolicy,
      CallerArn: 'arn:aws:iam::111122223333:user/alice',
      ResourceOwner: 'arn:aws:iam::444455556666:root',
      ActionNames: ['s3:GetObject'],
      ResourceArns: ['arn:aws:s3:::shared/a'],
    }).EvaluationResults[0]!;
    assert.equal(cross.EvalDecision, 'implicitDeny');
    assert.deepEqual(cross.EvalDecisionDetails, {
      'IAM Policy': 'implicitDeny',
      'Resource Policy': 'allowed',
    });
  });

  it('passes list context entries as multivalued keys', () => {
    const policy = JSON.stringify({
      Version: '2012-10-17',
      Statement: {
        Effect: 'Allow',
        Action: 'iam:TagUser',
        Resource: '*',
        Condition: { 'ForAllValues:StringEquals': { 'aws:TagKeys': ['team', 'project'] } },
      },
    });
    const tags = (values: string[]) =>
      ok({
        PolicyInputList: [policy],
        ActionNames: ['iam:TagUser'],
        ContextEntries: [
          { ContextKeyName: 'aws:TagKeys', ContextKeyValues: values, ContextKeyType: 'stringList' },
        ],
      }).EvaluationResults[0]!.EvalDecision;
    assert.equal(tags(['team']), 'allowed');
    assert.equal(tags(['team', 'cost-center']), 'implicitDeny');
  });
});

describe('simulateCustomPolicy: refusals', () => {
  it('refuses an invalid policy with the validator findings, never deciding', () => {
    const r = simulateCustomPolicy({
      PolicyInputList: [
        SEED_002,
        '{"Version":"2012-10-17","Statement":{"Effect":"Allow","Action":"s3:GetObjet","Resource":"*"}}',
      ],
      ActionNames: ['s3:GetObject'],
    });
    assert.equal(r.ok, false);
    if (r.ok) return;
    assert.equal(r.invalidPolicies.length, 1);
    assert.equal(r.invalidPolicies[0]!.policyId, 'PolicyInputList.2');
    assert.ok(r.invalidPolicies[0]!.findings.some((f) => f.issueCode === 'INVALID_ACTION'));
  });

  it('throws a typed error for a malformed request, naming the field', () => {
    const cases: [unknown, RegExp][] = [
      [null, /JSON object/],
      [{ ActionNames: ['s3:GetObject'] }, /PolicyInputList is required/],
      [{ PolicyInputList: [SEED_002], ActionNames: [] }, /ActionNames must not be empty/],
      [{ PolicyInputList: [SEED_002], ActionNames: ['s3:GetObject'], Bogus: 1 }, /Unknown field "Bogus"/],
      [
        {
          PolicyInputList: [SEED_002],
          ActionNames: ['s3:GetObject'],
          ContextEntries: [
            { ContextKeyName: 'aws:username', ContextKeyValues: ['a', 'b'], ContextKeyType: 'string' },
          ],
        },
        /takes exactly one value/,
      ],
      [
        {
          PolicyInputList: [SEED_002],
          ActionNames: ['s3:GetObject'],
          ContextEntries: [
            { ContextKeyName: 'aws:username', ContextKeyValues: ['a'], ContextKeyType: 'text' },
          ],
        },
        /ContextKeyType must be one of/,
      ],
    ];
    for (const [input, message] of cases) {
      assert.throws(
        () => simulateCustomPolicy(input),
        (err: unknown) => {
          assert.ok(err instanceof InvalidSimulationRequestError);
          assert.equal(err.code, 'ERR_INVALID_SIMULATION_REQUEST');
          assert.match(err.message, message);
          return true;
        },
      );
    }
  });
});
