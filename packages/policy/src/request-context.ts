/**
 * What the engine is asked: who, doing what, to which resource, in which context. Built by the
 * HTTP layer (or a simulator) and handed to the evaluator; the engine reads nothing else, not
 * even the clock: `aws:CurrentTime` and `aws:EpochTime` arrive in the context.
 */

/**
 * A condition-key value. AWS carries every value as a string on the wire; aiam accepts the
 * natural JS types too. An array is a multi-valued key (`aws:TagKeys`, `aws:PrincipalTag/...`
 * never is; `s3:prefix` is single). Dates are ISO 8601 strings or epoch seconds.
 */
export type ContextScalar = string | number | boolean;
export type ContextValue = ContextScalar | readonly ContextScalar[];

/**
 * Condition keys by name. Key names are case-insensitive in AWS (`aws:SourceIp` ==
 * `AWS:sourceip`), so `RequestContext` stores them lowercased; build one with
 * `createRequestContext` and read with `getContextValue`.
 */
export type RequestContext = ReadonlyMap<string, ContextValue>;

/** Builds a context from a plain record, lowercasing key names. Later keys win on clashes. */
export function createRequestContext(entries: Record<string, ContextValue | undefined>): RequestContext {
  const map = new Map<string, ContextValue>();
  for (const [key, value] of Object.entries(entries)) {
    if (value !== undefined) map.set(key.toLowerCase(), value);
  }
  return map;
}

/** Reads a condition key, case-insensitively. */
export function getContextValue(context: RequestContext, key: string): ContextValue | undefined {
  return context.get(key.toLowerCase());
}

/**
 * The principal making the request. `arn` is what `Principal` elements and role assignments
 * match (an IAM user ARN, an assumed-role session ARN, a managed identity ARN); `identityArns`
 * adds the other ARNs the principal also answers to (for a role session, the role's ARN), and
 * `groupArns` the groups it belongs to (group grants and role assignments to groups).
 */
export interface RequestPrincipal {
  arn: string;
  account: string;
  identityArns?: readonly string[];
  groupArns?: readonly string[];
}

/** One authorization question. `action` is `service:Name`; `resource` an ARN (or `*`). */
export interface AuthorizationRequest {
  principal: RequestPrincipal;
  action: string;
  resource: string;
  context: RequestContext;
}
