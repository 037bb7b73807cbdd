import { SluiceError } from '../core/index.js';

/**
 * Errors of the stream processors. They live here rather than in core/errors.ts
 * because core/ is shared and edited elsewhere; each keeps a stable SLUICE_ code.
 */

/** Snapshot bytes (operator, accumulator, dedup or watermark state) failed to decode. */
export class StateCorruptError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_CHECKPOINT_CORRUPT', message, options);
  }
}

/** A snapshot is valid but was taken with a different window definition than the one restoring it. */
export class StateMismatchError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_CHECKPOINT_MISMATCH', message);
  }
}

/** A partition was assigned to a ProcessorNode that is stopping or stopped (or failed). */
export class ProcessorStoppedError extends SluiceError {
  constructor(message: string) {
    super('SLUICE_PROCESSOR_STOPPED', message);
  }
}
