import type { LogRecord } from '../../log/index.js';

/**
 * The newest durable records of each partition, in shared memory: the log's owner puts
 * every record it has made durable, and a processor worker reads its partitions' head
 * from here without a message each way. Asking the owner for records cost the gateway's
 * thread a reply per read (~150 a second, each waking a processor thread, which on two
 * cores took the waker's core for ~200 µs). Older records, and any read that races the
 * writer, are left to the request path: a read returns undefined then, never a torn record.
 *
 * Per partition, a byte ring of [length u32][payload, padded to 4] entries in offset order
 * (a length of WRAP sends the reader back to byte 0) and four numbers: the oldest offset
 * held, the offset after the newest, and their byte positions. A seqlock (a version, odd
 * while the writer changes the partition) tells a reader whether what it copied is whole.
 */
export interface RecordRingMemory {
  /** `ringBytes` × partitions. */
  bytes: SharedArrayBuffer;
  /** Float64 × 4 per partition: first offset, end offset, first byte, end byte. */
  meta: SharedArrayBuffer;
  /** Int32 per partition: the seqlock version. */
  versions: SharedArrayBuffer;
  /** Uint32 × SLOTS per partition: the byte position of offset o's entry at o % SLOTS, so a read starts there, not at the oldest. */
  positions: SharedArrayBuffer;
}

const FIRST = 0;
const END = 1;
const FIRST_AT = 2;
const END_AT = 3;
const META = 4;
/** The length that marks the rest of the ring unused: the next entry is at byte 0. */
const WRAP = 0xffffffff;
/** Entries a ring holds at most (the position index's size): walking from the oldest entry to a read's start was 78 % of a processor thread. */
const SLOTS = 1024;
/** All partitions' rings together; a partition's share is clamped to [MIN, MAX]. */
const TOTAL_BYTES = 32 * 1024 * 1024;
const MIN_RING_BYTES = 16 * 1024;
const MAX_RING_BYTES = 512 * 1024;

/** The shared memory for `partitions` rings (`ringBytes` each: a test's choice; by default a share of 32 MiB). */
export function recordRingMemory(partitions: number, ringBytes = Math.min(MAX_RING_BYTES, Math.max(MIN_RING_BYTES, Math.floor(TOTAL_BYTES / partitions / 8) * 8))): RecordRingMemory {
  return {
    bytes: new SharedArrayBuffer(ringBytes * partitions),
    meta: new SharedArrayBuffer(8 * META * partitions),
    versions: new SharedArrayBuffer(4 * partitions),
    positions: new SharedArrayBuffer(4 * SLOTS * partitions),
  };
}

/** Both sides of the rings: the log's owner calls `put`, readers `read`. */
export class RecordRing {
  private readonly bytes: Uint8Array;
  private readonly words: DataView;
  private readonly meta: Float64Array;
  private readonly versions: Int32Array;
  private readonly positions: Uint32Array;
  readonly ringBytes: number;
  /** A read's entries before they are copied (reused: a reader thread reads one partition at a time). */
  private readonly starts = new Float64Array(4096);
  private readonly lengths = new Uint32Array(4096);

  constructor(memory: RecordRingMemory) {
    this.bytes = new Uint8Array(memory.bytes);
    this.words = new DataView(memory.bytes);
    this.meta = new Float64Array(memory.meta);
    this.versions = new Int32Array(memory.versions);
    this.positions = new Uint32Array(memory.positions);
    this.ringBytes = memory.bytes.byteLength / this.versions.length;
  }

  /**
   * Adds the durable record `offset` of `partition` (offsets put in order; a gap, or a
   * record too large to share the ring, starts the ring afresh after it).
   */
  put(partition: number, offset: number, payload: Uint8Array): void {
    const m = partition * META;
    const meta = this.meta;
    const need = 4 + align4(payload.byteLength);
    Atomics.add(this.versions, partition, 1);
    if (offset !== meta[m + END] || need > this.ringBytes / 2) {
      // Not the next offset (the first put, or after a gap): the ring holds only what follows.
      meta[m + FIRST] = meta[m + END] = offset;
    }
    if (need > this.ringBytes / 2) {
      meta[m + FIRST] = meta[m + END] = offset + 1;
    } else {
      if (meta[m + END]! - meta[m + FIRST]! >= SLOTS) this.dropOldest(partition);
      const at = this.placeFor(partition, need);
      const base = partition * this.ringBytes;
      this.positions[partition * SLOTS + (offset % SLOTS)] = at;
      this.words.setUint32(base + at, payload.byteLength, true);
      this.bytes.set(payload, base + at + 4);
      meta[m + END_AT] = at + need;
      meta[m + END] = offset + 1;
    }
    Atomics.add(this.versions, partition, 1);
  }

