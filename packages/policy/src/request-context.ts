import { AiamError } from './errors.js';

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
 * Which key of a policy's `Principal` element can name a requester. The types are separate
 * namespaces: `{"Federated": "accounts.google.com"}` never matches an `AWS` principal whose ARN
 * happens to be that text, nor the reverse.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html
 */
export type RequestPrincipalType = 'AWS' | 'Federated' | 'Service';

/**
 * The principal making the request. `arn` is what `Principal` elements and role assignments
 * match (an IAM user ARN, an assumed-role session ARN, a managed identity ARN); `identityArns`
 * adds the other ARNs the principal also answers to (for a role session, the role's ARN), and
 * `groupArns` the groups it belongs to (group grants and role assignments to groups).
 *
 * `type` (default `AWS`) says which `Principal` key can name it:
 * - `AWS`: `arn`, `identityArns` and `account` match `{"AWS": ...}` entries.
 * - `Federated`: a web-identity or SAML caller (AssumeRoleWithWebIdentity/SAML). It matches
 *   `{"Federated": ...}` entries equal to `federatedProvider` (the issuer, e.g.
 *   `accounts.google.com`), `arn`, or one of `identityArns` (e.g. the
 *   `arn:aws:iam::123456789012:oidc-provider/HOST` ARN).
 * - `Service`: a service principal; `service` (default `arn`), e.g. `pipelines.aiam`, matches
 *   `{"Service": ...}` entries.
 * Only `"*"` (and `{"AWS": "*"}`, which AWS documents as the same) matches every type.
 */
export interface RequestPrincipal {
  arn: string;
  account: string;
  identityArns?: readonly string[];
  groupArns?: readonly string[];
  /** Default `AWS`. */
  type?: RequestPrincipalType;
  /** For `type: 'Federated'`: the identity provider (issuer host or provider ARN). */
  federatedProvider?: string;
  /** For `type: 'Service'`: the service principal name, e.g. `pipelines.aiam`. */
  service?: string;
}

/**
 * One authorization question. `action` is `service:Name`; `resource` an ARN (or `*`).
 *
 * `resourceAccount` is the account that owns the resource, for resources whose ARN names none
 * (S3 buckets) or to override it. It is the same fact as the `aws:ResourceAccount` context key:
 * given alone, conditions on `aws:ResourceAccount` see it; given together, they must agree
 * (else the evaluator throws `AuthorizationRequestError`). Without either, the ARN's account
 * field is used, and an ARN without one counts as the principal's own account.
 */
export interface AuthorizationRequest {
  principal: RequestPrincipal;
  action: string;
  resource: string;
  context: RequestContext;
  resourceAccount?: string;
}

/** The caller built a contradictory `AuthorizationRequest` (a programming error, not a deny). */
export class AuthorizationRequestError extends AiamError {
  constructor(message: string) {
    super('ERR_AUTHORIZATION_REQUEST_INVALID', message);
  }
}

/**
 * Returns `request` with `resourceAccount` and `aws:ResourceAccount` made consistent: the field
 * is copied into the context when the context lacks the key. Throws `AuthorizationRequestError`
 * when both are given and differ. Returns `request` itself when there is nothing to do.
 */
export function reconcileResourceAccount(request: AuthorizationRequest): AuthorizationRequest {
  const account = request.resourceAccount;
  if (account === undefined) return request;
  const declared = request.context.get('aws:resourceaccount');
  if (declared === undefined) {
    const context = new Map(request.context);
    context.set('aws:resourceaccount', account);
    return { ...request, context };
  }
  if (declared !== account) {
    throw new AuthorizationRequestError(
      `The request gives resourceAccount ${account} but its context has aws:ResourceAccount ${JSON.stringify(declared)}; give one, or the same account in both.`,
    );
  }
  return request;
}
