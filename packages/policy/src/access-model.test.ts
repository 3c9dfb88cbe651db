import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { AccessModel, AccessModelError } from './access-model.js';
import { type CompiledPolicy, compilePolicy } from './compile-policy.js';
import type { PolicyKind } from './decision.js';
import { evaluatePolicies } from './evaluate-policies.js';
import { parsePolicyOrThrow } from './parse-policy.js';
import { type AuthorizationRequest, createRequestContext, type RequestPrincipal } from './request-context.js';
import {
  compileDenyAssignment,
  compileRoleAssignment,
  compileRoleDefinition,
  InvalidRoleAssignmentError,
} from './role-assignment.js';

const ACCT = '111122223333';
const user = (n: string) => `arn:aws:iam::${ACCT}:user/${n}`;
const group = (n: string) => `arn:aws:iam::${ACCT}:group/${n}`;
const role = (n: string) => `arn:aws:iam::${ACCT}:role/${n}`;
const ws = `arn:aiam:ml::${ACCT}:workspace/ws`;

function pol(id: string, kind: PolicyKind, ...statements: Record<string, unknown>[]): CompiledPolicy {
  return compilePolicy(parsePolicyOrThrow({ Version: '2012-10-17', Statement: statements }, { kind }), {
    id,
    kind,
  });
}
function req(
  principal: RequestPrincipal,
  action: string,
  resource: string,
  ctx: Record<string, string> = {},
): AuthorizationRequest {
  return { principal, action, resource, context: createRequestContext(ctx) };
}
const alice: RequestPrincipal = { arn: user('alice'), account: ACCT };
const trainerSession: RequestPrincipal = {
  arn: `arn:aws:sts::${ACCT}:assumed-role/trainer/s1`,
  account: ACCT,
  identityArns: [role('trainer')],
};

const policies = [
  pol('read-data', 'identity', {
    Effect: 'Allow',
    Action: ['s3:GetObject', 's3:ListBucket'],
    Resource: ['arn:aws:s3:::data', 'arn:aws:s3:::data/*'],
  }),
  pol('ml-admin', 'identity', { Effect: 'Allow', Action: 'ml:*', Resource: '*' }),
  pol('no-delete', 'identity', { Sid: 'NoDelete', Effect: 'Deny', Action: 'ml:Delete*', Resource: '*' }),
  pol('boundary-s3', 'boundary', { Effect: 'Allow', Action: 's3:*', Resource: '*' }),
  pol('bucket-policy', 'resource', {
    Effect: 'Allow',
    Principal: { AWS: user('carol') },
    Action: 's3:GetObject',
    Resource: 'arn:aws:s3:::shared/*',
  }),
  pol('trust', 'trust', { Effect: 'Allow', Principal: { AWS: user('alice') }, Action: 'sts:AssumeRole' }),
];
const model = AccessModel.build({
  policies,
  groups: [{ arn: group('ml'), policies: ['ml-admin', 'no-delete'] }],
  principals: [
    { arn: user('alice'), groups: [group('ml')], policies: ['read-data'] },
    { arn: role('trainer'), policies: ['read-data', 'ml-admin'], permissionsBoundary: 'boundary-s3' },
    { arn: user('carol') },
  ],
  resourcePolicies: [
    { resource: 'arn:aws:s3:::shared', policy: 'bucket-policy' },
    { resource: role('trainer'), policy: 'trust' },
  ],
  roleDefinitions: [{ id: 'reader', name: 'ModelReader', actions: ['ml:Get*'], assignableScopes: [ws] }],
  roleAssignments: [
    { id: 'ra-bob', principalArn: user('bob'), roleDefinition: 'ModelReader', scope: `${ws}/model/m` },
  ],
  denyAssignments: [{ id: 'da-1', actions: ['ml:Update*'], principals: [group('ml')], scope: ws }],
});

