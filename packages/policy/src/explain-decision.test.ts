import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Decision } from './decision.js';
import { explainDecision } from './explain-decision.js';

describe('explainDecision', () => {
  it('names the decision, each matched statement and the deny reason', () => {
    const d: Decision = {
      decision: 'explicitDeny',
      reason: 'explicit-deny',
      matched: [
        { policyId: 'read-data', policyKind: 'identity', sid: 'Read', effect: 'Allow', statementIndex: 0 },
        { policyId: 'no-delete', policyKind: 'identity', sid: 'NoDelete', effect: 'Deny', statementIndex: 2 },
      ],
      missingContextValues: [],
    };
    assert.equal(
      explainDecision(d),
      [
        'DENIED (explicit deny)',
        'Matched statements:',
        '  1. Allow: identity-based policy "read-data", statement 0 (Sid "Read")',
        '  2. Deny: identity-based policy "no-delete", statement 2 (Sid "NoDelete")',
        'Reason: A Deny statement or deny assignment matched; an explicit deny overrides every allow.',
        '  denied by Deny: identity-based policy "no-delete", statement 2 (Sid "NoDelete")',
      ].join('\n'),
    );
  });

  it('explains an implicit deny by boundary, and missing context keys', () => {
    const text = explainDecision({
      decision: 'implicitDeny',
      reason: 'boundary',
      matched: [
        {
          policyId: 'a1',
          policyKind: 'role-assignment',
          sid: 'ModelReader',
          effect: 'Allow',
          statementIndex: 0,
          roleDefinitionId: 'r1',
        },
      ],
      missingContextValues: ['aws:sourceip'],
    });
    assert.match(text, /^DENIED \(implicit deny\)/);
    assert.match(text, /Allow: role assignment "a1" granting role ModelReader/);
    assert.match(text, /permissions boundary does not/);
    assert.match(text, /Missing context values: aws:sourceip/);
  });

  it('says when nothing matched', () => {
    const text = explainDecision({
      decision: 'implicitDeny',
      reason: 'no-allow',
      matched: [],
      missingContextValues: [],
    });
    assert.equal(
      text,
      'DENIED (implicit deny)\nMatched statements: none\nReason: No statement allowed the request, so it is denied by default.',
    );
  });

  it('has no reason line for an allowed request', () => {
    const text = explainDecision({
      decision: 'allowed',
      matched: [{ policyId: 'p', policyKind: 'resource', effect: 'Allow', statementIndex: 1 }],
      missingContextValues: [],
    });
    assert.equal(text, 'ALLOWED\nMatched statements:\n  1. Allow: resource-based policy "p", statement 1');
  });
});
