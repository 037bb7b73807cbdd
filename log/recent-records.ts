/**
 * The newest durable records of every partition, kept in memory up to a byte budget, so a
 * reader at the head (the processors, milliseconds behind the gateway) is answered without
 * a pread. Profiled under the paced single-reading load, serving those reads from the files
 * was ~20 % of the gateway thread: a thread-pool hop per pread, then a CRC check of bytes
 * this process wrote itself a moment before.
 *
 * Each partition keeps a contiguous run of offsets ending at its newest durable record;
 * the oldest record overall goes first when the budget is exceeded, so a partition that
 * falls behind loses only its oldest records and is read from the files from there on.
 */
import type { LogRecord } from './log.js';

/**
 * Default budget: half a second of the single-reading load's records at 36 k msgs/s (a
 * processor at the head lags ~10 ms); 8 MiB held ~100 MiB more RSS there, as thousands of
 * small buffers that outlive a young-generation collection.
 */
export const RECENT_RECORDS_BYTES = 2 * 1024 * 1024;

interface PartitionRun {
  /** Payloads of offsets [first, first + payloads.length - head). */
  payloads: (Uint8Array | undefined)[];
  head: number;
  first: number;
}

export class RecentRecords {
  private readonly runs: PartitionRun[];
  /** Partitions in the order their records came: the eviction order. May name a partition more often than it has records (after a reset). */
  private order: number[] = [];
  private orderHead = 0;
  private bytes = 0;

  constructor(
    partitions: number,
    private readonly maxBytes = RECENT_RECORDS_BYTES,
  ) {
    this.runs = Array.from({ length: partitions }, () => ({ payloads: [], head: 0, first: 0 }));
  }

  /** Bytes of payload held now. */
  get size(): number {
    return this.bytes;
  }

  /** Keeps `payload` as record `offset` of `partition`, just made durable; the caller must not change it after. */
  add(partition: number, offset: number, payload: Uint8Array): void {
    const run = this.runs[partition]!;
    const count = run.payloads.length - run.head;
    // Offsets become durable in order; anything else starts the run afresh rather than leave a gap in it.
    if (count > 0 && offset !== run.first + count) this.reset(run);
    if (run.payloads.length === run.head) run.first = offset;
    run.payloads.push(payload);
    this.order.push(partition);
    this.bytes += payload.byteLength;
    while (this.bytes > this.maxBytes && this.orderHead < this.order.length) this.evictOldestOf(this.order[this.orderHead++]!);
    if (this.orderHead > 4096 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
  }

  /** Records `from`, `from + 1`, … (at most `max`) when `from` is held; undefined when it must be read from the files. */
  read(partition: number, from: number, max: number): LogRecord[] | undefined {
    const run = this.runs[partition]!;
    const count = run.payloads.length - run.head;
    if (from < run.first || from >= run.first + count) return undefined;
    const n = Math.min(max, run.first + count - from);
    const out: LogRecord[] = new Array(n);
    const at = run.head + (from - run.first);
    for (let i = 0; i < n; i++) out[i] = { offset: from + i, payload: run.payloads[at + i]! };
    return out;
  }

  private evictOldestOf(partition: number): void {
    const run = this.runs[partition]!;
    if (run.head === run.payloads.length) return;
    this.bytes -= run.payloads[run.head]!.byteLength;
    run.payloads[run.head++] = undefined;
    run.first++;
    if (run.head === run.payloads.length) {
      run.payloads = [];
      run.head = 0;
    } else if (run.head > 1024 && run.head * 2 > run.payloads.length) {
      run.payloads = run.payloads.slice(run.head);
      run.head = 0;
    }
  }

  private reset(run: PartitionRun): void {
    for (let i = run.head; i < run.payloads.length; i++) this.bytes -= run.payloads[i]!.byteLength;
    run.payloads = [];
    run.head = 0;
  }
}