describe('AccessModel', () => {
  it('grants through the principal and its groups', () => {
    assert.equal(model.authorize(req(alice, 's3:GetObject', 'arn:aws:s3:::data/x')).decision, 'allowed');
    assert.equal(model.authorize(req(alice, 'ml:GetModel', `${ws}/model/m`)).decision, 'allowed');
    assert.equal(model.authorize(req(alice, 's3:PutObject', 'arn:aws:s3:::data/x')).decision, 'implicitDeny');
  });

  it('applies group denies and deny assignments to members', () => {
    const d = model.authorize(req(alice, 'ml:DeleteModel', `${ws}/model/m`));
    assert.equal(d.decision, 'explicitDeny');
    assert.equal(d.matched.find((m) => m.effect === 'Deny')?.sid, 'NoDelete');
    assert.equal(model.authorize(req(alice, 'ml:UpdateModel', `${ws}/model/m`)).decision, 'explicitDeny');
    assert.equal(
      model.authorize(req(alice, 'ml:UpdateModel', `arn:aiam:ml::${ACCT}:workspace/other`)).decision,
      'allowed',
    );
  });

  it('decides per-request identity policies like attached ones: they grant, denies still win', () => {
    const keySlot: RequestPrincipal = { arn: `${ws}/endpoint/e/key/primary`, account: ACCT };
    const grant = pol('key', 'identity', {
      Effect: 'Allow',
      Action: 'ml:InvokeEndpoint',
      Resource: `${ws}/endpoint/e`,
    });
    const invoke = (resource: string) => req(keySlot, 'ml:InvokeEndpoint', resource);
    assert.equal(model.authorize(invoke(`${ws}/endpoint/e`)).decision, 'implicitDeny');
    assert.equal(
      model.authorize(invoke(`${ws}/endpoint/e`), { identityPolicies: [grant] }).decision,
      'allowed',
    );
    assert.equal(
      model.authorize(invoke(`${ws}/endpoint/other`), { identityPolicies: [grant] }).decision,
      'implicitDeny',
    );
    const frozen = AccessModel.build({
      denyAssignments: [{ id: 'da', dataActions: ['ml:InvokeEndpoint'], principals: ['*'], scope: ws }],
      isDataAction: () => true,
    });
    assert.equal(
      frozen.authorize(invoke(`${ws}/endpoint/e`), { identityPolicies: [grant] }).decision,
      'explicitDeny',
    );
  });

  it('takes groups named by the request too', () => {
    const dave: RequestPrincipal = { arn: user('dave'), account: ACCT, groupArns: [group('ml')] };
    assert.equal(model.authorize(req(dave, 'ml:GetModel', ws)).decision, 'allowed');
    assert.equal(model.authorize(req(dave, 'ml:UpdateModel', ws)).decision, 'explicitDeny');
  });

  it('gives a role session its role policies, capped by the role boundary', () => {
    assert.equal(
      model.authorize(req(trainerSession, 's3:GetObject', 'arn:aws:s3:::data/x')).decision,
      'allowed',
    );
    const d = model.authorize(req(trainerSession, 'ml:GetModel', ws));
    assert.equal(d.decision, 'implicitDeny');
    assert.equal(d.reason, 'boundary');
  });

  it('caps with session policies given per request', () => {
    const sess = [pol('sess', 'session', { Effect: 'Allow', Action: 's3:ListBucket', Resource: '*' })];
    assert.equal(
      model.authorize(req(trainerSession, 's3:GetObject', 'arn:aws:s3:::data/x'), { sessionPolicies: sess })
        .reason,
      'session-policy',
    );
    assert.equal(
      model.authorize(req(trainerSession, 's3:ListBucket', 'arn:aws:s3:::data'), { sessionPolicies: sess })
        .decision,
      'allowed',
    );
  });

  it('finds resource policies by resource prefix on whole segments', () => {
    const carol: RequestPrincipal = { arn: user('carol'), account: ACCT };
    assert.equal(model.authorize(req(carol, 's3:GetObject', 'arn:aws:s3:::shared/a/b')).decision, 'allowed');
    assert.equal(
      model.authorize(req(carol, 's3:GetObject', 'arn:aws:s3:::shared2/a')).decision,
      'implicitDeny',
    );
    assert.equal(model.authorize(req(alice, 'sts:AssumeRole', role('trainer'))).decision, 'allowed');
    assert.equal(model.authorize(req(carol, 'sts:AssumeRole', role('trainer'))).decision, 'implicitDeny');
  });

  it('applies role assignments to principals known only by the assignment', () => {
    const bob: RequestPrincipal = { arn: user('bob'), account: ACCT };
    assert.equal(
      model.authorize(req(bob, 'ml:GetModelVersion', `${ws}/model/m/version/1`)).decision,
      'allowed',
    );
    assert.equal(
      model.authorize(req(bob, 'ml:GetModelVersion', `${ws}/model/n/version/1`)).decision,
      'implicitDeny',
    );
    assert.equal(model.authorize(req(bob, 'ml:DeleteModel', `${ws}/model/m`)).decision, 'implicitDeny');
  });

  it('matches action names case-insensitively through its index', () => {
    assert.equal(model.authorize(req(alice, 'S3:getobject', 'arn:aws:s3:::data/x')).decision, 'allowed');
  });

  it('refuses dangling references and misplaced assignments', () => {
    assert.throws(
      () => AccessModel.build({ principals: [{ arn: user('x'), policies: ['nope'] }] }),
      AccessModelError,
    );
    assert.throws(
      () =>
        AccessModel.build({
          roleAssignments: [{ id: 'a', principalArn: user('x'), roleDefinition: 'nope', scope: ws }],
        }),
      AccessModelError,
    );
    assert.throws(() => AccessModel.build({ policies: [policies[0]!, policies[0]!] }), AccessModelError);
    assert.throws(
      () =>
        AccessModel.build({
          roleDefinitions: [{ id: 'r', actions: ['*'], assignableScopes: [ws] }],
          roleAssignments: [{ id: 'a', principalArn: user('x'), roleDefinition: 'r', scope: '*' }],
        }),
      InvalidRoleAssignmentError,
    );
  });

  // Property: the indexed model decides exactly as evaluatePolicies over the same policies.
  it('agrees with evaluatePolicies on random models (property)', () => {
    const actions = ['s3:GetObject', 's3:PutObject', 'ml:GetModel', 'ml:DeleteModel', 'iam:CreateUser'];
    const patterns = ['*', 's3:*', 's3:Get*', 'ml:*', 'ml:Get*', 'iam:CreateUser', 's3:PutObject'];
    const resources = [
      'arn:aws:s3:::data/x',
      'arn:aws:s3:::other/y',
      `${ws}/model/m`,
      `${ws}/model/n/version/2`,
    ];
    const rpatterns = ['*', 'arn:aws:s3:::data/*', `${ws}/*`, 'arn:aws:s3:::*'];
    const stmt = fc.record({
      Effect: fc.constantFrom('Allow', 'Deny'),
      Action: fc.subarray(patterns, { minLength: 1, maxLength: 2 }),
      Resource: fc.constantFrom(...rpatterns),
    });
    const usePolicy = fc.record({
      stmts: fc.array(stmt, { minLength: 1, maxLength: 3 }),
      notAction: fc.boolean(),
    });
    fc.assert(
      fc.property(
        fc.array(usePolicy, { minLength: 1, maxLength: 6 }),
        fc.array(fc.nat(5), { maxLength: 3 }),
        fc.array(fc.nat(5), { maxLength: 3 }),
        fc.option(fc.nat(5), { nil: undefined }),
        fc.array(
          fc.record({
            actions: fc.subarray(patterns, { minLength: 1, maxLength: 2 }),
            scope: fc.constantFrom('*', ws, 'arn:aws:s3:::data'),
            toGroup: fc.boolean(),
          }),
          { maxLength: 3 },
        ),
        fc.constantFrom(...actions),
        fc.constantFrom(...resources),
        (ps, userPol, groupPol, boundaryIdx, ras, action, resource) => {
          const compiled = ps.map((p, i) =>
            pol(
              `p${i}`,
              'identity',
              ...p.stmts.map((s, j) =>
                p.notAction && j === 0 ? { Effect: s.Effect, NotAction: s.Action, Resource: s.Resource } : s,
              ),
            ),
          );
          const pick = (idx: number[]) => [...new Set(idx.map((i) => `p${i % compiled.length}`))];
          const boundaryId = boundaryIdx === undefined ? undefined : `p${boundaryIdx % compiled.length}`;
          const boundary = boundaryId
            ? compilePolicy(compiled.find((c) => c.id === boundaryId)!.source, { id: 'b', kind: 'boundary' })
            : undefined;
          const roleDefs = ras.map((r, i) => ({ id: `r${i}`, actions: r.actions }));
          const assignments = ras.map((r, i) => ({
            id: `a${i}`,
            principalArn: r.toGroup ? group('g') : user('u'),
            roleDefinition: `r${i}`,
            scope: r.scope,
          }));
          const deny = { id: 'd', actions: ['iam:*'], principals: [group('g')], scope: '*' };
          const m = AccessModel.build({
            policies: [...compiled, ...(boundary ? [boundary] : [])],
            groups: [{ arn: group('g'), policies: pick(groupPol) }],
            principals: [
              {
                arn: user('u'),
                groups: [group('g')],
                policies: pick(userPol),
                ...(boundary ? { permissionsBoundary: 'b' } : {}),
              },
            ],
            roleDefinitions: roleDefs,
            roleAssignments: assignments,
            denyAssignments: [deny],
          });
          const r = req({ arn: user('u'), account: ACCT, groupArns: [group('g')] }, action, resource);
          const ids = new Set([...pick(userPol), ...pick(groupPol)]);
          const expected = evaluatePolicies(r, {
            identity: compiled.filter((c) => ids.has(c.id)),
            roleAssignments: assignments.map((a, i) =>
              compileRoleAssignment(a, compileRoleDefinition(roleDefs[i]!)),
            ),
            denyAssignments: [compileDenyAssignment(deny)],
            ...(boundary ? { permissionsBoundary: boundary } : {}),
          });
          const got = m.authorize(r);
          assert.equal(got.decision, expected.decision);
          assert.equal(got.reason, expected.reason);
          assert.equal(got.matched.length, expected.matched.length);
        },
      ),
      { numRuns: 400 },
    );
  });
});

