// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${key}.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type CompiledPolicy, compilePolicy } from './compile-policy.js';
import type { PolicyKind } from './decision.js';
import { evaluatePolicies, type PolicySet } from './evaluate-policies.js';
import { parsePolicyOrThrow } from './parse-policy.js';
import { AuthorizationRequestError } from './request-context.js';
import {
  type AuthorizationRequest,
  type ContextValue,
  createRequestContext,
  type RequestPrincipal,
} from './request-context.js';

const V = '2012-10-17';
let n = 0;
function policy(kind: PolicyKind, ...statements: Record<string, unknown>[]): CompiledPolicy {
  const parsed = parsePolicyOrThrow({ Version: V, Statement: statements }, { kind });
  return compilePolicy(parsed, { id: `${kind}-${n++}`, kind });
}
const allow = (action: string | string[], resource: string | string[] = '*', extra = {}) => ({
  Effect: 'Allow',
  Action: action,
  Resource: resource,
  ...extra,
});
const deny = (action: string | string[], resource: string | string[] = '*', extra = {}) => ({
  Effect: 'Deny',
  Action: action,
  Resource: resource,
  ...extra,
});

const ACCT = '111122223333';
const OTHER = '444455556666';
const alice: RequestPrincipal = { arn: `arn:aws:iam::${ACCT}:user/alice`, account: ACCT };
const roleArn = `arn:aws:iam::${ACCT}:role/trainer`;
const session: RequestPrincipal = {
  arn: `arn:aws:sts::${ACCT}:assumed-role/trainer/run-1`,
  account: ACCT,
  identityArns: [roleArn],
};
const foreign: RequestPrincipal = { arn: `arn:aws:iam::${OTHER}:user/bob`, account: OTHER };
const OBJ = 'arn:aws:s3:::training-data/set1/a.csv';

function req(
  principal: RequestPrincipal,
  action: string,
  resource = OBJ,
  ctx: Record<string, string> = {},
): AuthorizationRequest {
  return { principal, action, resource, context: createRequestContext(ctx) };
}
function decide(r: AuthorizationRequest, set: PolicySet) {
  return evaluatePolicies(r, set);
}

