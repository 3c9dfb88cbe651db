import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { compilePolicy } from './compile-policy.js';
import { evaluatePolicies } from './evaluate-policies.js';
import { parsePolicyOrThrow } from './parse-policy.js';
import { type AuthorizationRequest, createRequestContext, type RequestPrincipal } from './request-context.js';
import {
  compileDenyAssignment,
  compileRoleAssignment,
  compileRoleDefinition,
  InvalidRoleAssignmentError,
  type RoleDefinition,
} from './role-assignment.js';

const ACCT = '111122223333';
const ws = `arn:aiam:ml::${ACCT}:workspace/ws`;
const v1 = `${ws}/model/m/version/1`;
const v2 = `${ws}/model/m/version/2`;
const alice: RequestPrincipal = {
  arn: `arn:aws:iam::${ACCT}:user/alice`,
  account: ACCT,
  groupArns: [`arn:aws:iam::${ACCT}:group/ml`],
};
const req = (action: string, resource: string, principal = alice): AuthorizationRequest => ({
  principal,
  action,
  resource,
  context: createRequestContext({}),
});

const reader: RoleDefinition = {
  id: 'r-reader',
  name: 'ModelReader',
  actions: ['ml:Get*', 'ml:List*'],
  dataActions: ['ml:InvokeEndpoint'],
};
const contributor: RoleDefinition = {
  id: 'r-contrib',
  name: 'Contributor',
  actions: ['*'],
  notActions: ['iam:*'],
  dataActions: [],
};
const dataReader: RoleDefinition = {
  id: 'r-data',
  name: 'DataReader',
  dataActions: ['s3:*'],
  notDataActions: ['s3:PutObject', 's3:DeleteObject'],
};

// https://learn.microsoft.com/azure/role-based-access-control/role-definitions
// https://learn.microsoft.com/azure/role-based-access-control/scope-overview (inheritance)
// https://learn.microsoft.com/azure/role-based-access-control/deny-assignments
describe('role assignments', () => {
  it('grants at the scope and everything below it, not siblings', () => {
    const a = compileRoleAssignment(
      { id: 'a1', principalArn: alice.arn, roleDefinition: 'r-reader', scope: v1 },
      compileRoleDefinition(reader),
    );
    assert.equal(
      evaluatePolicies(req('ml:GetModelVersion', v1), { roleAssignments: [a] }).decision,
      'allowed',
    );
    assert.equal(
      evaluatePolicies(req('ml:GetModelVersion', `${v1}/artifact`), { roleAssignments: [a] }).decision,
      'allowed',
    );
    assert.equal(
      evaluatePolicies(req('ml:GetModelVersion', v2), { roleAssignments: [a] }).decision,
      'implicitDeny',
    );
    assert.equal(
      evaluatePolicies(req('ml:GetModelVersion', `${v1}0`), { roleAssignments: [a] }).decision,
      'implicitDeny',
    );
  });

  it('applies actions minus notActions, case-insensitively', () => {
    const a = compileRoleAssignment(
      { id: 'a', principalArn: alice.arn, roleDefinition: 'r-contrib', scope: '*' },
      compileRoleDefinition(contributor),
    );
    assert.equal(evaluatePolicies(req('ML:deletemodel', ws), { roleAssignments: [a] }).decision, 'allowed');
    assert.equal(
      evaluatePolicies(req('iam:CreateUser', ws), { roleAssignments: [a] }).decision,
      'implicitDeny',
    );
  });

  it('grants data actions only through dataActions', () => {
    const contrib = compileRoleAssignment(
      { id: 'a', principalArn: alice.arn, roleDefinition: 'c', scope: '*' },
      compileRoleDefinition(contributor),
    );
    assert.equal(
      evaluatePolicies(req('s3:GetObject', 'arn:aws:s3:::d/x'), { roleAssignments: [contrib] }).decision,
      'implicitDeny',
    );
    const data = compileRoleAssignment(
      { id: 'b', principalArn: alice.arn, roleDefinition: 'd', scope: 'arn:aws:s3:::d' },
      compileRoleDefinition(dataReader),
    );
    assert.equal(
      evaluatePolicies(req('s3:GetObject', 'arn:aws:s3:::d/x'), { roleAssignments: [data] }).decision,
      'allowed',
    );
    assert.equal(
      evaluatePolicies(req('s3:PutObject', 'arn:aws:s3:::d/x'), { roleAssignments: [data] }).decision,
      'implicitDeny',
    );
    assert.equal(
      evaluatePolicies(req('s3:GetObject', 'arn:aws:s3:::d2/x'), { roleAssignments: [data] }).decision,
      'implicitDeny',
    );
  });

  it('takes the data-action predicate from the caller', () => {
    const def = compileRoleDefinition({ id: 'x', dataActions: ['ml:Predict'] });
    const a = compileRoleAssignment(
      { id: 'a', principalArn: alice.arn, roleDefinition: 'x', scope: '*' },
      def,
      { isDataAction: (x) => x === 'ml:predict' },
    );
    assert.equal(evaluatePolicies(req('ml:Predict', ws), { roleAssignments: [a] }).decision, 'allowed');
  });

  it('applies to members of an assigned group', () => {
    const a = compileRoleAssignment(
      { id: 'g', principalArn: alice.groupArns![0]!, roleDefinition: 'r', scope: ws },
      compileRoleDefinition(reader),
    );
    assert.equal(evaluatePolicies(req('ml:GetModel', v1), { roleAssignments: [a] }).decision, 'allowed');
    assert.equal(
      evaluatePolicies(req('ml:GetModel', v1, { arn: 'arn:aws:iam::111122223333:user/bob', account: ACCT }), {
        roleAssignments: [a],
      }).decision,
      'implicitDeny',
    );
  });

  it('refuses a scope outside the assignable scopes', () => {
    const def = compileRoleDefinition({ ...reader, assignableScopes: [ws] });
    assert.throws(
      () =>
        compileRoleAssignment(
          {
            id: 'a',
            principalArn: alice.arn,
            roleDefinition: 'r',
            scope: `arn:aiam:ml::${ACCT}:workspace/other`,
          },
          def,
        ),
      InvalidRoleAssignmentError,
    );
    assert.doesNotThrow(() =>
      compileRoleAssignment({ id: 'a', principalArn: alice.arn, roleDefinition: 'r', scope: v1 }, def),
    );
  });

  it('is capped by a permissions boundary, like any identity-based grant', () => {
    const a = compileRoleAssignment(
      { id: 'a', principalArn: alice.arn, roleDefinition: 'r', scope: ws },
      compileRoleDefinition(reader),
    );
    const boundary = compilePolicy(
      parsePolicyOrThrow(
        { Version: '2012-10-17', Statement: { Effect: 'Allow', Action: 's3:*', Resource: '*' } },
        { kind: 'boundary' },
      ),
      { id: 'b', kind: 'boundary' },
    );
    const d = evaluatePolicies(req('ml:GetModel', v1), {
      roleAssignments: [a],
      permissionsBoundary: boundary,
    });
    assert.equal(d.reason, 'boundary');
  });

  it('reports the assignment and role in the matched statements', () => {
    const a = compileRoleAssignment(
      { id: 'a1', principalArn: alice.arn, roleDefinition: 'r-reader', scope: ws },
      compileRoleDefinition(reader),
    );
    assert.deepEqual(evaluatePolicies(req('ml:GetModel', v1), { roleAssignments: [a] }).matched, [
      {
        policyId: 'a1',
        policyKind: 'role-assignment',
        sid: 'ModelReader',
        effect: 'Allow',
        statementIndex: 0,
        roleDefinitionId: 'r-reader',
      },
    ]);
  });
});

