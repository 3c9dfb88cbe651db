// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${key}.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parsePolicyTemplate, resolveTemplate } from './policy-variables.js';
import { createRequestContext } from './request-context.js';

function resolve(text: string, ctx: Record<string, string | string[]>) {
  const t = parsePolicyTemplate(text);
  if ('error' in t) throw new Error(t.error.issueCode);
  const r = resolveTemplate(t, createRequestContext(ctx));
  return r && { text: r.text, wild: [...r.mask].map((b, i) => (b ? r.text[i] : '')).join('') };
}

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
describe('policy variables', () => {
  it('substitutes context keys case-insensitively', () => {
    assert.deepEqual(resolve('arn:aws:s3:::b/${AWS:UserName}/*', { 'aws:username': 'alice' }), {
      text: 'arn:aws:s3:::b/alice/*',
      wild: '*',
    });
  });
  it('keeps substituted * and ? literal', () => {
    assert.deepEqual(resolve('b/${aws:username}/*', { 'aws:username': 'a*?' }), {
      text: 'b/a*?/*',
      wild: '*',
    });
  });
  it('turns ${*} ${?} ${$} into literal characters', () => {
    assert.deepEqual(resolve('a${*}b${?}c${$}', {}), { text: 'a*b?c$', wild: '' });
  });
  it('uses a default value when the key is missing', () => {
    assert.deepEqual(resolve("t/${aws:PrincipalTag/team, 'company-wide'}", {}), {
      text: 't/company-wide',
      wild: '',
    });
  });
  it('is unresolvable when a key is missing and has no default', () => {
    assert.equal(resolve('t/${aws:username}', {}), undefined);
  });
  it('treats a multi-valued key as missing', () => {
    assert.equal(resolve('t/${aws:TagKeys}', { 'aws:TagKeys': ['a', 'b'] }), undefined);
  });
  it('reports malformed variables with Access Analyzer codes', () => {
    const err = (s: string) => {
      const t = parsePolicyTemplate(s);
      return 'error' in t ? t.error.issueCode : 'ok';
    };
    assert.equal(err('a${aws:username'), 'MISSING_BRACE_IN_VARIABLE');
    assert.equal(err('a${}'), 'EMPTY_VARIABLE');
    assert.equal(err('a${aws: username}'), 'UNSUPPORTED_SPACE_IN_VARIABLE');
    assert.equal(err('a$b{c}'), 'ok');
  });
});
