import { CommanderError } from 'commander';
import { ExitCode, SluiceError } from '../core/index.js';

/** A commander usage error ("error: unknown option '--x'") as Sluice's one line. */
export function usageLine(commanderMessage: string): string {
  const what = commanderMessage.trim().replace(/^error: /, '').replace(/\.$/, '');
  return `sluice: ${what}; see --help [SLUICE_USAGE]\n`;
}

/**
 * What a command that failed prints, and its exit code (core/exit-codes.ts):
 * - commander's own errors were printed by `usageLine` already: 2, or 0 for --help/--version;
 * - a SluiceError is one line with its code: 1 when it may pass by itself (`canRetry`: a
 *   service down, a disk full), else 2 (the config or the command line needs changing);
 * - a Node system error (EACCES, ECONNREFUSED, …) is one line too: 1;
 * - anything else is a bug: the stack, and 70.
 */
export function failureOf(err: unknown): { line: string; exitCode: number } {
  if (err instanceof CommanderError) return { line: '', exitCode: err.exitCode === 0 ? ExitCode.ok : ExitCode.usage };
  if (err instanceof SluiceError) return { line: `sluice: ${err.message} [${err.code}]\n`, exitCode: err.canRetry ? ExitCode.failed : ExitCode.usage };
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (err instanceof Error && typeof code === 'string' && /^E[A-Z]+$/.test(code)) return { line: `sluice: ${err.message} [${code}]\n`, exitCode: ExitCode.failed };
  return { line: `sluice: internal error (a bug; please report it with this output): ${(err as Error | undefined)?.stack ?? String(err)}\n`, exitCode: ExitCode.internal };
}
