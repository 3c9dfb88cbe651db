// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${key}.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { Finding } from './finding.js';
import { VALIDATION_CHECKS, validatePolicy } from './validate-policy.js';

// Access Analyzer's policy checks: https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html

function doc(
  statement: Record<string, unknown> | Record<string, unknown>[],
  version: string | null = '2012-10-17',
) {
  return JSON.stringify(
    version === null ? { Statement: statement } : { Version: version, Statement: statement },
  );
}

function codes(findings: Finding[]): string[] {
  return findings.map((f) => `${f.findingType} ${f.issueCode}`);
}

function only(findings: Finding[], code: string): Finding {
  const f = findings.filter((x) => x.issueCode === code);
  assert.equal(f.length, 1, `expected one ${code}, got ${JSON.stringify(codes(findings))}`);
  return f[0]!;
}

const SEED_002 = doc({
  Effect: 'Allow',
  Action: ['s3:GetObject', 's3:ListBucket'],
  Resource: ['arn:aws:s3:::ai-model-data/*', 'arn:aws:s3:::ai-model-data'],
});

describe('validatePolicy: clean documents', () => {
  it('has no findings for the seed 002 policy', () => {
    assert.deepEqual(validatePolicy(SEED_002), []);
  });

  it('accepts a decoded document, and per-user prefixes with variables', () => {
    const findings = validatePolicy(
      JSON.parse(
        doc([
          {
            Effect: 'Allow',
            Action: 's3:ListBucket',
            Resource: 'arn:aws:s3:::ml-projects',
            Condition: { StringLike: { 's3:prefix': ['home/${aws:username}/*'] } },
          },
          {
            Effect: 'Allow',
            Action: ['s3:GetObject', 's3:PutObject'],
            Resource: 'arn:aws:s3:::ml-projects/home/${aws:username}/*',
            Condition: { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } },
          },
          {
            Effect: 'Allow',
            Action: 'ml:InvokeEndpoint',
            Resource: 'arn:aiam:ml::123456789012:workspace/ml_workspace/endpoint/online_endpoint',
            Condition: {
              'ForAnyValue:StringEquals': { 'aws:TagKeys': ['team'] },
              Bool: { 'aws:SecureTransport': 'true' },
            },
          },
        ]),
      ),
    );
    assert.deepEqual(codes(findings), []);
  });
});

