import { SeenFrames, type Log, type LogFrame, type LogRecord } from '../../log/index.js';
import { LogRecordDecoder, MSG_FLAG_STATUS, MSG_FLAGS_NOT_READINGS, type ColumnarBatch } from '../../proto/index.js';
import type { PartitionCheckpoint } from '../checkpoint/index.js';
import { SeqDeduplicator } from '../dedup.js';
import { StateCorruptError } from '../errors.js';
import { alertPoint, latePoint, rawPoints, statusPoint, supersededPoints, windowPoint } from '../points.js';
import { RuleEvaluator, type AlertTransition, type Rule } from '../rules/index.js';
import { ByteReader, type ByteWriter } from '../state/bytes.js';
import type { SinkPoint, SinkPointId } from '../sink/index.js';
import { DeviceClocks, type DeviceClock } from '../time/device-clocks.js';
import { PartitionWatermark } from '../time/watermark.js';
import { WindowOperator } from '../windowing/window-operator.js';
import type { FiredWindow } from '../windowing/fired-window.js';
import { SketchKeyMemo } from '../windowing/quantile-sketch.js';
import type { TimeConfig, WindowSpec } from '../windowing/window-spec.js';
import { TaskStateWriter, unpackTaskState } from './task-state.js';

export interface PartitionTaskOptions {
  partition: number;
  log: Log;
  windows: readonly WindowSpec[];
  time: TimeConfig;
  /** Also write every raw reading (outputs.raw). */
  raw: boolean;
  /** Where points go (the sink). */
  emit: (point: SinkPoint) => void;
  /**
   * Where deletes of superseded session points go (the sink's delete()), called in order
   * with emit(): a receiver that queues them must keep points and deletes in one queue.
   * Optional only until every caller passes it; without it those stale points stay in InfluxDB.
   */
  emitDelete?: (point: SinkPointId) => void;
  /** Where fired windows go when the receiver encodes them itself (the sink's WindowLines); default emit(windowPoint(w)). */
  emitWindow?: (w: FiredWindow) => void;
  /**
   * Let a tumbling window whose size is a sliding window's pane share that window's panes
   * (WindowOperator.sharePanesOf): default true. False adds every reading to both, as
   * before: the reference the shared path is tested against.
   */
  sharePanes?: boolean;
  /** The alert rules in force (rules.file); none when absent. replaceRules() changes them. */
  rules?: readonly Rule[];
  /**
   * Told of each alert transition after its `alerts` point was emitted (the MQTT and
   * webhook effects: at least once, since a replay after a crash tells them again).
   */
  onAlert?: (transition: AlertTransition) => void;
}

/** One per thread, shared by its tasks: a task decodes a record and processes it in one synchronous step. */
const RECORDS = new LogRecordDecoder();

/** Counters a task keeps for metrics. */
export interface PartitionTaskStats {
  records: number;
  messages: number;
  duplicates: number;
  /** Messages under a seq the device had used, taken as new data: the device restarted its seqs (see SeqDeduplicator). */
  seqRestarts: number;
  late: number;
  /** Alert transitions sent (replays included). */
  alerts: number;
  /** Device status changes written (status records read). */
  statuses: number;
  /** Records skipped as the second copy of a frame stored twice (JetStream: a publish retried after the duplicate window). */
  copiesSkipped: number;
}

/**
 * One partition's pipeline (one task per owned partition): read the log from the
 * checkpointed offset → dedup → watermark → windows → points; a device status record
 * (MSG_FLAG_STATUS) goes straight to its `device_status` point. Everything it decides
 * depends only on the log's contents and its restored state, so a replay after a crash
 * emits the same points again, which InfluxDB overwrites: the effect is exactly-once.
 */
