import type { Decision, DenyReason, EvalDecision, MatchedStatement, PolicyKind } from '@aiam/policy';
import type { AuditRecord } from '../store/store-types.js';

const DECISIONS: ReadonlySet<string> = new Set<EvalDecision>(['allowed', 'explicitDeny', 'implicitDeny']);
const REASONS: ReadonlySet<string> = new Set<DenyReason>([
  'explicit-deny',
  'no-allow',
  'boundary',
  'session-policy',
]);
const KINDS: ReadonlySet<string> = new Set<PolicyKind>([
  'identity',
  'resource',
  'boundary',
  'session',
  'trust',
  'role-assignment',
  'deny-assignment',
]);

/** A decision as its audit record states it, without the rendered explanation. */
export interface AuditedDecision {
  readonly decisionId: string;
  readonly time: number;
  /** The store revision of the model that decided; 0 when the record does not say. */
  readonly revision: number;
  readonly principal: string;
  readonly action: string;
  readonly resource: string;
  readonly decision: Decision;
}

function matchedStatementOf(value: unknown): MatchedStatement | undefined {
  if (value === null || typeof value !== 'object') return undefined;
  const v = value as Record<string, unknown>;
  if (typeof v.policyId !== 'string' || typeof v.policyKind !== 'string' || !KINDS.has(v.policyKind))
    return undefined;
  if ((v.effect !== 'Allow' && v.effect !== 'Deny') || typeof v.statementIndex !== 'number') return undefined;
  return {
    policyId: v.policyId,
    policyKind: v.policyKind as PolicyKind,
    ...(typeof v.sid === 'string' ? { sid: v.sid } : {}),
    effect: v.effect,
    statementIndex: v.statementIndex,
    ...(typeof v.roleDefinitionId === 'string' ? { roleDefinitionId: v.roleDefinitionId } : {}),
  };
}

/**
 * Rebuilds the engine's decision from its audit record, so that a decision no longer in any
 * server's memory (a restart, another node) is explained exactly as a recent one. Undefined
 * for a record that is not an authorization decision (an authentication failure, a request
 * refused before the engine was asked) or whose payload is not one this server wrote.
 */
export function auditedDecision(record: AuditRecord): AuditedDecision | undefined {
  if (record.decision === null || !DECISIONS.has(record.decision)) return undefined;
  if (record.principal === null || record.action === null || record.resource === null) return undefined;
  const matched: MatchedStatement[] = [];
  if (record.matchedStatements !== null && record.matchedStatements !== undefined) {
    if (!Array.isArray(record.matchedStatements)) return undefined;
    for (const m of record.matchedStatements) {
      const statement = matchedStatementOf(m);
      if (!statement) return undefined;
      matched.push(statement);
    }
  }
  const extra =
    record.extra !== null && typeof record.extra === 'object'
      ? (record.extra as Record<string, unknown>)
      : {};
  const evalDecision = record.decision as EvalDecision;
  const missing = Array.isArray(extra.missingContextValues)
    ? extra.missingContextValues.filter((k): k is string => typeof k === 'string')
    : [];
  const decision: Decision = { decision: evalDecision, matched, missingContextValues: missing };
  if (evalDecision !== 'allowed') {
    // Records written before the reason was recorded: the decision itself still says which.
    decision.reason =
      typeof extra.reason === 'string' && REASONS.has(extra.reason)
        ? (extra.reason as DenyReason)
        : evalDecision === 'explicitDeny'
          ? 'explicit-deny'
          : 'no-allow';
  }
  return {
    decisionId: record.id,
    time: record.time,
    revision: typeof extra.revision === 'number' ? extra.revision : 0,
    principal: record.principal,
    action: record.action,
    resource: record.resource,
    decision,
  };
}
