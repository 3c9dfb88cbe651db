/**
 * Escapes a string for XML text or attribute content. Beyond the five predefined entities,
 * S3 keys may hold control characters that XML 1.0 cannot carry literally: they are written
 * as numeric references (as S3 does), `\r` too so that XML end-of-line normalization cannot
 * turn it into `\n`. Lone UTF-16 surrogates cannot be represented at all and become U+FFFD.
 * Clients that must round-trip such keys exactly ask for `encoding-type=url`.
 */
export function escapeXml(value: string): string {
  return value.replace(
    /[&<>"'\u{0}-\u{8}\u{b}\u{c}\u{d}\u{e}-\u{1f}\u{d800}-\u{dfff}\u{fffe}\u{ffff}]/gu,
    replace,
  );
}

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