export class PartitionTask {
  readonly stats: PartitionTaskStats = { records: 0, messages: 0, duplicates: 0, seqRestarts: 0, late: 0, alerts: 0, statuses: 0, copiesSkipped: 0 };
  private dedup = new SeqDeduplicator();
  /**
   * The frames this task has read, by writer: checkpointed, so a task restored between two
   * copies of a frame skips the second (the log's reader only knows what its process read).
   */
  private frames = new SeenFrames();
  /** The frame of the last record read and whether it is a copy: a frame's records share the object. */
  private lastFrame: LogFrame | undefined;
  private lastFrameIsCopy = false;
  /** Event time per device: decides lateness and when a device's windows fire. */
  private clocks: DeviceClocks;
  /** Per message of the batch in process(): its device's watermark just before it (reused). */
  private deviceWatermarks = new Float64Array(256);
  /** With more than one window spec adding readings: the batch's sketch keys, computed once for all of them. */
  private readonly keyMemo = new SketchKeyMemo();
  /** Operators that add readings to accumulators of their own (all but tumbling ones sharing panes). */
  private sketchAdders = 0;
  /** Per message of the batch being processed: its latest event time (SeqDeduplicator.acceptBatch finds them). */
  private msgMaxTimes = new Float64Array(256);
  /** The partition's progress: how far the operators look for windows to fire, and the lag gauge. */
  private watermark: PartitionWatermark;
  private operators: WindowOperator[];
  /** The operators in the order they take a batch (sharePanes()). */
  private batchOrder: WindowOperator[];
  /** The rules, evaluated on the windows as they fire and on the partition's watermark (absence). */
  private rules: RuleEvaluator;
  /** The offset to read from: the last record's offset + 1 (offsets need not be dense), or the checkpoint's. */
  private next = 0;
  /** Records pending at the last refreshLag (or 0 once a read found nothing): a gauge, never a decision. */
  private lastLag = 0;
  /** The last read found nothing: only then may idle devices' windows fire on processing time. */
  private caughtUp = false;
  /** Id of the last checkpoint taken or restored (0: none, so the next one is full), which the next delta applies to. */
  private lastCheckpoint = 0;
  private deltasSinceFull = 0;

  constructor(private readonly o: PartitionTaskOptions) {
    this.watermark = new PartitionWatermark(o.time, Date.now());
    this.clocks = new DeviceClocks(o.time);
    this.operators = o.windows.map((spec) => new WindowOperator(spec, o.time, this.clocks));
    this.batchOrder = this.sharePanes();
    this.rules = this.newRuleEvaluator(o.rules ?? []);
  }

  /**
   * Pairs each tumbling window with a sliding window whose panes it can share (one each),
   * and returns the order the operators take a batch in: pane owners first (see
   * WindowOperator.sharePanesOf). Firing keeps the configured order.
   */
  private sharePanes(): WindowOperator[] {
    this.sketchAdders = this.operators.length;
    if (this.o.sharePanes === false) return this.operators;
    const owners: WindowOperator[] = [];
    for (const tumbling of this.operators) {
      const owner = this.operators.find((op) => !owners.includes(op) && tumbling.sharePanesOf(op));
      if (owner !== undefined) owners.push(owner);
    }
    this.sketchAdders -= owners.length; // a tumbling window sharing panes adds nothing itself
    return [...owners, ...this.operators.filter((op) => !owners.includes(op))];
  }

  private newRuleEvaluator(rules: readonly Rule[]): RuleEvaluator {
    return new RuleEvaluator(rules, (t) => this.sendAlert(t));
  }

  /** An alert transition: its point for InfluxDB (idempotent: replays write the same point), then the other effects. */
  private sendAlert(t: AlertTransition): void {
    this.stats.alerts++;
    this.o.emit(alertPoint(t));
    this.o.onAlert?.(t);
  }

  /**
   * Puts new rules in force between two steps: rules unchanged keep their state; the
   * alerts firing for removed or changed ones are resolved at the partition's watermark.
   * A change is a point in processing, not in the log: after a crash the replay runs with
   * the rules in force at restart.
   */
  replaceRules(rules: readonly Rule[]): void {
    const at = this.watermark.current;
    for (const t of this.rules.replaceRules(rules, Number.isFinite(at) ? at : Date.now())) this.sendAlert(t);
  }

  /** Alert rule state: devices with state, cells, alerts firing now. */
  get ruleState(): { devices: number; cells: number; firing: number } {
    return this.rules.stateSize;
  }

