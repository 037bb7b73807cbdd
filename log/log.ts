/** One record read back from a partition: its offset and the bytes that were appended. */
export interface LogRecord {
  offset: number;
  payload: Uint8Array;
  /**
   * The unit of storage that held it, on a log that stores records in groups a retry can
   * store twice (JetStreamLog: a frame). Records of one frame share the object.
   */
  frame?: LogFrame;
}

/** A JetStream frame: its `Nats-Msg-Id` (`<boot id>.<partition>.<frame number>`, the same for every copy) and its stream sequence. */
export interface LogFrame {
  id: string;
  seq: number;
}

/**
 * The partitioned, replayable log between gateway and processors. One contract for the
 * embedded FileLog and a remote log (JetStream): everything a reader needs is async and
 * asks for no dense offsets, so a reader works unchanged on a log whose offsets are global
 * sequence numbers shared by all partitions.
 */
export interface Log {
  /** Number of partitions, fixed when the log was created. */
  readonly partitions: number;
  /**
   * Appends one record; resolves with its offset once durable. Offsets of one partition
   * increase in call order but need not be dense (JetStream sequences are global:
   * partition 5 may hold 6, 70, 134 …). Call order is what keeps each device's messages
   * in arrival order, whatever order the appends resolve in.
   */
  append(partition: number, payload: Uint8Array): Promise<number>;
  /**
   * Records with offset ≥ fromOffset, in offset order, at most maxRecords; empty when none
   * yet. fromOffset below startOffset(partition) rejects with LogOffsetError (code
   * SLUICE_LOG_OFFSET) on every implementation, so a reader whose checkpoint was trimmed
   * away learns it the same way on any log. A reader's next offset is the last record's
   * offset + 1, never a count of records.
   */
  read(partition: number, fromOffset: number, maxRecords?: number): Promise<LogRecord[]>;
  /**
   * Optional: several partitions' `read`s at once, result i for read i, with read's
   * semantics each (any read's failure rejects the whole). For a log behind a link, where
   * one request for all beats one per partition.
   */
  readMany?(reads: { partition: number; from: number; max: number }[]): Promise<LogRecord[][]>;
  /** Drops records below upToOffset; later reads from below it fail with LogOffsetError. */
  trim(partition: number, upToOffset: number): Promise<void>;
  /** The lowest offset a read may start from: the last trim point (0 before any trim). */
  startOffset(partition: number): Promise<number>;
  /**
   * How many records have offset ≥ fromOffset: the lag of a reader whose next offset is
   * fromOffset. May be a recent estimate on a remote log, never negative. It is for
   * gauges, not for deciding whether to read: a reader finds that out by reading.
   */
  pending(partition: number, fromOffset: number): Promise<number>;
  /** Flushes and closes; appends after close fail. */
  close(): Promise<void>;
}

/** When FileLog calls fsync: per append, once per group of appends, or never (the OS decides). */
export type FsyncPolicy = 'always' | 'batch' | 'never';
