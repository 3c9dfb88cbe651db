import {
  type ConditionOperator,
  parseConditionDate,
  parseConditionNumber,
  parseConditionOperator,
} from './condition-operators.js';
import { cidrContains, parseCidr, parseIpAddress } from './ip-cidr.js';
import type { PolicyCondition, PolicyVersion } from './policy-document.js';
import { type PolicyTemplate, parsePolicyTemplate, resolveTemplate } from './policy-variables.js';
import type { ContextScalar, RequestContext } from './request-context.js';
import { compileWildcard, type WildcardPattern } from './wildcard-match.js';

/**
 * Per-evaluation scratch space: the condition keys the request lacked. Allocated lazily so a
 * request that has every key costs nothing.
 */
export interface EvaluationScratch {
  missing: Set<string> | undefined;
  /**
   * Groups the principal belongs to as far as the caller knows beyond `groupArns` of the
   * request (the access model's membership), for assignments made to groups.
   */
  groups?: ReadonlySet<string> | undefined;
}

/** Records a missing condition key (lowercased). */
export function noteMissingKey(scratch: EvaluationScratch, key: string): void {
  if (scratch.missing === undefined) scratch.missing = new Set();
  scratch.missing.add(key);
}

/**
 * The three-valued outcome of a condition: `False`, `True`, or `Unresolved` when the outcome
 * depends on a policy variable whose key the request lacks (and that has no default).
 * Operators combine these with Kleene's logic: `Unresolved` stays so under negation, AND is
 * `False` if any part is, OR is `True` if any part is.
 */
export const ConditionResult = { False: 0, True: 1, Unresolved: 2 } as const;
/** One of the `ConditionResult` values. */
export type ConditionResult = (typeof ConditionResult)[keyof typeof ConditionResult];

const F = ConditionResult.False;
const T = ConditionResult.True;
const U = ConditionResult.Unresolved;

/** A `Condition` block compiled for repeated evaluation. */
export interface CompiledCondition {
  /** Lowercased condition keys it reads. */
  readonly keys: readonly string[];
  /**
   * True when every operator/key pair certainly holds (AND across operators and keys, OR across
   * a key's values); false when one fails or depends on an unresolvable policy variable (the
   * reading right for a grant). Evaluates every pair, without short-circuit, so that all missing
   * keys are reported.
   */
  evaluate(context: RequestContext, scratch: EvaluationScratch): boolean;
  /** The three-valued result (see `ConditionResult`); `evaluate` is `check(...) === True`. */
  check(context: RequestContext, scratch: EvaluationScratch): ConditionResult;
}

type ValueTest = (
  value: ContextScalar,
  context: RequestContext,
  scratch: EvaluationScratch,
) => ConditionResult;
type FixedTest = (value: ContextScalar) => boolean;

function arnParts(value: string): string[] | undefined {
  const parts: string[] = [];
  let start = 0;
  for (let i = 0; i < 5; i++) {
    const next = value.indexOf(':', start);
    if (next < 0) return undefined;
    parts.push(value.slice(start, next));
    start = next + 1;
  }
  parts.push(value.slice(start));
  return parts;
}

/** Matches ARN values part by part, each part a case-sensitive glob (AWS's ArnLike). */
function compileArnTest(pattern: string, mask: Uint8Array | undefined): (value: string) => boolean {
  const parts = arnParts(pattern);
  if (!parts) {
    const whole = compileWildcard(pattern, mask ? { mask } : {});
    return (value) => whole.test(value);
  }
  const matchers: WildcardPattern[] = [];
  let offset = 0;
  for (const part of parts) {
    matchers.push(compileWildcard(part, mask ? { mask: mask.subarray(offset, offset + part.length) } : {}));
    offset += part.length + 1;
  }
  return (value) => {
    const vp = arnParts(value);
    if (!vp) return false;
    for (let i = 0; i < 6; i++) if (!matchers[i]!.test(vp[i]!)) return false;
    return true;
  };
}

/**
 * Parsed request IP addresses, by text. Requests from one client repeat the same address, and
 * parsing dominates an IpAddress test; bounded so that it can't grow without limit.
 */
const ipCache = new Map<string, ReturnType<typeof parseIpAddress> | null>();

