/**
 * The evaluator's answer, as a value (it throws only for misuse). The three decisions are
 * AWS's, with the names SimulateCustomPolicy uses.
 */
export type EvalDecision = 'allowed' | 'explicitDeny' | 'implicitDeny';

/** Which kind of policy a statement came from. */
export type PolicyKind =
  | 'identity' // managed or inline policy attached to a user, group, role or identity
  | 'resource' // a resource policy, e.g. a bucket policy
  | 'boundary' // a permissions boundary
  | 'session' // a session policy passed to AssumeRole
  | 'trust' // a role trust policy (evaluated for sts:AssumeRole*)
  | 'role-assignment' // an Azure-style role assignment at a scope
  | 'deny-assignment'; // an Azure-style deny assignment at a scope

/** A statement that matched the request (action, resource, principal and conditions). */
export interface MatchedStatement {
  /** The policy's identifier as the caller gave it (an ARN, a name, an assignment id). */
  policyId: string;
  policyKind: PolicyKind;
  /** The statement's Sid, when it has one. */
  sid?: string;
  effect: 'Allow' | 'Deny';
  /** Position of the statement in its policy (0-based). For assignments, 0. */
  statementIndex: number;
  /** For a role assignment: the id of the role definition it grants. */
  roleDefinitionId?: string;
}

/**
 * Why a request was not allowed.
 * - `explicit-deny`: a Deny statement or deny assignment matched (see `matched`).
 * - `no-allow`: nothing allowed it.
 * - `boundary`: identity policies allowed it, but the permissions boundary did not.
 * - `session-policy`: identity policies allowed it, but the session policy did not.
 */
export type DenyReason = 'explicit-deny' | 'no-allow' | 'boundary' | 'session-policy';

export interface Decision {
  decision: EvalDecision;
  /** Every statement that matched, allow and deny, in evaluation order. */
  matched: MatchedStatement[];
  /** Present unless `decision` is `allowed`. */
  reason?: DenyReason;
  /**
   * Condition keys that a statement referenced but the context lacked (as SimulateCustomPolicy's
   * MissingContextValues), lowercased, sorted, unique.
   */
  missingContextValues: string[];
}
