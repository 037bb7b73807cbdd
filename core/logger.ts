import { pino, type Logger } from 'pino';
import PinoPretty from 'pino-pretty';
import { ConfigError } from './errors.js';

export type { Logger };

/** pino's levels, quietest last. */
export const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** `json`: one JSON object a line (pipes, files, log shippers, the tests); `pretty`: a line for people at a terminal. */
export const LOG_FORMATS = ['json', 'pretty'] as const;
export type LogFormat = (typeof LOG_FORMATS)[number];

/**
 * The process-wide structured logger. `SLUICE_LOG_LEVEL` sets its level (default info) and
 * `SLUICE_LOG_FORMAT` its format (default json); the CLI sets both from its flags with
 * `configureLogging` before anything logs.
 */
export function createLogger(name: string, level = process.env.SLUICE_LOG_LEVEL ?? 'info'): Logger {
  if (process.env.SLUICE_LOG_FORMAT !== 'pretty') return pino({ name, level });
  // sync: a line written just before process.exit must not be lost (pino's own stdout
  // destination is synchronous too).
  return pino({ name, level }, PinoPretty({ sync: true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname' }));
}

/** Checks a level named by --log-level, or by the environment variable `fromEnv` when given. */
export function parseLogLevel(value: string, fromEnv?: string): LogLevel {
  if ((LOG_LEVELS as readonly string[]).includes(value)) return value as LogLevel;
  throw new ConfigError(`--log-level: got "${value}"${fromEnv ? ` from ${fromEnv}` : ''}; use one of ${LOG_LEVELS.join(', ')}`);
}

/**
 * Makes every later `createLogger` use this level and format. It goes through the
 * environment because processor and decode worker threads copy `process.env` when they
 * start and build their own loggers from it.
 */
export function configureLogging(options: { level: LogLevel; format: LogFormat }): void {
  process.env.SLUICE_LOG_LEVEL = options.level;
  process.env.SLUICE_LOG_FORMAT = options.format;
}
