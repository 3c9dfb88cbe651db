import { type Clock, systemClock } from '../clock.js';
import { redact, redactString } from './redact.js';

/** Log levels, most verbose first; `silent` writes nothing. */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';

const RANK: Readonly<Record<LogLevel, number>> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

/** Fields attached to a log line. Secrets in them are redacted before writing. */
export type LogFields = Readonly<Record<string, unknown>>;

/** A structured logger: one JSON object per line, secrets redacted. */
export interface Logger {
  readonly level: LogLevel;
  debug(message: string, fields?: LogFields): void;
  info(message: string, fields?: LogFields): void;
  warn(message: string, fields?: LogFields): void;
  error(message: string, fields?: LogFields): void;
  /** True when a line at `level` would be written (guard for costly fields). */
  enabled(level: Exclude<LogLevel, 'silent'>): boolean;
  /** A logger that adds `bindings` to every line. */
  child(bindings: LogFields): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** Defaults to `AIAM_LOG_LEVEL`, else `silent` under `node --test`, else `info`. */
  readonly level?: LogLevel;
  /** Where lines go (without the trailing newline added). Default: process.stdout. */
  readonly write?: (line: string) => void;
  readonly clock?: Clock;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

/** True for a valid level name. */
export function isLogLevel(value: string): value is LogLevel {
  return Object.hasOwn(RANK, value);
}

/** The level the environment asks for: `AIAM_LOG_LEVEL`, or silent inside Node's test runner. */
export function logLevelFromEnv(env: Readonly<Record<string, string | undefined>> = process.env): LogLevel {
  const asked = env.AIAM_LOG_LEVEL?.trim().toLowerCase();
  if (asked && isLogLevel(asked)) return asked;
  // Node's test runner marks its child processes; tests stay quiet unless asked otherwise.
  if (env.NODE_TEST_CONTEXT !== undefined) return 'silent';
  return 'info';
}

/**
 * A JSON-lines logger (`{"time","level","msg",...fields}`), the format log shippers read
 * without configuration. Every field passes through `redact`, so a header map or an error
 * carrying a secret is safe to log as it is.
 *
 * @example
 * const log = createLogger({ level: 'info' });
 * log.info('listening', { url: 'http://127.0.0.1:7477' });
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const level = options.level ?? logLevelFromEnv(options.env);
  const write = options.write ?? ((line: string) => process.stdout.write(`${line}\n`));
  return new JsonLogger(level, write, options.clock ?? systemClock, {});
}

class JsonLogger implements Logger {
  readonly #min: number;

  constructor(
    readonly level: LogLevel,
    private readonly write: (line: string) => void,
    private readonly clock: Clock,
    private readonly bindings: LogFields,
  ) {
    this.#min = RANK[level];
  }

  enabled(level: Exclude<LogLevel, 'silent'>): boolean {
    return RANK[level] >= this.#min;
  }

  debug(message: string, fields?: LogFields): void {
    if (RANK.debug >= this.#min) this.#emit('debug', message, fields);
  }
  info(message: string, fields?: LogFields): void {
    if (RANK.info >= this.#min) this.#emit('info', message, fields);
  }
  warn(message: string, fields?: LogFields): void {
    if (RANK.warn >= this.#min) this.#emit('warn', message, fields);
  }
  error(message: string, fields?: LogFields): void {
    if (RANK.error >= this.#min) this.#emit('error', message, fields);
  }

  child(bindings: LogFields): Logger {
    return new JsonLogger(this.level, this.write, this.clock, { ...this.bindings, ...bindings });
  }

  #emit(level: LogLevel, message: string, fields: LogFields | undefined): void {
    const safe = redact({ ...this.bindings, ...fields }, { stacks: level === 'error' }) as Record<
      string,
      unknown
    >;
    const line = {
      time: new Date(this.clock.now()).toISOString(),
      level,
      msg: redactString(message),
      ...safe,
    };
    try {
      this.write(JSON.stringify(line));
    } catch {
      // A logger must never take the request path down (EPIPE on a closed stdout, for one).
    }
  }
}

/** A logger that writes nothing; for tests and embedding. */
export const silentLogger: Logger = createLogger({ level: 'silent', write: () => {} });
