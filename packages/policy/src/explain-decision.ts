import type { Decision, DenyReason, MatchedStatement, PolicyKind } from './decision.js';

const KIND_NAMES: Record<PolicyKind, string> = {
  identity: 'identity-based policy',
  resource: 'resource-based policy',
  boundary: 'permissions boundary',
  session: 'session policy',
  trust: 'trust policy',
  'role-assignment': 'role assignment',
  'deny-assignment': 'deny assignment',
};

const DECISION_NAMES: Record<Decision['decision'], string> = {
  allowed: 'ALLOWED',
  explicitDeny: 'DENIED (explicit deny)',
  implicitDeny: 'DENIED (implicit deny)',
};

const REASONS: Record<DenyReason, string> = {
  'explicit-deny': 'A Deny statement or deny assignment matched; an explicit deny overrides every allow.',
  'no-allow': 'No statement allowed the request, so it is denied by default.',
  boundary: 'Identity-based policies allow the request, but the permissions boundary does not.',
  'session-policy': 'Identity-based policies allow the request, but the session policy does not.',
};

/** One line for a matched statement: effect, kind, policy, position and Sid (or role). */
export function describeMatchedStatement(m: MatchedStatement): string {
  const kind = KIND_NAMES[m.policyKind] ?? m.policyKind;
  if (m.policyKind === 'role-assignment' || m.policyKind === 'deny-assignment') {
    const role = m.roleDefinitionId !== undefined ? ` granting role ${m.sid ?? m.roleDefinitionId}` : '';
    return `${m.effect}: ${kind} "${m.policyId}"${role}`;
  }
  const sid = m.sid !== undefined ? ` (Sid "${m.sid}")` : '';
  return `${m.effect}: ${kind} "${m.policyId}", statement ${m.statementIndex}${sid}`;
}

/**
 * Explains a decision for people: the decision, every statement that matched (policy, kind,
 * Sid, effect, position), why a denied request was denied, and the condition keys the request
 * lacked.
 *
 * @example
 * console.log(explainDecision(model.authorize(request)));
 * // DENIED (explicit deny)
 * // Matched statements:
 * //   1. Allow: identity-based policy "read-data", statement 0 (Sid "Read")
 * //   2. Deny: identity-based policy "no-delete", statement 0 (Sid "NoDelete")
 * // Reason: A Deny statement or deny assignment matched; an explicit deny overrides every allow.
 */
export function explainDecision(decision: Decision): string {
  const lines = [DECISION_NAMES[decision.decision] ?? decision.decision];
  if (decision.matched.length === 0) lines.push('Matched statements: none');
  else {
    lines.push('Matched statements:');
    decision.matched.forEach((m, i) => {
      lines.push(`  ${i + 1}. ${describeMatchedStatement(m)}`);
    });
  }
  if (decision.decision !== 'allowed') {
    const reason = decision.reason ?? (decision.decision === 'explicitDeny' ? 'explicit-deny' : 'no-allow');
    lines.push(`Reason: ${REASONS[reason]}`);
    if (reason === 'explicit-deny') {
      for (const m of decision.matched)
        if (m.effect === 'Deny') lines.push(`  denied by ${describeMatchedStatement(m)}`);
    }
  }
  if (decision.missingContextValues.length > 0) {
    lines.push(
      `Missing context values: ${decision.missingContextValues.join(', ')} (conditions that read them were evaluated as the key being absent)`,
    );
  }
  return lines.join('\n');
}
