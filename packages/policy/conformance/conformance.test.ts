// Runs every JSON case in this folder through both evaluators (evaluatePolicies and the
// indexed AccessModel) and checks the expected decision. Each file cites the AWS or Azure page
// its cases come from.
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import {
  AccessModel,
  type AuthorizationRequest,
  type CompiledPolicy,
  compileDenyAssignment,
  compilePolicy,
  compileRoleAssignment,
  compileRoleDefinition,
  type ContextValue,
  createRequestContext,
  type DenyAssignment,
  type Decision,
  evaluatePolicies,
  explainDecision,
  type PolicyKind,
  parsePolicyOrThrow,
  type RequestPrincipal,
  type RoleAssignment,
  type RoleDefinition,
} from '@aiam/policy';

interface Case {
  name: string;
  policies: {
    identity?: unknown[];
    resource?: unknown[];
    permissionsBoundary?: unknown;
    session?: unknown[];
    roleDefinitions?: RoleDefinition[];
    roleAssignments?: RoleAssignment[];
    denyAssignments?: DenyAssignment[];
  };
  resourceKind?: 'resource' | 'trust';
  request: {
    principal: RequestPrincipal;
    action: string;
    resource: string;
    context?: Record<string, ContextValue>;
  };
  expect: {
    decision: Decision['decision'];
    reason?: string;
    matched?: string[];
    missingContextValues?: string[];
  };
}

const dir = new URL('.', import.meta.url);
const files = readdirSync(dir)
  .filter((f) => f.endsWith('.json'))
  .sort();

function compile(doc: unknown, id: string, kind: PolicyKind): CompiledPolicy {
  return compilePolicy(parsePolicyOrThrow(doc, { kind }), { id, kind });
}

function check(d: Decision, expect: Case['expect'], ordered: boolean): void {
  const why = explainDecision(d);
  assert.equal(d.decision, expect.decision, why);
  if (expect.reason !== undefined) assert.equal(d.reason, expect.reason, why);
  if (expect.matched !== undefined) {
    const got = d.matched.map((m) => `${m.policyId}#${m.statementIndex}`);
    if (ordered) assert.deepEqual(got, expect.matched, why);
    else assert.deepEqual([...got].sort(), [...expect.matched].sort(), why);
  }
  if (expect.missingContextValues !== undefined)
    assert.deepEqual(d.missingContextValues, expect.missingContextValues, why);
}

assert.ok(files.length > 0, 'no conformance files');
for (const file of files) {
  const suite = JSON.parse(readFileSync(new URL(file, dir), 'utf8')) as {
    description: string;
    source: string;
    cases: Case[];
  };
  describe(`conformance: ${file} (${suite.description})`, () => {
    for (const c of suite.cases) {
      it(c.name, () => {
        const p = c.policies;
        const identity = (p.identity ?? []).map((doc, i) => compile(doc, `identity-${i}`, 'identity'));
        const resourceKind = c.resourceKind ?? 'resource';
        const resource = (p.resource ?? []).map((doc, i) => compile(doc, `resource-${i}`, resourceKind));
        const boundary =
          p.permissionsBoundary === undefined
            ? undefined
            : compile(p.permissionsBoundary, 'boundary', 'boundary');
        const session = p.session?.map((doc, i) => compile(doc, `session-${i}`, 'session'));
        const roles = new Map((p.roleDefinitions ?? []).map((r) => [r.id, compileRoleDefinition(r)]));
        const request: AuthorizationRequest = {
          principal: c.request.principal,
          action: c.request.action,
          resource: c.request.resource,
          context: createRequestContext(c.request.context ?? {}),
        };

        const direct = evaluatePolicies(request, {
          identity,
          resource,
          ...(boundary ? { permissionsBoundary: boundary } : {}),
          ...(session ? { session } : {}),
          roleAssignments: (p.roleAssignments ?? []).map((a) =>
            compileRoleAssignment(a, roles.get(a.roleDefinition)!),
          ),
          denyAssignments: (p.denyAssignments ?? []).map((d) => compileDenyAssignment(d)),
        });
        check(direct, c.expect, true);

        const model = AccessModel.build({
          policies: [...identity, ...resource, ...(boundary ? [boundary] : [])],
          principals: [
            {
              arn: request.principal.arn,
              policies: identity.map((x) => x.id),
              ...(boundary ? { permissionsBoundary: boundary.id } : {}),
            },
          ],
          resourcePolicies: resource.map((r) => ({ resource: request.resource, policy: r.id })),
          roleDefinitions: p.roleDefinitions ?? [],
          roleAssignments: p.roleAssignments ?? [],
          denyAssignments: p.denyAssignments ?? [],
        });
        check(model.authorize(request, session ? { sessionPolicies: session } : {}), c.expect, false);
      });
    }
  });
}
