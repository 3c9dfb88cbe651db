import { compilePolicy, type CompiledPolicy } from './compile-policy.js';
import type { Decision, EvalDecision, MatchedStatement, PolicyKind } from './decision.js';
import { AiamError } from './errors.js';
import { evaluatePolicies, type PolicySet } from './evaluate-policies.js';
import type { Finding, PathElement } from './finding.js';
import { parseJsonSource, type SourceSpan } from './json-source.js';
import { parsePolicy } from './parse-policy.js';
import { type ContextValue, createRequestContext } from './request-context.js';
import { parseArn } from './resource-name.js';
import { validatePolicy } from './validate-policy.js';

/**
 * IAM's SimulateCustomPolicy, offline: the request and response shapes of
 * https://docs.aws.amazon.com/IAM/latest/APIReference/API_SimulateCustomPolicy.html mapped onto
 * aiam's evaluator. Pure: the caller reads the request file and prints the response.
 */

/** ContextEntry.ContextKeyType. */
export type ContextKeyType =
  | 'string'
  | 'stringList'
  | 'numeric'
  | 'numericList'
  | 'boolean'
  | 'booleanList'
  | 'ip'
  | 'ipList'
  | 'binary'
  | 'binaryList'
  | 'date'
  | 'dateList';

/** One ContextEntry of the request. */
export interface ContextEntry {
  ContextKeyName: string;
  ContextKeyValues: string[];
  ContextKeyType: ContextKeyType;
}

/** The request of SimulateCustomPolicy (pagination fields are accepted and ignored). */
export interface SimulateCustomPolicyRequest {
  PolicyInputList: string[];
  PermissionsBoundaryPolicyInputList?: string[];
  ActionNames: string[];
  ResourceArns?: string[];
  ResourcePolicy?: string;
  ResourceOwner?: string;
  CallerArn?: string;
  ContextEntries?: ContextEntry[];
  ResourceHandlingOption?: string;
  MaxItems?: number;
  Marker?: string;
}

/** Position: 1-based line and column, as IAM reports statement boundaries. */
export interface Position {
  Line: number;
  Column: number;
}

/** Statement: a statement that determined the result. */
export interface SimulationStatement {
  SourcePolicyId: string;
  SourcePolicyType: 'user' | 'group' | 'role' | 'aws-managed' | 'user-managed' | 'resource' | 'none';
  StartPosition: Position;
  EndPosition: Position;
}

/** EvaluationResult: one per action and resource. */
export interface EvaluationResult {
  EvalActionName: string;
  EvalResourceName: string;
  EvalDecision: EvalDecision;
  MatchedStatements: SimulationStatement[];
  MissingContextValues: string[];
  /** Per policy type (`IAM Policy`, `Resource Policy`): present, possibly empty, unless the resource is `*`. */
  EvalDecisionDetails?: Record<string, EvalDecision>;
  PermissionsBoundaryDecisionDetail?: { AllowedByPermissionsBoundary: boolean };
}

/** The response of SimulateCustomPolicy. */
export interface SimulateCustomPolicyResponse {
  EvaluationResults: EvaluationResult[];
  IsTruncated: boolean;
}

/** A policy of the request that failed validation, with its findings (ERRORs and others). */
export interface InvalidPolicyInput {
  /** `PolicyInputList.1`, `PermissionsBoundaryPolicyInputList.1` or `ResourcePolicy`. */
  policyId: string;
  findings: Finding[];
}

/** The outcome: the response, or the policies refused (never a decision on an invalid policy). */
export type SimulateCustomPolicyResult =
  | { ok: true; response: SimulateCustomPolicyResponse }
  | { ok: false; invalidPolicies: InvalidPolicyInput[] };

/** Thrown for a request that is not a SimulateCustomPolicy request (missing or mistyped fields). */
export class InvalidSimulationRequestError extends AiamError {
  constructor(message: string) {
    super('ERR_INVALID_SIMULATION_REQUEST', message);
  }
}

const CONTEXT_KEY_TYPES = new Set<string>([
  'string',
  'stringList',
  'numeric',
  'numericList',
  'boolean',
  'booleanList',
  'ip',
  'ipList',
  'binary',
  'binaryList',
  'date',
  'dateList',
]);

