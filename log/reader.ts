/**
 * Reads one partition's records at positions its index gave, checking each one: CRC, and
 * that the header names the partition and offset asked for (a wrong one means a damaged
 * index). A partition's records are interleaved with every other partition's, so nearby
 * ones are fetched with one pread of the span between them: a few wasted bytes in the
 * page cache cost less than a syscall and a thread-pool hop per record.
 */
import type { FileHandle } from 'node:fs/promises';
import { LogCorruptError, LogOffsetError } from '../core/errors.js';
import type { CommitLog } from './commit-log.js';
import { isNotFound, preadFully } from './files.js';
import type { LogRecord } from './log.js';
import { MISSING } from './partition-index.js';
import { HEADER_BYTES, frameCrcMatches, readFrameHeader } from './record.js';
import type { Segment } from './segment.js';

/** Records further apart than this are read separately: the gap would cost more than a syscall. */
const MAX_GAP_BYTES = 64 * 1024;
/** One coalesced read spans at most this much. */
const MAX_SPAN_BYTES = 1 << 20;
/** Bytes read past the last record's start when its length is not known yet. */
const FIRST_GUESS_BYTES = 4096;

/** Records `from`, `from + 1`, … of `partition`, at `positions` in `commit`. */
export async function readRecords(commit: CommitLog, partition: number, from: number, positions: number[]): Promise<LogRecord[]> {
  const out: LogRecord[] = [];
  for (let i = 0; i < positions.length; ) {
    const first = positions[i]!;
    if (first === MISSING) {
      if (out.length > 0) break;
      throw new LogCorruptError(
        `partition ${partition}: record ${from + i} is missing from the commit log (a damaged segment); skip to a later offset`,
      );
    }
    const seg = commit.segmentAt(first);
    if (seg === undefined) {
      if (first < commit.start) throw new LogOffsetError(`partition ${partition}: offset ${from + i} was trimmed while being read`);
      throw new LogCorruptError(`partition ${partition}: the index points record ${from + i} at ${first}, past the commit log's end`);
    }
    // Every record of this call in this segment, read with one open handle.
    let end = i + 1;
    while (end < positions.length && positions[end] !== MISSING && positions[end]! >= seg.base && positions[end]! < seg.end) end++;
    try {
      await seg.withHandle((fh) => readRun(fh, seg, positions, i, end, partition, from, out));
    } catch (err) {
      if (isNotFound(err)) throw new LogOffsetError(`partition ${partition}: offset ${from + i} was trimmed while being read`);
      throw err;
    }
    i = end;
  }
  return out;
}

/** Reads records [i, end) (all in `seg`) onto `out`, one pread per group of nearby records. */
async function readRun(
  fh: FileHandle,
  seg: Segment,
  positions: number[],
  i: number,
  end: number,
  partition: number,
  from: number,
  out: LogRecord[],
): Promise<void> {
  let guess = FIRST_GUESS_BYTES;
  while (i < end) {
    const first = positions[i]!;
    let j = i + 1;
    for (; j < end; j++) {
      const gap = positions[j]! - positions[j - 1]!;
      if (gap <= 0 || gap > MAX_GAP_BYTES || positions[j]! - first > MAX_SPAN_BYTES) break;
    }
    const span = Math.min(seg.end, positions[j - 1]! + HEADER_BYTES + guess) - first;
    const buf = await preadFully(fh, first - seg.base, span, seg.path);
    for (let k = i; k < j; k++) {
      const record = await recordAt(fh, seg, buf, first, positions[k]!, partition, from + k, guess);
      guess = record.payload.length;
      out.push(record);
    }
    i = j;
  }
}

/** The record at global `pos`, from `buf` (which starts at `bufPos`) when it holds it whole, else read alone. */
async function recordAt(
  fh: FileHandle,
  seg: Segment,
  buf: Buffer,
  bufPos: number,
  pos: number,
  partition: number,
  offset: number,
  guess: number,
): Promise<LogRecord> {
  const remaining = seg.end - pos;
  let bytes = buf.subarray(pos - bufPos);
  let frame = readFrameHeader(bytes, remaining);
  if (frame.kind === 'incomplete' || (frame.kind === 'record' && bytes.length < HEADER_BYTES + frame.length)) {
    // The span cut this record short: read it alone (with a guessed length if even its header was cut).
    const length = frame.kind === 'record' ? frame.length : guess;
    bytes = await preadFully(fh, pos - seg.base, Math.min(remaining, HEADER_BYTES + length), seg.path);
    frame = readFrameHeader(bytes, remaining);
    if (frame.kind === 'record' && bytes.length < HEADER_BYTES + frame.length) {
      bytes = await preadFully(fh, pos - seg.base, HEADER_BYTES + frame.length, seg.path);
    }
  }
  const where = `${seg.path}: record ${offset} of partition ${partition} at byte ${pos - seg.base}`;
  if (frame.kind !== 'record') throw new LogCorruptError(`${where} has a broken header (${frame.kind})`);
  if (!frameCrcMatches(bytes.subarray(0, HEADER_BYTES + frame.length), frame.crc)) {
    throw new LogCorruptError(`${where} fails its CRC check; restore the file from a replica or backup, or skip to offset ${offset + 1}`);
  }
  if (frame.partition !== partition || frame.offset !== offset) {
    throw new LogCorruptError(
      `${where}: the index points at a record of partition ${frame.partition}, offset ${frame.offset}; ` +
        'the partition index is damaged: delete index/<partition>.idx and reopen the log to rebuild it',
    );
  }
  return { offset, payload: bytes.subarray(HEADER_BYTES, HEADER_BYTES + frame.length) };
}
