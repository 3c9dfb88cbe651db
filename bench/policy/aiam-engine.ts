import {
  AccessModel,
  type AccessModelGroup,
  type AccessModelPrincipal,
  type AuthorizationRequest,
  type CompiledPolicy,
  compilePolicy,
  createRequestContext,
  type Decision,
  iamArn,
  isDataAction,
  mlArn,
  parsePolicyOrThrow,
  type RoleAssignment,
} from '@aiam/policy';
import type { PolicyEngine } from './policy-engine.js';
import {
  ACCOUNT,
  type ResourcePath,
  resourcePath,
  type Subject,
  type Workload,
  type WorkloadRequest,
  type WorkloadRule,
} from './policy-workload.js';

/** The ARN of a workload resource. */
export function resourceArn(r: ResourcePath): string {
  return mlArn(ACCOUNT, resourcePath(r));
}

/** The ARN of a workload user or group. */
export function subjectArn(s: Subject): string {
  return iamArn(ACCOUNT, s.kind, s.name);
}

/** The IAM policy document of an `iam-policy` rule: the scope and everything below it. */
function policyDocument(rule: WorkloadRule): unknown {
  const scope = resourceArn(rule.scope);
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Sid: rule.id.replace(/[^A-Za-z0-9]/g, ''),
        Effect: rule.effect,
        Action: rule.actions,
        Resource: [scope, `${scope}/*`],
        ...(rule.sourceCidr ? { Condition: { IpAddress: { 'aws:SourceIp': rule.sourceCidr } } } : {}),
      },
    ],
  };
}

/** The aiam engine, which also gives its full decision (to count explicit and implicit denies). */
export interface AiamEngine extends PolicyEngine {
  evaluate(request: WorkloadRequest): Decision;
}

/**
 * aiam's side: IAM JSON identity policies attached to users and groups, Azure-style role
 * assignments at workspace/model/version scopes, all compiled once into one `AccessModel`.
 */
export function buildAiamEngine(workload: Workload): AiamEngine {
  const policies: CompiledPolicy[] = [];
  const attached = new Map<string, string[]>();
  const roleAssignments: RoleAssignment[] = [];
  for (const rule of workload.rules) {
    const who = subjectArn(rule.subject);
    if (rule.form === 'role-assignment') {
      roleAssignments.push({
        id: rule.id,
        principalArn: who,
        roleDefinition: rule.role!,
        scope: resourceArn(rule.scope),
      });
      continue;
    }
    const parsed = parsePolicyOrThrow(policyDocument(rule), { kind: 'identity' });
    policies.push(compilePolicy(parsed, { id: rule.id, kind: 'identity' }));
    const list = attached.get(who) ?? [];
    list.push(rule.id);
    attached.set(who, list);
  }
  const groups: AccessModelGroup[] = workload.groups.map((g) => {
    const arn = iamArn(ACCOUNT, 'group', g);
    return { arn, policies: attached.get(arn) ?? [] };
  });
  const principals: AccessModelPrincipal[] = workload.users.map((u) => {
    const arn = iamArn(ACCOUNT, 'user', u.name);
    return {
      arn,
      groups: u.groups.map((g) => iamArn(ACCOUNT, 'group', g)),
      policies: attached.get(arn) ?? [],
    };
  });
  const model = AccessModel.build({
    policies,
    groups,
    principals,
    roleDefinitions: workload.roles.map((r) => ({
      id: r.name,
      name: r.name,
      actions: r.actions,
      dataActions: r.dataActions,
    })),
    roleAssignments,
    isDataAction,
  });

  const toRequest = (r: WorkloadRequest): AuthorizationRequest => ({
    principal: { arn: iamArn(ACCOUNT, 'user', r.user), account: ACCOUNT },
    action: r.action,
    resource: resourceArn(r.resource),
    context: createRequestContext({ 'aws:SourceIp': r.sourceIp }),
  });

  return {
    name: 'aiam',
    prepare(requests) {
      const prepared = requests.map(toRequest);
      return (i) => model.authorize(prepared[i]!).decision === 'allowed';
    },
    evaluate(request) {
      return model.authorize(toRequest(request));
    },
    describe(request) {
      const d = model.authorize(toRequest(request));
      const matched = d.matched.map((m) => `${m.effect} ${m.policyId}`).join(', ') || 'nothing matched';
      return `${d.decision} (${matched})`;
    },
  };
}
