import { AiamError, InvalidResourceNameError } from '@aiam/policy';
import { isMap, isScalar, isSeq, LineCounter, type Node, type Pair, parseDocument } from 'yaml';
import { checkConfigReferences } from './check-config.js';
import { type AccessConfig, type ConfigPathElement, checkConfigShape } from './config-schema.js';
import { type NormalizedConfig, type NormalizeOptions, normalizeConfig } from './normalized-config.js';

/** One problem in a config file, with where it is: file, 1-based line and column, key path. */
export interface ConfigIssue {
  readonly severity: 'error' | 'warning';
  readonly file?: string;
  readonly line?: number;
  readonly column?: number;
  /** The key path, e.g. `users.aiUser.policies[0]`; empty for the whole file. */
  readonly path: string;
  readonly message: string;
}

/** Renders an issue the way compilers do: `file:line:column: error: path: message`. */
export function formatConfigIssue(issue: ConfigIssue): string {
  const where = [issue.file ?? '<config>', issue.line, issue.column].filter((p) => p !== undefined).join(':');
  return `${where}: ${issue.severity}: ${issue.path ? `${issue.path}: ` : ''}${issue.message}`;
}

/** Thrown for a config file with errors; carries every error (and warning), not only the first. */
export class ConfigError extends AiamError {
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[]) {
    const errors = issues.filter((i) => i.severity === 'error');
    super(
      'ERR_CONFIG_INVALID',
      `The config has ${errors.length} error${errors.length === 1 ? '' : 's'}:\n${errors.map(formatConfigIssue).join('\n')}`,
    );
    this.issues = issues;
  }
}

/** Options of the loaders. */
export interface LoadConfigOptions extends NormalizeOptions {
  /** The file name shown in issues. */
  readonly fileName?: string;
}

/** What a load produces: the normalized config when there is no error, and every issue. */
export interface ConfigLoadResult {
  readonly config?: NormalizedConfig;
  /** The file as decoded, when it passed every check. */
  readonly source?: AccessConfig;
  readonly errors: readonly ConfigIssue[];
  readonly warnings: readonly ConfigIssue[];
}

/** Formats a key path as people write it: `users.aiUser.policies[0]`, `tags["cost center"]`. */
export function formatConfigPath(path: readonly ConfigPathElement[]): string {
  let out = '';
  for (const el of path) {
    if (typeof el === 'number') out += `[${el}]`;
    else if (/^[A-Za-z_$][\w$-]*$/.test(el)) out += out ? `.${el}` : el;
    else out += `[${JSON.stringify(el)}]`;
  }
  return out;
}

type Locator = (
  path: readonly ConfigPathElement[],
  at: 'key' | 'value',
) => { line: number; column: number } | undefined;

function finish(
  value: unknown,
  options: LoadConfigOptions,
  locate: Locator | undefined,
  early: ConfigIssue[] = [],
): ConfigLoadResult {
  const issues: ConfigIssue[] = [...early];
  const file = options.fileName;
  const add = (
    severity: 'error' | 'warning',
    path: readonly ConfigPathElement[],
    message: string,
    at: 'key' | 'value',
  ) => {
    const pos = locate?.(path, at);
    issues.push({
      severity,
      ...(file !== undefined ? { file } : {}),
      ...(pos ? { line: pos.line, column: pos.column } : {}),
      path: formatConfigPath(path),
      message,
    });
  };
  const config = value ?? {};
  for (const i of checkConfigShape(config)) add('error', i.path, i.message, i.at);
  for (const i of checkConfigReferences(config)) add(i.severity, i.path, i.message, i.at);
  let normalized: NormalizedConfig | undefined;
  if (!issues.some((i) => i.severity === 'error')) {
    try {
      normalized = normalizeConfig(config as AccessConfig, options);
    } catch (err) {
      if (!(err instanceof InvalidResourceNameError)) throw err;
      add('error', [], err.message, 'value');
    }
  }
  issues.sort((a, b) => (a.line ?? 0) - (b.line ?? 0) || (a.column ?? 0) - (b.column ?? 0));
  const errors = issues.filter((i) => i.severity === 'error');
  const warnings = issues.filter((i) => i.severity === 'warning');
  return errors.length === 0 && normalized
    ? { config: normalized, source: config as AccessConfig, errors, warnings }
    : { errors, warnings };
}