describe('deny assignments', () => {
  const grant = compileRoleAssignment(
    { id: 'a', principalArn: alice.arn, roleDefinition: 'c', scope: '*' },
    compileRoleDefinition(contributor),
  );
  it('deny everyone at a scope wins over a role assignment', () => {
    const deny = compileDenyAssignment({ id: 'd', actions: ['ml:Delete*'], principals: ['*'], scope: ws });
    const d = evaluatePolicies(req('ml:DeleteModel', v1), {
      roleAssignments: [grant],
      denyAssignments: [deny],
    });
    assert.equal(d.decision, 'explicitDeny');
    assert.equal(
      d.matched.some((m) => m.policyKind === 'deny-assignment'),
      true,
    );
    assert.equal(
      evaluatePolicies(req('ml:DeleteModel', `arn:aiam:ml::${ACCT}:workspace/other`), {
        roleAssignments: [grant],
        denyAssignments: [deny],
      }).decision,
      'allowed',
    );
  });
  it('exempts excluded principals (and their groups)', () => {
    const deny = compileDenyAssignment({
      id: 'd',
      actions: ['*'],
      principals: ['*'],
      excludePrincipals: [alice.groupArns![0]!],
      scope: ws,
    });
    assert.equal(
      evaluatePolicies(req('ml:DeleteModel', v1), { roleAssignments: [grant], denyAssignments: [deny] })
        .decision,
      'allowed',
    );
  });
  it('applies only to the principals it names', () => {
    const deny = compileDenyAssignment({
      id: 'd',
      actions: ['*'],
      principals: ['arn:aws:iam::111122223333:user/bob'],
      scope: ws,
    });
    assert.equal(
      evaluatePolicies(req('ml:DeleteModel', v1), { roleAssignments: [grant], denyAssignments: [deny] })
        .decision,
      'allowed',
    );
  });
  it('denies data actions through dataActions only', () => {
    const deny = compileDenyAssignment({ id: 'd', actions: ['*'], principals: ['*'], scope: '*' });
    const data = compileRoleAssignment(
      { id: 'b', principalArn: alice.arn, roleDefinition: 'd', scope: '*' },
      compileRoleDefinition(dataReader),
    );
    assert.equal(
      evaluatePolicies(req('s3:GetObject', 'arn:aws:s3:::d/x'), {
        roleAssignments: [data],
        denyAssignments: [deny],
      }).decision,
      'allowed',
    );
    const dataDeny = compileDenyAssignment({
      id: 'd2',
      dataActions: ['s3:Get*'],
      principals: ['*'],
      scope: '*',
    });
    assert.equal(
      evaluatePolicies(req('s3:GetObject', 'arn:aws:s3:::d/x'), {
        roleAssignments: [data],
        denyAssignments: [dataDeny],
      }).decision,
      'explicitDeny',
    );
  });
});
