import type { MessagePort } from 'node:worker_threads';
import type { Log, LogRecord } from '../../log/index.js';
import type { LogOffsetsMemory, LogRequest, LogResponse } from './log-link-protocol.js';
import { RecordRing, recordRingMemory } from './record-ring.js';

/**
 * The log a LogServer serves: one on this thread (FileLog) whose offsets are dense, so its
 * end offset, published in shared memory, answers a worker's `pending` without a round trip.
 */
export type ServedLog = Log & { endOffset(partition: number): number };

/**
 * The log owner's side of the link to processor workers: wraps the Log the gateway
 * appends to, so each commit publishes the partition's new end offset and its records
 * (RecordRing) in shared memory and wakes waiting workers (once per commit round, not per
 * record), and serves the workers' other reads and their trims. Call `open()` before handing `memory` to a worker.
 */
export class LogServer {
  readonly memory: LogOffsetsMemory;
  /** The log to hand to writers: appends through it are published to the workers. */
  readonly log: Log;
  private readonly ends: Float64Array;
  private readonly starts: Float64Array;
  private readonly appended: Int32Array;
  /** The reader slot each partition's records wake; -1 (until assign) wakes every slot. */
  private readonly owners: Int32Array;
  /** Slots this commit round gave records to, flagged until the notify. */
  private readonly due: Uint8Array;
  private dueAll = false;
  private notifyQueued = false;

  constructor(private readonly inner: ServedLog) {
    const n = inner.partitions;
    // A slot per partition: there are never more reader threads than partitions.
    this.memory = { ends: new SharedArrayBuffer(8 * n), starts: new SharedArrayBuffer(8 * n), appended: new SharedArrayBuffer(4 * n), ring: recordRingMemory(n) };
    const ring = new RecordRing(this.memory.ring);
    this.ends = new Float64Array(this.memory.ends);
    this.starts = new Float64Array(this.memory.starts);
    this.appended = new Int32Array(this.memory.appended);
    this.owners = new Int32Array(n).fill(-1);
    this.due = new Uint8Array(n);
    for (let p = 0; p < n; p++) this.ends[p] = inner.endOffset(p);
    const published = (partition: number, offset: number, payload: Uint8Array): number => {
      // Into the ring before the end moves: a reader that sees the new end finds the record there or asks.
      ring.put(partition, offset, payload);
      if (offset + 1 > this.ends[partition]!) this.ends[partition] = offset + 1;
      const owner = this.owners[partition]!;
      if (owner < 0) this.dueAll = true;
      else this.due[owner] = 1;
      if (!this.notifyQueued) {
        // A commit round resolves its appends in one go: wake the workers once for all.
        this.notifyQueued = true;
        queueMicrotask(this.notify);
      }
      return offset;
    };
    this.log = {
      partitions: n,
      append: (partition, payload) => inner.append(partition, payload).then((offset) => published(partition, offset, payload)),
      read: (partition, from, max) => inner.read(partition, from, max),
      trim: (partition, upTo) => this.trim(partition, upTo),
      startOffset: (partition) => inner.startOffset(partition),
      pending: (partition, from) => inner.pending(partition, from),
      close: () => inner.close(),
    };
  }

  /** Publishes every partition's start offset (the Log contract asks for them asynchronously). */
  async open(): Promise<void> {
    for (let p = 0; p < this.inner.partitions; p++) this.starts[p] = await this.inner.startOffset(p);
  }

  /** Says which reader slot reads each partition (`owners[partition]`; -1: every slot), so commits wake only those. */
  assign(owners: readonly number[]): void {
    for (let p = 0; p < this.owners.length; p++) {
      const slot = owners[p] ?? -1;
      this.owners[p] = Number.isInteger(slot) && slot >= 0 && slot < this.owners.length ? slot : -1;
    }
  }

  private readonly notify = (): void => {
    this.notifyQueued = false;
    for (let slot = 0; slot < this.due.length; slot++) {
      if (!this.dueAll && this.due[slot] === 0) continue;
      this.due[slot] = 0;
      Atomics.add(this.appended, slot, 1);
      Atomics.notify(this.appended, slot);
    }
    this.dueAll = false;
  };

  private async trim(partition: number, upTo: number): Promise<void> {
    await this.inner.trim(partition, upTo);
    this.starts[partition] = await this.inner.startOffset(partition);
  }

  /** Answers the requests a worker sends on `port` (a failed read fails the whole `read-many`). */
  async serve(request: LogRequest, port: Pick<MessagePort, 'postMessage'>): Promise<void> {
    let response: LogResponse;
    let transfer: ArrayBuffer[] = [];
    try {
      if (request.kind === 'read') {
        const records = await this.inner.read(request.partition, request.from, request.max);
        const packed = pack(request.id, records);
        response = packed;
        transfer = [packed.bytes];
      } else if (request.kind === 'read-many') {
        const reads = await Promise.all(request.reads.map((r) => this.inner.read(r.partition, r.from, r.max)));
        const packed = pack(request.id, reads.flat());
        response = { ...packed, kind: 'records-many', counts: Uint32Array.from(reads, (r) => r.length) };
        transfer = [packed.bytes];
      } else {
        await this.trim(request.partition, request.upTo);
        response = { kind: 'trimmed', id: request.id };
      }
    } catch (err) {
      const e = err as Error & { code?: string };
      response = { kind: 'failed', id: request.id, code: e.code ?? 'SLUICE_LOG_LINK_FAILED', message: e.message };
    }
    port.postMessage({ kind: 'log-response', response }, transfer);
  }
}

/** Copies records into one buffer to transfer (the log's own buffers may be pooled). */
function pack(id: number, records: LogRecord[]): LogResponse & { kind: 'records' } {
  const offsets = new Float64Array(records.length);
  const lengths = new Uint32Array(records.length);
  let total = 0;
  records.forEach((r, i) => {
    offsets[i] = r.offset;
    lengths[i] = r.payload.byteLength;
    total += r.payload.byteLength;
  });
  const bytes = new ArrayBuffer(total);
  const view = new Uint8Array(bytes);
  let at = 0;
  for (const r of records) {
    view.set(r.payload, at);
    at += r.payload.byteLength;
  }
  return { kind: 'records', id, offsets, lengths, bytes };
}