function cachedIp(text: string): ReturnType<typeof parseIpAddress> {
  let hit = ipCache.get(text);
  if (hit === undefined) {
    hit = parseIpAddress(text) ?? null;
    if (ipCache.size >= 1024) ipCache.clear();
    ipCache.set(text, hit);
  }
  return hit ?? undefined;
}

function compareOrdered(op: ConditionOperator, a: number, b: number): boolean {
  switch (op.comparison) {
    case 'equals':
      return a === b;
    case 'lessThan':
      return a < b;
    case 'lessThanEquals':
      return a <= b;
    case 'greaterThan':
      return a > b;
    case 'greaterThanEquals':
      return a >= b;
    default:
      return false;
  }
}

/** Builds the test "does this request value match this one policy value". */
function compileValueTest(op: ConditionOperator, raw: string, variables: boolean): ValueTest {
  const family = op.family;
  if (variables && (family === 'String' || family === 'Arn') && raw.includes('${')) {
    const parsed = parsePolicyTemplate(raw);
    // Refused by parsePolicy; if built by hand, "unknown" makes the statement fail safe.
    if ('error' in parsed) return () => U;
    if (parsed.hasVariables) return compileVariableTest(op, parsed);
    // Only escapes: resolve once against an empty context.
    const fixed = resolveTemplate(parsed, new Map());
    if (fixed) return lift(compileFixedTest(op, fixed.text, fixed.mask));
  }
  return lift(compileFixedTest(op, raw, undefined));
}

function lift(test: FixedTest): ValueTest {
  return (v) => (test(v) ? T : F);
}

function compileFixedTest(op: ConditionOperator, raw: string, mask: Uint8Array | undefined): FixedTest {
  switch (op.family) {
    case 'String': {
      if (op.comparison === 'equals') return (v) => String(v) === raw;
      if (op.comparison === 'equalsIgnoreCase') {
        const lower = raw.toLowerCase();
        return (v) => String(v).toLowerCase() === lower;
      }
      const glob = compileWildcard(raw, mask ? { mask } : {});
      return (v) => glob.test(String(v));
    }
    case 'Arn': {
      const test = compileArnTest(raw, mask);
      return (v) => test(String(v));
    }
    case 'Numeric': {
      const n = parseConditionNumber(raw);
      return (v) => {
        const x = parseConditionNumber(typeof v === 'boolean' ? String(v) : v);
        return !Number.isNaN(x) && compareOrdered(op, x, n);
      };
    }
    case 'Date': {
      const t = parseConditionDate(raw);
      return (v) => {
        const x = parseConditionDate(typeof v === 'boolean' ? String(v) : v);
        return !Number.isNaN(x) && compareOrdered(op, x, t);
      };
    }
    case 'Bool': {
      const lower = raw.toLowerCase();
      return (v) => String(v).toLowerCase() === lower;
    }
    case 'Binary':
      return (v) => String(v) === raw;
    case 'IpAddress': {
      const block = parseCidr(raw);
      if (!block) return () => false;
      return (v) => {
        const ip = cachedIp(typeof v === 'string' ? v : String(v));
        return ip !== undefined && cidrContains(block, ip);
      };
    }
    default:
      return () => false;
  }
}

function compileVariableTest(op: ConditionOperator, template: PolicyTemplate): ValueTest {
  return (v, context, scratch) => {
    const resolved = resolveTemplate(template, context, (key) => noteMissingKey(scratch, key));
    // AWS: a variable with no value is "effectively null"; StringEquals-like operators don't
    // match it and inverted ones (StringNotEquals, StringNotLike) do.
    // https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html#policy-vars-no-value
    // aiam reports Unresolved instead, so that the statement decides fail-safe: an Allow does
    // not apply, a Deny does (see compile-policy.ts). That is stricter than AWS for an Allow with
    // an inverted operator, deliberately: a missing tag must not open access.
    if (!resolved) return U;
    return compileFixedTest(op, resolved.text, resolved.mask)(v) ? T : F;
  };
}

interface CompiledPair {
  readonly key: string;
  readonly op: ConditionOperator;
  readonly tests: readonly ValueTest[];
  /** For `Null`: the policy's expectation that the key is absent (`true`) or present (`false`). */
  readonly nullExpect: readonly boolean[];
}

