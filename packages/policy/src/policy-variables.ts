// biome-ignore-all lint/suspicious/noTemplateCurlyInString: IAM policy variables are written ${key}.
import type { RequestContext } from './request-context.js';

/**
 * IAM policy variables: `${aws:username}`, `${aws:PrincipalTag/team}`, any context key, the
 * escapes `${*}`, `${?}`, `${$}` (a literal `*`, `?`, `$`), and defaults
 * `${aws:PrincipalTag/team, 'company-wide'}`. Only a policy with Version 2012-10-17 has them;
 * otherwise `${...}` is literal text.
 * https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html
 *
 * SECURITY: a substituted value matches literally. A user named `*` gets the resource
 * `arn:aws:s3:::bucket/*` literally, never a wildcard, so a name can't widen a grant. The
 * resolved template is text plus a mask telling which characters are the policy author's
 * wildcards.
 */
export type TemplatePart =
  | { readonly kind: 'text'; readonly text: string }
  | { readonly kind: 'literal'; readonly text: string }
  | { readonly kind: 'variable'; readonly key: string; readonly defaultValue?: string };

/** A string split into author text (wildcards active), escapes and variables. */
export interface PolicyTemplate {
  readonly source: string;
  readonly parts: readonly TemplatePart[];
  /** True when at least one part is a variable (escapes alone don't count). */
  readonly hasVariables: boolean;
}

/** A malformed variable, with Access Analyzer's issue code. */
export interface TemplateError {
  readonly issueCode: 'MISSING_BRACE_IN_VARIABLE' | 'EMPTY_VARIABLE' | 'UNSUPPORTED_SPACE_IN_VARIABLE';
  readonly message: string;
}

const ESCAPES: Record<string, string> = { '*': '*', '?': '?', $: '$' };

/** Splits `text` into template parts; a result with `error` when a `${` is malformed. */
export function parsePolicyTemplate(text: string): PolicyTemplate | { error: TemplateError } {
  const parts: TemplatePart[] = [];
  let hasVariables = false;
  let i = 0;
  let start = 0;
  while (i < text.length) {
    const open = text.indexOf('${', i);
    if (open < 0) break;
    const close = text.indexOf('}', open + 2);
    if (close < 0) {
      return {
        error: {
          issueCode: 'MISSING_BRACE_IN_VARIABLE',
          message: `The policy variable starting at position ${open} has no closing brace "}".`,
        },
      };
    }
    if (open > start) parts.push({ kind: 'text', text: text.slice(start, open) });
    const inner = text.slice(open + 2, close);
    const escaped = ESCAPES[inner];
    if (escaped !== undefined) {
      parts.push({ kind: 'literal', text: escaped });
    } else {
      const m = /^([^,\s']+)(?:\s*,\s*'([^']*)')?$/.exec(inner);
      if (!m) {
        if (inner.trim() === '') {
          return { error: { issueCode: 'EMPTY_VARIABLE', message: 'A policy variable "${}" names no key.' } };
        }
        return {
          error: {
            issueCode: 'UNSUPPORTED_SPACE_IN_VARIABLE',
            message: `The policy variable "\${${inner}}" is malformed: write \${key} or \${key, 'default'} without spaces in the key.`,
          },
        };
      }
      hasVariables = true;
      const defaultValue = m[2];
      parts.push(
        defaultValue === undefined
          ? { kind: 'variable', key: m[1]!.toLowerCase() }
          : { kind: 'variable', key: m[1]!.toLowerCase(), defaultValue },
      );
    }
    i = close + 1;
    start = i;
  }
  if (start < text.length) parts.push({ kind: 'text', text: text.slice(start) });
  return { source: text, parts, hasVariables };
}

/** True when `text` contains `${`, i.e. may hold policy variables. */
export function mayHaveVariables(text: string): boolean {
  return text.includes('${');
}

/** A resolved template: the text, and which characters are active wildcards. */
export interface ResolvedTemplate {
  readonly text: string;
  readonly mask: Uint8Array;
}

/**
 * Reads a variable's value. A multi-valued key can't be a variable (AWS: "you can't use
 * multivalued context keys as policy variables"), so an array counts as missing.
 */
export function readVariable(context: RequestContext, key: string): string | undefined {
  const v = context.get(key);
  if (v === undefined || Array.isArray(v)) return undefined;
  return String(v);
}

/**
 * Substitutes variables from `context`. Returns undefined when a variable is missing and has
 * no default: AWS then treats that entry as not matching. `onMissing` hears each missing key.
 */
export function resolveTemplate(
  template: PolicyTemplate,
  context: RequestContext,
  onMissing?: (key: string) => void,
): ResolvedTemplate | undefined {
  let text = '';
  const maskBits: number[] = [];
  let missing = false;
  for (const part of template.parts) {
    let piece: string;
    let wild = false;
    if (part.kind === 'text') {
      piece = part.text;
      wild = true;
    } else if (part.kind === 'literal') {
      piece = part.text;
    } else {
      const value = readVariable(context, part.key);
      if (value === undefined) {
        onMissing?.(part.key);
        if (part.defaultValue === undefined) {
          missing = true;
          continue;
        }
        piece = part.defaultValue;
      } else {
        piece = value;
      }
    }
    text += piece;
    for (let k = 0; k < piece.length; k++) {
      const c = piece.charCodeAt(k);
      maskBits.push(wild && (c === 0x2a || c === 0x3f) ? 1 : 0);
    }
  }
  if (missing) return undefined;
  return { text, mask: Uint8Array.from(maskBits) };
}
