import { LogOffsetError } from '../../core/index.js';
import type { Log, LogRecord } from '../../log/index.js';

/**
 * Test helper: an in-memory Log whose offsets are one sequence shared by all partitions,
 * as JetStream's stream sequences are. Appending one record to each of 64 partitions in
 * turn gives partition 5 the offsets 6, 70, 134 …: a reader that assumes dense offsets
 * (next = offset + count, lag = end − next) goes wrong here at once.
 */
export class SequencedLog implements Log {
  /** Per partition, its records in offset order (trimmed ones dropped). */
  private readonly records: LogRecord[][];
  private readonly starts: number[];
  private sequence: number;
  /** Every trim asked for, in order, for assertions. */
  readonly trims: { partition: number; upToOffset: number }[] = [];

  constructor(
    readonly partitions: number,
    /** The first sequence number handed out (JetStream's first is 1). */
    first = 1,
  ) {
    this.records = Array.from({ length: partitions }, () => []);
    this.starts = new Array<number>(partitions).fill(0);
    this.sequence = first;
  }

  /** Takes the next sequence number, whatever the partition. */
  async append(partition: number, payload: Uint8Array): Promise<number> {
    const offset = this.sequence++;
    this.part(partition).push({ offset, payload });
    return offset;
  }

  /** Appends `payload` to `partition` and one filler record to each other partition, like a gateway spreading a batch. */
  async appendAmongAll(partition: number, payload: Uint8Array, filler = new Uint8Array([0])): Promise<number> {
    let offset = -1;
    for (let p = 0; p < this.partitions; p++) {
      const at = await this.append(p, p === partition ? payload : filler);
      if (p === partition) offset = at;
    }
    return offset;
  }

  async read(partition: number, fromOffset: number, maxRecords = 1000): Promise<LogRecord[]> {
    const start = this.starts[partition]!;
    if (fromOffset < start) throw new LogOffsetError(`partition ${partition}: offset ${fromOffset} is below the start offset ${start} (trimmed)`);
    return this.part(partition)
      .filter((r) => r.offset >= fromOffset)
      .slice(0, maxRecords);
  }

  async trim(partition: number, upToOffset: number): Promise<void> {
    this.trims.push({ partition, upToOffset });
    if (upToOffset <= this.starts[partition]!) return;
    this.starts[partition] = upToOffset;
    this.records[partition] = this.part(partition).filter((r) => r.offset >= upToOffset);
  }

  async startOffset(partition: number): Promise<number> {
    this.part(partition);
    return this.starts[partition]!;
  }

  async pending(partition: number, fromOffset: number): Promise<number> {
    return this.part(partition).filter((r) => r.offset >= fromOffset).length;
  }

  async close(): Promise<void> {}

  private part(partition: number): LogRecord[] {
    const records = this.records[partition];
    if (records === undefined) throw new LogOffsetError(`partition ${partition} does not exist`);
    return records;
  }
}
