import { type Enforcer, newEnforcer, newModelFromString } from 'casbin';
import { resourceArn, subjectArn } from './aiam-engine.js';
import type { PolicyEngine } from './policy-engine.js';
import { resourceLineage, type Workload, type WorkloadRequest } from './policy-workload.js';

/**
 * RBAC with two role graphs: `g` puts users in groups, `g2` puts each resource under its parent
 * (version → model → workspace), so `g2(r.obj, p.obj)` is "the resource is at or below the
 * rule's scope". The condition is casbin's built-in `ipMatch`; deny overrides allow.
 */
const MODEL = `
[request_definition]
r = sub, obj, act, ip

[policy_definition]
p = sub, obj, act, cidr, eft

[role_definition]
g = _, _
g2 = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.act == p.act && g(r.sub, p.sub) && g2(r.obj, p.obj) && (p.cidr == "*" || ipMatch(r.ip, p.cidr))
`;

/**
 * casbin's side (node-casbin 5): one policy line per (rule, action), grouping lines for group
 * membership and the resource hierarchy, all loaded once; each decision is `enforceSync`.
 */
export async function buildCasbinEngine(workload: Workload): Promise<PolicyEngine> {
  const enforcer: Enforcer = await newEnforcer(newModelFromString(MODEL));
  // Two random rules may give the same line; casbin's addPolicies refuses a batch with a
  // duplicate, so lines are deduplicated (same decisions either way).
  const lines = new Map<string, string[]>();
  for (const rule of workload.rules) {
    const sub = subjectArn(rule.subject);
    const obj = resourceArn(rule.scope);
    const eft = rule.effect === 'Deny' ? 'deny' : 'allow';
    for (const act of rule.actions) {
      const line = [sub, obj, act, rule.sourceCidr ?? '*', eft];
      lines.set(line.join(' '), line);
    }
  }
  if (!(await enforcer.addPolicies([...lines.values()])))
    throw new Error('casbin refused the bench policy lines');
  const members: string[][] = [];
  for (const u of workload.users) {
    const user = subjectArn({ kind: 'user', name: u.name });
    for (const g of u.groups) members.push([user, subjectArn({ kind: 'group', name: g })]);
  }
  if (!(await enforcer.addNamedGroupingPolicies('g', members))) throw new Error('casbin refused the groups');
  const parents: string[][] = [];
  for (const r of workload.resources) {
    const lineage = resourceLineage(r);
    if (lineage.length > 1) parents.push([resourceArn(r), resourceArn(lineage[1]!)]);
  }
  if (!(await enforcer.addNamedGroupingPolicies('g2', parents)))
    throw new Error('casbin refused the resource hierarchy');

  const toArgs = (r: WorkloadRequest): [string, string, string, string] => [
    subjectArn({ kind: 'user', name: r.user }),
    resourceArn(r.resource),
    r.action,
    r.sourceIp,
  ];

  return {
    name: 'casbin',
    prepare(requests) {
      const prepared = requests.map(toArgs);
      return (i) => {
        const [sub, obj, act, ip] = prepared[i]!;
        return enforcer.enforceSync(sub, obj, act, ip);
      };
    },
    describe(request) {
      const [allowed, explanation] = enforcer.enforceExSync(...toArgs(request));
      return `${allowed ? 'allow' : 'deny'} (${explanation.join(', ') || 'no line'})`;
    },
  };
}
