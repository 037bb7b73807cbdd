/** One record read back from a partition: its offset and the bytes that were appended. */
export interface LogRecord {
  offset: number;
  payload: Uint8Array;
}

/**
 * The partitioned, replayable log between gateway and processors.
 * Offsets are per partition, start at 0 and increase by one per appended record.
 */
export interface Log {
  /** Number of partitions, fixed when the log was created. */
  readonly partitions: number;
  /**
   * Appends one record; resolves with its offset once it is durable under the fsync policy.
   * Appends to one partition take offsets in the order of the calls (the gateway relies on
   * it to keep each device's messages in arrival order), whatever order they resolve in.
   */
  append(partition: number, payload: Uint8Array): Promise<number>;
  /** Records from `fromOffset` (inclusive) on, at most `maxRecords`; empty at the end. */
  read(partition: number, fromOffset: number, maxRecords?: number): Promise<LogRecord[]>;
  /** Drops records below `upToOffset`; a later read below it fails with LogOffsetError. */
  trim(partition: number, upToOffset: number): Promise<void>;
  /** The offset the next append will get (one past the last record). */
  endOffset(partition: number): number;
  /** The lowest offset still readable (everything below was trimmed). */
  startOffset(partition: number): number;
  /** Flushes and closes files; appends after close fail. */
  close(): Promise<void>;
}

/** When FileLog calls fsync: per append, once per group of appends, or never (the OS decides). */
export type FsyncPolicy = 'always' | 'batch' | 'never';