  /** Tumbling windows that took a sliding window's pane since the task started or was restored (sharePanes()); for tests. */
  get sharedPanes(): number {
    return this.operators.reduce((n, op) => n + op.paneSharing.shared, 0);
  }

  get partition(): number {
    return this.o.partition;
  }

  /** The next log offset to read. */
  get offset(): number {
    return this.next;
  }

  /**
   * Records in the log not yet processed, as of the last refreshLag (0 right after a read
   * that found nothing). Cached: asking the log per step would cost a promise (on a remote
   * log, a round trip) per step for a gauge.
   */
  get lag(): number {
    return this.lastLag;
  }

  /** Asks the log how many records lie at or after the next offset; call at the gauge interval. */
  async refreshLag(): Promise<number> {
    const from = this.next;
    const pending = await this.o.log.pending(this.o.partition, from);
    // A step that moved on meanwhile knows better; a stale answer must not overwrite it.
    if (this.next === from) this.lastLag = pending;
    return this.lastLag;
  }

  /** The current watermark (−Infinity before any reading). */
  get currentWatermark(): number {
    return this.watermark.current;
  }

  /**
   * Resumes from a chain of checkpoints (CheckpointStore.restorable): a full one and the
   * deltas after it, oldest first. Returns the checkpoint restored: the newest, or an
   * earlier one when a delta passed the store's checks but its state does not decode
   * (`problem` says why; the task then replays the log from the earlier one's offset, and
   * its next delta applies to that one). Throws when the full checkpoint does not decode.
   */
  restore(chain: readonly PartitionCheckpoint[]): { restored: PartitionCheckpoint; problem?: StateCorruptError } {
    let failure: StateCorruptError | undefined;
    for (let n = chain.length; n > 0; n--) {
      try {
        this.restoreChain(chain.slice(0, n));
      } catch (err) {
        if (n === 1 || !(err instanceof StateCorruptError)) throw err;
        failure = err; // from the chain ending at the first delta that does not decode, once n gets there
        continue;
      }
      const restored = chain[n - 1]!;
      if (failure === undefined) return { restored };
      const dropped = chain.slice(n).map((c) => c.id);
      return { restored, problem: new StateCorruptError(`partition ${this.o.partition}: checkpoints ${dropped.join(', ')} cannot be applied (${failure.message}); restored checkpoint ${restored.id}`, { cause: failure }) };
    }
    throw new RangeError('restore needs at least one checkpoint');
  }

  private restoreChain(chain: readonly PartitionCheckpoint[]): void {
    chain.forEach((c, i) => {
      const expected = i === 0 ? 'full' : 'delta';
      if (c.kind !== expected || (i > 0 && c.base !== chain[i - 1]!.id)) {
        throw new StateCorruptError(`checkpoint ${c.id} (${c.kind}, base ${c.base}) is not a ${expected} one${i > 0 ? ` applying to ${chain[i - 1]!.id}` : ''}`);
      }
    });
    const states = chain.map((c) => unpackTaskState(c.state));
    const full = states[0]!;
    const deltas = states.slice(1);
    const part = (state: Map<string, Uint8Array>, name: string): Uint8Array => state.get(name) ?? raise(`checkpoint of partition ${this.o.partition} has no ${name} state`);
    const deltaParts = (name: string): Uint8Array[] => deltas.map((d) => d.get(name)).filter((p) => p !== undefined);
    const last = chain[chain.length - 1]!;
    this.dedup = SeqDeduplicator.restore(part(full, 'dedup'), deltas.map((d) => part(d, 'dedup')));
    this.watermark = PartitionWatermark.restore(this.o.time, part(states[states.length - 1]!, 'watermark'), Date.now());
    // A checkpoint from before per-device time has no clocks: its partition watermark stands in for every device's.
    const fullWatermark = PartitionWatermark.restore(this.o.time, part(full, 'watermark'), 0).current;
    this.clocks = DeviceClocks.restore(this.o.time, full.get('clocks'), deltaParts('clocks'), Date.now(), full.has('clocks') ? -Infinity : fullWatermark);
    // A window added since the full checkpoint starts empty (its deltas, if any, then apply); one removed is simply dropped.
    this.operators = this.o.windows.map((spec) => WindowOperator.restore(spec, this.o.time, full.get(`window:${spec.name}`), deltaParts(`window:${spec.name}`), this.clocks));
    this.batchOrder = this.sharePanes();
    // A checkpoint from before rules has no rule state: the rules start without any. A delta may carry it while its full one does not (rules came with an upgrade).
    const rules = this.newRuleEvaluator(this.rules.rules);
    for (const bytes of [full.get('rules'), ...deltaParts('rules')]) {
      if (bytes === undefined) continue;
      const r = new ByteReader(bytes, 'rule state');
      rules.restore(r);
      r.end();
    }
    this.rules = rules;
    // A checkpoint from before frames were checkpointed has none: only the reader's memory then.
    const frames = states[states.length - 1]!.get('frames');
    this.frames = frames === undefined ? new SeenFrames() : readFrames(frames);
    this.lastFrame = undefined;
    this.next = last.offset;
    this.caughtUp = false;
    this.lastCheckpoint = last.id;
    this.deltasSinceFull = chain.length - 1;
    // Alerts the checkpoint has firing for rules no longer in force are resolved where the partition stood.
    const at = this.watermark.current;
    for (const t of this.rules.takeDroppedAlerts(Number.isFinite(at) ? at : undefined)) this.sendAlert(t);
  }