/** Whether a request value matches any of the policy's values (Kleene OR). */
function anyPolicyValue(
  pair: CompiledPair,
  v: ContextScalar,
  ctx: RequestContext,
  s: EvaluationScratch,
): ConditionResult {
  let out: ConditionResult = F;
  for (const test of pair.tests) {
    const r = test(v, ctx, s);
    if (r === T) return T;
    if (r === U) out = U;
  }
  return out;
}

/** Applies the operator's negation to a match result; Unresolved stays Unresolved. */
function orient(r: ConditionResult, negated: boolean): ConditionResult {
  if (r === U || !negated) return r;
  return r === T ? F : T;
}

function evaluatePair(
  pair: CompiledPair,
  context: RequestContext,
  scratch: EvaluationScratch,
): ConditionResult {
  const raw = context.get(pair.key);
  const values: readonly ContextScalar[] | undefined =
    raw === undefined ? undefined : Array.isArray(raw) ? (raw as readonly ContextScalar[]) : undefined;
  const absent = raw === undefined || (values !== undefined && values.length === 0);
  const op = pair.op;
  if (op.family === 'Null') {
    for (const expectAbsent of pair.nullExpect) if (expectAbsent === absent) return T;
    return F;
  }
  if (absent) {
    if (raw === undefined) noteMissingKey(scratch, pair.key);
    // AWS: ForAllValues is true when the key is missing or empty; ForAnyValue is false.
    if (op.setOperator === 'ForAllValues') return T;
    if (op.ifExists) return T;
    if (op.setOperator === 'ForAnyValue') return F;
    // A negated operator ("the key must not match") holds when there is no key at all.
    return op.negated ? T : F;
  }
  if (op.setOperator === 'ForAllValues') {
    // Every request value must pass: False if one fails, else Unresolved if one is.
    const list = values ?? [raw as ContextScalar];
    let out: ConditionResult = T;
    for (const v of list) {
      const r = orient(anyPolicyValue(pair, v, context, scratch), op.negated);
      if (r === F) return F;
      if (r === U) out = U;
    }
    return out;
  }
  if (op.setOperator === 'ForAnyValue') {
    const list = values ?? [raw as ContextScalar];
    let out: ConditionResult = F;
    for (const v of list) {
      const r = orient(anyPolicyValue(pair, v, context, scratch), op.negated);
      if (r === T) return T;
      if (r === U) out = U;
    }
    return out;
  }
  // A single-valued operator on a multi-valued key matches when any request value matches.
  let matched: ConditionResult = F;
  if (values) {
    for (const v of values) {
      const r = anyPolicyValue(pair, v, context, scratch);
      if (r === T) {
        matched = T;
        break;
      }
      if (r === U) matched = U;
    }
  } else {
    matched = anyPolicyValue(pair, raw as ContextScalar, context, scratch);
  }
  return orient(matched, op.negated);
}

/**
 * Compiles a parsed `Condition` block. Operators must already be valid (`parsePolicy` refuses
 * unknown ones); an unknown operator here compiles to "never matches", failing closed.
 */
export function compileCondition(
  condition: PolicyCondition,
  version: PolicyVersion | undefined,
): CompiledCondition {
  const pairs: CompiledPair[] = [];
  const variables = version === '2012-10-17';
  let failClosed = false;
  for (const [opName, keys] of Object.entries(condition)) {
    const op = parseConditionOperator(opName);
    if (!op) {
      failClosed = true;
      continue;
    }
    for (const [key, vals] of Object.entries(keys)) {
      pairs.push({
        key: key.toLowerCase(),
        op,
        tests: vals.map((v) => compileValueTest(op, v, variables)),
        nullExpect: op.family === 'Null' ? vals.map((v) => v.toLowerCase() === 'true') : [],
      });
    }
  }
  const keys = [...new Set(pairs.map((p) => p.key))];
  const check = (context: RequestContext, scratch: EvaluationScratch): ConditionResult => {
    let out: ConditionResult = failClosed ? F : T;
    for (const pair of pairs) {
      const r = evaluatePair(pair, context, scratch);
      if (r === F) out = F;
      else if (r === U && out === T) out = U;
    }
    return out;
  };
  return {
    keys,
    check,
    evaluate: (context, scratch) => check(context, scratch) === T,
  };
}
