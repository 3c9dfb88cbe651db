/**
 * AWS glob matching, as IAM applies it to `Action`, `Resource`, `StringLike` and `ArnLike`:
 * `*` matches any run of characters (including none), `?` exactly one; every other character
 * matches itself. There is no escape inside a glob: a literal `*` comes from the `${*}` policy
 * variable, which is why a pattern here is text plus a mask of which characters are wildcards.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html
 *
 * Patterns are compiled once into the cheapest form that decides them (exact, prefix, suffix,
 * contains, or a general two-pointer matcher that runs in O(pattern × value) at worst, with no
 * regular expressions and so no catastrophic backtracking).
 */
export interface WildcardPattern {
  /** The pattern as written (for messages). */
  readonly source: string;
  /** True when the whole `value` matches. Lowercases `value` first for a case-insensitive pattern. */
  test(value: string): boolean;
  /**
   * True when `value`, already normalized by the caller (lowercased for a case-insensitive
   * pattern), matches. The hot path of the evaluator: it lowercases the action once per request.
   */
  testNormalized(value: string): boolean;
}

/** Options for `compileWildcard`. */
export interface WildcardOptions {
  /** Action names are case-insensitive in IAM; ARNs and most strings are not. */
  caseInsensitive?: boolean;
  /**
   * Which characters of `pattern` are wildcards: `mask[i] === 1` for a `*` or `?` that globs.
   * Omitted: every `*` and `?` globs. Used for text built from policy variables, whose
   * substituted values must match literally.
   */
  mask?: Uint8Array;
}

const STAR = 0x2a;
const QMARK = 0x3f;

function isWild(text: string, mask: Uint8Array | undefined, i: number): boolean {
  const c = text.charCodeAt(i);
  if (c !== STAR && c !== QMARK) return false;
  return mask === undefined || mask[i] === 1;
}

/**
 * The general matcher: the classic linear-space glob algorithm that remembers only the last
 * `*` and retries from it. Correct for `*`/`?` globs because a later star can always absorb
 * what an earlier one would have.
 */
function globMatch(pattern: string, mask: Uint8Array | undefined, value: string): boolean {
  let p = 0;
  let v = 0;
  let starP = -1;
  let starV = 0;
  const pl = pattern.length;
  const vl = value.length;
  while (v < vl) {
    if (p < pl) {
      const c = pattern.charCodeAt(p);
      const wild = mask === undefined || mask[p] === 1;
      if (c === STAR && wild) {
        starP = p++;
        starV = v;
        continue;
      }
      if ((c === QMARK && wild) || c === value.charCodeAt(v)) {
        p++;
        v++;
        continue;
      }
    }
    if (starP < 0) return false;
    p = starP + 1;
    v = ++starV;
  }
  while (p < pl && pattern.charCodeAt(p) === STAR && (mask === undefined || mask[p] === 1)) p++;
  return p === pl;
}

/** Compiles a glob once; see `WildcardPattern`. */
export function compileWildcard(pattern: string, options: WildcardOptions = {}): WildcardPattern {
  const ci = options.caseInsensitive === true;
  const mask = options.mask;
  const text = ci ? pattern.toLowerCase() : pattern;
  let wildCount = 0;
  let qCount = 0;
  for (let i = 0; i < text.length; i++) {
    if (isWild(text, mask, i)) {
      wildCount++;
      if (text.charCodeAt(i) === QMARK) qCount++;
    }
  }
  let match: (value: string) => boolean;
  if (wildCount === 0) {
    match = (value) => value === text;
  } else if (qCount === 0 && wildCount === text.length) {
    match = () => true;
  } else if (qCount === 0 && wildCount === 1 && isWild(text, mask, text.length - 1)) {
    const prefix = text.slice(0, -1);
    match = (value) => value.startsWith(prefix);
  } else if (qCount === 0 && wildCount === 1 && isWild(text, mask, 0)) {
    const suffix = text.slice(1);
    match = (value) => value.endsWith(suffix);
  } else if (
    qCount === 0 &&
    wildCount === 2 &&
    isWild(text, mask, 0) &&
    isWild(text, mask, text.length - 1)
  ) {
    const middle = text.slice(1, -1);
    match = (value) => value.includes(middle);
  } else {
    match = (value) => globMatch(text, mask, value);
  }
  return {
    source: pattern,
    testNormalized: match,
    test: ci ? (value) => match(value.toLowerCase()) : match,
  };
}

/** One-off glob test; compile with `compileWildcard` when the pattern is reused. */
export function wildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  return compileWildcard(pattern, { caseInsensitive }).test(value);
}

/**
 * A deliberately simple reference implementation (dynamic programming over the whole table),
 * used by the property tests to check the fast matchers. Not for production use.
 */
export function referenceWildcardMatch(pattern: string, value: string, caseInsensitive = false): boolean {
  const p = caseInsensitive ? pattern.toLowerCase() : pattern;
  const v = caseInsensitive ? value.toLowerCase() : value;
  // dp[i][j]: p[0..i) matches v[0..j)
  const dp: boolean[][] = [];
  for (let i = 0; i <= p.length; i++) dp.push(new Array<boolean>(v.length + 1).fill(false));
  dp[0]![0] = true;
  for (let i = 1; i <= p.length; i++) {
    const c = p[i - 1];
    for (let j = 0; j <= v.length; j++) {
      if (c === '*') dp[i]![j] = dp[i - 1]![j]! || (j > 0 && dp[i]![j - 1]!);
      else if (j > 0) dp[i]![j] = dp[i - 1]![j - 1]! && (c === '?' || c === v[j - 1]);
    }
  }
  return dp[p.length]![v.length]!;
}
