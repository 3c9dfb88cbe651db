import { chmod, writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { AiamApiError, AiamClient, CredentialsError } from '@aiam/client';
import { type CliIo, type Command, UsageError } from '../cli-io.js';

/**
 * The I/O of commands that talk to a server: the usual streams plus, for tests, the environment
 * (`AIAM_ENDPOINT`, `AWS_*`), a `fetch`, and where files are written. All default to the process.
 */
export interface ApiCliIo extends CliIo {
  env?: Readonly<Record<string, string | undefined>>;
  fetch?: typeof fetch;
  /** Writes a private file (mode 0600). */
  writePrivateFile?: (path: string, text: string) => Promise<void>;
}

/** The client of a command: endpoint and credentials from the environment, as AWS tools do. */
export function clientFor(io: CliIo): AiamClient {
  const api = io as ApiCliIo;
  return new AiamClient({ env: api.env ?? process.env, ...(api.fetch ? { fetch: api.fetch } : {}) });
}

/** Writes `text` to `path` readable by its owner only (secrets). */
export async function writePrivateFile(io: CliIo, path: string, text: string): Promise<void> {
  const api = io as ApiCliIo;
  if (api.writePrivateFile) return api.writePrivateFile(path, text);
  const full = resolve(path);
  await writeFile(full, text, { mode: 0o600 });
  // `mode` applies only when the file is created; an existing file is narrowed too.
  await chmod(full, 0o600);
}

/** A flag: a string (repeatable with `multiple`) or a boolean. */
export interface FlagSpec {
  readonly type: 'string' | 'boolean';
  readonly multiple?: boolean;
}

/** Parsed flags: strings, booleans, lists; and the positionals. */
export interface ParsedFlags {
  readonly values: Readonly<Record<string, string | boolean | string[] | undefined>>;
  readonly positionals: string[];
  string(name: string): string | undefined;
  list(name: string): string[] | undefined;
  flag(name: string): boolean;
}

/** Parses flags strictly (plus `--json`); a mistake is a UsageError (exit 2). */
export function parseFlags(args: string[], options: Record<string, FlagSpec>): ParsedFlags {
  let parsed: {
    values: Record<string, string | boolean | (string | boolean)[] | undefined>;
    positionals: string[];
  };
  try {
    parsed = parseArgs({
      args,
      options: { ...options, json: { type: 'boolean' } },
      allowPositionals: true,
      strict: true,
    });
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const values = parsed.values as Record<string, string | boolean | string[] | undefined>;
  return {
    values,
    positionals: parsed.positionals,
    string: (name) => (typeof values[name] === 'string' ? (values[name] as string) : undefined),
    list: (name) => (Array.isArray(values[name]) ? (values[name] as string[]) : undefined),
    flag: (name) => values[name] === true,
  };
}

/** `k=v` pairs (repeatable `--tag`, `--context`) into a record. */
export function keyValues(flag: string, values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const v of values ?? []) {
    const eq = v.indexOf('=');
    if (eq <= 0) throw new UsageError(`--${flag} takes KEY=VALUE; got "${v}"`);
    out[v.slice(0, eq)] = v.slice(eq + 1);
  }
  return out;
}

/** A whole-number flag. */
export function intFlag(flag: string, value: string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (!/^\d+$/.test(value)) throw new UsageError(`--${flag} takes a whole number; got "${value}"`);
  return Number(value);
}

/** Prints rows as an aligned table with a header (what people read; `--json` is for scripts). */
export function printTable(
  io: CliIo,
  columns: string[],
  rows: (string | number | null | undefined)[][],
): void {
  const cells = rows.map((r) => r.map((c) => (c === null || c === undefined ? '-' : String(c))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((r) => r[i]!.length)));
  const line = (r: string[]) =>
    r
      .map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  io.stdout.write(`${[line(columns.map((c) => c.toUpperCase())), ...cells.map(line)].join('\n')}\n`);
}

/** Prints a value as JSON. */
export function printJson(io: CliIo, value: unknown): void {
  io.stdout.write(`${JSON.stringify(value, null, 2)}\n`);
}

/** Prints `key: value` lines for one entity. */
export function printFields(io: CliIo, fields: Record<string, unknown>): void {
  const width = Math.max(...Object.keys(fields).map((k) => k.length));
  for (const [k, v] of Object.entries(fields)) {
    const text = v === null || v === undefined ? '-' : typeof v === 'object' ? JSON.stringify(v) : String(v);
    io.stdout.write(`${`${k}:`.padEnd(width + 2)}${text}\n`);
  }
}

/** Epoch milliseconds as an ISO time, for tables. */
export function time(ms: number | null | undefined): string {
  return ms === null || ms === undefined ? '-' : new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/** A subcommand of a resource command: its usage line and what it does. */
export interface Subcommand {
  readonly usage: string;
  run(args: string[], io: CliIo): Promise<number>;
}

/**
 * A resource command (`aiam user …`) made of subcommands. API errors become one line on stderr
 * naming the server's code and request id (and, for a refusal, how to see why) and exit 1.
 */
export function resourceCommand(
  name: string,
  summary: string,
  subcommands: Record<string, Subcommand>,
): Command {
  const usage = `usage: aiam ${name} <${Object.keys(subcommands).join('|')}> [options]\n\n${Object.values(
    subcommands,
  )
    .map((s) => `  aiam ${name} ${s.usage}`)
    .join(
      '\n',
    )}\n\nEvery subcommand takes --json for output scripts can read. The server is AIAM_ENDPOINT; credentials\ncome from AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE or AWS_SHARED_CREDENTIALS_FILE.\n`;
  return {
    summary,
    usage,
    async run(args, io) {
      const [sub, ...rest] = args;
      if (sub === undefined) {
        io.stderr.write(usage);
        return 2;
      }
      if (sub === '--help' || sub === '-h' || sub === 'help') {
        io.stdout.write(usage);
        return 0;
      }
      const command = Object.hasOwn(subcommands, sub) ? subcommands[sub] : undefined;
      if (!command) throw new UsageError(`unknown subcommand "${sub}"`);
      if (rest.includes('--help') || rest.includes('-h')) {
        io.stdout.write(`usage: aiam ${name} ${command.usage}\n`);
        return 0;
      }
      return runApi(`${name} ${sub}`, io, () => command.run(rest, io));
    },
  };
}

/** Runs an API-using action, reporting API and credential errors as one actionable line (exit 1). */
export async function runApi(label: string, io: CliIo, action: () => Promise<number>): Promise<number> {
  try {
    return await action();
  } catch (err) {
    if (err instanceof AiamApiError) {
      const hint = err.decisionId ? `; see why: aiam explain ${err.decisionId}` : '';
      io.stderr.write(
        `aiam ${label}: ${err.message} (${err.code}, request ${err.requestId ?? '-'}${hint})\n`,
      );
      return 1;
    }
    if (err instanceof CredentialsError) {
      io.stderr.write(`aiam ${label}: ${err.message}\n`);
      return 1;
    }
    throw err;
  }
}

/** Exactly `n` positionals, or a UsageError naming them. */
export function positionals(list: string[], names: string[]): string[] {
  if (list.length !== names.length)
    throw new UsageError(
      `expected ${names.map((n) => n.toUpperCase()).join(' ')}; got ${list.length ? list.join(' ') : 'nothing'}`,
    );
  return list;
}

/** A single-action command that talks to the server (`aiam audit`, `aiam explain`…). */
export function apiCommand(
  name: string,
  summary: string,
  usage: string,
  run: (args: string[], io: CliIo) => Promise<number>,
): Command {
  const text = `usage: aiam ${usage}\n`;
  return {
    summary,
    usage: text,
    async run(args, io) {
      if (args.includes('--help') || args.includes('-h')) {
        io.stdout.write(text);
        return 0;
      }
      return runApi(name, io, () => run(args, io));
    },
  };
}