  /** Starts a fresh partition at the log's first retained offset. */
  async startFresh(): Promise<void> {
    this.next = await this.o.log.startOffset(this.o.partition);
    this.caughtUp = false;
  }

  /**
   * The task's state for a checkpoint; call only after the sink has flushed what was
   * emitted. A delta (what changed since the previous checkpoint, which it names as its
   * base) unless there is no previous one or `fullEvery` checkpoints would then not
   * include a full one (fullEvery 1: always full). `id` must grow. The next delta applies
   * to this checkpoint, so one that is not written must not be followed by a delta: stop
   * the task (restore, replay) instead. Large window state is written in slices with the
   * event loop free between them; the task must not process meanwhile.
   */
  async snapshot(id: number, options: { fullEvery?: number } = {}): Promise<PartitionCheckpoint> {
    const full = this.lastCheckpoint === 0 || this.deltasSinceFull + 1 >= (options.fullEvery ?? 1);
    const hint = full
      ? this.operators.reduce((n, op) => n + op.snapshotSizeHint, this.dedup.snapshotSizeHint + this.clocks.snapshotSizeHint)
      : this.operators.reduce((n, op) => n + op.deltaSizeHint, this.dedup.deltaSizeHint + this.clocks.deltaSizeHint);
    const state = new TaskStateWriter(hint);
    await state.part('dedup', (w) => (full ? this.dedup.writeSnapshot(w) : this.dedup.writeDelta(w)));
    await state.part('watermark', (w) => w.bytes(this.watermark.snapshot()));
    await state.part('clocks', (w) => (full ? this.clocks.writeSnapshot(w) : this.clocks.writeDelta(w)));
    for (const op of this.operators) await state.part(`window:${op.spec.name}`, (w) => (full ? op.writeSnapshot(w) : op.writeDelta(w)));
    await state.part('rules', (w) => (full ? this.rules.snapshot(w) : this.rules.snapshotDelta(w)));
    // Whole in every checkpoint, full or delta: at most one entry per gateway process that wrote to the partition.
    await state.part('frames', (w) => writeFrames(w, this.frames));
    const checkpoint: PartitionCheckpoint = {
      partition: this.o.partition,
      id,
      kind: full ? 'full' : 'delta',
      base: full ? 0 : this.lastCheckpoint,
      offset: this.next,
      watermark: this.watermark.current,
      state: state.finish(),
      createdAtMs: Date.now(),
    };
    this.lastCheckpoint = id;
    this.deltasSinceFull = full ? 0 : this.deltasSinceFull + 1;
    return checkpoint;
  }