// A role session answers to its role's ARN (identityArns): it gets everything attached to the
// role, its groups' grants and denies included, and is bounded by the role's boundary.
// https://docs.aws.amazon.com/IAM/latest/UserGuide/access_policies_boundaries.html
describe('AccessModel: identities reached through identityArns', () => {
  const m = AccessModel.build({
    policies: [
      pol('s3-read', 'identity', { Effect: 'Allow', Action: 's3:GetObject', Resource: '*' }),
      pol('all', 'identity', { Effect: 'Allow', Action: '*', Resource: '*' }),
      pol('b-s3', 'boundary', { Effect: 'Allow', Action: 's3:*', Resource: '*' }),
      pol('b-ml', 'boundary', { Effect: 'Allow', Action: ['ml:*', 's3:GetObject'], Resource: '*' }),
    ],
    groups: [{ arn: group('ops'), policies: ['s3-read'] }],
    principals: [
      { arn: role('ops-role'), groups: [group('ops')], permissionsBoundary: 'b-ml' },
      { arn: role('wide'), policies: ['all'], permissionsBoundary: 'b-s3' },
      { arn: user('svc'), policies: ['all'], permissionsBoundary: 'b-ml' },
    ],
    roleDefinitions: [{ id: 'reader', actions: ['ml:Get*'] }],
    roleAssignments: [{ id: 'ra-ops', principalArn: group('ops'), roleDefinition: 'reader', scope: ws }],
    denyAssignments: [{ id: 'da-ops', actions: ['ml:GetSecret*'], principals: [group('ops')], scope: ws }],
  });
  const opsSession: RequestPrincipal = {
    arn: `arn:aws:sts::${ACCT}:assumed-role/ops-role/s`,
    account: ACCT,
    identityArns: [role('ops-role')],
  };

  it("grants the role's group policies and group role assignments to the session", () => {
    assert.equal(m.authorize(req(opsSession, 's3:GetObject', 'arn:aws:s3:::d/x')).decision, 'allowed');
    assert.equal(m.authorize(req(opsSession, 'ml:GetModel', `${ws}/model/m`)).decision, 'allowed');
  });

  it("applies deny assignments made to the role's groups", () => {
    const d = m.authorize(req(opsSession, 'ml:GetSecretValue', `${ws}/model/m`));
    assert.equal(d.decision, 'explicitDeny');
  });

  it('bounds the session by the role boundary', () => {
    const wide: RequestPrincipal = {
      arn: `arn:aws:sts::${ACCT}:assumed-role/wide/s`,
      account: ACCT,
      identityArns: [role('wide')],
    };
    assert.equal(m.authorize(req(wide, 's3:PutObject', 'arn:aws:s3:::d/x')).decision, 'allowed');
    const d = m.authorize(req(wide, 'ml:GetModel', ws));
    assert.equal(d.decision, 'implicitDeny');
    assert.equal(d.reason, 'boundary');
  });

  it('applies every reachable boundary, not just the first', () => {
    // svc's own boundary allows ml:* and s3:GetObject; the role it also answers to is bounded
    // to s3:*. Only s3:GetObject lies in both.
    const svc: RequestPrincipal = { arn: user('svc'), account: ACCT, identityArns: [role('wide')] };
    assert.equal(m.authorize(req(svc, 's3:GetObject', 'arn:aws:s3:::d/x')).decision, 'allowed');
    assert.equal(m.authorize(req(svc, 'ml:GetModel', ws)).reason, 'boundary');
    assert.equal(m.authorize(req(svc, 's3:PutObject', 'arn:aws:s3:::d/x')).reason, 'boundary');
    const reversed: RequestPrincipal = {
      arn: user('svc'),
      account: ACCT,
      identityArns: [role('ops-role'), role('wide')],
    };
    assert.equal(m.authorize(req(reversed, 'ml:GetModel', ws)).reason, 'boundary');
  });
});