// Without a CallerArn, AWS simulates the calling user; offline there is none, so a fixed,
// recognizable stand-in in the resource owner's account (or AWS's documentation account).
const DEFAULT_ACCOUNT = '123456789012';

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function stringArray(
  request: Record<string, unknown>,
  field: string,
  required: boolean,
): string[] | undefined {
  const value = request[field];
  if (value === undefined) {
    if (required)
      throw new InvalidSimulationRequestError(`${field} is required: a non-empty array of strings.`);
    return undefined;
  }
  if (!Array.isArray(value) || value.some((v) => typeof v !== 'string')) {
    throw new InvalidSimulationRequestError(`${field} must be an array of strings.`);
  }
  if (required && value.length === 0) throw new InvalidSimulationRequestError(`${field} must not be empty.`);
  return value as string[];
}

function optionalString(request: Record<string, unknown>, field: string): string | undefined {
  const value = request[field];
  if (value === undefined) return undefined;
  if (typeof value !== 'string') throw new InvalidSimulationRequestError(`${field} must be a string.`);
  return value;
}

/**
 * Checks that `input` has the shape of a SimulateCustomPolicy request and returns it typed.
 * Throws `InvalidSimulationRequestError` naming the offending field otherwise.
 */
export function readSimulateCustomPolicyRequest(input: unknown): SimulateCustomPolicyRequest {
  if (!isRecord(input)) throw new InvalidSimulationRequestError('The request must be a JSON object.');
  const known = new Set([
    'PolicyInputList',
    'PermissionsBoundaryPolicyInputList',
    'ActionNames',
    'ResourceArns',
    'ResourcePolicy',
    'ResourceOwner',
    'CallerArn',
    'ContextEntries',
    'ResourceHandlingOption',
    'MaxItems',
    'Marker',
  ]);
  for (const field of Object.keys(input)) {
    if (!known.has(field)) {
      throw new InvalidSimulationRequestError(
        `Unknown field "${field}"; SimulateCustomPolicy takes ${[...known].join(', ')}.`,
      );
    }
  }
  const request: SimulateCustomPolicyRequest = {
    PolicyInputList: stringArray(input, 'PolicyInputList', true)!,
    ActionNames: stringArray(input, 'ActionNames', true)!,
  };
  const boundaries = stringArray(input, 'PermissionsBoundaryPolicyInputList', false);
  if (boundaries) request.PermissionsBoundaryPolicyInputList = boundaries;
  const resources = stringArray(input, 'ResourceArns', false);
  if (resources) request.ResourceArns = resources;
  for (const field of [
    'ResourcePolicy',
    'ResourceOwner',
    'CallerArn',
    'ResourceHandlingOption',
    'Marker',
  ] as const) {
    const value = optionalString(input, field);
    if (value !== undefined) request[field] = value;
  }
  if (input.MaxItems !== undefined && !Number.isInteger(input.MaxItems)) {
    throw new InvalidSimulationRequestError('MaxItems must be an integer.');
  }
  if (input.ContextEntries !== undefined) {
    if (!Array.isArray(input.ContextEntries)) {
      throw new InvalidSimulationRequestError('ContextEntries must be an array of ContextEntry objects.');
    }
    request.ContextEntries = input.ContextEntries.map((entry, i) => {
      const where = `ContextEntries[${i}]`;
      if (!isRecord(entry)) throw new InvalidSimulationRequestError(`${where} must be an object.`);
      const name = entry.ContextKeyName;
      const type = entry.ContextKeyType;
      const values = entry.ContextKeyValues;
      if (typeof name !== 'string' || name === '') {
        throw new InvalidSimulationRequestError(`${where}.ContextKeyName must be a non-empty string.`);
      }
      if (typeof type !== 'string' || !CONTEXT_KEY_TYPES.has(type)) {
        throw new InvalidSimulationRequestError(
          `${where}.ContextKeyType must be one of ${[...CONTEXT_KEY_TYPES].join(', ')}.`,
        );
      }
      if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) {
        throw new InvalidSimulationRequestError(`${where}.ContextKeyValues must be an array of strings.`);
      }
      if (!type.endsWith('List') && values.length !== 1) {
        throw new InvalidSimulationRequestError(
          `${where} (${name}) is of type ${type} and takes exactly one value; use ${type}List for several.`,
        );
      }
      return {
        ContextKeyName: name,
        ContextKeyType: type as ContextKeyType,
        ContextKeyValues: values as string[],
      };
    });
  }
  return request;
}

