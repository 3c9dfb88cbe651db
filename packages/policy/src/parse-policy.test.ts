// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${key}.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { PolicyValidationError } from './finding.js';
import { parsePolicy, parsePolicyOrThrow } from './parse-policy.js';
import { serializePolicy } from './policy-document.js';

const V = '2012-10-17';
const stmt = (extra: Record<string, unknown>) => ({
  Version: V,
  Statement: [{ Effect: 'Allow', Action: 's3:GetObject', Resource: '*', ...extra }],
});

function codes(input: unknown, kind: 'identity' | 'resource' | 'trust' = 'identity'): string[] {
  return parsePolicy(input, { kind }).findings.map((f) => f.issueCode);
}

// Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
// Issue codes: https://docs.aws.amazon.com/IAM/latest/UserGuide/access-analyzer-reference-policy-checks.html
describe('parsePolicy', () => {
  it('normalizes strings to arrays and a single Statement object to an array', () => {
    const { policy, findings } = parsePolicy(
      {
        Version: V,
        Id: 'x',
        Statement: { Sid: 'A', Effect: 'Deny', Action: 's3:*', NotResource: 'arn:aws:s3:::b' },
      },
      { kind: 'identity' },
    );
    assert.deepEqual(findings, []);
    assert.deepEqual(policy, {
      version: V,
      id: 'x',
      statements: [{ sid: 'A', effect: 'Deny', action: ['s3:*'], notResource: ['arn:aws:s3:::b'] }],
    });
  });

  it('accepts text and turns condition numbers and booleans into strings', () => {
    const p = parsePolicyOrThrow(
      JSON.stringify(
        stmt({
          Condition: { NumericLessThan: { 's3:max-keys': 10 }, Bool: { 'aws:SecureTransport': true } },
        }),
      ),
      { kind: 'identity' },
    );
    assert.deepEqual(p.statements[0]!.condition, {
      NumericLessThan: { 's3:max-keys': ['10'] },
      Bool: { 'aws:SecureTransport': ['true'] },
    });
  });

  const table: [string, unknown, string, ('identity' | 'resource' | 'trust')?][] = [
    ['invalid JSON', '{"Version":', 'JSON_SYNTAX_ERROR'],
    ['not an object', '[1,2]', 'JSON_SYNTAX_ERROR'],
    ['bad version', { ...stmt({}), Version: '2020-01-01' }, 'INVALID_VERSION'],
    ['missing statement', { Version: V }, 'MISSING_STATEMENT'],
    ['empty statement list', { Version: V, Statement: [] }, 'MISSING_STATEMENT'],
    ['missing effect', { Version: V, Statement: [{ Action: 's3:*', Resource: '*' }] }, 'MISSING_EFFECT'],
    ['lowercase effect', stmt({ Effect: 'allow' }), 'INVALID_EFFECT'],
    ['missing action', { Version: V, Statement: [{ Effect: 'Allow', Resource: '*' }] }, 'MISSING_ACTION'],
    ['Action with NotAction', stmt({ NotAction: 's3:Put*' }), 'UNSUPPORTED_ELEMENT_COMBINATION'],
    ['Resource with NotResource', stmt({ NotResource: 'x' }), 'UNSUPPORTED_ELEMENT_COMBINATION'],
    ['malformed action', stmt({ Action: 'GetObject' }), 'INVALID_ACTION'],
    [
      'missing resource in identity policy',
      { Version: V, Statement: [{ Effect: 'Allow', Action: 's3:*' }] },
      'MISSING_RESOURCE',
    ],
    ['principal in identity policy', stmt({ Principal: '*' }), 'UNSUPPORTED_PRINCIPAL'],
    ['missing principal in resource policy', stmt({}), 'MISSING_PRINCIPAL', 'resource'],
    ['bad principal key', stmt({ Principal: { Aws: '*' } }), 'INVALID_PRINCIPAL_KEY', 'resource'],
    ['bad principal string', stmt({ Principal: 'alice' }), 'INVALID_PRINCIPAL_FORMAT', 'resource'],
    [
      'unknown operator',
      stmt({ Condition: { StringEqual: { 'aws:username': 'a' } } }),
      'INVALID_CONDITION_OPERATOR',
    ],
    [
      'wrong-case operator',
      stmt({ Condition: { stringequals: { 'aws:username': 'a' } } }),
      'INVALID_CONDITION_OPERATOR',
    ],
    [
      'NullIfExists',
      stmt({ Condition: { NullIfExists: { 'aws:username': 'true' } } }),
      'NULL_WITH_IF_EXISTS',
    ],
    [
      'keys differing in case',
      stmt({ Condition: { StringEquals: { 'aws:username': 'a', 'AWS:UserName': 'b' } } }),
      'DUPLICATE_KEYS_WITH_DIFFERENT_CASE',
    ],
    [
      'key without prefix',
      stmt({ Condition: { StringEquals: { username: 'a' } } }),
      'INVALID_CONDITION_KEY_FORMAT',
    ],
    [
      'non-numeric Numeric value',
      stmt({ Condition: { NumericEquals: { 's3:max-keys': 'ten' } } }),
      'DATA_TYPE_MISMATCH',
    ],
    ['bad CIDR', stmt({ Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/33' } } }), 'DATA_TYPE_MISMATCH'],
    [
      'duplicate Sid',
      { Version: V, Statement: [stmt({ Sid: 'a' }).Statement[0], stmt({ Sid: 'a' }).Statement[0]] },
      'UNIQUE_SIDS_REQUIRED',
    ],
    ['unknown element', stmt({ effect: 'Allow' }), 'INVALID_POLICY_ELEMENT'],
    ['unknown top-level element', { ...stmt({}), Statements: [] }, 'INVALID_POLICY_ELEMENT'],
    ['unclosed variable', stmt({ Resource: 'arn:aws:s3:::b/${aws:username' }), 'MISSING_BRACE_IN_VARIABLE'],
    ['empty variable', stmt({ Resource: 'arn:aws:s3:::b/${}' }), 'EMPTY_VARIABLE'],
  ];
  for (const [name, input, code, kind] of table) {
    it(`reports ${code} for ${name}`, () => {
      const result = parsePolicy(input, { kind: kind ?? 'identity' });
      assert.equal(result.policy, undefined);
      assert.ok(codes(input, kind).includes(code), `expected ${code}, got ${codes(input, kind).join(', ')}`);
    });
  }

  it('gives the JSON path of the problem', () => {
    const { findings } = parsePolicy(
      { Version: V, Statement: [stmt({}).Statement[0], { Effect: 'Maybe', Action: 's3:*', Resource: '*' }] },
      { kind: 'identity' },
    );
    assert.deepEqual(findings[0]!.path, [{ value: 'Statement' }, { index: 1 }, { value: 'Effect' }]);
  });

  it('needs no Resource in a trust policy, but a Principal', () => {
    const trust = {
      Version: V,
      Statement: { Effect: 'Allow', Action: 'sts:AssumeRole', Principal: { Service: 'ml.aiam' } },
    };
    assert.deepEqual(codes(trust, 'trust'), []);
  });

  it('keeps ${...} literal without Version 2012-10-17, so no variable errors', () => {
    assert.deepEqual(
      codes({ Statement: [{ Effect: 'Allow', Action: 's3:*', Resource: 'arn:aws:s3:::b/${oops' }] }),
      [],
    );
  });

  it('throws PolicyValidationError with every finding from parsePolicyOrThrow', () => {
    assert.throws(
      () => parsePolicyOrThrow({ Version: 'x', Statement: { Effect: 'x' } }, { kind: 'identity' }),
      (err: unknown) =>
        err instanceof PolicyValidationError && err.code === 'ERR_POLICY_INVALID' && err.findings.length >= 3,
    );
  });

  it('refuses oversized text', () => {
    assert.deepEqual(codes('x'.repeat(2_000_000)), ['POLICY_SIZE_EXCEEDED']);
  });

  it('survives deep nesting', () => {
    const deep = `${'['.repeat(100_000)}${']'.repeat(100_000)}`;
    assert.deepEqual(codes(deep), ['JSON_SYNTAX_ERROR']);
    let nested: unknown = 'x';
    for (let i = 0; i < 10_000; i++) nested = { Condition: nested };
    assert.ok(codes({ Version: V, Statement: nested }).length > 0);
  });

  // Property: random and truncated input only ever yields findings (or throws the typed error).
  it('never throws for random or truncated JSON (property)', () => {
    const valid = JSON.stringify({
      Version: V,
      Statement: [
        {
          Sid: 'S1',
          Effect: 'Allow',
          Action: ['s3:GetObject'],
          Resource: 'arn:aws:s3:::b/${aws:username}/*',
          Condition: { IpAddress: { 'aws:SourceIp': ['10.0.0.0/8', '2001:db8::/32'] } },
        },
      ],
    });
    fc.assert(
      fc.property(fc.nat(valid.length), fc.oneof(fc.json(), fc.string()), (cut, random) => {
        for (const input of [valid.slice(0, cut), random, JSON.parse(valid)]) {
          for (const kind of ['identity', 'resource', 'trust'] as const) {
            try {
              const r = parsePolicy(input, { kind });
              assert.ok(r.policy !== undefined || r.findings.some((f) => f.findingType === 'ERROR'));
              parsePolicyOrThrow(input, { kind });
            } catch (err) {
              assert.ok(err instanceof PolicyValidationError, String(err));
            }
          }
        }
      }),
      { numRuns: 500 },
    );
    fc.assert(
      fc.property(fc.anything(), (value) => {
        const r = parsePolicy(value, { kind: 'identity' });
        assert.ok(Array.isArray(r.findings));
      }),
      { numRuns: 500 },
    );
  });

  // Property: parse -> serialize -> parse is stable.
  it('round-trips through serializePolicy (property)', () => {
    const str = fc.constantFrom('s3:GetObject', 's3:*', 'ml:Invoke*', '*');
    const res = fc.constantFrom('*', 'arn:aws:s3:::b', 'arn:aws:s3:::b/${aws:username}/*');
    const statement = fc.record(
      {
        Sid: fc.stringMatching(/^[A-Za-z0-9]{1,8}$/),
        Effect: fc.constantFrom('Allow', 'Deny'),
        Action: fc.oneof(str, fc.array(str, { minLength: 1, maxLength: 3 })),
        Resource: fc.oneof(res, fc.array(res, { minLength: 1, maxLength: 3 })),
        Condition: fc.constantFrom(
          { StringLike: { 's3:prefix': ['home/', 'home/${aws:username}/*'] } },
          {
            'ForAllValues:StringEquals': { 'aws:TagKeys': 'team' },
            NumericLessThanEquals: { 's3:max-keys': 10 },
          },
        ),
      },
      { requiredKeys: ['Effect', 'Action', 'Resource'] },
    );
    fc.assert(
      fc.property(
        fc.array(statement, { minLength: 1, maxLength: 4 }),
        fc.constantFrom(V, '2008-10-17', undefined),
        (statements, version) => {
          const sids = new Set<string>();
          const unique = statements.filter((s) => {
            if (s.Sid === undefined) return true;
            if (sids.has(s.Sid)) return false;
            sids.add(s.Sid);
            return true;
          });
          const doc = { ...(version ? { Version: version } : {}), Statement: unique };
          const first = parsePolicyOrThrow(doc, { kind: 'identity' });
          const text = serializePolicy(first);
          const second = parsePolicyOrThrow(text, { kind: 'identity' });
          assert.deepEqual(second, first);
          assert.equal(serializePolicy(second), text);
        },
      ),
      { numRuns: 300 },
    );
  });
});

// AWS writes the keys of a web-identity (OIDC) or SAML provider as `provider:claim`, where the
// provider is a host name, sometimes with a path:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#condition-keys-wif
describe('parsePolicy: condition keys of federated providers', () => {
  const trust = (keys: Record<string, string>) => ({
    Version: V,
    Statement: {
      Effect: 'Allow',
      Principal: { Federated: 'arn:aws:iam::111122223333:oidc-provider/token.actions.githubusercontent.com' },
      Action: 'sts:AssumeRoleWithWebIdentity',
      Condition: { StringEquals: keys },
    },
  });

  for (const key of [
    'token.actions.githubusercontent.com:sub',
    'accounts.google.com:aud',
    'oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE:sub',
    'cognito-identity.amazonaws.com:amr',
  ]) {
    it(`accepts ${key}`, () => {
      assert.deepEqual(codes(trust({ [key]: 'x' }), 'trust'), []);
    });
  }

  it('still refuses keys without a prefix, with an empty prefix or with spaces', () => {
    for (const key of ['sub', ':sub', 'token actions:sub', '.example.com:sub', 'a..b:sub']) {
      assert.deepEqual(codes(trust({ [key]: 'x' }), 'trust'), ['INVALID_CONDITION_KEY_FORMAT'], key);
    }
  });
});
