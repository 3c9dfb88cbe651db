import {
  type CompiledCondition,
  ConditionResult,
  compileCondition,
  type EvaluationScratch,
  noteMissingKey,
} from './condition-evaluate.js';
import type { MatchedStatement, PolicyKind } from './decision.js';
import type { ParsedPolicy, PolicyPrincipal, PolicyStatement, PolicyVersion } from './policy-document.js';
import { type PolicyTemplate, parsePolicyTemplate, resolveTemplate } from './policy-variables.js';
import type { AuthorizationRequest, RequestContext, RequestPrincipal } from './request-context.js';
import { compileWildcard, type WildcardPattern } from './wildcard-match.js';

/**
 * How a statement applied to a request:
 * - `None`: it does not apply.
 * - `Yes`: it applies (identity-side statements; a `Principal` of `*` or a role ARN the
 *   requester acts as).
 * - `DirectPrincipal`: its `Principal` names the requester's own ARN (the IAM user, or the
 *   role-session ARN). AWS does not cap such a same-account resource-policy grant with the
 *   permissions boundary or the session policy.
 * - `AccountPrincipal`: its `Principal` names the requester's account (`123456789012` or
 *   `arn:aws:iam::123456789012:root`). That delegates to the account: within the account the
 *   identity-based policies must still grant; it only opens the door across accounts.
 *   https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html#principal-accounts
 */
export const StatementMatch = { None: 0, Yes: 1, DirectPrincipal: 2, AccountPrincipal: 3 } as const;
/** One of the `StatementMatch` values. */
export type StatementMatch = (typeof StatementMatch)[keyof typeof StatementMatch];

/**
 * One compiled statement: of a policy, or an Azure-style role or deny assignment. The evaluator
 * and the access model's indexes see only this interface.
 */
export interface CompiledStatement {
  readonly policyId: string;
  readonly kind: PolicyKind;
  readonly effect: 'Allow' | 'Deny';
  /** Position in its policy (0-based); 0 for assignments. */
  readonly index: number;
  readonly sid?: string;
  /** The value reported in `Decision.matched` (shared, never mutated). */
  readonly matched: MatchedStatement;
  /**
   * Lowercased service prefixes of the actions it can match (`['s3']`), or undefined when it
   * can match any service (`*`, a wildcard service, `NotAction`). Used for indexing.
   */
  readonly services: readonly string[] | undefined;
  /**
   * Whether it applies to `request`. `actionLower` is `request.action` lowercased (done once per
   * request by the caller). Missing condition keys are noted in `scratch`.
   */
  applies(request: AuthorizationRequest, actionLower: string, scratch: EvaluationScratch): StatementMatch;
}

/** A policy compiled for evaluation: compile once, evaluate many times. */
export interface CompiledPolicy {
  readonly id: string;
  readonly kind: PolicyKind;
  readonly version: PolicyVersion | undefined;
  readonly statements: readonly CompiledStatement[];
  /** The parsed policy it was compiled from. */
  readonly source: ParsedPolicy;
}

/** Options for `compilePolicy`. */
export interface CompilePolicyOptions {
  /** How decisions name the policy (an ARN, a name). */
  id: string;
  kind: PolicyKind;
}

/** Whether a Resource/NotResource entry matches: `ConditionResult` values, three-valued. */
type ResourceTest = (
  resource: string,
  context: RequestContext,
  scratch: EvaluationScratch,
) => ConditionResult;

const YES = ConditionResult.True;
const NO = ConditionResult.False;
const UNRESOLVED = ConditionResult.Unresolved;

function compileResourceEntry(pattern: string, version: PolicyVersion | undefined): ResourceTest {
  if (pattern === '*') return () => YES;
  if (version === '2012-10-17' && pattern.includes('${')) {
    const t = parsePolicyTemplate(pattern);
    // Refused by parsePolicy; if built by hand, "unknown" makes the statement fail safe.
    if ('error' in t) return () => UNRESOLVED;
    if (!t.hasVariables) {
      const fixed = resolveTemplate(t, new Map())!;
      const glob = compileWildcard(fixed.text, { mask: fixed.mask });
      return (r) => (glob.testNormalized(r) ? YES : NO);
    }
    return compileTemplateResource(t);
  }
  const glob = compileWildcard(pattern);
  return (r) => (glob.testNormalized(r) ? YES : NO);
}

