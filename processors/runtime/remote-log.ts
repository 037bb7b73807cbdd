import type { MessagePort } from 'node:worker_threads';
import { LogCorruptError, LogOffsetError, SluiceError } from '../../core/index.js';
import type { Log, LogRecord } from '../../log/index.js';
import type { LogOffsetsMemory, LogResponse, LogTail, PartitionRead } from './log-link-protocol.js';
import { RecordRing } from './record-ring.js';

// ES2024's Atomics.waitAsync, which Node 20 has but the ES2023 lib does not declare.
type WaitAsync = (view: Int32Array, index: number, value: number, timeoutMs: number) => { async: boolean; value: Promise<string> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

interface PendingRequest {
  resolve: (response: LogResponse) => void;
  reject: (err: Error) => void;
}

/**
 * A processor worker's view of the log another thread owns (LogServer): end and start
 * offsets come from shared memory without a round trip, so `pending`, `startOffset`, a
 * read at the end and a read of the newest records (RecordRing) cost no message; other reads and trims are requests. It cannot append:
 * processors only read.
 */
export class RemoteLog implements Log, LogTail {
  readonly partitions: number;
  private readonly ends: Float64Array;
  private readonly starts: Float64Array;
  private readonly appended: Int32Array;
  private readonly ring: RecordRing;
  private readonly requests = new Map<number, PendingRequest>();
  private nextId = 1;

  /** `slot`: this reader's wake-up slot, its worker thread's index (LogServer.assign). */
  constructor(
    memory: LogOffsetsMemory,
    private readonly port: Pick<MessagePort, 'postMessage'>,
    private readonly slot = 0,
  ) {
    this.ends = new Float64Array(memory.ends);
    this.starts = new Float64Array(memory.starts);
    this.appended = new Int32Array(memory.appended);
    this.ring = new RecordRing(memory.ring);
    this.partitions = this.ends.length;
  }

  /** Settles the request a LogServer answered. */
  onResponse(response: LogResponse): void {
    const request = this.requests.get(response.id);
    if (!request) return;
    this.requests.delete(response.id);
    if (response.kind === 'failed') request.reject(errorFromWire(response.code, response.message));
    else request.resolve(response);
  }

  /** Records from `fromOffset` on; a reader at the published end gets [] without asking (an idle loop reads every partition every turn). */
  async read(partition: number, fromOffset: number, maxRecords = 1000): Promise<LogRecord[]> {
    if (this.atEnd(partition, fromOffset)) return [];
    const head = this.fromRing(partition, fromOffset, maxRecords);
    if (head !== undefined) return head;
    const response = await this.request({ kind: 'read', partition, from: fromOffset, max: maxRecords });
    if (response.kind !== 'records') throw new SluiceError('SLUICE_LOG_LINK_FAILED', `log read answered with ${response.kind}`);
    return unpack(response.offsets, response.lengths, response.bytes, 0, response.offsets.length, 0);
  }

  /**
   * Several partitions' reads in one round trip (one message each way, not one per
   * partition: at ~60 partitions with news per commit round the per-read messages were
   * ~8 % of the log owner's thread). Reads at the published end are answered here.
   */
  async readMany(reads: PartitionRead[]): Promise<LogRecord[][]> {
    const results: LogRecord[][] = reads.map(() => []);
    const asked: number[] = [];
    for (let i = 0; i < reads.length; i++) {
      const { partition, from, max } = reads[i]!;
      if (this.atEnd(partition, from)) continue;
      const head = this.fromRing(partition, from, max);
      if (head !== undefined) results[i] = head;
      else asked.push(i);
    }
    if (asked.length === 0) return results;
    const response = await this.request({ kind: 'read-many', reads: asked.map((i) => reads[i]!) });
    if (response.kind !== 'records-many') throw new SluiceError('SLUICE_LOG_LINK_FAILED', `log read answered with ${response.kind}`);
    let record = 0;
    let byte = 0;
    asked.forEach((readIndex, k) => {
      const count = response.counts[k]!;
      results[readIndex] = unpack(response.offsets, response.lengths, response.bytes, record, count, byte);
      for (let j = record; j < record + count; j++) byte += response.lengths[j]!;
      record += count;
    });
    return results;
  }

  /** The records from the shared ring when it holds `fromOffset` (never below the published start: a trimmed offset is the log's to refuse). */
  private fromRing(partition: number, fromOffset: number, max: number): LogRecord[] | undefined {
    if (fromOffset < this.starts[partition]!) return undefined;
    return this.ring.read(partition, fromOffset, max);
  }

  /** Exactly at the published end (an offset past it is refused by the log, and must stay refused). */
  private atEnd(partition: number, fromOffset: number): boolean {
    return fromOffset === this.ends[partition] && fromOffset >= this.starts[partition]!;
  }

  async trim(partition: number, upToOffset: number): Promise<void> {
    await this.request({ kind: 'trim', partition, upTo: upToOffset });
  }

  /** The start offset the LogServer published (it updates it after every trim). */
  async startOffset(partition: number): Promise<number> {
    return this.starts[partition]!;
  }

  /** From the published end and start: the log behind the link is dense. */
  async pending(partition: number, fromOffset: number): Promise<number> {
    return Math.max(0, this.ends[partition]! - Math.max(fromOffset, this.starts[partition]!));
  }

  append(): Promise<number> {
    return Promise.reject(new SluiceError('SLUICE_LOG_READ_ONLY', 'a processor worker cannot append to the log'));
  }

  /** A mark to wait from: take it before looking for records, so none slip in unseen. */
  mark(): number {
    return Atomics.load(this.appended, this.slot);
  }

  /** Resolves once records of this slot's partitions became durable after `mark` was taken, or after `timeoutMs`. */
  async appendedSince(mark: number, timeoutMs: number): Promise<void> {
    const result = waitAsync(this.appended, this.slot, mark, timeoutMs);
    if (result.async) await result.value;
  }

  async close(): Promise<void> {
    for (const request of this.requests.values()) request.reject(new SluiceError('SLUICE_LOG_CLOSED', 'the log link closed'));
    this.requests.clear();
  }

  private request(body: { kind: 'read'; partition: number; from: number; max: number } | { kind: 'read-many'; reads: PartitionRead[] } | { kind: 'trim'; partition: number; upTo: number }): Promise<LogResponse> {
    const id = this.nextId++;
    return new Promise<LogResponse>((resolve, reject) => {
      this.requests.set(id, { resolve, reject });
      this.port.postMessage({ kind: 'log', request: { ...body, id } });
    });
  }
}

/** `count` records from record index `first`, whose payloads start at byte `at` of `bytes` (views, not copies). */
function unpack(offsets: Float64Array, lengths: Uint32Array, bytes: ArrayBuffer, first: number, count: number, at: number): LogRecord[] {
  const records: LogRecord[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const length = lengths[first + i]!;
    records[i] = { offset: offsets[first + i]!, payload: new Uint8Array(bytes, at, length) };
    at += length;
  }
  return records;
}

/** The log's own error classes back from their wire code, so a worker tells a trimmed offset from a broken link by class as on the log's thread. */
function errorFromWire(code: string, message: string): SluiceError {
  if (code === 'SLUICE_LOG_OFFSET') return new LogOffsetError(message);
  if (code === 'SLUICE_LOG_CORRUPT') return new LogCorruptError(message);
  return new SluiceError(code, message);
}
