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

/**
 * A checkpoint store instance lost its claim on a partition: another processor claimed
 * it since (a higher epoch in the partition's manifest). Nothing was committed; the
 * partition belongs to the other processor now, so this one must stop processing it
 * (and must not trim its log).
 */
export class CheckpointFencedError extends SluiceError {
  constructor(
    readonly partition: number,
    readonly ourEpoch: number,
    readonly storedEpoch: number,
    storedOwner: string,
  ) {
    super(
      'SLUICE_CHECKPOINT_FENCED',
      `partition ${partition}: checkpoint refused, our epoch ${ourEpoch} but the manifest holds epoch ${storedEpoch} (claimed by ${storedOwner || 'an unnamed owner'}); another processor owns this partition now: stop processing it`,
    );
  }
}

/** A checkpoint store was asked to write or trim a partition it has not claimed (a caller's mistake). */
export class CheckpointNotClaimedError extends SluiceError {
  constructor(partition: number) {
    super('SLUICE_CHECKPOINT_NOT_CLAIMED', `partition ${partition}: not claimed by this checkpoint store; call claim(${partition}) before writing or trimming it`);
  }
}

/** The checkpoint store's server did not answer in time (no leader, no connection); the same call may succeed later. */
export class CheckpointStoreUnavailableError extends SluiceError {
  constructor(message: string, options: { cause?: unknown } = {}) {
    super('SLUICE_CHECKPOINT_UNAVAILABLE', message, { ...options, canRetry: true });
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
