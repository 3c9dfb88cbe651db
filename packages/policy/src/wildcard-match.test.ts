import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { compileWildcard, referenceWildcardMatch, wildcardMatch } from './wildcard-match.js';

// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
// ("*" matches any combination of characters, "?" any single character; ARNs case-sensitive)
// https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html
// (action names are case-insensitive)
describe('wildcardMatch', () => {
  const cases: [string, string, boolean, boolean][] = [
    // pattern, value, caseInsensitive, expected
    ['s3:GetObject', 's3:GetObject', false, true],
    ['s3:GetObject', 's3:getobject', true, true],
    ['s3:GetObject', 's3:getobject', false, false],
    ['s3:Get*', 's3:GetObjectAcl', true, true],
    ['s3:Get*', 's3:PutObject', true, false],
    ['*', '', false, true],
    ['*', 'anything', false, true],
    ['*Object', 's3:GetObject', false, true],
    ['*Obj*', 's3:GetObject', false, true],
    ['*Obj*', 's3:GetBucket', false, false],
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket/a/b/c', false, true],
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::bucket', false, false],
    ['arn:aws:s3:::bucket/*', 'arn:aws:s3:::Bucket/a', false, false],
    ['arn:aws:s3:::b?cket', 'arn:aws:s3:::bucket', false, true],
    ['arn:aws:s3:::b?cket', 'arn:aws:s3:::bcket', false, false],
    ['a*b*c', 'abc', false, true],
    ['a*b*c', 'aXXbYYc', false, true],
    ['a*b*c', 'aXXbYY', false, false],
    ['a*?', 'a', false, false],
    ['a*?', 'ab', false, true],
    ['**', '', false, true],
  ];
  for (const [pattern, value, ci, expected] of cases) {
    it(`${pattern} ${expected ? 'matches' : 'does not match'} ${value}${ci ? ' (case-insensitive)' : ''}`, () => {
      assert.equal(wildcardMatch(pattern, value, ci), expected);
      assert.equal(referenceWildcardMatch(pattern, value, ci), expected);
    });
  }

  it('treats masked-out * and ? literally (substituted policy variables)', () => {
    const text = 'home/*/x';
    const literalStar = compileWildcard(text, { mask: Uint8Array.from([0, 0, 0, 0, 0, 0, 0, 0]) });
    assert.equal(literalStar.test('home/*/x'), true);
    assert.equal(literalStar.test('home/alice/x'), false);
  });

  it('agrees with the reference implementation (property)', () => {
    const alphabet = fc.constantFrom('a', 'b', 'A', '*', '?', '/', ':');
    const str = fc.array(alphabet, { maxLength: 10 }).map((a) => a.join(''));
    const val = fc
      .array(fc.constantFrom('a', 'b', 'A', '/', ':', '*'), { maxLength: 12 })
      .map((a) => a.join(''));
    fc.assert(
      fc.property(str, val, fc.boolean(), (pattern, value, ci) => {
        assert.equal(
          compileWildcard(pattern, { caseInsensitive: ci }).test(value),
          referenceWildcardMatch(pattern, value, ci),
        );
      }),
      { numRuns: 3000 },
    );
  });
});