describe('validatePolicy: errors', () => {
  it('JSON_SYNTAX_ERROR with line and column', () => {
    const f = only(validatePolicy('{\n  "Version": "2012-10-17",\n  "Statement": [}\n'), 'JSON_SYNTAX_ERROR');
    assert.equal(f.findingType, 'ERROR');
    assert.match(f.findingDetails, /line 3, column 17/);
  });

  it('passes through the grammar errors of the parser (INVALID_EFFECT, UNSUPPORTED_ELEMENT_COMBINATION, INVALID_VERSION)', () => {
    const findings = validatePolicy(
      doc(
        { Effect: 'Permit', Action: 's3:GetObject', NotAction: 's3:PutObject', Resource: '*' },
        '2020-01-01',
      ),
    );
    for (const code of ['INVALID_EFFECT', 'UNSUPPORTED_ELEMENT_COMBINATION', 'INVALID_VERSION']) {
      assert.ok(codes(findings).includes(`ERROR ${code}`), `${code} in ${codes(findings)}`);
    }
  });

  it('MISSING_RESOURCE in an identity policy, but not in a trust policy', () => {
    const statement = { Effect: 'Allow', Action: 's3:GetObject' };
    assert.equal(only(validatePolicy(doc(statement)), 'MISSING_RESOURCE').findingType, 'ERROR');
    const trust = {
      Effect: 'Allow',
      Principal: { AWS: 'arn:aws:iam::123456789012:root' },
      Action: 'sts:AssumeRole',
    };
    assert.deepEqual(codes(validatePolicy(doc(trust), { kind: 'trust' })), []);
  });

  it('INVALID_ACTION for an unknown action of a known service, with a suggestion', () => {
    const f = only(
      validatePolicy(doc({ Effect: 'Allow', Action: 's3:GetObjet', Resource: '*' })),
      'INVALID_ACTION',
    );
    assert.equal(f.findingType, 'ERROR');
    assert.match(f.findingDetails, /Did you mean s3:GetObject\?/);
    assert.deepEqual(f.path, [{ value: 'Statement' }, { value: 'Action' }]);
    const wild = only(
      validatePolicy(doc({ Effect: 'Deny', Action: ['ml:Frobnicate*'], Resource: '*' })),
      'INVALID_ACTION',
    );
    assert.deepEqual(wild.path, [{ value: 'Statement' }, { value: 'Action' }, { index: 0 }]);
    assert.deepEqual(validatePolicy(doc({ Effect: 'Allow', Action: 'S3:getobject', Resource: '*' })), []);
  });

  it('INVALID_ARN_PREFIX, MISSING_ARN_FIELD, INVALID_PARTITION, INVALID_ARN_SERVICE_CASE', () => {
    const findings = validatePolicy(
      doc({
        Effect: 'Deny',
        Action: 's3:GetObject',
        Resource: ['bucket/key', 'arn:aws:s3:bucket', 'arn:gcp:s3:::bucket', 'arn:aws:S3:::bucket'],
      }),
    );
    assert.deepEqual(codes(findings), [
      'ERROR INVALID_ARN_PREFIX',
      'ERROR MISSING_ARN_FIELD',
      'ERROR INVALID_PARTITION',
      'ERROR INVALID_ARN_SERVICE_CASE',
    ]);
    assert.deepEqual(findings[1]!.path, [{ value: 'Statement' }, { value: 'Resource' }, { index: 1 }]);
  });

  it('ARN_ACCOUNT_NOT_ALLOWED and ARN_REGION_NOT_ALLOWED for S3; INVALID_ARN_ACCOUNT; INVALID_ARN_RESOURCE', () => {
    const s3 = validatePolicy(
      doc({ Effect: 'Deny', Action: 's3:*', Resource: 'arn:aws:s3:us-east-1:123456789012:b' }),
    );
    assert.deepEqual(codes(s3), ['ERROR ARN_REGION_NOT_ALLOWED', 'ERROR ARN_ACCOUNT_NOT_ALLOWED']);
    const iam = validatePolicy(
      doc({ Effect: 'Deny', Action: 'iam:*', Resource: 'arn:aws:iam::12345:user/a' }),
    );
    assert.deepEqual(codes(iam), ['ERROR INVALID_ARN_ACCOUNT']);
    const ml = validatePolicy(
      doc({ Effect: 'Deny', Action: 'ml:*', Resource: 'arn:aiam:ml::123456789012:workspaces/a' }),
    );
    assert.deepEqual(codes(ml), ['ERROR INVALID_ARN_RESOURCE']);
    assert.match(ml[0]!.findingDetails, /workspace\/\$\{WorkspaceName\}/);
    // Patterns and other services' ARNs are not second-guessed.
    const ok = validatePolicy(
      doc({
        Effect: 'Deny',
        Action: 'ml:*',
        Resource: [
          'arn:aiam:ml::*:workspace/*',
          'arn:aws:dynamodb:us-east-1:123456789012:table/Books',
          'arn:aiam:ml::acme:domain/d',
        ],
      }),
    );
    assert.deepEqual(codes(ok), []);
  });

  it('INVALID_GLOBAL_CONDITION_KEY and INVALID_SERVICE_CONDITION_KEY', () => {
    const findings = validatePolicy(
      doc({
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::b',
        Condition: { StringEquals: { 'aws:UserName2': 'x', 's3:prefx': 'home/' } },
      }),
    );
    assert.deepEqual(codes(findings), [
      'ERROR INVALID_GLOBAL_CONDITION_KEY',
      'ERROR INVALID_SERVICE_CONDITION_KEY',
    ]);
    assert.deepEqual(findings[1]!.path, [
      { value: 'Statement' },
      { value: 'Condition' },
      { value: 'StringEquals' },
      { value: 's3:prefx' },
    ]);
  });

  it('VARIABLE_UNSUPPORTED_IN_VERSION for variables under 2008-10-17', () => {
    const f = only(
      validatePolicy(
        doc(
          { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/${aws:username}/*' },
          '2008-10-17',
        ),
      ),
      'VARIABLE_UNSUPPORTED_IN_VERSION',
    );
    assert.equal(f.findingType, 'ERROR');
  });
});

describe('validatePolicy: security warnings', () => {
  it('ALLOW_ALL_ACTIONS_ON_ALL_RESOURCES', () => {
    const f = only(
      validatePolicy(doc({ Effect: 'Allow', Action: '*', Resource: '*' })),
      'ALLOW_ALL_ACTIONS_ON_ALL_RESOURCES',
    );
    assert.equal(f.findingType, 'SECURITY_WARNING');
    assert.deepEqual(validatePolicy(doc({ Effect: 'Deny', Action: '*', Resource: '*' })), []);
  });

  it('ALLOW_WITH_NOT_ACTION and ALLOW_WITH_NOT_RESOURCE (not for Deny)', () => {
    const allow = validatePolicy(
      doc({ Effect: 'Allow', NotAction: 'iam:*', NotResource: 'arn:aws:s3:::secret/*' }),
    );
    assert.equal(only(allow, 'ALLOW_WITH_NOT_ACTION').findingType, 'SECURITY_WARNING');
    assert.equal(only(allow, 'ALLOW_WITH_NOT_RESOURCE').findingType, 'SECURITY_WARNING');
    const deny = validatePolicy(
      doc({ Effect: 'Deny', NotAction: 'iam:*', NotResource: 'arn:aws:s3:::secret/*' }),
    );
    assert.deepEqual(codes(deny), []);
  });

  it('ALLOW_WITH_NOT_PRINCIPAL in a resource policy', () => {
    const findings = validatePolicy(
      doc({
        Effect: 'Allow',
        NotPrincipal: { AWS: 'arn:aws:iam::123456789012:user/bob' },
        Action: 's3:GetObject',
        Resource: 'arn:aws:s3:::b/*',
      }),
      { policyType: 'RESOURCE_POLICY' },
    );
    assert.equal(only(findings, 'ALLOW_WITH_NOT_PRINCIPAL').findingType, 'SECURITY_WARNING');
  });

  it('PASS_ROLE_WITH_STAR_IN_RESOURCE, ..._IN_ACTION_AND_RESOURCE, PASS_ROLE_WITH_NOT_RESOURCE', () => {
    const star = validatePolicy(doc({ Effect: 'Allow', Action: 'iam:PassRole', Resource: '*' }));
    assert.equal(only(star, 'PASS_ROLE_WITH_STAR_IN_RESOURCE').findingType, 'SECURITY_WARNING');
    const both = validatePolicy(doc({ Effect: 'Allow', Action: 'iam:Pass*', Resource: '*' }));
    only(both, 'PASS_ROLE_WITH_STAR_IN_ACTION_AND_RESOURCE');
    const notRes = validatePolicy(
      doc({ Effect: 'Allow', Action: 'iam:PassRole', NotResource: 'arn:aws:iam::123456789012:role/admin' }),
    );
    only(notRes, 'PASS_ROLE_WITH_NOT_RESOURCE');
    const scoped = validatePolicy(
      doc({ Effect: 'Allow', Action: 'iam:PassRole', Resource: 'arn:aws:iam::123456789012:role/pipeline-*' }),
    );
    assert.deepEqual(codes(scoped), []);
  });

  it("PassRole with NotAction or NotResource uses Access Analyzer's codes", () => {
    const notRole = 'arn:aws:iam::123456789012:role/admin';
    const cases: [Record<string, unknown>, string][] = [
      [{ NotAction: 's3:*', Resource: '*' }, 'PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION'],
      [{ NotAction: 's3:*', NotResource: notRole }, 'PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE'],
      [{ Action: 'iam:*', NotResource: notRole }, 'PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE'],
      [{ Action: 'iam:PassRole', NotResource: notRole }, 'PASS_ROLE_WITH_NOT_RESOURCE'],
    ];
    for (const [elements, code] of cases) {
      const f = only(validatePolicy(doc({ Effect: 'Allow', ...elements })), code);
      assert.equal(f.findingType, 'SECURITY_WARNING');
    }
  });

  it('lists every code it can emit in VALIDATION_CHECKS, invented ones marked aiam', () => {
    const real = new Set([
      'TYPE_MISMATCH',
      'PASS_ROLE_WITH_STAR_IN_RESOURCE_AND_NOT_ACTION',
      'PASS_ROLE_WITH_NOT_ACTION_AND_NOT_RESOURCE',
      'PASS_ROLE_WITH_STAR_IN_ACTION_AND_NOT_RESOURCE',
    ]);
    const listed = new Map(VALIDATION_CHECKS.map((c) => [c.issueCode, c]));
    for (const code of real) assert.equal(listed.get(code)?.aiam, undefined, code);
    for (const code of ['MISMATCHED_TYPE', 'PASS_ROLE_WITH_NOT_ACTION']) assert.ok(!listed.has(code), code);
  });

  it('FORALLVALUES_WITH_SINGLE_VALUED_KEY on an Allow', () => {
    const f = only(
      validatePolicy(
        doc({
          Effect: 'Allow',
          Action: 's3:GetObject',
          Resource: '*',
          Condition: { 'ForAllValues:StringEquals': { 'aws:username': ['alice'] } },
        }),
      ),
      'FORALLVALUES_WITH_SINGLE_VALUED_KEY',
    );
    assert.equal(f.findingType, 'SECURITY_WARNING');
  });
});

describe('validatePolicy: warnings', () => {
  it('MISSING_VERSION', () => {
    const f = only(
      validatePolicy(doc({ Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }, null)),
      'MISSING_VERSION',
    );
    assert.equal(f.findingType, 'WARNING');
    assert.deepEqual(f.path, []);
  });

  it('UNSUPPORTED_SERVICE_IN_ACTION for a service aiam does not serve', () => {
    const f = only(
      validatePolicy(doc({ Effect: 'Allow', Action: 'ec2:RunInstances', Resource: '*' })),
      'UNSUPPORTED_SERVICE_IN_ACTION',
    );
    assert.equal(f.findingType, 'WARNING');
  });

  it('TYPE_MISMATCH for an operator of the wrong type, but not Numeric on aws:EpochTime', () => {
    const bad = validatePolicy(
      doc({
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::b',
        Condition: {
          NumericLessThan: { 's3:prefix': '3' },
          DateGreaterThan: { 'aws:SourceIp': '2020-01-01' },
        },
      }),
    );
    assert.deepEqual(codes(bad), ['WARNING TYPE_MISMATCH', 'WARNING TYPE_MISMATCH']);
    const ok = validatePolicy(
      doc({
        Effect: 'Allow',
        Action: 's3:ListBucket',
        Resource: 'arn:aws:s3:::b',
        Condition: {
          NumericLessThan: { 'aws:EpochTime': '1900000000', 's3:max-keys': '100' },
          StringLike: { 'aws:PrincipalArn': 'arn:aws:iam::*:role/ci-*' },
          ArnLike: { 'aws:SourceArn': 'arn:aws:s3:::*' },
        },
      }),
    );
    assert.deepEqual(codes(ok), []);
  });

  it('NO_RESOURCE_MATCHES_ACTION: s3:ListBucket on objects only', () => {
    const f = only(
      validatePolicy(
        doc({ Effect: 'Allow', Action: ['s3:GetObject', 's3:ListBucket'], Resource: 'arn:aws:s3:::b/*' }),
      ),
      'NO_RESOURCE_MATCHES_ACTION',
    );
    assert.equal(f.findingType, 'WARNING');
    assert.deepEqual(f.path, [{ value: 'Statement' }, { value: 'Action' }, { index: 1 }]);
    assert.match(f.findingDetails, /s3:ListBucket applies to bucket/);
    const ml = validatePolicy(
      doc({
        Effect: 'Allow',
        Action: 'ml:InvokeEndpoint',
        Resource: 'arn:aiam:ml::123456789012:workspace/w/model/m',
      }),
    );
    only(ml, 'NO_RESOURCE_MATCHES_ACTION');
    const fine = validatePolicy(
      doc({
        Effect: 'Allow',
        Action: ['ml:InvokeEndpoint', 'ml:GetModelVersion', 's3:ListBucket'],
        Resource: ['arn:aiam:ml::123456789012:workspace/w/*', 'arn:aws:s3:::b*'],
      }),
    );
    assert.deepEqual(codes(fine), []);
  });

  it('UNSUPPORTED_GLOBAL_CONDITION_KEY for AWS keys aiam never sets', () => {
    const f = only(
      validatePolicy(
        doc({
          Effect: 'Deny',
          Action: 's3:*',
          Resource: '*',
          Condition: { StringNotEquals: { 'aws:SourceVpc': 'vpc-1' } },
        }),
      ),
      'UNSUPPORTED_GLOBAL_CONDITION_KEY',
    );
    assert.equal(f.findingType, 'WARNING');
  });

  it('MISSING_SET_OPERATOR_FOR_MULTIVALUED_KEY and FORANYVALUE_WITH_SINGLE_VALUED_KEY', () => {
    const findings = validatePolicy(
      doc({
        Effect: 'Deny',
        Action: 'iam:TagUser',
        Resource: '*',
        Condition: {
          StringEquals: { 'aws:TagKeys': 'x' },
          'ForAnyValue:StringEquals': { 'aws:username': 'a' },
        },
      }),
    );
    assert.deepEqual(codes(findings), [
      'WARNING MISSING_SET_OPERATOR_FOR_MULTIVALUED_KEY',
      'WARNING FORANYVALUE_WITH_SINGLE_VALUED_KEY',
    ]);
  });
});

describe('validatePolicy: suggestions', () => {
  it('WILDCARD_IN_SERVICE_NAME', () => {
    const f = only(
      validatePolicy(doc({ Effect: 'Allow', Action: '*:List*', Resource: '*' })),
      'WILDCARD_IN_SERVICE_NAME',
    );
    assert.equal(f.findingType, 'SUGGESTION');
  });

  it('REDUNDANT_ACTION and REDUNDANT_RESOURCE', () => {
    const findings = validatePolicy(
      doc({
        Effect: 'Allow',
        Action: ['s3:Get*', 's3:GetObject', 's3:ListBucket', 's3:listbucket'],
        Resource: ['arn:aws:s3:::b/*', 'arn:aws:s3:::b/key', 'arn:aws:s3:::b'],
      }),
    );
    assert.deepEqual(codes(findings), [
      'SUGGESTION REDUNDANT_ACTION',
      'SUGGESTION REDUNDANT_ACTION',
      'SUGGESTION REDUNDANT_RESOURCE',
    ]);
    assert.deepEqual(findings[0]!.path, [{ value: 'Statement' }, { value: 'Action' }, { index: 1 }]);
    assert.deepEqual(findings[1]!.path, [{ value: 'Statement' }, { value: 'Action' }, { index: 3 }]);
  });

  it('REDUNDANT_STATEMENT, ignoring the Sid', () => {
    const s = { Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' };
    const f = only(
      validatePolicy(
        doc([
          { Sid: 'A', ...s },
          { ...s, Sid: 'B' },
        ]),
      ),
      'REDUNDANT_STATEMENT',
    );
    assert.deepEqual(f.path, [{ value: 'Statement' }, { index: 1 }]);
  });

  it('EMPTY_SID_VALUE', () => {
    const f = only(
      validatePolicy(doc({ Sid: '', Effect: 'Allow', Action: 's3:GetObject', Resource: 'arn:aws:s3:::b/*' })),
      'EMPTY_SID_VALUE',
    );
    assert.equal(f.findingType, 'SUGGESTION');
  });
});

describe('validatePolicy: robustness', () => {
  it('never throws on random values or truncated documents (property)', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (value) => {
        validatePolicy(value);
        validatePolicy(JSON.stringify(value));
      }),
      { numRuns: 300 },
    );
    fc.assert(
      fc.property(fc.nat(SEED_002.length), (cut) => {
        const findings = validatePolicy(SEED_002.slice(0, cut));
        if (cut < SEED_002.length) assert.equal(findings[0]?.findingType, 'ERROR');
      }),
    );
  });

  it('never throws on odd input and orders errors first', () => {
    for (const input of [
      '',
      'null',
      '[]',
      '"x"',
      '{"Statement":5}',
      '{"Statement":[null,1,{"Action":{}}]}',
      42,
      null,
      undefined,
    ]) {
      const findings = validatePolicy(input);
      assert.ok(findings.length > 0, `findings for ${String(input)}`);
      assert.equal(findings[0]!.findingType, 'ERROR');
    }
  });
});

describe('VALIDATION_CHECKS', () => {
  it('documents every code this test file exercises, once', () => {
    const codesListed = VALIDATION_CHECKS.map((c) => c.issueCode);
    assert.equal(new Set(codesListed).size, codesListed.length);
    const source = readFileSync(new URL('./validate-policy.ts', import.meta.url), 'utf8');
    const emitted = new Set([...source.matchAll(/'([A-Z][A-Z_]{5,})',\n/g)].map((m) => m[1]!));
    for (const c of emitted) {
      if (c === 'IDENTITY_POLICY' || c === 'RESOURCE_POLICY' || c === 'SERVICE_CONTROL_POLICY') continue;
      if (['ERROR', 'WARNING', 'SUGGESTION', 'SECURITY_WARNING'].includes(c)) continue;
      assert.ok(codesListed.includes(c), `${c} is emitted but missing from VALIDATION_CHECKS`);
    }
  });
});

describe('validatePolicy: federation trust policies', () => {
  it('accepts the condition keys of OIDC providers, with no unknown-key finding', () => {
    const trust = doc([
      {
        Effect: 'Allow',
        Principal: {
          Federated: 'arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com',
        },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: {
          StringEquals: { 'token.actions.githubusercontent.com:aud': 'sts.amazonaws.com' },
          StringLike: { 'token.actions.githubusercontent.com:sub': 'repo:acme/models:*' },
        },
      },
      {
        Effect: 'Allow',
        Principal: { Federated: 'accounts.google.com' },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { 'accounts.google.com:aud': '1234.apps.googleusercontent.com' } },
      },
      {
        Effect: 'Allow',
        Principal: {
          Federated: 'arn:aws:iam::111122223333:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0',
        },
        Action: 'sts:AssumeRoleWithWebIdentity',
        Condition: { StringEquals: { 'oidc.eks.us-east-1.amazonaws.com/id/EXAMPLE0:sub': 'system:sa:ml:x' } },
      },
    ]);
    const findings = validatePolicy(trust, { kind: 'trust' });
    assert.deepEqual(
      findings.filter((f) => f.findingType === 'ERROR' || f.issueCode.includes('CONDITION_KEY')),
      [],
    );
  });
});
