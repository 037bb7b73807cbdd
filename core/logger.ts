import { pino, type Logger } from 'pino';

export type { Logger };

/** The process-wide structured logger; `SLUICE_LOG_LEVEL` sets its level (default info). */
export function createLogger(name: string, level = process.env.SLUICE_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level });
}