  /**
   * The last snapshot was not written (a full disk): the next one must be full, since a
   * delta would apply to a checkpoint that does not exist and the changes it carried are
   * gone from the change tracking.
   */
  snapshotNotWritten(): void {
    this.lastCheckpoint = 0;
    this.deltasSinceFull = 0;
  }

  /**
   * Reads and processes up to `maxRecords` records; false when there was nothing to read.
   * Reading is how it finds out: the log's offsets need not be dense, so no end offset
   * could tell. After record r the next offset is r.offset + 1, not a count. `read`: the
   * records a batched read (Log.readMany) already fetched from `offset`, instead of reading here.
   */
  async step(maxRecords: number, read?: LogRecord[]): Promise<boolean> {
    const records = read ?? (await this.o.log.read(this.o.partition, this.next, maxRecords));
    if (records.length === 0) {
      this.caughtUp = true;
      this.lastLag = 0;
      return false;
    }
    this.caughtUp = false;
    // Uncompressed on this thread (proto/snappy-uncompress.ts), not by native snappy: the loop processes what it read before it
    // reads on, so it would only wait for the threadpool. Measured on bench:processors'
    // throughput part (1.2 MB records, 3 interleaved pairs + a profiled one): native async
    // took uncompression (~0.6 s per 10 M readings) off this thread but left it idle
    // as long, and cost more process CPU (0.466 vs 0.432 s per M readings, medians).
    for (const record of records) {
      this.next = record.offset + 1;
      if (record.frame !== undefined && this.isCopy(record.frame)) {
        this.stats.copiesSkipped++;
        continue;
      }
      // process() uses the batch and is done with it before it returns: the decoder's buffer is free again.
      this.process(RECORDS.decode(record.payload));
      this.stats.records++;
    }
    this.lastLag = Math.max(0, this.lastLag - records.length);
    return true;
  }

  private isCopy(frame: LogFrame): boolean {
    if (frame !== this.lastFrame) {
      this.lastFrame = frame;
      this.lastFrameIsCopy = this.frames.isCopy(frame.id, frame.seq);
    }
    return this.lastFrameIsCopy;
  }

  /**
   * Fires the windows of devices quiet for idleTimeout, and lets a quiet partition's
   * progress move with processing time. Does nothing unless the last step found nothing
   * to read: a device whose readings wait unread in the log is behind, not quiet.
   */
  advanceIfIdle(nowMs: number): void {
    if (!this.caughtUp) return;
    const before = this.watermark.current;
    this.clocks.markIdle(nowMs);
    const moved = this.clocks.takeMoved();
    const wm = this.watermark.advanceIfIdle(nowMs);
    if (wm > before || moved.length > 0) this.fire(wm, moved);
  }

  private process(batch: ColumnarBatch): void {
    const n = batch.msgDevice.length;
    if (this.msgMaxTimes.length < n) this.msgMaxTimes = new Float64Array(n * 2);
    const msgMaxTimes = this.msgMaxTimes;
    const restarts = this.dedup.stats.restarts;
    const accepted = this.dedup.acceptBatch(batch, msgMaxTimes);
    this.stats.seqRestarts += this.dedup.stats.restarts - restarts;
    const accept = (m: number): boolean => accepted[m] === 1;
    // Each message is judged against its device's clock as it was just before that message,
    // so lateness does not depend on how the gateway cut its micro-batches (and the
    // reference model in simulator/expected/ can say which readings are late).
    const now = Date.now();
    const deviceWatermarks = this.deviceWatermarks.length >= accepted.length ? this.deviceWatermarks : (this.deviceWatermarks = new Float64Array(accepted.length * 2));
    let maxTime = -Infinity;
    for (let m = 0; m < accepted.length; m++) {
      this.stats.messages++;
      if (accepted[m] !== 1) {
        // Not readings: a duplicate, a message the gateway dropped, or a status record.
        const flags = batch.msgFlags[m]!;
        if ((flags & MSG_FLAGS_NOT_READINGS) === 0) this.stats.duplicates++;
        else if ((flags & MSG_FLAG_STATUS) !== 0) this.writeStatus(batch, m);
        continue;
      }
      const msgMax = msgMaxTimes[m]!;
      const clock = this.clocks.get(batch.strings[batch.msgDevice[m]!]!);
      deviceWatermarks[m] = this.clocks.watermark(clock);
      this.clocks.observe(clock, msgMax, now);
      if (msgMax > maxTime) maxTime = msgMax;
    }
    const memo = this.sketchAdders > 1 ? this.keyMemo : undefined;
    memo?.reset(batch.value.length);
    for (const op of this.batchOrder) op.processBatch(batch, accept, deviceWatermarks, memo);
    if (this.rules.watchesReadings) this.observeReadings(batch, accepted);
    if (this.o.raw) rawPoints(batch, accepted, this.o.emit);
    this.fire(this.watermark.observe(maxTime, now), this.clocks.takeMoved());
  }