function compileTemplateResource(t: PolicyTemplate): ResourceTest {
  return (resource, context, scratch) => {
    const resolved = resolveTemplate(t, context, (key) => noteMissingKey(scratch, key));
    // AWS: an entry whose variable has no value (and no default) "will not match any resource",
    // which would make a NotResource statement apply to everything.
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value
    // aiam reports it as unknown so the statement can decide fail-safe (see compileStatement).
    if (!resolved) return UNRESOLVED;
    return compileWildcard(resolved.text, { mask: resolved.mask }).testNormalized(resource) ? YES : NO;
  };
}

/**
 * A `Principal`/`NotPrincipal` element by type. The types are separate namespaces, so the same
 * text under `Federated` and under `AWS` names different principals.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
 */
interface PrincipalSet {
  /** `"*"` or `{"AWS": "*"}`: every principal of every type. */
  readonly anyone: boolean;
  readonly accounts: ReadonlySet<string>;
  /** `AWS` ARNs (users, roles, sessions). */
  readonly aws: ReadonlySet<string>;
  readonly federated: ReadonlySet<string>;
  readonly anyFederated: boolean;
  readonly services: ReadonlySet<string>;
  readonly anyService: boolean;
}

const EMPTY: ReadonlySet<string> = new Set();

function compilePrincipalSet(p: PolicyPrincipal): PrincipalSet {
  const none = { accounts: EMPTY, aws: EMPTY, federated: EMPTY, services: EMPTY };
  if (p === '*') return { anyone: true, anyFederated: true, anyService: true, ...none };
  let anyone = false;
  let anyFederated = false;
  let anyService = false;
  const accounts = new Set<string>();
  const aws = new Set<string>();
  const federated = new Set<string>();
  const services = new Set<string>();
  for (const [type, values] of Object.entries(p) as [string, readonly string[]][]) {
    for (const v of values) {
      if (type === 'AWS') {
        // AWS documents {"AWS": "*"} as equivalent to "*".
        if (v === '*') anyone = true;
        else if (/^[0-9]{12}$/.test(v)) accounts.add(v);
        // The account principal stands for every IAM principal of that account.
        else if (/^arn:[^:]+:iam::[0-9]{12}:root$/.test(v)) accounts.add(v.split(':')[4]!);
        else aws.add(v);
      } else if (type === 'Federated') {
        if (v === '*') anyFederated = true;
        else federated.add(v);
      } else if (type === 'Service') {
        if (v === '*') anyService = true;
        else services.add(v);
      }
      // CanonicalUser (S3's legacy account ids): aiam has no such principals, so it names no one.
    }
  }
  return { anyone, accounts, aws, federated, anyFederated, services, anyService };
}

/** Which way, if any, a principal set names the requester (see `StatementMatch`). */
function matchPrincipalSet(set: PrincipalSet, principal: RequestPrincipal): StatementMatch {
  const type = principal.type;
  if (type === undefined || type === 'AWS') {
    if (set.aws.has(principal.arn)) return StatementMatch.DirectPrincipal;
    if (set.anyone) return StatementMatch.Yes;
    const others = principal.identityArns;
    if (others) for (const arn of others) if (set.aws.has(arn)) return StatementMatch.Yes;
    if (set.accounts.has(principal.account)) return StatementMatch.AccountPrincipal;
    return StatementMatch.None;
  }
  if (set.anyone) return StatementMatch.Yes;
  if (type === 'Federated') {
    if (set.anyFederated) return StatementMatch.Yes;
    const ids = set.federated;
    if (ids.size === 0) return StatementMatch.None;
    const provider = principal.federatedProvider;
    if ((provider !== undefined && ids.has(provider)) || ids.has(principal.arn)) return StatementMatch.Yes;
    const others = principal.identityArns;
    if (others) for (const arn of others) if (ids.has(arn)) return StatementMatch.Yes;
    return StatementMatch.None;
  }
  if (type === 'Service') {
    if (set.anyService) return StatementMatch.Yes;
    return set.services.has(principal.service ?? principal.arn) ? StatementMatch.Yes : StatementMatch.None;
  }
  // An unknown type (from untyped callers) is named only by "*": fail closed.
  return StatementMatch.None;
}