interface InputPolicy {
  id: string;
  kind: PolicyKind;
  sourceType: SimulationStatement['SourcePolicyType'];
  text: string;
}

function accountOf(arn: string | undefined): string | undefined {
  if (!arn) return undefined;
  const parsed = parseArn(arn);
  return parsed?.account || undefined;
}

/** What one side (identity or resource policies) decided on its own, from the statements that matched. */
function sideDecision(decision: Decision, kinds: readonly PolicyKind[], hasBoundary: boolean): EvalDecision {
  const side = decision.matched.filter((m) => kinds.includes(m.policyKind));
  if (side.some((m) => m.effect === 'Deny')) return 'explicitDeny';
  const allows = (kind: PolicyKind) => side.some((m) => m.policyKind === kind && m.effect === 'Allow');
  const allowed = kinds.includes('resource')
    ? allows('resource')
    : allows('identity') && (!hasBoundary || allows('boundary'));
  return allowed ? 'allowed' : 'implicitDeny';
}

function statementSpan(text: string, index: number): SourceSpan | undefined {
  try {
    const source = parseJsonSource(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text);
    const doc = source.value;
    if (!isRecord(doc)) return undefined;
    const path: PathElement[] = Array.isArray(doc.Statement)
      ? [{ value: 'Statement' }, { index }]
      : [{ value: 'Statement' }];
    return source.spanOf(path);
  } catch {
    return undefined;
  }
}

/**
 * Runs SimulateCustomPolicy offline: validates every policy of the request with
 * `validatePolicy` (an invalid one is refused with its findings, never decided), then decides
 * each action on each resource (`*` when ResourceArns is absent) with `evaluatePolicies`.
 *
 * Mapping, as IAM documents it: PolicyInputList are identity policies (ids `PolicyInputList.N`,
 * 1-based), PermissionsBoundaryPolicyInputList the boundary, ResourcePolicy a resource policy;
 * CallerArn is the principal; ResourceOwner gives the account of resources whose ARN names none
 * (S3) and of the resource policy; ContextEntries become the request context.
 * Statement positions follow IAM's convention (1-based line; the column just past the brace).
 *
 * @example
 * const r = simulateCustomPolicy({ PolicyInputList: [json], ActionNames: ['s3:GetObject'],
 *   ResourceArns: ['arn:aws:s3:::ai-model-data/x'] });
 * if (r.ok) r.response.EvaluationResults[0].EvalDecision; // 'allowed'
 */
