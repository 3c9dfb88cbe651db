import type { CompiledPolicy, CompiledStatement } from './compile-policy.js';
import { StatementMatch } from './compile-policy.js';
import type { EvaluationScratch } from './condition-evaluate.js';
import type { Decision, MatchedStatement } from './decision.js';
import { type AuthorizationRequest, reconcileResourceAccount } from './request-context.js';

/**
 * Every policy that bears on one request, already compiled. Statements of role assignments and
 * deny assignments come from `compileRoleAssignment` / `compileDenyAssignment`.
 */
export interface PolicySet {
  /** Identity-based policies of the principal (its own, its groups', its role's). */
  identity?: readonly CompiledPolicy[];
  /** Resource-based policies of the resource, and a role's trust policy for `sts:AssumeRole*`. */
  resource?: readonly CompiledPolicy[];
  /** The principal's permissions boundary, if it has one. */
  permissionsBoundary?: CompiledPolicy;
  /**
   * More permissions boundaries (with `permissionsBoundary`, if given). An IAM entity has at
   * most one, but a caller may reach several (a principal and the role it acts as): each must
   * allow, i.e. the effective boundary is their intersection, never just the first.
   */
  permissionsBoundaries?: readonly CompiledPolicy[];
  /**
   * Session policies of a role session or federated session. When given (even empty), they cap
   * identity-based grants: the session may do only what one of them allows.
   */
  session?: readonly CompiledPolicy[];
  /** Azure-style role assignments that apply to the principal (identity-based grants). */
  roleAssignments?: readonly CompiledStatement[];
  /** Azure-style deny assignments (explicit denies). */
  denyAssignments?: readonly CompiledStatement[];
}

/**
 * Accumulates the statements that apply to one request and turns them into a `Decision` with
 * AWS's policy evaluation logic. `evaluatePolicies` and `AccessModel` share it, so there is one
 * evaluator for IAM policies and Azure-style assignments alike.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
 */
export class DecisionBuilder implements EvaluationScratch {
  missing: Set<string> | undefined = undefined;
  groups: ReadonlySet<string> | undefined = undefined;
  readonly matched: MatchedStatement[] = [];
  private deny = false;
  private identityAllow = false;
  private resourceAllow = false;
  private resourceAllowDirect = false;
  private resourceAllowAccount = false;
  /** Whether the boundary being visited (or the only one) allowed. */
  private boundaryAllow = false;
  /** Set when a boundary visited before the current one did not allow. */
  private earlierBoundaryDenied = false;
  private boundaryOpen = false;
  private sessionAllow = false;
  /**
   * Set when the principal has a permissions boundary. Set it and consider the boundary's
   * statements for one boundary; call `beginBoundary` before each of several.
   */
  hasBoundary = false;
  /** Set when the request carries session policies. */
  hasSession = false;
  /**
   * The request, with `resourceAccount` and `aws:ResourceAccount` reconciled (see
   * `AuthorizationRequest`). Throws `AuthorizationRequestError` when they disagree.
   */
  readonly request: AuthorizationRequest;
  /** `request.action` lowercased. */
  readonly actionLower: string;

  constructor(request: AuthorizationRequest, actionLower: string = request.action.toLowerCase()) {
    this.request = reconcileResourceAccount(request);
    this.actionLower = actionLower;
  }

  /**
   * Starts one of several permissions boundaries: the statements considered until the next call
   * (or `finish`) form one boundary, and every boundary must allow.
   */
  beginBoundary(): void {
    if (this.boundaryOpen && !this.boundaryAllow) this.earlierBoundaryDenied = true;
    this.boundaryOpen = true;
    this.hasBoundary = true;
    this.boundaryAllow = false;
  }

  /** Tests one statement and records it when it applies. */
  consider(statement: CompiledStatement): void {
    const how = statement.applies(this.request, this.actionLower, this);
    if (how === StatementMatch.None) return;
    this.matched.push(statement.matched);
    if (statement.effect === 'Deny') {
      this.deny = true;
      return;
    }
    switch (statement.kind) {
      case 'identity':
      case 'role-assignment':
        this.identityAllow = true;
        break;
      case 'resource':
      case 'trust':
        if (how === StatementMatch.AccountPrincipal) this.resourceAllowAccount = true;
        else this.resourceAllow = true;
        if (how === StatementMatch.DirectPrincipal) this.resourceAllowDirect = true;
        break;
      case 'boundary':
        this.boundaryAllow = true;
        break;
      case 'session':
        this.sessionAllow = true;
        break;
      default:
        break;
    }
  }