  /** A status record's point: its time is in the record, so a replay writes the same point. */
  private writeStatus(batch: ColumnarBatch, m: number): void {
    const point = statusPoint(batch, m);
    if (point === undefined) return;
    this.stats.statuses++;
    this.o.emit(point);
  }

  /** Tells absence rules when each (device, reading tags, metric) was last seen in the batch: once per run of readings, not per reading. */
  private observeReadings(batch: ColumnarBatch, accepted: Uint8Array): void {
    const s = batch.strings;
    for (let m = 0; m < accepted.length; m++) {
      if (accepted[m] !== 1) continue;
      const device = s[batch.msgDevice[m]!]!;
      const deviceTags = s[batch.msgDeviceTags[m]!]!;
      this.observeRuns(device, deviceTags, s, batch.metric, batch.tags, batch.time, m === 0 ? 0 : batch.numEnd[m - 1]!, batch.numEnd[m]!);
      this.observeRuns(device, deviceTags, s, batch.textMetric, batch.textTags, batch.textTime, m === 0 ? 0 : batch.textEnd[m - 1]!, batch.textEnd[m]!);
    }
  }

  private observeRuns(device: string, deviceTags: string, s: readonly string[], metric: Uint32Array, tags: Uint32Array, time: Float64Array, from: number, to: number): void {
    for (let r = from; r < to; ) {
      const k = metric[r]!;
      const t = tags[r]!;
      let last = time[r]!;
      let e = r + 1;
      for (; e < to && metric[e] === k && tags[e] === t; e++) if (time[e]! > last) last = time[e]!;
      this.rules.onReadings(device, deviceTags, s[t]!, s[k]!, last);
      r = e;
    }
  }

  private fire(wm: number, moved: readonly DeviceClock[]): void {
    for (const op of this.operators) {
      op.wake(moved);
      for (const w of op.onWatermark(wm)) {
        if (this.o.emitWindow !== undefined) this.o.emitWindow(w);
        else this.o.emit(windowPoint(w));
        this.rules.onWindow(w);
        // After the merged point: the sink orders each delete after its point's earlier writes.
        if (w.supersedes !== undefined) for (const stale of supersededPoints(w)) this.o.emitDelete?.(stale);
      }
      const late = op.drainLate();
      this.stats.late += late.length;
      for (const l of late) this.o.emit(latePoint(l));
    }
    // Silences are judged on the partition's watermark: derived from the log while records come, from the idle clock when none do.
    if (Number.isFinite(wm)) this.rules.advance(wm);
  }
}

function raise(message: string): never {
  throw new StateCorruptError(message);
}

/** Each writer's highest frame number and the stream sequence of its first copy. */
function writeFrames(w: ByteWriter, frames: SeenFrames): void {
  const all = [...frames.writers()];
  w.varint(all.length);
  for (const [writer, frame, seq] of all) {
    w.string(writer);
    w.varint(frame);
    w.varint(seq);
  }
}

function readFrames(bytes: Uint8Array): SeenFrames {
  const r = new ByteReader(bytes, 'frames state');
  const frames = new SeenFrames();
  for (let n = r.varint(); n > 0; n--) frames.remember(r.string(), r.varint(), r.varint());
  r.end();
  return frames;
}