export function simulateCustomPolicy(
  input: SimulateCustomPolicyRequest | unknown,
): SimulateCustomPolicyResult {
  const request = readSimulateCustomPolicyRequest(input);
  const inputs: InputPolicy[] = request.PolicyInputList.map((text, i) => ({
    id: `PolicyInputList.${i + 1}`,
    kind: 'identity',
    sourceType: 'none',
    text,
  }));
  (request.PermissionsBoundaryPolicyInputList ?? []).forEach((text, i) => {
    inputs.push({
      id: `PermissionsBoundaryPolicyInputList.${i + 1}`,
      kind: 'boundary',
      sourceType: 'none',
      text,
    });
  });
  if (request.ResourcePolicy !== undefined) {
    inputs.push({
      id: 'ResourcePolicy',
      kind: 'resource',
      sourceType: 'resource',
      text: request.ResourcePolicy,
    });
  }

  const invalidPolicies: InvalidPolicyInput[] = [];
  const compiled = new Map<string, CompiledPolicy>();
  for (const p of inputs) {
    const findings = validatePolicy(p.text, { kind: p.kind });
    const parsed = parsePolicy(p.text.charCodeAt(0) === 0xfeff ? p.text.slice(1) : p.text, { kind: p.kind });
    if (findings.some((f) => f.findingType === 'ERROR') || !parsed.policy) {
      invalidPolicies.push({ policyId: p.id, findings });
      continue;
    }
    compiled.set(p.id, compilePolicy(parsed.policy, { id: p.id, kind: p.kind }));
  }
  if (invalidPolicies.length > 0) return { ok: false, invalidPolicies };

  const identity = inputs.filter((p) => p.kind === 'identity').map((p) => compiled.get(p.id)!);
  const boundaries = inputs.filter((p) => p.kind === 'boundary').map((p) => compiled.get(p.id)!);
  const resourcePolicy = request.ResourcePolicy !== undefined ? compiled.get('ResourcePolicy') : undefined;
  if (boundaries.length > 1) {
    throw new InvalidSimulationRequestError(
      'PermissionsBoundaryPolicyInputList takes one policy: a principal has at most one permissions boundary.',
    );
  }
  const boundary = boundaries[0];

  const ownerAccount = accountOf(request.ResourceOwner);
  const callerAccount = accountOf(request.CallerArn) ?? ownerAccount ?? DEFAULT_ACCOUNT;
  const callerArn = request.CallerArn ?? `arn:aws:iam::${callerAccount}:user/simulated-caller`;
  const entries: Record<string, ContextValue> = {};
  for (const e of request.ContextEntries ?? []) {
    entries[e.ContextKeyName] = e.ContextKeyType.endsWith('List')
      ? e.ContextKeyValues
      : e.ContextKeyValues[0]!;
  }
  const texts = new Map(inputs.map((p) => [p.id, p]));

  const toStatement = (m: MatchedStatement): SimulationStatement => {
    const p = texts.get(m.policyId)!;
    const span = statementSpan(p.text, m.statementIndex);
    // IAM reports the 1-based column just past the opening and the closing brace: in the AWS CLI
    // example, a statement spanning 1-based columns 37..166 is reported as 38..167.
    const start = span ? { Line: span.start.line, Column: span.start.column + 1 } : { Line: 1, Column: 1 };
    const end = span ? { Line: span.end.line, Column: span.end.column } : { Line: 1, Column: 1 };
    return {
      SourcePolicyId: m.policyId,
      SourcePolicyType: p.sourceType,
      StartPosition: start,
      EndPosition: end,
    };
  };

  const results: EvaluationResult[] = [];
  const resources = request.ResourceArns && request.ResourceArns.length > 0 ? request.ResourceArns : ['*'];
  for (const action of request.ActionNames) {
    for (const resource of resources) {
      const ctx = { ...entries };
      const resourceAccount = accountOf(resource) ?? ownerAccount;
      if (ownerAccount && !Object.keys(ctx).some((k) => k.toLowerCase() === 'aws:resourceaccount')) {
        if (!accountOf(resource)) ctx['aws:ResourceAccount'] = ownerAccount;
      }
      const authz = {
        principal: { arn: callerArn, account: callerAccount },
        action,
        resource,
        context: createRequestContext(ctx),
      };
      const set: PolicySet = { identity };
      if (resourcePolicy) set.resource = [resourcePolicy];
      if (boundary) set.permissionsBoundary = boundary;
      const decision: Decision = evaluatePolicies(authz, set);
      // IAM lists the statements that decided: the denies for an explicit deny, else those that matched.
      const decisive =
        decision.decision === 'explicitDeny'
          ? decision.matched.filter((m) => m.effect === 'Deny')
          : decision.matched;
      const result: EvaluationResult = {
        EvalActionName: action,
        EvalResourceName: resource,
        EvalDecision: decision.decision,
        MatchedStatements: decisive.map(toStatement),
        MissingContextValues: decision.missingContextValues,
      };
      if (resource !== '*') {
        result.EvalDecisionDetails = {};
        if (resourceAccount && resourceAccount !== callerAccount) {
          // Cross-account: IAM summarizes each side, as both must allow.
          result.EvalDecisionDetails['IAM Policy'] = sideDecision(
            decision,
            ['identity', 'boundary'],
            !!boundary,
          );
          result.EvalDecisionDetails['Resource Policy'] = sideDecision(decision, ['resource'], false);
        }
      }
      if (boundary) {
        const allowedByBoundary =
          decision.matched.some((m) => m.policyKind === 'boundary' && m.effect === 'Allow') &&
          !decision.matched.some((m) => m.policyKind === 'boundary' && m.effect === 'Deny');
        result.PermissionsBoundaryDecisionDetail = { AllowedByPermissionsBoundary: allowedByBoundary };
      }
      results.push(result);
    }
  }
  return { ok: true, response: { EvaluationResults: results, IsTruncated: false } };
}
