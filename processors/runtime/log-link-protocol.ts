import type { AlertTransition } from '../rules/index.js';
import type { RecordRingMemory } from './record-ring.js';
/**
 * What a processor worker thread and the thread that owns the FileLog say to each other.
 * The log belongs to one thread (its writer and its file handles); workers read it through
 * this link: offsets are published in shared memory, records travel as one transferred
 * buffer per read. A process elsewhere would put the same requests on the network.
 */

/** Shared memory: per partition its end and start offsets, plus a counter per reader slot bumped on every commit that gave it records. */
export interface LogOffsetsMemory {
  /** Float64 × partitions: the offset after the last durable record. */
  ends: SharedArrayBuffer;
  /** Float64 × partitions: the lowest offset still readable. */
  starts: SharedArrayBuffer;
  /**
   * Int32 × partitions, one per reader slot (a worker thread's index): bumped and notified
   * when records of a partition that slot owns became durable (every slot before
   * LogServer.assign), so a commit wakes only the threads that have something to read.
   */
  appended: SharedArrayBuffer;
  /** The newest durable records of each partition (RecordRing): a read at the head needs no request. */
  ring: RecordRingMemory;
}

/** Lets a reader sleep until records arrive instead of polling. */
export interface LogTail {
  /** A mark to wait from: take it before looking for records, so none slip in unseen. */
  mark(): number;
  /** Resolves once records became durable after `mark`, or after `timeoutMs`. */
  appendedSince(mark: number, timeoutMs: number): Promise<void>;
}

/** One partition's part of a `read-many`. */
export interface PartitionRead {
  partition: number;
  from: number;
  max: number;
}

export type LogRequest =
  | { kind: 'read'; id: number; partition: number; from: number; max: number }
  /** Several partitions' reads in one round trip: a processor turn asks once, not once per partition. */
  | { kind: 'read-many'; id: number; reads: PartitionRead[] }
  | { kind: 'trim'; id: number; partition: number; upTo: number };

export type LogResponse =
  | { kind: 'records'; id: number; offsets: Float64Array; lengths: Uint32Array; bytes: ArrayBuffer }
  /** A `read-many`'s records, all reads' in one buffer; `counts[i]` records belong to read i. */
  | { kind: 'records-many'; id: number; counts: Uint32Array; offsets: Float64Array; lengths: Uint32Array; bytes: ArrayBuffer }
  | { kind: 'trimmed'; id: number }
  | { kind: 'failed'; id: number; code: string; message: string };

/** Messages on a processor worker's port, either way. */
export type WorkerMessage =
  | { kind: 'log'; request: LogRequest }
  | { kind: 'log-response'; response: LogResponse }
  | { kind: 'started' }
  | { kind: 'start-failed'; code: string; message: string }
  | { kind: 'metrics'; id: number }
  | { kind: 'metrics-response'; id: number; metrics: unknown[] }
  | { kind: 'stop'; checkpoint: boolean; timeoutMs: number }
  | { kind: 'reload-rules' }
  | { kind: 'alert'; transition: AlertTransition }
  | { kind: 'stopped' }
  /** A worker's storage episode started (errno) or ended (undefined), for the main thread's /readyz. */
  | { kind: 'storage'; component: string; errno: string | undefined }
  /** InfluxDB started refusing a worker's writes (why, one line) or takes them again (undefined), for /readyz. */
  | { kind: 'sink'; problem: string | undefined };
