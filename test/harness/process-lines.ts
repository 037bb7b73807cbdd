import { createInterface } from 'node:readline';
import type { SluiceProcess } from './sluice-process.js';

/** The parsed JSON log lines of a sluice process, as they come. */
export interface LogLines {
  /** Resolves with the next log line (after this call) that `match` accepts. */
  next(match: (line: Record<string, unknown>) => boolean, what: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

/** Follows the process's stdout (pino JSON); lines that are not JSON are skipped. */
export function followLog(node: SluiceProcess): LogLines {
  const waiters = new Set<(line: Record<string, unknown>) => void>();
  createInterface({ input: node.child.stdout! }).on('line', (text) => {
    let line: Record<string, unknown>;
    try {
      line = JSON.parse(text) as Record<string, unknown>;
    } catch {
      return;
    }
    for (const w of [...waiters]) w(line);
  });
  return {
    next(match, what, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`timed out after ${timeoutMs} ms waiting for ${what}:\n${node.output.slice(-20).join('\n')}`));
        }, timeoutMs);
        const waiter = (line: Record<string, unknown>): void => {
          if (!match(line)) return;
          clearTimeout(timer);
          waiters.delete(waiter);
          resolve(line);
        };
        waiters.add(waiter);
      });
    },
  };
}
