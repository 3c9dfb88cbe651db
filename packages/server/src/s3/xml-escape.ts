/**
 * Escapes a string for XML text or attribute content. Beyond the five predefined entities,
 * S3 keys may hold control characters that XML 1.0 cannot carry literally: they are written
 * as numeric references (as S3 does), `\r` too so that XML end-of-line normalization cannot
 * turn it into `\n`. Lone UTF-16 surrogates cannot be represented at all and become U+FFFD.
 * Clients that must round-trip such keys exactly ask for `encoding-type=url`.
 */
export function escapeXml(value: string): string {
  // Most keys, ETags and dates need nothing: a plain (non-Unicode-mode) test is several times
  // cheaper than the replacement pass (listings render thousands of fields). It also matches
  // paired surrogates, which then take the exact path below.
  if (!NEEDS_ESCAPE.test(value)) return value;
  return value.replace(
    /[&<>"'\u{0}-\u{8}\u{b}\u{c}\u{d}\u{e}-\u{1f}\u{d800}-\u{dfff}\u{fffe}\u{ffff}]/gu,
    replace,
  );
}

const NEEDS_ESCAPE = /[&<>"'\x00-\x1f\ud800-\udfff\ufffe\uffff]/;

function replace(c: string): string {
  switch (c) {
    case '&':
      return '&amp;';
    case '<':
      return '&lt;';
    case '>':
      return '&gt;';
    case '"':
      return '&quot;';
    case "'":
      return '&apos;';
    default: {
      const cp = c.charCodeAt(0);
      if (cp >= 0xd800) return '\ufffd';
      return `&#x${cp.toString(16).toUpperCase()};`;
    }
  }
}
