import { JsonSyntaxError, parseJsonSource } from '@aiam/policy';
import type { CliIo } from './cli-io.js';
import { UsageError } from './cli-io.js';

/** Reads a file, turning "no such file" and friends into a `UsageError` that names the path. */
export async function readInputFile(io: CliIo, path: string): Promise<string> {
  try {
    const text = await io.readTextFile(path);
    return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  } catch (err) {
    const code = (err as { code?: string }).code;
    const reason =
      code === 'ENOENT'
        ? 'no such file'
        : code === 'EISDIR'
          ? 'it is a directory'
          : code === 'EACCES'
            ? 'permission denied'
            : (err as Error).message;
    throw new UsageError(`cannot read ${path}: ${reason}`);
  }
}

/**
 * The value of an AWS-CLI-style JSON argument: `file://PATH` reads PATH, anything else is the
 * JSON text itself. Bad JSON becomes a `UsageError` with the line and column.
 */
export async function readJsonArgument(io: CliIo, flag: string, value: string): Promise<unknown> {
  const fromFile = value.startsWith('file://');
  const where = fromFile ? value.slice('file://'.length) : `${flag}`;
  const text = fromFile ? await readInputFile(io, where) : value;
  try {
    return parseJsonSource(text).value;
  } catch (err) {
    if (err instanceof JsonSyntaxError) throw new UsageError(`${where} is not valid JSON: ${err.message}`);
    throw err;
  }
}
