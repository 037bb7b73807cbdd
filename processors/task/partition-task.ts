import type { Log } from '../../log/index.js';
import { decodeLogRecord, MSG_FLAG_DROPPED, type ColumnarBatch } from '../../proto/index.js';
import type { PartitionCheckpoint } from '../checkpoint/index.js';
import { SeqDeduplicator } from '../dedup.js';
import { latePoint, rawPoints, windowPoint } from '../points.js';
import type { SinkPoint } from '../sink/index.js';
import { PartitionWatermark } from '../time/watermark.js';
import { WindowOperator } from '../windowing/window-operator.js';
import type { TimeConfig, WindowSpec } from '../windowing/window-spec.js';
import { packTaskState, unpackTaskState } from './task-state.js';

export interface PartitionTaskOptions {
  partition: number;
  log: Log;
  windows: readonly WindowSpec[];
  time: TimeConfig;
  /** Also write every raw reading (outputs.raw). */
  raw: boolean;
  /** Where points go (the sink). */
  emit: (point: SinkPoint) => void;
}

/** Counters a task keeps for metrics. */
export interface PartitionTaskStats {
  records: number;
  messages: number;
  duplicates: number;
  late: number;
}

/**
 * One partition's pipeline (one task per owned partition): read the log from the
 * checkpointed offset → dedup → watermark → windows → points. Everything it decides
 * depends only on the log's contents and its restored state, so a replay after a crash
 * emits the same points again, which InfluxDB overwrites: the effect is exactly-once.
 */
export class PartitionTask {
  readonly stats: PartitionTaskStats = { records: 0, messages: 0, duplicates: 0, late: 0 };
  private dedup = new SeqDeduplicator();
  private watermark: PartitionWatermark;
  private operators: WindowOperator[];
  private next = 0;

  constructor(private readonly o: PartitionTaskOptions) {
    this.watermark = new PartitionWatermark(o.time, Date.now());
    this.operators = o.windows.map((spec) => new WindowOperator(spec, o.time));
  }

  get partition(): number {
    return this.o.partition;
  }

  /** The next log offset to read. */
  get offset(): number {
    return this.next;
  }

  /** Records in the log not yet processed. */
  get lag(): number {
    return Math.max(0, this.o.log.endOffset(this.o.partition) - this.next);
  }

  /** The current watermark (−Infinity before any reading). */
  get currentWatermark(): number {
    return this.watermark.current;
  }

  /** Resumes from a checkpoint: offset, dedup, watermark and window state. */
  restore(checkpoint: PartitionCheckpoint): void {
    const parts = unpackTaskState(checkpoint.state);
    this.next = checkpoint.offset;
    this.dedup = SeqDeduplicator.restore(parts.get('dedup')!);
    this.watermark = PartitionWatermark.restore(this.o.time, parts.get('watermark')!, Date.now());
    this.operators = this.o.windows.map((spec) => {
      const bytes = parts.get(`window:${spec.name}`);
      // A window added since the checkpoint starts empty; one removed is simply dropped.
      return bytes ? WindowOperator.restore(spec, this.o.time, bytes) : new WindowOperator(spec, this.o.time);
    });
  }

  /** Starts a fresh partition at the log's first retained offset. */
  startFresh(): void {
    this.next = this.o.log.startOffset(this.o.partition);
  }

  /** The task's state for a checkpoint; call only after the sink has flushed what was emitted. */
  snapshot(id: number): PartitionCheckpoint {
    const parts: [string, Uint8Array][] = [
      ['dedup', this.dedup.snapshot()],
      ['watermark', this.watermark.snapshot()],
      ...this.operators.map((op): [string, Uint8Array] => [`window:${op.spec.name}`, op.snapshot()]),
    ];
    return { partition: this.o.partition, id, offset: this.next, watermark: this.watermark.current, state: packTaskState(parts), createdAtMs: Date.now() };
  }

  /** Reads and processes up to `maxRecords` records; false when there was nothing to read. */
  async step(maxRecords: number): Promise<boolean> {
    if (this.next >= this.o.log.endOffset(this.o.partition)) return false;
    const records = await this.o.log.read(this.o.partition, this.next, maxRecords);
    if (records.length === 0) return false;
    for (const record of records) {
      this.process(decodeLogRecord(record.payload));
      this.next = record.offset + 1;
      this.stats.records++;
    }
    return true;
  }

  /** Lets a quiet partition's watermark move with processing time, firing its windows. Call only when caught up. */
  advanceIfIdle(nowMs: number): void {
    if (this.lag > 0) return;
    const before = this.watermark.current;
    const wm = this.watermark.advanceIfIdle(nowMs);
    if (wm > before) this.fire(wm);
  }

  private process(batch: ColumnarBatch): void {
    const accepted = this.dedup.acceptBatch(batch);
    let maxTime = -Infinity;
    for (let m = 0; m < accepted.length; m++) {
      this.stats.messages++;
      if (accepted[m] !== 1) {
        if ((batch.msgFlags[m]! & MSG_FLAG_DROPPED) === 0) this.stats.duplicates++;
        continue;
      }
      for (let r = m === 0 ? 0 : batch.numEnd[m - 1]!; r < batch.numEnd[m]!; r++) if (batch.time[r]! > maxTime) maxTime = batch.time[r]!;
      for (let r = m === 0 ? 0 : batch.textEnd[m - 1]!; r < batch.textEnd[m]!; r++) if (batch.textTime[r]! > maxTime) maxTime = batch.textTime[r]!;
    }
    const accept = (m: number): boolean => accepted[m] === 1;
    for (const op of this.operators) op.processBatch(batch, accept);
    if (this.o.raw) rawPoints(batch, accepted, this.o.emit);
    this.fire(this.watermark.observe(maxTime, Date.now()));
  }

  private fire(wm: number): void {
    for (const op of this.operators) {
      for (const w of op.onWatermark(wm)) this.o.emit(windowPoint(w));
      const late = op.drainLate();
      this.stats.late += late.length;
      for (const l of late) this.o.emit(latePoint(l));
    }
  }
}
