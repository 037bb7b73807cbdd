/**
 * The rules component's errors, one catalogue, each with a stable SLUICE_RULES_* code
 * (core/errors.ts patterns: a SluiceError subclass per failure, native `cause`).
 * A snapshot that does not decode raises the processors' StateCorruptError
 * (processors/errors.ts), like every other piece of partition state, so a checkpoint
 * restore falls back the same way whatever part is corrupt.
 */
import { SluiceError } from '../../core/index.js';

/**
 * A rules file is not valid YAML or not a valid rule set. `problems` holds one line per
 * problem (path, rule, line, what was expected, the value given); the message lists them all.
 * Not retryable: the file must change.
 */
export class RulesInvalidError extends SluiceError {
  constructor(
    readonly source: string,
    readonly problems: readonly string[],
  ) {
    super('SLUICE_RULES_INVALID', `invalid rules in ${source}:\n  ${problems.join('\n  ')}`);
  }
}

/** A rules file could not be read (missing, no permission, a directory). */
export class RulesFileUnreadableError extends SluiceError {
  constructor(
    readonly path: string,
    options: { cause?: unknown } = {},
  ) {
    const code = (options.cause as NodeJS.ErrnoException | undefined)?.code;
    super('SLUICE_RULES_UNREADABLE', `cannot read rules file ${path}: ${code ?? (options.cause as Error | undefined)?.message ?? 'unknown error'}; check rules.file or the path given`, options);
  }
}
