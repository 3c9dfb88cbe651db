import { type Finding, type PolicyKind, PolicyValidationError, validatePolicy } from '@aiam/policy';
import { InputError } from '../errors.js';

/** A policy document as callers pass it: JSON text or an already-parsed object. */
export type PolicyDocumentInput = string | Record<string, unknown>;

const POLICY_TYPE: Record<PolicyKind, 'IDENTITY_POLICY' | 'RESOURCE_POLICY'> = {
  identity: 'IDENTITY_POLICY',
  boundary: 'IDENTITY_POLICY',
  session: 'IDENTITY_POLICY',
  resource: 'RESOURCE_POLICY',
  trust: 'RESOURCE_POLICY',
  'role-assignment': 'IDENTITY_POLICY',
  'deny-assignment': 'IDENTITY_POLICY',
};

/**
 * Validates a policy document for its use (`identity`, `trust`, `resource`, `session`…) and
 * returns it as the JSON text to store, plus the non-blocking findings (warnings, suggestions).
 * Any ERROR finding refuses it with a `PolicyValidationError` that carries every finding.
 *
 * @example
 * const { text } = checkPolicyDocument(doc, 'trust', 'trust policy of role ci');
 */
export function checkPolicyDocument(
  document: PolicyDocumentInput,
  kind: PolicyKind,
  what = `${kind} policy`,
): { text: string; findings: Finding[] } {
  if (typeof document !== 'string' && (typeof document !== 'object' || document === null)) {
    throw new InputError(`The ${what} must be a JSON policy document (text or object).`);
  }
  const text = typeof document === 'string' ? document : JSON.stringify(document);
  const findings = validatePolicy(text, { policyType: POLICY_TYPE[kind], kind });
  if (findings.some((f) => f.findingType === 'ERROR')) throw new PolicyValidationError(findings, what);
  return { text, findings };
}
