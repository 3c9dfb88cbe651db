import { parseCidr } from './ip-cidr.js';

/**
 * The condition operators AWS documents, parsed from their written names
 * (`ForAllValues:StringLikeIfExists` = set operator + base operator + IfExists).
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-single-vs-multi-valued-context-keys.html
 */
export type ConditionFamily =
  | 'String'
  | 'Numeric'
  | 'Date'
  | 'Bool'
  | 'Binary'
  | 'IpAddress'
  | 'Arn'
  | 'Null';

/** How a family compares one request value with one policy value. */
export type ConditionComparison =
  | 'equals'
  | 'equalsIgnoreCase'
  | 'like'
  | 'lessThan'
  | 'lessThanEquals'
  | 'greaterThan'
  | 'greaterThanEquals'
  | 'inCidr'
  | 'null';

/** A parsed operator name. */
export interface ConditionOperator {
  /** As written in the policy. */
  readonly name: string;
  /** Without set prefix and IfExists suffix, e.g. `StringNotLike`. */
  readonly base: string;
  readonly family: ConditionFamily;
  readonly comparison: ConditionComparison;
  /** `StringNotEquals`, `NotIpAddress`, `ArnNotLike`...: true when no policy value matches. */
  readonly negated: boolean;
  /** `...IfExists`: true when the key is absent from the request. */
  readonly ifExists: boolean;
  readonly setOperator?: 'ForAnyValue' | 'ForAllValues';
}

type BaseOp = Pick<ConditionOperator, 'family' | 'comparison' | 'negated'>;

const BASE_OPERATORS: ReadonlyMap<string, BaseOp> = new Map<string, BaseOp>([
  ['StringEquals', { family: 'String', comparison: 'equals', negated: false }],
  ['StringNotEquals', { family: 'String', comparison: 'equals', negated: true }],
  ['StringEqualsIgnoreCase', { family: 'String', comparison: 'equalsIgnoreCase', negated: false }],
  ['StringNotEqualsIgnoreCase', { family: 'String', comparison: 'equalsIgnoreCase', negated: true }],
  ['StringLike', { family: 'String', comparison: 'like', negated: false }],
  ['StringNotLike', { family: 'String', comparison: 'like', negated: true }],
  ['NumericEquals', { family: 'Numeric', comparison: 'equals', negated: false }],
  ['NumericNotEquals', { family: 'Numeric', comparison: 'equals', negated: true }],
  ['NumericLessThan', { family: 'Numeric', comparison: 'lessThan', negated: false }],
  ['NumericLessThanEquals', { family: 'Numeric', comparison: 'lessThanEquals', negated: false }],
  ['NumericGreaterThan', { family: 'Numeric', comparison: 'greaterThan', negated: false }],
  ['NumericGreaterThanEquals', { family: 'Numeric', comparison: 'greaterThanEquals', negated: false }],
  ['DateEquals', { family: 'Date', comparison: 'equals', negated: false }],
  ['DateNotEquals', { family: 'Date', comparison: 'equals', negated: true }],
  ['DateLessThan', { family: 'Date', comparison: 'lessThan', negated: false }],
  ['DateLessThanEquals', { family: 'Date', comparison: 'lessThanEquals', negated: false }],
  ['DateGreaterThan', { family: 'Date', comparison: 'greaterThan', negated: false }],
  ['DateGreaterThanEquals', { family: 'Date', comparison: 'greaterThanEquals', negated: false }],
  ['Bool', { family: 'Bool', comparison: 'equalsIgnoreCase', negated: false }],
  ['BinaryEquals', { family: 'Binary', comparison: 'equals', negated: false }],
  ['IpAddress', { family: 'IpAddress', comparison: 'inCidr', negated: false }],
  ['NotIpAddress', { family: 'IpAddress', comparison: 'inCidr', negated: true }],
  // ArnEquals and ArnLike behave the same in AWS: both compare the six ARN parts with globs.
  ['ArnEquals', { family: 'Arn', comparison: 'like', negated: false }],
  ['ArnLike', { family: 'Arn', comparison: 'like', negated: false }],
  ['ArnNotEquals', { family: 'Arn', comparison: 'like', negated: true }],
  ['ArnNotLike', { family: 'Arn', comparison: 'like', negated: true }],
  ['Null', { family: 'Null', comparison: 'null', negated: false }],
]);

/** Every base operator name, for messages and documentation. */
export const CONDITION_OPERATOR_NAMES: readonly string[] = [...BASE_OPERATORS.keys()];

/**
 * Parses an operator name; undefined when AWS would refuse it (unknown name, wrong case,
 * `NullIfExists`). Operator names are matched exactly as AWS spells them.
 */
export function parseConditionOperator(name: string): ConditionOperator | undefined {
  let rest = name;
  let setOperator: ConditionOperator['setOperator'];
  if (rest.startsWith('ForAnyValue:')) {
    setOperator = 'ForAnyValue';
    rest = rest.slice('ForAnyValue:'.length);
  } else if (rest.startsWith('ForAllValues:')) {
    setOperator = 'ForAllValues';
    rest = rest.slice('ForAllValues:'.length);
  }
  let ifExists = false;
  if (rest.endsWith('IfExists')) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  const base = BASE_OPERATORS.get(rest);
  if (!base) return undefined;
  // "Null" checks existence itself, so IfExists makes no sense (Access Analyzer: NULL_WITH_IF_EXISTS).
  if (base.family === 'Null' && (ifExists || setOperator)) return undefined;
  const op: ConditionOperator = { name, base: rest, ...base, ifExists };
  return setOperator ? { ...op, setOperator } : op;
}

/**
 * Parses a date condition value to epoch milliseconds: ISO 8601 (with or without time) or
 * epoch seconds, as AWS accepts them. NaN when neither.
 */
export function parseConditionDate(value: string | number): number {
  if (typeof value === 'number') return Number.isFinite(value) ? value * 1000 : Number.NaN;
  const text = value.trim();
  if (/^-?[0-9]+(\.[0-9]+)?$/.test(text)) return Number(text) * 1000;
  if (!/^[0-9]{4}-[0-9]{2}-[0-9]{2}/.test(text)) return Number.NaN;
  return Date.parse(text);
}

/** Parses a numeric condition value; NaN unless it is a plain decimal number. */
export function parseConditionNumber(value: string | number): number {
  if (typeof value === 'number') return value;
  const text = value.trim();
  if (!/^[+-]?([0-9]+(\.[0-9]*)?|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(text)) return Number.NaN;
  return Number(text);
}

/**
 * Why a policy value does not fit its operator, or undefined when it does. Values holding a
 * policy variable are checked when resolved, not here.
 */
export function checkConditionValue(op: ConditionOperator, value: string): string | undefined {
  switch (op.family) {
    case 'Numeric':
      return Number.isNaN(parseConditionNumber(value))
        ? `"${value}" is not a number (${op.base}).`
        : undefined;
    case 'Date':
      return Number.isNaN(parseConditionDate(value))
        ? `"${value}" is not an ISO 8601 date or epoch seconds (${op.base}).`
        : undefined;
    case 'Bool':
    case 'Null': {
      const v = value.toLowerCase();
      return v === 'true' || v === 'false' ? undefined : `"${value}" is not true or false (${op.base}).`;
    }
    case 'IpAddress':
      return parseCidr(value) ? undefined : `"${value}" is not an IPv4 or IPv6 address or CIDR block.`;
    default:
      return undefined;
  }
}