function actionServices(patterns: readonly string[]): string[] | undefined {
  const services = new Set<string>();
  for (const pattern of patterns) {
    const colon = pattern.indexOf(':');
    const service = colon < 0 ? pattern : pattern.slice(0, colon);
    if (colon < 0 || service.includes('*') || service.includes('?')) return undefined;
    services.add(service.toLowerCase());
  }
  return [...services];
}

/** Compiles a list of action globs into one case-insensitive test of a lowercased action. */
export function compileActionList(patterns: readonly string[]): (actionLower: string) => boolean {
  if (patterns.includes('*')) return () => true;
  const globs: WildcardPattern[] = patterns.map((p) => compileWildcard(p, { caseInsensitive: true }));
  if (globs.length === 1) {
    const only = globs[0]!;
    return (a) => only.testNormalized(a);
  }
  return (a) => {
    for (const g of globs) if (g.testNormalized(a)) return true;
    return false;
  };
}

function compileStatement(
  s: PolicyStatement,
  index: number,
  policyId: string,
  kind: PolicyKind,
  version: PolicyVersion | undefined,
): CompiledStatement {
  const matched: MatchedStatement = Object.freeze({
    policyId,
    policyKind: kind,
    ...(s.sid !== undefined ? { sid: s.sid } : {}),
    effect: s.effect,
    statementIndex: index,
  });
  const actionPatterns = s.action ?? s.notAction ?? [];
  const actionTest = compileActionList(actionPatterns);
  const actionNegated = s.action === undefined;
  const resourcePatterns = s.resource ?? s.notResource;
  const resourceNegated = s.resource === undefined && s.notResource !== undefined;
  const resourceTests = resourcePatterns?.map((p) => compileResourceEntry(p, version));
  const principalSet = s.principal ? compilePrincipalSet(s.principal) : undefined;
  const notPrincipalSet = s.notPrincipal ? compilePrincipalSet(s.notPrincipal) : undefined;
  const condition: CompiledCondition | undefined = s.condition
    ? compileCondition(s.condition, version)
    : undefined;

  return {
    policyId,
    kind,
    effect: s.effect,
    index,
    ...(s.sid !== undefined ? { sid: s.sid } : {}),
    matched,
    services: actionNegated ? undefined : actionServices(actionPatterns),
    applies(request, actionLower, scratch) {
      if (actionTest(actionLower) === actionNegated) return StatementMatch.None;
      // Set when the statement's Resource/NotResource or Condition hinges on a policy variable
      // the request can't resolve. Fail-safe reading (stricter than AWS, which lets such an
      // entry match nothing and an inverted operator match): an Allow then never applies, a Deny
      // applies when everything else matches. Hence aiam never allows a request that AWS would
      // not, and a missing key never weakens a Deny beyond AWS's documented IfExists/Null rules.
      let unresolved = false;
      if (resourceTests) {
        let hit: ConditionResult = NO;
        for (const test of resourceTests) {
          const r = test(request.resource, request.context, scratch);
          if (r === YES) {
            hit = YES;
            break;
          }
          if (r === UNRESOLVED) hit = UNRESOLVED;
        }
        if (hit === UNRESOLVED) unresolved = true;
        else if ((hit === YES) === resourceNegated) return StatementMatch.None;
      }
      let how: StatementMatch = StatementMatch.Yes;
      if (principalSet) {
        how = matchPrincipalSet(principalSet, request.principal);
        if (how === StatementMatch.None) return how;
      } else if (notPrincipalSet) {
        if (matchPrincipalSet(notPrincipalSet, request.principal) !== StatementMatch.None)
          return StatementMatch.None;
      }
      if (condition) {
        const r = condition.check(request.context, scratch);
        if (r === NO) return StatementMatch.None;
        if (r === UNRESOLVED) unresolved = true;
      }
      if (unresolved && s.effect === 'Allow') return StatementMatch.None;
      return how;
    },
  };
}

/**
 * Compiles a parsed policy once, so each decision only runs precompiled matchers.
 *
 * @example
 * const policy = compilePolicy(parsePolicyOrThrow(json, { kind: 'identity' }), { id: 'readData', kind: 'identity' });
 */
export function compilePolicy(parsed: ParsedPolicy, options: CompilePolicyOptions): CompiledPolicy {
  return {
    id: options.id,
    kind: options.kind,
    version: parsed.version,
    statements: parsed.statements.map((s, i) =>
      compileStatement(s, i, options.id, options.kind, parsed.version),
    ),
    source: parsed,
  };
}
