/**
 * The newest durable records of each partition, in shared memory, so a processor worker
 * that keeps up reads them without a message to the log's thread (there a read was a
 * pread, a copy and a postMessage: ~20 % of the gateway's thread in the single-reading
 * benchmark). One writer (the log's thread, after each append is durable), any number of
 * readers. A reader that finds its offset gone, or the partition written while it copied,
 * falls back to the link, so the cache may miss but never answers wrongly.
 *
 * Per partition: a byte ring of `bytesPerPartition` holding the records of offsets
 * [first, end) back to back (a record that does not fit before the ring's end starts
 * again at 0), a slot table (offset mod `slots` → byte position and length), and a
 * sequence number the writer makes odd while it changes the partition (a seqlock).
 */
import type { LogRecord } from '../../log/index.js';

/** The shared memory and its shape, as handed to a worker. */
export interface TailCacheMemory {
  buffer: SharedArrayBuffer;
  partitions: number;
  bytesPerPartition: number;
  slots: number;
}

/** Slots per partition: records retained at most (small records are the common case, so bytes run out later). */
const SLOTS = 4096;
/** A record larger than this share of its partition's ring is not cached (it would evict everything). */
const MAX_RECORD_SHARE = 4;

/** Shared memory for `partitions` rings of `bytesPerPartition` bytes each; undefined when the cache is off (0 bytes). */
export function allocateTailCache(partitions: number, totalBytes: number): TailCacheMemory | undefined {
  const bytesPerPartition = Math.floor(totalBytes / partitions / 8) * 8;
  if (bytesPerPartition < 1024) return undefined;
  const layout = layoutOf(partitions, bytesPerPartition, SLOTS);
  return { buffer: new SharedArrayBuffer(layout.size), partitions, bytesPerPartition, slots: SLOTS };
}

interface Layout {
  seq: number;
  meta: number;
  slotPos: number;
  slotLen: number;
  data: number;
  size: number;
}

function layoutOf(partitions: number, bytesPerPartition: number, slots: number): Layout {
  const seq = 0;
  const meta = align8(seq + 4 * partitions);
  const slotPos = meta + 8 * 3 * partitions;
  const slotLen = slotPos + 4 * slots * partitions;
  const data = align8(slotLen + 4 * slots * partitions);
  return { seq, meta, slotPos, slotLen, data, size: data + bytesPerPartition * partitions };
}

function align8(n: number): number {
  return Math.ceil(n / 8) * 8;
}

/** Typed views over the memory, the same on both sides. */
class Views {
  readonly seq: Int32Array;
  /** Per partition: first cached offset, end (one past the last), next write position in its ring. */
  readonly meta: Float64Array;
  readonly slotPos: Uint32Array;
  readonly slotLen: Uint32Array;
  readonly data: Uint8Array;
  readonly ring: number;
  readonly slots: number;

  constructor(memory: TailCacheMemory) {
    const l = layoutOf(memory.partitions, memory.bytesPerPartition, memory.slots);
    this.seq = new Int32Array(memory.buffer, l.seq, memory.partitions);
    this.meta = new Float64Array(memory.buffer, l.meta, 3 * memory.partitions);
    this.slotPos = new Uint32Array(memory.buffer, l.slotPos, memory.slots * memory.partitions);
    this.slotLen = new Uint32Array(memory.buffer, l.slotLen, memory.slots * memory.partitions);
    this.data = new Uint8Array(memory.buffer, l.data, memory.bytesPerPartition * memory.partitions);
    this.ring = memory.bytesPerPartition;
    this.slots = memory.slots;
  }
}

/** The log owner's side: called once per durable record, in offset order per partition. */
export class TailCacheWriter {
  private readonly v: Views;

  constructor(memory: TailCacheMemory) {
    this.v = new Views(memory);
  }

  /** Caches `payload` as record `offset` of `partition`; an offset out of sequence starts the partition's cache afresh. */
  put(partition: number, offset: number, payload: Uint8Array): void {
    const { seq, meta, slotPos, slotLen, data, ring, slots } = this.v;
    const m = 3 * partition;
    const base = partition * ring;
    const slotBase = partition * slots;
    const length = payload.byteLength;
    Atomics.add(seq, partition, 1);
    if (length > ring / MAX_RECORD_SHARE || offset !== meta[m + 1]) {
      // Out of sequence (the first record, a gap) or too large: what is cached no longer runs up to this offset.
      meta[m] = offset;
      meta[m + 1] = offset;
      meta[m + 2] = 0;
      if (length > ring / MAX_RECORD_SHARE) {
        meta[m] = meta[m + 1] = offset + 1;
        Atomics.add(seq, partition, 1);
        return;
      }
    }
    let first = meta[m]!;
    const end = meta[m + 1]!;
    const writeAt = meta[m + 2]!;
    let at = writeAt;
    if (at + length > ring) {
      // Wrap: the records between here and the ring's end are the oldest; they go first.
      at = 0;
      while (first < end && slotPos[slotBase + (first % slots)]! >= writeAt) first++;
    }
    // Then every oldest record the new one overwrites, and the one whose slot it takes.
    while (first < end) {
      const pos = slotPos[slotBase + (first % slots)]!;
      if ((pos >= at && pos < at + length) || end - first >= slots) first++;
      else break;
    }
    data.set(payload, base + at);
    slotPos[slotBase + (offset % slots)] = at;
    slotLen[slotBase + (offset % slots)] = length;
    meta[m] = first;
    meta[m + 1] = offset + 1;
    meta[m + 2] = at + length;
    Atomics.add(seq, partition, 1);
  }
}

/** A reader's side: copies cached records out, or says it cannot. */
export class TailCacheReader {
  private readonly v: Views;

  constructor(memory: TailCacheMemory) {
    this.v = new Views(memory);
  }

  /**
   * Up to `max` records of `partition` from `from` on, copied into one new buffer; undefined
   * when `from` is not cached or the partition changed while copying (read the log instead).
   */
  read(partition: number, from: number, max: number): LogRecord[] | undefined {
    for (let attempt = 0; attempt < 3; attempt++) {
      const records = this.tryRead(partition, from, max);
      if (records !== 'changed') return records;
    }
    return undefined;
  }

  private tryRead(partition: number, from: number, max: number): LogRecord[] | undefined | 'changed' {
    const { seq, meta, slotPos, slotLen, data, ring, slots } = this.v;
    const before = Atomics.load(seq, partition);
    if ((before & 1) === 1) return 'changed';
    const m = 3 * partition;
    const first = meta[m]!;
    const end = meta[m + 1]!;
    if (from < first || from >= end) return Atomics.load(seq, partition) === before ? undefined : 'changed';
    const count = Math.min(max, end - from);
    const base = partition * ring;
    const slotBase = partition * slots;
    let total = 0;
    for (let i = 0; i < count; i++) total += slotLen[slotBase + ((from + i) % slots)]!;
    if (total > ring) return 'changed';
    const bytes = new Uint8Array(total);
    const records: LogRecord[] = new Array(count);
    let at = 0;
    for (let i = 0; i < count; i++) {
      const slot = slotBase + ((from + i) % slots);
      const pos = slotPos[slot]!;
      const length = slotLen[slot]!;
      if (pos + length > ring) return 'changed';
      bytes.set(data.subarray(base + pos, base + pos + length), at);
      records[i] = { offset: from + i, payload: bytes.subarray(at, at + length) };
      at += length;
    }
    return Atomics.load(seq, partition) === before ? records : 'changed';
  }
}
