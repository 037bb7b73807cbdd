/**
 * The JetStreamLog's offsets. A frame (one stream message) carries up to
 * RECORDS_PER_FRAME records of one partition; record `i` of the frame stored at stream
 * sequence `seq` has offset `seq × RECORDS_PER_FRAME + i`. So offsets increase with the
 * stream sequence (which JetStream assigns in arrival order), are unique across writers
 * (several gateways may append to one partition), need no counter of their own, and are
 * sparse: a partition's frames skip the sequences other partitions took. Offsets stay
 * exact doubles while seq < 2^53 / 2^10 ≈ 8.8 × 10^12 frames: 2,800 years at 100,000
 * frames per second.
 */

/** Most records one frame holds; a power of two so that offsets split cleanly. */
export const RECORDS_PER_FRAME = 1024;

/** The largest stream sequence whose offsets are all exact (below 2^53). */
export const MAX_FRAME_SEQ = Math.floor(Number.MAX_SAFE_INTEGER / RECORDS_PER_FRAME) - 1;

/** Offset of record `index` of the frame at stream sequence `seq`. */
export function recordOffset(seq: number, index: number): number {
  return seq * RECORDS_PER_FRAME + index;
}

/** The stream sequence of the frame that holds (or would hold) `offset`. */
export function frameSeqOf(offset: number): number {
  return Math.floor(offset / RECORDS_PER_FRAME);
}

/** Whether `offset` can name a record position (a non-negative safe integer). */
export function isOffset(offset: number): boolean {
  return Number.isSafeInteger(offset) && offset >= 0;
}