/**
 * Loads YAML (or JSON, which YAML 1.2 contains) text. Never throws for a bad file: the result
 * lists every error, each with its line, column and key path, and `config` only when there is
 * none. Duplicate keys are errors (a second `users:` would silently replace the first).
 */
export function parseConfigText(text: string, options: LoadConfigOptions = {}): ConfigLoadResult {
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.2' });
  const position = (offset: number) => {
    const { line, col } = lineCounter.linePos(offset);
    return { line, column: col };
  };
  const syntax: ConfigIssue[] = [...doc.errors, ...doc.warnings].map((e) => ({
    severity: doc.errors.includes(e as never) ? 'error' : 'warning',
    ...(options.fileName !== undefined ? { file: options.fileName } : {}),
    ...position(e.pos[0]),
    path: '',
    message: `YAML: ${e.message.replace(/ at line \d+, column \d+.*$/s, '')}`,
  }));
  if (doc.errors.length > 0) return { errors: syntax.filter((i) => i.severity === 'error'), warnings: [] };

  let value: unknown;
  try {
    // maxAliasCount bounds alias expansion ("billion laughs").
    value = doc.toJS({ maxAliasCount: 1000 });
  } catch (err) {
    return {
      errors: [
        {
          severity: 'error',
          ...(options.fileName !== undefined ? { file: options.fileName } : {}),
          path: '',
          message: `YAML: ${(err as Error).message}`,
        },
      ],
      warnings: [],
    };
  }
  const locate: Locator = (path, at) => {
    let node: unknown = doc.contents;
    let found: Node | undefined = doc.contents ?? undefined;
    for (let i = 0; i < path.length; i++) {
      const step = path[i]!;
      const last = i === path.length - 1;
      if (isMap(node)) {
        const pair = (node.items as Pair[]).find(
          (p) => isScalar(p.key) && String(p.key.value) === String(step),
        );
        if (!pair) break;
        if (last && at === 'key' && isScalar(pair.key)) {
          found = pair.key;
          break;
        }
        node = pair.value;
        // Point at the key for a missing value (`name:`) or a block of entries, whose first
        // line is the key's: `deployments:` rather than its first deployment.
        const value = pair.value as Node | null;
        found = value?.range && !isMap(value) && !isSeq(value) ? value : (pair.key as Node);
      } else if (isSeq(node) && typeof step === 'number') {
        const item = node.items[step];
        if (!item) break;
        node = item;
        found = item as Node;
      } else break;
    }
    return found?.range ? position(found.range[0]) : undefined;
  };
  return finish(value, options, locate, syntax);
}

function toPlain(value: unknown, path: ConfigPathElement[], issues: ConfigIssue[], file?: string): unknown {
  if (value === null || typeof value === 'string' || typeof value === 'boolean' || typeof value === 'number')
    return value;
  const bad = (what: string) => {
    issues.push({
      severity: 'error',
      ...(file !== undefined ? { file } : {}),
      path: formatConfigPath(path),
      message: `Only plain data is allowed in a config (strings, numbers, booleans, lists, maps); found ${what}.`,
    });
    return undefined;
  };
  if (Array.isArray(value)) return value.map((v, i) => toPlain(v, [...path, i], issues, file));
  if (typeof value === 'object') {
    const proto = Object.getPrototypeOf(value);
    if (proto !== Object.prototype && proto !== null)
      return bad(`an instance of ${proto?.constructor?.name ?? 'a class'}`);
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      if (v === undefined) continue; // `{ path: undefined }` means "not given", as in JSON
      out[k] = toPlain(v, [...path, k], issues, file);
    }
    return out;
  }
  return bad(`a ${typeof value}`);
}

/**
 * Checks a config given as a value (a TypeScript or JavaScript config's default export):
 * the same checks as `parseConfigText`, with key paths but no line numbers.
 */
export function checkConfigValue(value: unknown, options: LoadConfigOptions = {}): ConfigLoadResult {
  const early: ConfigIssue[] = [];
  const plain = toPlain(value, [], early, options.fileName);
  if (early.length > 0) return { errors: early, warnings: [] };
  return finish(plain, options, undefined);
}

/** `parseConfigText`, throwing `ConfigError` (with every issue) when the text has errors. */
export function loadConfigText(
  text: string,
  options: LoadConfigOptions = {},
): { config: NormalizedConfig; warnings: readonly ConfigIssue[] } {
  const result = parseConfigText(text, options);
  if (!result.config) throw new ConfigError([...result.errors, ...result.warnings]);
  return { config: result.config, warnings: result.warnings };
}
