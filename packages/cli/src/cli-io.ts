import { readFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { AiamError } from '@aiam/policy';

/** Where a command writes and reads. Injected so tests run commands in-process. */
export interface CliIo {
  stdout: { write(text: string): unknown };
  stderr: { write(text: string): unknown };
  /** Reads a file as UTF-8 text; relative paths resolve against the working directory. */
  readTextFile(path: string): Promise<string>;
}

/** The real process streams and file system. */
export function processIo(): CliIo {
  return {
    stdout: process.stdout,
    stderr: process.stderr,
    readTextFile: (path) => readFile(resolve(path), 'utf8'),
  };
}

/**
 * A mistake in how the command was called (unknown flag, missing argument, unreadable input):
 * `main` prints the message and the command's usage and exits with status 2.
 */
export class UsageError extends AiamError {
  constructor(message: string) {
    super('ERR_USAGE', message);
  }
}

/** A command: its one-line summary for `aiam help`, its usage text, and what it does. */
export interface Command {
  summary: string;
  usage: string;
  /** Runs with the arguments after the command name; resolves to the exit status. */
  run(args: string[], io: CliIo): Promise<number>;
}
