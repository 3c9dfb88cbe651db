import {
  type EntityJson,
  type EntityUidJson,
  preparsePolicySet,
  type StatefulAuthorizationCall,
  statefulIsAuthorized,
} from '@cedar-policy/cedar-wasm/nodejs';
import { setFlagsFromString } from 'node:v8';
import { resourceArn, subjectArn } from './aiam-engine.js';
import type { PolicyEngine } from './policy-engine.js';
import {
  type ResourcePath,
  resourceLineage,
  type Workload,
  type WorkloadRequest,
  type WorkloadRule,
} from './policy-workload.js';

// On Node 20 (V8 11.3), TurboFan's inlining of JS-to-Wasm calls crashes the process ("Fatal
// error … unreachable code" in Deoptimizer::DoComputeBuiltinContinuation) when a function that
// inlined a cedar-wasm call deoptimizes: the bench's agreement loop hit it reliably at its third
// policy set. Turning the inlining off costs Cedar nothing measurable (its calls take hundreds
// of microseconds) and does not touch aiam, which calls no Wasm. Set before any call is optimized.
setFlagsFromString('--no-turbo-inline-js-wasm-calls');

/** Cedar entity type of each level of the hierarchy. */
function resourceType(r: ResourcePath): string {
  if (r.version !== undefined) return 'ModelVersion';
  if (r.model !== undefined) return 'Model';
  return 'Workspace';
}

function resourceUid(r: ResourcePath): EntityUidJson {
  return { type: resourceType(r), id: resourceArn(r) };
}

/**
 * One rule as a Cedar policy. `in` is reflexive and follows entity parents, so
 * `resource in Model::"…/model/m"` covers the model and its versions, as the aiam scope does.
 */
function cedarPolicy(rule: WorkloadRule): string {
  const principal =
    rule.subject.kind === 'user'
      ? `principal == User::"${subjectArn(rule.subject)}"`
      : `principal in Group::"${subjectArn(rule.subject)}"`;
  const actions = rule.actions.map((a) => `Action::"${a}"`).join(', ');
  const resource = `resource in ${resourceType(rule.scope)}::"${resourceArn(rule.scope)}"`;
  const when = rule.sourceCidr ? ` when { context.sourceIp.isInRange(ip("${rule.sourceCidr}")) }` : '';
  return `${rule.effect === 'Deny' ? 'forbid' : 'permit'} (${principal}, action in [${actions}], ${resource})${when};`;
}

let nextPolicySetId = 0;

/**
 * Cedar's side, through `@cedar-policy/cedar-wasm` 4's stateful API: the policy set is parsed
 * once with `preparsePolicySet` and cached inside the WASM module; each decision is one
 * `statefulIsAuthorized` call naming it. Entities still travel with every call (Cedar has no
 * entity store): the requester with its groups as parents, and the resource with its ancestors,
 * which is the slice a service would load for the request.
 */
export function buildCedarEngine(workload: Workload): PolicyEngine {
  const staticPolicies: Record<string, string> = {};
  for (const rule of workload.rules) staticPolicies[rule.id] = cedarPolicy(rule);
  const policySetId = `aiam-bench-${nextPolicySetId++}`;
  const parsed = preparsePolicySet(policySetId, { staticPolicies });
  if (parsed.type !== 'success') {
    throw new Error(`Cedar refused the bench policies: ${parsed.errors.map((e) => e.message).join('; ')}`);
  }
  const groupsOf = new Map(workload.users.map((u) => [u.name, u.groups]));

  const toCall = (r: WorkloadRequest): StatefulAuthorizationCall => {
    const groups = (groupsOf.get(r.user) ?? []).map(
      (g): EntityUidJson => ({ type: 'Group', id: subjectArn({ kind: 'group', name: g }) }),
    );
    const principal: EntityUidJson = { type: 'User', id: subjectArn({ kind: 'user', name: r.user }) };
    const lineage = resourceLineage(r.resource);
    const entities: EntityJson[] = [
      { uid: principal, attrs: {}, parents: groups },
      ...groups.map((uid): EntityJson => ({ uid, attrs: {}, parents: [] })),
      ...lineage.map(
        (res, i): EntityJson => ({
          uid: resourceUid(res),
          attrs: {},
          parents: i + 1 < lineage.length ? [resourceUid(lineage[i + 1]!)] : [],
        }),
      ),
    ];
    return {
      principal,
      action: { type: 'Action', id: r.action },
      resource: resourceUid(r.resource),
      context: { sourceIp: { __extn: { fn: 'ip', arg: r.sourceIp } } },
      preparsedPolicySetId: policySetId,
      entities,
    };
  };

  const decide = (call: StatefulAuthorizationCall): boolean => {
    const answer = statefulIsAuthorized(call);
    if (answer.type !== 'success') {
      throw new Error(`Cedar failed: ${answer.errors.map((e) => e.message).join('; ')}`);
    }
    return answer.response.decision === 'allow';
  };

  return {
    name: 'Cedar',
    prepare(requests) {
      const calls = requests.map(toCall);
      return (i) => decide(calls[i]!);
    },
    describe(request) {
      const answer = statefulIsAuthorized(toCall(request));
      if (answer.type !== 'success') return `failure: ${answer.errors.map((e) => e.message).join('; ')}`;
      const { decision, diagnostics } = answer.response;
      const errors = diagnostics.errors.map((e) => `${e.policyId}: ${e.error.message}`);
      return `${decision} (reasons: ${diagnostics.reason.join(', ') || 'none'}${errors.length ? `; errors: ${errors.join('; ')}` : ''})`;
    },
  };
}