// Each rule cites https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
// unless noted.
describe('evaluatePolicies: AWS evaluation logic', () => {
  it('denies by default (implicit deny) when nothing allows', () => {
    const d = decide(req(alice, 's3:GetObject'), {});
    assert.equal(d.decision, 'implicitDeny');
    assert.equal(d.reason, 'no-allow');
  });

  it('allows when an identity-based policy allows', () => {
    const d = decide(req(alice, 's3:GetObject'), {
      identity: [policy('identity', allow('s3:GetObject', 'arn:aws:s3:::training-data/*'))],
    });
    assert.equal(d.decision, 'allowed');
    assert.equal(d.reason, undefined);
    assert.equal(d.matched.length, 1);
  });

  it('an explicit deny in any identity policy overrides an allow', () => {
    const d = decide(req(alice, 's3:GetObject'), {
      identity: [
        policy('identity', allow('s3:*')),
        policy('identity', { Sid: 'NoData', ...deny('s3:Get*', 'arn:aws:s3:::training-data/*') }),
      ],
    });
    assert.equal(d.decision, 'explicitDeny');
    assert.equal(d.reason, 'explicit-deny');
    assert.deepEqual(
      d.matched.map((m) => m.effect),
      ['Allow', 'Deny'],
    );
    assert.equal(d.matched[1]!.sid, 'NoData');
  });

  it('an explicit deny in a resource policy overrides an identity allow', () => {
    const d = decide(req(alice, 's3:GetObject'), {
      identity: [policy('identity', allow('s3:*'))],
      resource: [policy('resource', deny('s3:*', '*', { Principal: '*' }))],
    });
    assert.equal(d.decision, 'explicitDeny');
  });

  it('an explicit deny in a permissions boundary or session policy wins', () => {
    const id = [policy('identity', allow('*'))];
    assert.equal(
      decide(req(alice, 's3:GetObject'), {
        identity: id,
        permissionsBoundary: policy('boundary', allow('*'), deny('s3:GetObject')),
      }).decision,
      'explicitDeny',
    );
    assert.equal(
      decide(req(session, 's3:GetObject'), {
        identity: id,
        session: [policy('session', allow('*'), deny('s3:GetObject'))],
      }).decision,
      'explicitDeny',
    );
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
  it('a permissions boundary caps identity-based grants', () => {
    const id = [policy('identity', allow(['s3:GetObject', 's3:PutObject']))];
    const boundary = policy('boundary', allow('s3:GetObject'));
    assert.equal(
      decide(req(alice, 's3:GetObject'), { identity: id, permissionsBoundary: boundary }).decision,
      'allowed',
    );
    const d = decide(req(alice, 's3:PutObject'), { identity: id, permissionsBoundary: boundary });
    assert.equal(d.decision, 'implicitDeny');
    assert.equal(d.reason, 'boundary');
  });

  it('a permissions boundary alone grants nothing', () => {
    const d = decide(req(alice, 's3:GetObject'), { permissionsBoundary: policy('boundary', allow('*')) });
    assert.equal(d.decision, 'implicitDeny');
    assert.equal(d.reason, 'no-allow');
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies.html#policies_session
  it('session policies cap the role identity policies', () => {
    const id = [policy('identity', allow('s3:*'))];
    const sess = [policy('session', allow('s3:GetObject'))];
    assert.equal(decide(req(session, 's3:GetObject'), { identity: id, session: sess }).decision, 'allowed');
    const d = decide(req(session, 's3:PutObject'), { identity: id, session: sess });
    assert.equal(d.decision, 'implicitDeny');
    assert.equal(d.reason, 'session-policy');
    assert.equal(
      decide(req(session, 's3:GetObject'), { identity: id, session: [] }).decision,
      'implicitDeny',
    );
  });

  it('a same-account resource policy can grant on its own', () => {
    const r = [
      policy(
        'resource',
        allow('s3:GetObject', 'arn:aws:s3:::training-data/*', { Principal: { AWS: alice.arn } }),
      ),
    ];
    assert.equal(decide(req(alice, 's3:GetObject'), { resource: r }).decision, 'allowed');
    assert.equal(decide(req(alice, 's3:PutObject'), { resource: r }).decision, 'implicitDeny');
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
  // ("Resource-based policies ... that specify the user ARN ... are not limited by the boundary")
  it('a resource policy naming the IAM user ARN is not capped by the boundary', () => {
    const r = [policy('resource', allow('s3:GetObject', '*', { Principal: { AWS: alice.arn } }))];
    const d = decide(req(alice, 's3:GetObject'), {
      resource: r,
      permissionsBoundary: policy('boundary', allow('ml:*')),
    });
    assert.equal(d.decision, 'allowed');
  });

  it('a resource policy naming the role ARN is capped by boundary and session policy', () => {
    const r = [policy('resource', allow('s3:GetObject', '*', { Principal: { AWS: roleArn } }))];
    assert.equal(decide(req(session, 's3:GetObject'), { resource: r }).decision, 'allowed');
    assert.equal(
      decide(req(session, 's3:GetObject'), {
        resource: r,
        permissionsBoundary: policy('boundary', allow('ml:*')),
      }).reason,
      'boundary',
    );
    assert.equal(
      decide(req(session, 's3:GetObject'), { resource: r, session: [policy('session', allow('ml:*'))] })
        .reason,
      'session-policy',
    );
  });

  it('a resource policy naming the role-session ARN is not capped by the session policy', () => {
    const r = [policy('resource', allow('s3:GetObject', '*', { Principal: { AWS: session.arn } }))];
    assert.equal(
      decide(req(session, 's3:GetObject'), { resource: r, session: [policy('session', allow('ml:*'))] })
        .decision,
      'allowed',
    );
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
  it('cross-account requests need both the identity side and the resource side', () => {
    const resource = `arn:aiam:ml::${ACCT}:workspace/ws/model/m`;
    const r = [policy('resource', allow('ml:*', '*', { Principal: { AWS: OTHER } }))];
    const id = [policy('identity', allow('ml:GetModel'))];
    assert.equal(decide(req(foreign, 'ml:GetModel', resource), { resource: r }).decision, 'implicitDeny');
    assert.equal(decide(req(foreign, 'ml:GetModel', resource), { identity: id }).decision, 'implicitDeny');
    assert.equal(
      decide(req(foreign, 'ml:GetModel', resource), { identity: id, resource: r }).decision,
      'allowed',
    );
  });

  it('takes the resource account from aws:ResourceAccount when the ARN has none', () => {
    const id = [policy('identity', allow('s3:GetObject'))];
    assert.equal(
      decide(req(foreign, 's3:GetObject', OBJ, { 'aws:ResourceAccount': ACCT }), { identity: id }).decision,
      'implicitDeny',
    );
    assert.equal(decide(req(foreign, 's3:GetObject', OBJ), { identity: id }).decision, 'allowed');
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
  describe('Principal and NotPrincipal', () => {
    const cases: [string, unknown, RequestPrincipal, boolean][] = [
      ['"*" matches anyone', '*', alice, true],
      ['{"AWS":"*"} matches anyone', { AWS: '*' }, alice, true],
      ['an account id matches any principal of that account', { AWS: ACCT }, session, true],
      [
        'an account root ARN matches any principal of that account',
        { AWS: `arn:aws:iam::${ACCT}:root` },
        alice,
        true,
      ],
      [
        'an account root ARN does not match another account',
        { AWS: `arn:aws:iam::${OTHER}:root` },
        alice,
        false,
      ],
      ['a user ARN matches that user', { AWS: alice.arn }, alice, true],
      ['a user ARN matches no one else', { AWS: alice.arn }, session, false],
      ['a role ARN matches its sessions', { AWS: roleArn }, session, true],
      [
        'a Service principal matches that service',
        { Service: 'pipelines.aiam' },
        { arn: 'pipelines.aiam', account: ACCT, type: 'Service', service: 'pipelines.aiam' },
        true,
      ],
      [
        'a Federated principal matches that provider',
        { Federated: 'arn:aws:iam::111122223333:oidc-provider/ci' },
        { arn: 'arn:aws:iam::111122223333:oidc-provider/ci', account: ACCT, type: 'Federated' },
        true,
      ],
      [
        'a Federated principal matches the provider named by federatedProvider or identityArns',
        {
          Federated: [
            'accounts.google.com',
            `arn:aws:iam::${ACCT}:oidc-provider/token.actions.githubusercontent.com`,
          ],
        },
        {
          arn: 'https://token.actions.githubusercontent.com',
          account: ACCT,
          type: 'Federated',
          identityArns: [`arn:aws:iam::${ACCT}:oidc-provider/token.actions.githubusercontent.com`],
        },
        true,
      ],
      // Principal types are distinct namespaces: the same text under another type is no match.
      [
        'a Federated provider does not match an AWS principal with the same text',
        { Federated: 'arn:aws:iam::111122223333:oidc-provider/ci' },
        { arn: 'arn:aws:iam::111122223333:oidc-provider/ci', account: ACCT },
        false,
      ],
      [
        'an AWS principal does not match a federated caller with the same text',
        { AWS: alice.arn },
        { arn: alice.arn, account: ACCT, type: 'Federated', federatedProvider: alice.arn },
        false,
      ],
      [
        'a Service principal does not match an AWS principal with the same text',
        { Service: 'pipelines.aiam' },
        { arn: 'pipelines.aiam', account: ACCT },
        false,
      ],
      [
        'a Federated provider does not match a service with the same text',
        { Federated: 'accounts.google.com' },
        { arn: 'accounts.google.com', account: ACCT, type: 'Service', service: 'accounts.google.com' },
        false,
      ],
      [
        'an account principal does not match a federated caller of that account',
        { AWS: ACCT },
        {
          arn: 'accounts.google.com',
          account: ACCT,
          type: 'Federated',
          federatedProvider: 'accounts.google.com',
        },
        false,
      ],
      ['{"Service":"*"} matches any service but no AWS principal', { Service: '*' }, alice, false],
      [
        '"*" matches a federated caller',
        '*',
        {
          arn: 'accounts.google.com',
          account: ACCT,
          type: 'Federated',
          federatedProvider: 'accounts.google.com',
        },
        true,
      ],
    ];
    // A Deny naming the principal shows whether it matched, whatever the grant rules are.
    const everything = [policy('identity', allow('*'))];
    for (const [name, principal, who, expected] of cases) {
      it(name, () => {
        const r = [policy('resource', deny('s3:GetObject', '*', { Principal: principal }))];
        const d = decide(req(who, 's3:GetObject'), { identity: everything, resource: r });
        assert.equal(d.decision, expected ? 'explicitDeny' : 'allowed');
      });
    }

    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts
    it('an account principal delegates to the account: alone it grants nothing within the account', () => {
      const r = [
        policy('resource', allow('s3:GetObject', '*', { Principal: { AWS: `arn:aws:iam::${ACCT}:root` } })),
      ];
      assert.equal(decide(req(alice, 's3:GetObject'), { resource: r }).decision, 'implicitDeny');
      const id = [policy('identity', allow('s3:GetObject'))];
      assert.equal(decide(req(alice, 's3:GetObject'), { resource: r, identity: id }).decision, 'allowed');
    });
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notprincipal.html
  it('NotPrincipal with Deny denies everyone but the named principal', () => {
    const r = [
      policy(
        'resource',
        { Effect: 'Allow', Principal: '*', Action: 's3:*', Resource: '*' },
        { Effect: 'Deny', NotPrincipal: { AWS: alice.arn }, Action: 's3:*', Resource: '*' },
      ),
    ];
    assert.equal(decide(req(alice, 's3:GetObject'), { resource: r }).decision, 'allowed');
    assert.equal(decide(req(session, 's3:GetObject'), { resource: r }).decision, 'explicitDeny');
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notaction.html
  it('NotAction matches every action except those listed', () => {
    const id = [policy('identity', { Effect: 'Allow', NotAction: 'iam:*', Resource: '*' })];
    assert.equal(decide(req(alice, 's3:GetObject'), { identity: id }).decision, 'allowed');
    assert.equal(decide(req(alice, 'IAM:CreateUser'), { identity: id }).decision, 'implicitDeny');
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_notresource.html
  it('NotResource matches every resource except those listed', () => {
    const id = [
      policy('identity', allow('s3:*'), {
        Effect: 'Deny',
        Action: 's3:*',
        NotResource: 'arn:aws:s3:::training-data/*',
      }),
    ];
    assert.equal(decide(req(alice, 's3:GetObject'), { identity: id }).decision, 'allowed');
    assert.equal(
      decide(req(alice, 's3:GetObject', 'arn:aws:s3:::secrets/x'), { identity: id }).decision,
      'explicitDeny',
    );
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html (case-insensitive)
  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html (case-sensitive)
  it('matches actions case-insensitively and resources case-sensitively', () => {
    const id = [policy('identity', allow('S3:getobject', 'arn:aws:s3:::training-data/*'))];
    assert.equal(decide(req(alice, 's3:GetObject'), { identity: id }).decision, 'allowed');
    assert.equal(
      decide(req(alice, 's3:GetObject', 'arn:aws:s3:::Training-Data/x'), { identity: id }).decision,
      'implicitDeny',
    );
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
  describe('policy variables in Resource', () => {
    const home = policy('identity', allow('s3:*', 'arn:aws:s3:::data/${aws:username}/*'));
    it('substitutes the requester name', () => {
      assert.equal(
        decide(req(alice, 's3:GetObject', 'arn:aws:s3:::data/alice/x', { 'aws:username': 'alice' }), {
          identity: [home],
        }).decision,
        'allowed',
      );
      assert.equal(
        decide(req(alice, 's3:GetObject', 'arn:aws:s3:::data/bob/x', { 'aws:username': 'alice' }), {
          identity: [home],
        }).decision,
        'implicitDeny',
      );
    });
    it('a name containing * never widens the grant', () => {
      assert.equal(
        decide(req(alice, 's3:GetObject', 'arn:aws:s3:::data/bob/x', { 'aws:username': '*' }), {
          identity: [home],
        }).decision,
        'implicitDeny',
      );
      assert.equal(
        decide(req(alice, 's3:GetObject', 'arn:aws:s3:::data/*/x', { 'aws:username': '*' }), {
          identity: [home],
        }).decision,
        'allowed',
      );
    });
    it('a missing variable makes the entry match nothing and is reported', () => {
      const d = decide(req(alice, 's3:GetObject', 'arn:aws:s3:::data/alice/x'), { identity: [home] });
      assert.equal(d.decision, 'implicitDeny');
      assert.deepEqual(d.missingContextValues, ['aws:username']);
    });
    it('is literal without Version 2012-10-17', () => {
      const legacy = compilePolicy(
        parsePolicyOrThrow(
          { Statement: [allow('s3:*', 'arn:aws:s3:::data/${aws:username}/*')] },
          { kind: 'identity' },
        ),
        { id: 'l', kind: 'identity' },
      );
      assert.equal(
        decide(req(alice, 's3:GetObject', 'arn:aws:s3:::data/alice/x', { 'aws:username': 'alice' }), {
          identity: [legacy],
        }).decision,
        'implicitDeny',
      );
      assert.equal(
        decide(req(alice, 's3:GetObject', 'arn:aws:s3:::data/${aws:username}/x'), { identity: [legacy] })
          .decision,
        'allowed',
      );
    });
  });

  // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition.html
  it('applies a statement only when its Condition holds', () => {
    const p = policy(
      'identity',
      allow('s3:GetObject', '*', { Condition: { IpAddress: { 'aws:SourceIp': '10.0.0.0/8' } } }),
    );
    assert.equal(
      decide(req(alice, 's3:GetObject', OBJ, { 'aws:SourceIp': '10.1.2.3' }), { identity: [p] }).decision,
      'allowed',
    );
    assert.equal(
      decide(req(alice, 's3:GetObject', OBJ, { 'aws:SourceIp': '192.0.2.1' }), { identity: [p] }).decision,
      'implicitDeny',
    );
    assert.deepEqual(decide(req(alice, 's3:GetObject', OBJ), { identity: [p] }).missingContextValues, [
      'aws:sourceip',
    ]);
  });

  it('reports each matched statement with policy id, kind, Sid, effect and position', () => {
    const p = policy('identity', allow('ml:*'), { Sid: 'Read', ...allow('s3:GetObject') });
    const d = decide(req(alice, 's3:GetObject'), { identity: [p] });
    assert.deepEqual(d.matched, [
      { policyId: p.id, policyKind: 'identity', sid: 'Read', effect: 'Allow', statementIndex: 1 },
    ]);
  });
});

describe('evaluatePolicies: properties', () => {
  const action = fc.constantFrom('s3:GetObject', 's3:PutObject', 'ml:InvokeEndpoint', 'iam:CreateUser');
  const pattern = fc.constantFrom('*', 's3:*', 's3:Get*', 'ml:InvokeEndpoint', 'iam:*', 's3:*Object');
  const resource = fc.constantFrom(OBJ, 'arn:aws:s3:::other/x', `arn:aiam:ml::${ACCT}:workspace/ws`);
  const rpattern = fc.constantFrom(
    '*',
    'arn:aws:s3:::training-data/*',
    'arn:aws:s3:::*',
    `arn:aiam:ml::${ACCT}:*`,
  );
  const statement = fc.record({
    Effect: fc.constantFrom('Allow', 'Deny'),
    Action: pattern,
    Resource: rpattern,
  });
  const set = fc.record({
    identity: fc.array(fc.array(statement, { minLength: 1, maxLength: 3 }), { maxLength: 3 }),
    boundary: fc.option(fc.array(statement, { minLength: 1, maxLength: 2 }), { nil: undefined }),
    resource: fc.array(fc.array(statement, { minLength: 1, maxLength: 2 }), { maxLength: 2 }),
  });
  const build = (s: {
    identity: Record<string, unknown>[][];
    boundary?: Record<string, unknown>[];
    resource: Record<string, unknown>[][];
  }): PolicySet => ({
    identity: s.identity.map((st) => policy('identity', ...st)),
    resource: s.resource.map((st) =>
      policy('resource', ...st.map((x) => ({ ...x, Principal: { AWS: ACCT } }))),
    ),
    ...(s.boundary ? { permissionsBoundary: policy('boundary', ...s.boundary) } : {}),
  });

  it('adding an Allow never turns Allow into Deny', () => {
    fc.assert(
      fc.property(set, action, resource, pattern, rpattern, (s, a, r, ap, rp) => {
        const before = decide(req(alice, a, r), build(s));
        const after = decide(
          req(alice, a, r),
          build({ ...s, identity: [...s.identity, [{ Effect: 'Allow', Action: ap, Resource: rp }]] }),
        );
        if (before.decision === 'allowed') assert.equal(after.decision, 'allowed');
      }),
      { numRuns: 400 },
    );
  });

  it('adding a Deny never turns Deny into Allow, and an explicit deny always wins', () => {
    fc.assert(
      fc.property(set, action, resource, pattern, rpattern, (s, a, r, ap, rp) => {
        const before = decide(req(alice, a, r), build(s));
        const after = decide(
          req(alice, a, r),
          build({ ...s, identity: [...s.identity, [{ Effect: 'Deny', Action: ap, Resource: rp }]] }),
        );
        if (before.decision !== 'allowed') assert.notEqual(after.decision, 'allowed');
        const denied = decide(
          req(alice, a, r),
          build({ ...s, identity: [...s.identity, [{ Effect: 'Deny', Action: '*', Resource: '*' }]] }),
        );
        assert.equal(denied.decision, 'explicitDeny');
      }),
      { numRuns: 400 },
    );
  });
});

// "Policy variables with no value":
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value
// AWS: a Resource/NotResource entry with such a variable matches no resource; StringEquals-like
// operators don't match; inverted operators (StringNotEquals, StringNotLike) do. aiam reads an
// unresolvable variable as "unknown" instead: an Allow that depends on it never applies, a Deny
// applies when its other parts match. So aiam never allows what AWS would deny (see compile-policy.ts).
describe('evaluatePolicies: unresolvable policy variables fail safe', () => {
  const everything = policy('identity', allow('s3:*'));
  const noName = (action = 's3:GetObject', resource = 'arn:aws:s3:::data/alice/x', ctx = {}) =>
    req(alice, action, resource, ctx);

  it('Allow with NotResource naming a variable does not apply when the variable is missing', () => {
    const outsideHome = policy('identity', {
      Effect: 'Allow',
      Action: 's3:*',
      NotResource: 'arn:aws:s3:::data/${aws:username}/*',
    });
    const d = decide(noName('s3:GetObject', 'arn:aws:s3:::data/bob/x'), { identity: [outsideHome] });
    assert.equal(d.decision, 'implicitDeny');
    assert.deepEqual(d.missingContextValues, ['aws:username']);
    // With the name present the statement works as written.
    const named = req(alice, 's3:GetObject', 'arn:aws:s3:::data/bob/x', { 'aws:username': 'alice' });
    assert.equal(decide(named, { identity: [outsideHome] }).decision, 'allowed');
    const own = req(alice, 's3:GetObject', 'arn:aws:s3:::data/alice/x', { 'aws:username': 'alice' });
    assert.equal(decide(own, { identity: [outsideHome] }).decision, 'implicitDeny');
  });

  it('Allow with a negated operator against a missing variable does not apply', () => {
    for (const op of ['StringNotEquals', 'StringNotLike', 'ArnNotEquals', 'ForAllValues:StringNotEquals']) {
      const p = policy(
        'identity',
        allow('s3:GetObject', '*', {
          Condition: { [op]: { 's3:ExistingObjectTag/team': '${aws:PrincipalTag/team}' } },
        }),
      );
      const d = decide(noName('s3:GetObject', OBJ, { 's3:ExistingObjectTag/team': 'web' }), {
        identity: [p],
      });
      assert.equal(d.decision, 'implicitDeny', op);
      assert.deepEqual(d.missingContextValues, ['aws:principaltag/team'], op);
    }
  });

  it('Deny with a negated operator against a missing variable applies (AWS documents this)', () => {
    const p = policy(
      'identity',
      deny('s3:GetObject', '*', {
        Condition: { StringNotEquals: { 's3:ExistingObjectTag/team': '${aws:PrincipalTag/team}' } },
      }),
    );
    const d = decide(noName('s3:GetObject', OBJ, { 's3:ExistingObjectTag/team': 'web' }), {
      identity: [everything, p],
    });
    assert.equal(d.decision, 'explicitDeny');
  });

  it('Deny with Resource, NotResource or a positive operator on a missing variable applies', () => {
    const byResource = policy('identity', deny('s3:*', 'arn:aws:s3:::data/${aws:username}/*'));
    const byNotResource = policy('identity', {
      Effect: 'Deny',
      Action: 's3:*',
      NotResource: 'arn:aws:s3:::data/${aws:username}/*',
    });
    const byCondition = policy(
      'identity',
      deny('s3:*', '*', {
        Condition: { StringEquals: { 's3:ExistingObjectTag/owner': '${aws:username}' } },
      }),
    );
    for (const p of [byResource, byNotResource, byCondition]) {
      const d = decide(noName('s3:GetObject', OBJ, { 's3:ExistingObjectTag/owner': 'bob' }), {
        identity: [everything, p],
      });
      assert.equal(d.decision, 'explicitDeny', JSON.stringify(p.source));
      assert.ok(d.missingContextValues.includes('aws:username'));
    }
  });

  it('a Deny still needs its other parts to match', () => {
    const p = policy(
      'identity',
      deny('s3:PutObject', 'arn:aws:s3:::data/${aws:username}/*', {
        Condition: { Bool: { 'aws:SecureTransport': 'false' } },
      }),
    );
    const ctx = { 'aws:SecureTransport': 'true' };
    assert.equal(decide(noName('s3:PutObject', OBJ, ctx), { identity: [everything, p] }).decision, 'allowed');
    assert.equal(decide(noName('s3:GetObject', OBJ), { identity: [everything, p] }).decision, 'allowed');
    assert.equal(
      decide(noName('s3:PutObject', OBJ, { 'aws:SecureTransport': 'false' }), { identity: [everything, p] })
        .decision,
      'explicitDeny',
    );
  });

  it('an entry that matches outright decides without the variable', () => {
    const p = policy('identity', allow('s3:GetObject', [OBJ, 'arn:aws:s3:::data/${aws:username}/*']));
    assert.equal(decide(noName('s3:GetObject', OBJ), { identity: [p] }).decision, 'allowed');
    const excluded = policy('identity', {
      Effect: 'Deny',
      Action: 's3:*',
      NotResource: [OBJ, 'arn:aws:s3:::data/${aws:username}/*'],
    });
    assert.equal(
      decide(noName('s3:GetObject', OBJ), { identity: [everything, excluded] }).decision,
      'allowed',
    );
  });

  it('a default value resolves the variable', () => {
    const p = policy('identity', {
      Effect: 'Allow',
      Action: 's3:*',
      NotResource: "arn:aws:s3:::data/${aws:username, 'nobody'}/*",
    });
    assert.equal(
      decide(noName('s3:GetObject', 'arn:aws:s3:::data/bob/x'), { identity: [p] }).decision,
      'allowed',
    );
    assert.equal(
      decide(noName('s3:GetObject', 'arn:aws:s3:::data/nobody/x'), { identity: [p] }).decision,
      'implicitDeny',
    );
  });

  // Property: with VAR used only as a policy variable (never as a condition key), removing it
  // from the context never turns a request that was not allowed into an allowed one, and
  // never removes an explicit deny. (The same is false for a missing *condition key*, which AWS
  // defines to satisfy negated operators, so the property is about variables only.)
  it('a missing variable never grants more than any value of it would (property)', () => {
    const VAR = 'aws:PrincipalTag/team';
    const text = fc.constantFrom('ml', 'web', '*', 'm?');
    const withVar = fc.constantFrom('${aws:PrincipalTag/team}', 'x-${aws:PrincipalTag/team}', 'ml');
    const resPattern = fc.constantFrom(
      '*',
      'arn:aws:s3:::data/${aws:PrincipalTag/team}/*',
      'arn:aws:s3:::data/ml/*',
      'arn:aws:s3:::data/*',
      'arn:aws:s3:::${aws:PrincipalTag/team}-*',
    );
    const op = fc.constantFrom(
      'StringEquals',
      'StringNotEquals',
      'StringLike',
      'StringNotLike',
      'StringEqualsIfExists',
      'StringNotEqualsIfExists',
      'ForAnyValue:StringEquals',
      'ForAllValues:StringNotLike',
      'ForAnyValue:StringNotEquals',
      'ArnNotLike',
    );
    const statement = fc.record({
      Effect: fc.constantFrom('Allow', 'Deny'),
      Action: fc.constantFrom('s3:*', 's3:GetObject', 's3:PutObject'),
      negRes: fc.boolean(),
      res: fc.array(resPattern, { minLength: 1, maxLength: 2 }),
      cond: fc.option(
        fc.record({
          op,
          key: fc.constantFrom('s3:prefix', 'aws:RequestTag/team'),
          vals: fc.array(withVar, { minLength: 1, maxLength: 2 }),
        }),
        { nil: undefined },
      ),
    });
    const toStatement = (s: {
      Effect: string;
      Action: string;
      negRes: boolean;
      res: string[];
      cond?: { op: string; key: string; vals: string[] } | undefined;
    }) => ({
      Effect: s.Effect,
      Action: s.Action,
      [s.negRes ? 'NotResource' : 'Resource']: s.res,
      ...(s.cond ? { Condition: { [s.cond.op]: { [s.cond.key]: s.cond.vals } } } : {}),
    });
    fc.assert(
      fc.property(
        fc.array(statement, { minLength: 1, maxLength: 4 }),
        fc.option(fc.array(statement, { minLength: 1, maxLength: 2 }), { nil: undefined }),
        fc.constantFrom('s3:GetObject', 's3:PutObject'),
        fc.constantFrom('arn:aws:s3:::data/ml/a', 'arn:aws:s3:::data/web/a', 'arn:aws:s3:::ml-x/a'),
        text,
        fc.option(fc.oneof(text, fc.array(text, { maxLength: 2 })), { nil: undefined }),
        fc.option(text, { nil: undefined }),
        (stmts, boundary, action, resource, value, tag, prefix) => {
          const set: PolicySet = {
            identity: [policy('identity', ...stmts.map(toStatement))],
            ...(boundary ? { permissionsBoundary: policy('boundary', ...boundary.map(toStatement)) } : {}),
          };
          const base: Record<string, ContextValue> = {};
          if (tag !== undefined) base['aws:RequestTag/team'] = tag;
          if (prefix !== undefined) base['s3:prefix'] = prefix;
          const without = evaluatePolicies(
            { principal: alice, action, resource, context: createRequestContext(base) },
            set,
          );
          const withValue = evaluatePolicies(
            { principal: alice, action, resource, context: createRequestContext({ ...base, [VAR]: value }) },
            set,
          );
          if (without.decision === 'allowed') assert.equal(withValue.decision, 'allowed');
          if (withValue.decision === 'explicitDeny') assert.equal(without.decision, 'explicitDeny');
        },
      ),
      { numRuns: 1500 },
    );
  });
});

// The resource's account decides same-account vs cross-account evaluation:
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic-cross-account.html
describe('evaluatePolicies: resourceAccount', () => {
  const id = [policy('identity', allow('s3:GetObject'))];
  it('takes the account of an ARN without one (S3) from request.resourceAccount', () => {
    const r = { ...req(alice, 's3:GetObject', OBJ), resourceAccount: OTHER };
    assert.equal(decide(r, { identity: id }).decision, 'implicitDeny');
    const same = { ...req(alice, 's3:GetObject', OBJ), resourceAccount: ACCT };
    assert.equal(decide(same, { identity: id }).decision, 'allowed');
  });

  it('makes request.resourceAccount visible to conditions on aws:ResourceAccount', () => {
    const p = [
      policy(
        'identity',
        allow('s3:GetObject', '*', { Condition: { StringEquals: { 'aws:ResourceAccount': ACCT } } }),
      ),
    ];
    const r = { ...req(alice, 's3:GetObject', OBJ), resourceAccount: ACCT };
    const d = decide(r, { identity: p });
    assert.equal(d.decision, 'allowed');
    assert.deepEqual(d.missingContextValues, []);
  });

  it('refuses a request whose resourceAccount and aws:ResourceAccount disagree', () => {
    const r = { ...req(alice, 's3:GetObject', OBJ, { 'aws:ResourceAccount': ACCT }), resourceAccount: OTHER };
    assert.throws(() => decide(r, { identity: id }), AuthorizationRequestError);
    const agree = {
      ...req(alice, 's3:GetObject', OBJ, { 'aws:ResourceAccount': ACCT }),
      resourceAccount: ACCT,
    };
    assert.equal(decide(agree, { identity: id }).decision, 'allowed');
  });
});

// Only one permissions boundary exists per IAM entity; should several reach a request, every
// one of them must allow (their intersection), never just the first.
describe('evaluatePolicies: several permissions boundaries', () => {
  const id = [policy('identity', allow('*'))];
  const s3Only = policy('boundary', allow('s3:*'));
  const getOnly = policy('boundary', allow(['s3:GetObject', 'ml:*']));
  it('allows only what all of them allow', () => {
    const set = { identity: id, permissionsBoundaries: [s3Only, getOnly] };
    assert.equal(decide(req(alice, 's3:GetObject'), set).decision, 'allowed');
    const put = decide(req(alice, 's3:PutObject'), set);
    assert.equal(put.decision, 'implicitDeny');
    assert.equal(put.reason, 'boundary');
    assert.equal(decide(req(alice, 'ml:GetModel'), set).decision, 'implicitDeny');
  });
  it('combines permissionsBoundary with permissionsBoundaries', () => {
    const set = { identity: id, permissionsBoundary: getOnly, permissionsBoundaries: [s3Only] };
    assert.equal(decide(req(alice, 'ml:GetModel'), set).decision, 'implicitDeny');
    assert.equal(decide(req(alice, 's3:GetObject'), set).decision, 'allowed');
  });
});
