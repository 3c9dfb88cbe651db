/** What replaces a redacted value in logs. */
export const REDACTED = '[REDACTED]';

// Field names whose values are credentials. Matched case-insensitively against the whole key
// after stripping `-`/`_`, so `x-amz-security-token`, `secretAccessKey`, `client_secret`,
// `Authorization` and `set-cookie` are all caught. `accessKeyId` and `credentialsFile` are not: a key id
// is an identifier that AWS itself prints in CloudTrail, and operators need it to investigate.
const SECRET_KEY =
  /(secret|password|passwd|passphrase|token|authorization|cookie|signature|privatekey|apikey|masterkey|pepper|sessionkey|bearer)/i;

// Secrets that can hide inside ordinary strings: presigned-URL query parameters, bearer
// headers echoed into messages, aiam endpoint keys (`aiam_ek_…`), and SigV4 signatures.
const VALUE_PATTERNS: readonly [RegExp, string][] = [
  [
    /([?&](?:X-Amz-Signature|X-Amz-Security-Token|X-Amz-Credential|token|access_token|sig)=)[^&#\s"]*/gi,
    `$1${REDACTED}`,
  ],
  [/(Bearer\s+)[A-Za-z0-9._~+/=-]+/gi, `$1${REDACTED}`],
  [/(Signature=)[0-9a-f]{16,}/gi, `$1${REDACTED}`],
  [/aiam_ek_[A-Za-z0-9_-]+/g, `aiam_ek_${REDACTED}`],
  // `password=…`, `aws_secret_access_key = …`, `"token": "…"` inside messages and config dumps.
  [
    /\b((?:password|passwd|pwd|secret|token|api[_-]?key|aws_secret_access_key|aws_session_token)"?\s*[=:]\s*)("[^"]*"|'[^']*'|[^\s&,;"']+)/gi,
    `$1${REDACTED}`,
  ],
  // The password of a connection URL (postgres://user:pass@host).
  [/\b([a-z][a-z0-9+.-]*:\/\/[^:/?#\s@]+:)[^@/?#\s]+@/gi, `$1${REDACTED}@`],
];

/** True when a field of this name holds a credential and must never be logged. */
export function isSecretKey(key: string): boolean {
  return SECRET_KEY.test(key.replace(/[-_]/g, ''));
}

/** Scrubs credentials that appear inside free text (URLs with presigned queries, echoed headers). */
export function redactString(text: string): string {
  let out = text;
  for (const [pattern, replacement] of VALUE_PATTERNS) out = out.replace(pattern, replacement);
  return out;
}

/**
 * A deep copy of `value` safe to log: fields named like secrets are replaced by `[REDACTED]`,
 * strings are scrubbed of embedded credentials, errors become `{ name, code, message }`
 * (their stacks too, when `stacks`), cycles and excessive depth are cut.
 *
 * @example
 * redact({ headers: { authorization: 'AWS4-HMAC-SHA256 …' } }) // { headers: { authorization: '[REDACTED]' } }
 */
export function redact(value: unknown, options: { stacks?: boolean } = {}): unknown {
  return walk(value, 0, new WeakSet(), options.stacks === true);
}

function walk(value: unknown, depth: number, seen: WeakSet<object>, stacks: boolean): unknown {
  if (typeof value === 'string') return redactString(value);
  if (value === null || typeof value !== 'object') {
    return typeof value === 'bigint' ? value.toString() : value;
  }
  if (seen.has(value)) return '[Circular]';
  if (depth >= 8) return '[Truncated]';
  seen.add(value);
  if (value instanceof Error) {
    const out: Record<string, unknown> = { name: value.name, message: redactString(value.message) };
    const code = (value as { code?: unknown }).code;
    if (code !== undefined) out.code = code;
    if (stacks && value.stack) out.stack = redactString(value.stack);
    if (value.cause !== undefined) out.cause = walk(value.cause, depth + 1, seen, stacks);
    return out;
  }
  if (Array.isArray(value)) return value.map((v) => walk(v, depth + 1, seen, stacks));
  if (value instanceof Uint8Array) return `[${value.byteLength} bytes]`;
  if (value instanceof Date) return value.toISOString();
  if (value instanceof Map) return walk(Object.fromEntries(value), depth, seen, stacks);
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    out[k] =
      isSecretKey(k) && v !== undefined && v !== null && v !== ''
        ? REDACTED
        : walk(v, depth + 1, seen, stacks);
  }
  return out;
}
