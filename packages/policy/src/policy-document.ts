/**
 * The parsed, normalized form of an IAM JSON policy document, as `parsePolicy` returns it.
 * Every element that AWS lets be "a string or an array of strings" is an array here, condition
 * values are strings (AWS carries `true` and `10` as `"true"` and `"10"`), and `Statement` is
 * always an array. Grammar: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_grammar.html
 */

/** The two policy-language versions AWS defines. Only 2012-10-17 knows policy variables. */
export type PolicyVersion = '2012-10-17' | '2008-10-17';

/** The keys a `Principal` map may have. */
export type PrincipalType = 'AWS' | 'Federated' | 'Service' | 'CanonicalUser';

/** All principal types, in canonical order. */
export const PRINCIPAL_TYPES: readonly PrincipalType[] = ['AWS', 'Federated', 'Service', 'CanonicalUser'];

/** `"*"` (everyone, including anonymous) or a map of principal type to identifiers. */
export type PolicyPrincipal = '*' | { readonly [K in PrincipalType]?: readonly string[] };

/**
 * `Condition`: operator (as written, e.g. `ForAnyValue:StringLikeIfExists`) -> condition key
 * (as written) -> values.
 */
export type PolicyCondition = Readonly<Record<string, Readonly<Record<string, readonly string[]>>>>;

/** One statement. Exactly one of each pair (`action`/`notAction`, ...) is set when present. */
export interface PolicyStatement {
  readonly sid?: string;
  readonly effect: 'Allow' | 'Deny';
  readonly principal?: PolicyPrincipal;
  readonly notPrincipal?: PolicyPrincipal;
  readonly action?: readonly string[];
  readonly notAction?: readonly string[];
  readonly resource?: readonly string[];
  readonly notResource?: readonly string[];
  readonly condition?: PolicyCondition;
}

/** A whole policy document. */
export interface ParsedPolicy {
  /** Undefined when the document has no `Version` (then `${...}` is literal text). */
  readonly version?: PolicyVersion;
  readonly id?: string;
  readonly statements: readonly PolicyStatement[];
}

function principalToJson(p: PolicyPrincipal): unknown {
  if (p === '*') return '*';
  const out: Record<string, string[]> = {};
  for (const type of PRINCIPAL_TYPES) {
    const values = p[type];
    if (values) out[type] = [...values];
  }
  return out;
}

/**
 * The policy as a plain JSON value in canonical form: elements in grammar order, every list an
 * array. `parsePolicy(policyToJson(p))` yields a policy deep-equal to `p`.
 */
export function policyToJson(policy: ParsedPolicy): Record<string, unknown> {
  const doc: Record<string, unknown> = {};
  if (policy.version !== undefined) doc.Version = policy.version;
  if (policy.id !== undefined) doc.Id = policy.id;
  doc.Statement = policy.statements.map((s) => {
    const out: Record<string, unknown> = {};
    if (s.sid !== undefined) out.Sid = s.sid;
    out.Effect = s.effect;
    if (s.principal !== undefined) out.Principal = principalToJson(s.principal);
    if (s.notPrincipal !== undefined) out.NotPrincipal = principalToJson(s.notPrincipal);
    if (s.action) out.Action = [...s.action];
    if (s.notAction) out.NotAction = [...s.notAction];
    if (s.resource) out.Resource = [...s.resource];
    if (s.notResource) out.NotResource = [...s.notResource];
    if (s.condition) {
      const cond: Record<string, Record<string, string[]>> = {};
      for (const [op, keys] of Object.entries(s.condition)) {
        cond[op] = {};
        for (const [key, values] of Object.entries(keys)) cond[op][key] = [...values];
      }
      out.Condition = cond;
    }
    return out;
  });
  return doc;
}

/** Serializes a policy to canonical JSON text (see `policyToJson`). */
export function serializePolicy(policy: ParsedPolicy, indent?: number): string {
  return JSON.stringify(policyToJson(policy), null, indent);
}