// withPrincipals derives a model without a rebuild: it must decide exactly as a model built
// from the changed input, and leave the model it came from as it was.
describe('AccessModel.withPrincipals', () => {
  const actions = ['s3:GetObject', 'ml:GetModel', 'ml:DeleteModel', 'iam:CreateUser'];
  const resources = ['arn:aws:s3:::data/x', `${ws}/model/m`];
  const ps = [
    pol('s3-read', 'identity', { Effect: 'Allow', Action: 's3:Get*', Resource: '*' }),
    pol('ml-all', 'identity', { Effect: 'Allow', Action: 'ml:*', Resource: '*' }),
    pol('no-ml-delete', 'identity', { Effect: 'Deny', Action: 'ml:Delete*', Resource: '*' }),
    pol('iam', 'identity', { Effect: 'Allow', Action: 'iam:*', Resource: '*' }),
    pol('cap', 'boundary', { Effect: 'Allow', Action: ['s3:*', 'ml:Get*'], Resource: '*' }),
  ];
  const ids = ['s3-read', 'ml-all', 'no-ml-delete', 'iam'];
  const groupNames = ['g0', 'g1', 'g2'];
  const userNames = ['u0', 'u1', 'u2', 'u3'];
  const principalArb = (name: string) =>
    fc.record({
      arn: fc.constant(user(name)),
      groups: fc.subarray(groupNames.map(group)),
      policies: fc.subarray(ids, { maxLength: 2 }),
      bounded: fc.boolean(),
    });
  const toPrincipal = (p: { arn: string; groups: string[]; policies: string[]; bounded: boolean }) => ({
    arn: p.arn,
    groups: p.groups,
    policies: p.policies,
    ...(p.bounded ? { permissionsBoundary: 'cap' } : {}),
  });
  const inputArb = fc.record({
    principals: fc.tuple(...userNames.map(principalArb)),
    present: fc.subarray(userNames, { minLength: 1 }),
    groupPolicies: fc.tuple(...groupNames.map(() => fc.subarray(ids, { maxLength: 2 }))),
    // Role assignments to users and groups, a reader role over the workspace.
    assigned: fc.subarray([...userNames.map(user), ...groupNames.map(group)], { maxLength: 3 }),
  });
  const build = (i: {
    principals: ReturnType<typeof toPrincipal>[];
    groupPolicies: string[][];
    assigned: string[];
  }) =>
    AccessModel.build({
      policies: ps,
      groups: groupNames.map((g, k) => ({ arn: group(g), policies: i.groupPolicies[k]! })),
      principals: i.principals,
      roleDefinitions: [{ id: 'reader', actions: ['ml:Get*', 'ml:Delete*'] }],
      // Ids stable across rebuilds: decisions name the assignment that matched.
      roleAssignments: i.assigned.map((arn) => ({
        id: `ra:${arn}`,
        principalArn: arn,
        roleDefinition: 'reader',
        scope: ws,
      })),
      denyAssignments: [{ id: 'd', actions: ['iam:CreateUser'], principals: [group('g2')], scope: '*' }],
    });
  const decisions = (m: AccessModel) =>
    userNames.flatMap((u) =>
      actions.flatMap((a) =>
        resources.map((r) => {
          const d = m.authorize(req({ arn: user(u), account: ACCT }, a, r));
          return `${u} ${a} ${r}: ${d.decision}/${d.reason}/${d.matched.map((s) => s.policyId).join(',')}`;
        }),
      ),
    );

  it('decides as a model built from the changed input (property)', () => {
    fc.assert(
      fc.property(
        inputArb,
        fc.subarray(userNames),
        fc.tuple(...userNames.map(principalArb)),
        fc.subarray(userNames),
        (input, removed, replacements, setNames) => {
          const before = input.principals.filter((p) => input.present.includes(p.arn.split('/')[1]!));
          const base = build({ ...input, principals: before.map(toPrincipal) });
          const baseDecisions = decisions(base);
          const set = replacements.filter((p) => setNames.includes(p.arn.split('/')[1]!)).map(toPrincipal);
          const derived = base.withPrincipals({ remove: removed.map(user), set });

          // The same input, changed: removed principals go with their role assignments.
          const gone = new Set(removed.map(user));
          const kept = before.map(toPrincipal).filter((p) => !gone.has(p.arn));
          const after = [...kept.filter((p) => !set.some((s) => s.arn === p.arn)), ...set];
          const rebuilt = build({
            principals: after,
            groupPolicies: input.groupPolicies,
            assigned: input.assigned.filter((a) => !gone.has(a)),
          });
          assert.deepEqual(decisions(derived), decisions(rebuilt));
          assert.deepEqual(decisions(base), baseDecisions, 'the base model changed');
          for (const p of set) assert.deepEqual(derived.principal(p.arn), p);
          for (const arn of gone)
            if (!set.some((s) => s.arn === arn)) assert.equal(derived.principal(arn), undefined);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('refuses a principal that names a policy the model does not contain', () => {
    const base = build({ principals: [], groupPolicies: [[], [], []], assigned: [] });
    assert.throws(
      () => base.withPrincipals({ set: [{ arn: user('x'), policies: ['nope'] }] }),
      (e: unknown) => e instanceof AccessModelError && /"nope"/.test(e.message),
    );
  });
});