  /** Considers every statement of a policy. */
  considerPolicy(policy: CompiledPolicy): void {
    for (const s of policy.statements) this.consider(s);
  }

  /** True when the resource belongs to the principal's account (see `evaluatePolicies`). */
  private sameAccount(): boolean {
    const { principal, resource, context } = this.request;
    const declared = this.request.resourceAccount ?? context.get('aws:resourceaccount');
    let account: string | undefined = typeof declared === 'string' ? declared : undefined;
    if (account === undefined && resource.startsWith('arn:')) {
      // arn:partition:service:region:account:resource
      let at = 4;
      for (let i = 0; i < 3 && at > 0; i++) at = resource.indexOf(':', at) + 1;
      const end = at > 0 ? resource.indexOf(':', at) : -1;
      if (end > at) account = resource.slice(at, end);
    }
    return account === undefined || account === principal.account;
  }

  /** The decision, by AWS's order: explicit deny, then allows within their caps, else implicit deny. */
  finish(): Decision {
    const missingContextValues = this.missing ? [...this.missing].sort() : [];
    if (this.deny) {
      return {
        decision: 'explicitDeny',
        matched: this.matched,
        reason: 'explicit-deny',
        missingContextValues,
      };
    }
    // Permissions boundaries and session policies cap identity-based grants: the effective
    // permissions are the intersection.
    const boundaryOk = !this.hasBoundary || (this.boundaryAllow && !this.earlierBoundaryDenied);
    const sessionOk = !this.hasSession || this.sessionAllow;
    const capsOk = boundaryOk && sessionOk;
    let allowed: boolean;
    if (this.sameAccount()) {
      // Same account: a resource policy can grant on its own. When it names the requester's own
      // ARN (user, or role session) neither the boundary nor the session policy limits it; when
      // it names the role ARN (or "*"), both do. Naming the account grants nothing by itself:
      // it delegates to the account's identity-based policies.
      allowed = this.resourceAllowDirect || ((this.identityAllow || this.resourceAllow) && capsOk);
    } else {
      // Cross-account: the identity side and the resource side must both allow.
      allowed = (this.resourceAllow || this.resourceAllowAccount) && this.identityAllow && capsOk;
    }
    if (allowed) return { decision: 'allowed', matched: this.matched, missingContextValues };
    let reason: Decision['reason'] = 'no-allow';
    if (this.identityAllow || this.resourceAllow) {
      if (!boundaryOk) reason = 'boundary';
      else if (!sessionOk) reason = 'session-policy';
    }
    return { decision: 'implicitDeny', matched: this.matched, reason, missingContextValues };
  }
}

/**
 * Decides one request against a set of compiled policies with AWS's evaluation logic:
 * an explicit Deny anywhere (identity, resource, boundary, session policy, deny assignment)
 * wins; otherwise identity-based grants (policies and role assignments) count when the
 * permissions boundary and session policies also allow; a same-account resource policy grants
 * on its own; a cross-account request needs both sides; everything else is an implicit deny.
 *
 * The resource's account is `request.resourceAccount` or `aws:ResourceAccount` from the
 * context (they must agree), else the ARN's account field; an ARN without one (S3) is taken to
 * be in the principal's account. Several permissions boundaries are intersected.
 *
 * @example
 * const d = evaluatePolicies(request, { identity: [compiled] });
 * if (d.decision !== 'allowed') console.log(explainDecision(d));
 */
export function evaluatePolicies(request: AuthorizationRequest, set: PolicySet): Decision {
  const b = new DecisionBuilder(request);
  if (set.denyAssignments) for (const s of set.denyAssignments) b.consider(s);
  if (set.identity) for (const p of set.identity) b.considerPolicy(p);
  if (set.roleAssignments) for (const s of set.roleAssignments) b.consider(s);
  if (set.resource) for (const p of set.resource) b.considerPolicy(p);
  if (set.permissionsBoundary) {
    b.beginBoundary();
    b.considerPolicy(set.permissionsBoundary);
  }
  if (set.permissionsBoundaries) {
    for (const p of set.permissionsBoundaries) {
      b.beginBoundary();
      b.considerPolicy(p);
    }
  }
  if (set.session) {
    b.hasSession = true;
    for (const p of set.session) b.considerPolicy(p);
  }
  return b.finish();
}