  /** Where an entry of `need` bytes goes: frees that room by dropping the oldest entries, in order. */
  private placeFor(partition: number, need: number): number {
    const m = partition * META;
    const meta = this.meta;
    for (;;) {
      if (meta[m + FIRST] === meta[m + END]) {
        meta[m + FIRST_AT] = meta[m + END_AT] = 0;
        return 0;
      }
      const firstAt = meta[m + FIRST_AT]!;
      const endAt = meta[m + END_AT]!;
      if (endAt > firstAt) {
        // Entries lie in [firstAt, endAt): room after them, or at the start of the ring.
        if (endAt + need <= this.ringBytes) return endAt;
        if (firstAt >= need) {
          if (endAt + 4 <= this.ringBytes) this.words.setUint32(partition * this.ringBytes + endAt, WRAP, true);
          return 0;
        }
      } else if (endAt + need <= firstAt) {
        // Wrapped: entries lie in [firstAt, the end) and [0, endAt); the room is between.
        return endAt;
      }
      this.dropOldest(partition);
    }
  }

  private dropOldest(partition: number): void {
    const m = partition * META;
    let at = this.meta[m + FIRST_AT]!;
    if (this.wrapsAt(partition, at)) at = 0;
    at += 4 + align4(this.words.getUint32(partition * this.ringBytes + at, true));
    this.meta[m + FIRST]!++;
    // The next entry may start past a wrap: the reader follows it the same way.
    this.meta[m + FIRST_AT] = at;
  }

  /** Whether the entry at `at` is the ring's end for this lap (a WRAP mark, or no room for a length). */
  private wrapsAt(partition: number, at: number): boolean {
    return at + 4 > this.ringBytes || this.words.getUint32(partition * this.ringBytes + at, true) === WRAP;
  }

  /**
   * Up to `max` records of `partition` from offset `from`, copied out, or undefined when
   * the ring does not hold `from` (older, not yet durable) or the writer changed the ring
   * meanwhile: the caller asks the log's owner then.
   */
  read(partition: number, from: number, max: number): LogRecord[] | undefined {
    const version = Atomics.load(this.versions, partition);
    if ((version & 1) === 1) return undefined;
    const m = partition * META;
    const first = this.meta[m + FIRST]!;
    const end = this.meta[m + END]!;
    if (!(from >= first && from < end)) return undefined;
    const base = partition * this.ringBytes;
    // Where the wanted entries lie (ring positions, lengths), then one copy into one buffer:
    // an ArrayBuffer per record cost the processors more than the reply it replaces.
    const starts = this.starts;
    const lengths = this.lengths;
    let count = 0;
    let total = 0;
    let at = this.positions[partition * SLOTS + (from % SLOTS)]!;
    let offset = from;
    // Every step is bounded: a racing writer can show any bytes, and the version check below throws the result away.
    for (let steps = 0; offset < end && count < max && steps < 2 * this.ringBytes; steps++) {
      if (!(at >= 0 && at <= this.ringBytes)) return undefined;
      if (at + 4 > this.ringBytes || this.words.getUint32(base + at, true) === WRAP) {
        at = 0;
        continue;
      }
      const length = this.words.getUint32(base + at, true);
      if (at + 4 + length > this.ringBytes) return undefined;
      if (offset >= from) {
        if (count === starts.length) return undefined; // more than a read takes at once: the request path
        starts[count] = base + at + 4;
        lengths[count++] = length;
        total += length;
      }
      at += 4 + align4(length);
      offset++;
    }
    if (count === 0) return undefined;
    const copy = new Uint8Array(total);
    for (let i = 0, to = 0; i < count; i++) {
      copy.set(this.bytes.subarray(starts[i]!, starts[i]! + lengths[i]!), to);
      to += lengths[i]!;
    }
    // An exchange, not a load: its release half keeps the copies above ahead of the check on weakly ordered CPUs.
    if (Atomics.compareExchange(this.versions, partition, version, version) !== version) return undefined;
    const records: LogRecord[] = new Array(count);
    for (let i = 0, to = 0; i < count; i++) {
      records[i] = { offset: from + i, payload: copy.subarray(to, to + lengths[i]!) };
      to += lengths[i]!;
    }
    return records;
  }
}

function align4(n: number): number {
  return (n + 3) & ~3;
}
