import { readFile } from 'node:fs/promises';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import {
  type ConfigIssue,
  ConfigError,
  type ConfigLoadResult,
  checkConfigValue,
  type LoadConfigOptions,
  parseConfigText,
} from './config-loader.js';
import type { NormalizedConfig } from './normalized-config.js';

const TEXT = new Set(['.yaml', '.yml', '.json']);
const MODULES = new Set(['.mjs', '.js', '.cjs']);
const TYPESCRIPT = new Set(['.ts', '.mts', '.cts']);

function fail(file: string, message: string): ConfigLoadResult {
  return { errors: [{ severity: 'error', file, path: '', message }], warnings: [] };
}

/**
 * Reads a config file and checks it: YAML (`.yaml`, `.yml`) and JSON as text, with line
 * numbers; `.mjs`/`.js` by importing its default export (a `defineConfig(...)` value); `.ts`
 * likewise, when the running Node can load TypeScript (Node 23.6+ strips types by itself;
 * older Nodes need a loader such as `node --import tsx`). Returns every issue; never throws for
 * a bad file.
 */
export async function readConfigFile(
  path: string,
  options: Omit<LoadConfigOptions, 'fileName'> = {},
): Promise<ConfigLoadResult> {
  const ext = extname(path).toLowerCase();
  const opts = { ...options, fileName: path };
  if (TEXT.has(ext)) {
    let text: string;
    try {
      text = await readFile(path, 'utf8');
    } catch (err) {
      return fail(
        path,
        `Cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}.`,
      );
    }
    return parseConfigText(text.charCodeAt(0) === 0xfeff ? text.slice(1) : text, opts);
  }
  if (MODULES.has(ext) || TYPESCRIPT.has(ext)) {
    let module: { default?: unknown; config?: unknown };
    try {
      module = (await import(pathToFileURL(resolve(path)).href)) as typeof module;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (
        TYPESCRIPT.has(ext) &&
        (code === 'ERR_UNKNOWN_FILE_EXTENSION' || code === 'ERR_UNSUPPORTED_NODE_MODULES_TYPE_STRIPPING')
      ) {
        return fail(
          path,
          'This Node cannot load TypeScript. Use Node 23.6 or later, run with a loader (node --import tsx), or compile the config to .mjs.',
        );
      }
      return fail(path, `Cannot load the module: ${(err as Error).message}`);
    }
    const value = module.default ?? module.config;
    if (value === undefined)
      return fail(path, 'The module exports no config: write `export default defineConfig({...})`.');
    return checkConfigValue(value, opts);
  }
  return fail(
    path,
    `Unknown config file type "${ext || '(none)'}"; use .yaml, .yml, .json, .mjs, .js or .ts.`,
  );
}

/** `readConfigFile`, throwing `ConfigError` with every issue when the file has errors. */
export async function loadConfigFile(
  path: string,
  options: Omit<LoadConfigOptions, 'fileName'> = {},
): Promise<{ config: NormalizedConfig; warnings: readonly ConfigIssue[] }> {
  const result = await readConfigFile(path, options);
  if (!result.config) throw new ConfigError([...result.errors, ...result.warnings]);
  return { config: result.config, warnings: result.warnings };
}
