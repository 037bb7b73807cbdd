import type { Client, PublishPacket } from 'aedes';
import Denque from 'denque';
import type { Logger } from '../../core/index.js';
import type { Log } from '../../log/index.js';
import { compressBatch, MSG_FLAG_DROPPED, msgFlagsOffset, uncompressBatch } from '../../proto/index.js';
import type { IngestConfig } from '../config.js';
import type { DeadLetterRecorder } from '../dead-letters.js';
import type { DeviceFlows } from '../device-flow.js';
import { DecodeJobBuilder, reasonName, type DecodePool, type RejectReason, type DecodeResult, type JobKind } from '../decode/index.js';
import type { GatewayMetrics } from '../metrics.js';
import { answerPublishes } from '../puback-writes.js';
import { AckQueue, type PublishDone } from './ack-queue.js';
import type { SocketReadGate } from './socket-read-gate.js';

/**
 * A micro-batch is cut at once only while fewer than this many are unreleased: one being
 * written and the one being cut. More would only cut smaller batches while the disk is slow.
 */
const MAX_UNRELEASED_TO_CUT = 2;

/**
 * A batch of this many messages is cut without waiting out `batchMinInterval`: its fixed
 * costs are already shared (a closed loop of 50 × 16 in flight cuts ~130 at a time), and
 * holding it would only add latency.
 */
const CUT_WITHOUT_INTERVAL = 64;

/** One accepted publish waiting for its micro-batch to become durable. */
interface PendingPublish {
  device: string;
  partition: number;
  payload: Uint8Array;
  /** The ingest.mappings entry that took the topic, for the dead letter; undefined for the native topics. */
  mapping: string | undefined;
  /** A Sparkplug B payload's edge node, told why its payload was refused. */
  onRefused: ((reason: string) => void) | undefined;
  /** Undefined for QoS 0, which was released on acceptance. */
  done: PublishDone | undefined;
  /** A QoS 1 publish's client and packet, when the gateway answers it itself (answerPublishes); else undefined. */
  client: Client | undefined;
  packet: PublishPacket | undefined;
}

/** What the pipeline needs of a decode pool (DecodePool; a test may complete jobs in any order). */
export type DecodeService = Pick<DecodePool, 'saturated' | 'decode' | 'whenNotSaturated'>;

export interface IngestPipelineOptions {
  log: Log;
  pool: DecodeService;
  deadLetters: DeadLetterRecorder;
  metrics: GatewayMetrics;
  config: IngestConfig;
  /** Cardinality guard: distinct metric names one device may have. */
  maxMetricsPerDevice: number;
  /** Cardinality guard: distinct series (metric × tag set) one device may have. */
  maxSeriesPerDevice: number;
  /** Per-device flow limits, charged with each accepted message's readings. */
  flows?: DeviceFlows;
  logger: Logger;
  /** Closed while publishes are held, so connections are not read meanwhile; opened when there is room again. */
  readGate?: SocketReadGate;
}

/**
 * The gateway's hot path after authorisation: collects payloads into micro-batches on
 * the main thread (flushed by count, bytes or a short delay), decodes each batch in the
 * worker pool, dead-letters what was refused, appends one snappy-compressed columnar
 * batch per partition to the log, and only then releases the publishes (PUBACK).
 * Payload bytes in flight are bounded: past the bound, the publishes of reads already
 * parsed are held and the read gate (SocketReadGate) stops reading connections until
 * there is room again.
 *
 * Order: micro-batches are appended to the log in the order they were cut, whatever
 * order the decode pool finishes them in (piscina does not keep submission order), so
 * the log holds each device's messages in the order the gateway received them. The
 * processors' de-duplication, event time and the cardinality guard all see arrival
 * order, and a replay sees the same.
 */
export class IngestPipeline {
  private job = new DecodeJobBuilder();
  private pending: PendingPublish[] = [];
  private pendingBytes = 0;
  /** When the oldest publish of the current micro-batch arrived. */
  private pendingSince = 0;
  private timer: NodeJS.Timeout | undefined;
  /** The cut once `batchMinInterval` has passed since the last one, armed while only that holds the batch back. */
  private intervalTimer: NodeJS.Timeout | undefined;
  /** When the last micro-batch was cut (performance.now()). */
  private lastCutAt = -Infinity;
  /** The cut at the end of this event-loop turn, armed while a cut may come at once (scheduleCut). */
  private cutAtTurnEnd: NodeJS.Immediate | undefined;
  /** Micro-batches cut and not yet released (not yet durable, or waiting for an earlier one). */
  private unreleased = 0;
  /** Micro-batches cut whose appends are not yet issued (being decoded, or waiting for an earlier batch's appends). */
  private decoding = 0;
  /** Publishes received since the last cut, by kind: counted per batch, not per message (prom-client's inc hashes labels). */
  private receivedProtobuf = 0;
  private receivedJson = 0;
  private receivedMapped = 0;
  private receivedSparkplug = 0;
  private inflight = 0;
  /**
   * Publishes waiting for room under maxInflightBytes, oldest first. A ring buffer: with
   * 10 000 devices × 16 in flight tens of thousands wait here, and Array#shift moved them
   * all for each one taken (42 % of the gateway thread in the fleet benchmark).
   */
  private readonly held = new Denque<() => void>();
  /** Per device: its metric names and its series' hashes as int32 (memory: bounded by the two guards). */
  private readonly cardinality = new Map<string, { metrics: Set<string>; series: Set<number> }>();
  private readonly acks = new AckQueue();
  /** Settles once the last cut micro-batch has issued its appends (not once they are durable). */
  private appendTail: Promise<unknown> = Promise.resolve();
  private waitingForPool = false;
  private closed = false;

  private readonly messagesProtobuf;
  private readonly messagesJson;
  private readonly messagesMapped;
  private readonly messagesSparkplug;

  constructor(private readonly o: IngestPipelineOptions) {
    this.messagesProtobuf = o.metrics.messages.labels('protobuf');
    this.messagesJson = o.metrics.messages.labels('json');
    this.messagesMapped = o.metrics.messages.labels('mapped');
    this.messagesSparkplug = o.metrics.messages.labels('sparkplug');
  }

  /** Payload bytes accepted and not yet durable. */
  get inflightBytes(): number {
    return this.inflight;
  }

  /**
   * Takes one telemetry payload, or a status record (a StatusJob, whose payload is not
   * read). `done` is called when it is durable (QoS 1), or as soon as it is accepted into
   * a batch (QoS 0); either way later if the pipeline is full. With a QoS 1 publish's aedes
   * `client` and `packet`, the PUBACK is written here just before `done` (answerPublishes).
   */
  submit(device: string, partition: number, deviceTags: string, kind: JobKind, payload: Uint8Array, qos: number, done: PublishDone, client?: Client, packet?: PublishPacket): void {
    if (this.closed) {
      done(new Error('gateway is shutting down'));
      return;
    }
    if (kind === 'protobuf') this.receivedProtobuf++;
    else if (kind === 'json') this.receivedJson++;
    else if ('sparkplug' in kind) this.receivedSparkplug++;
    else if ('mapping' in kind) this.receivedMapped++;
    // A status record (StatusJob) is the gateway's own, not a received message.
    // Behind a held publish, any publish waits too, even one that would fit: taking it first
    // would put it in the log, and acknowledge it, before an earlier one of the same device.
    if (this.held.length > 0 || (this.inflight > 0 && this.inflight + payload.byteLength > this.o.config.maxInflightBytes)) {
      return this.hold(device, partition, deviceTags, kind, payload, qos, done, client, packet);
    }
    this.accept(device, partition, deviceTags, kind, payload, qos, done, client, packet);
  }

  /** Queues a publish until there is room under maxInflightBytes (its own method: a closure in submit would cost every publish a context). */
  private hold(device: string, partition: number, deviceTags: string, kind: JobKind, payload: Uint8Array, qos: number, done: PublishDone, client: Client | undefined, packet: PublishPacket | undefined): void {
    this.o.metrics.heldPublishes.inc();
    this.o.readGate?.close();
    this.held.push(() => {
      this.o.metrics.heldPublishes.dec();
      this.accept(device, partition, deviceTags, kind, payload, qos, done, client, packet);
    });
  }

  private accept(device: string, partition: number, deviceTags: string, kind: JobKind, payload: Uint8Array, qos: number, done: PublishDone, client: Client | undefined, packet: PublishPacket | undefined): void {
    this.inflight += payload.byteLength;
    this.job.add(payload, partition, device, deviceTags, kind);
    if (this.pending.length === 0) this.pendingSince = performance.now();
    const mapping = typeof kind === 'object' && 'mapping' in kind ? kind.name : undefined;
    const onRefused = typeof kind === 'object' && 'sparkplug' in kind ? kind.onRefused : undefined;
    const answerable = qos === 1 && packet !== undefined;
    this.pending.push({ device, partition, payload, mapping, onRefused, done: qos === 0 ? undefined : done, client: answerable ? client : undefined, packet: answerable ? packet : undefined });
    this.pendingBytes += payload.byteLength;
    if (qos === 0) done(null);
    const c = this.o.config;
    if (this.pending.length >= c.batchMaxMessages || this.pendingBytes >= c.batchMaxBytes) this.flush();
    else if (!this.scheduleCut(false)) this.timer ??= setTimeout(this.cutNow, c.batchMaxDelay);
  }

  /**
   * When to cut: at once (at the end of this event-loop turn, so one turn's socket reads
   * share a batch) while no earlier batch is being decoded and at most one is on its way
   * to the disk; otherwise when that changes or `batchMaxDelay` has passed, whichever
   * comes first; a small batch also waits until `batchMinInterval` has passed since the
   * last cut (scheduleCut). So an idle gateway acknowledges without waiting out a timer, and a busy
   * one decodes the next batch while the group commit writes the last: two stages that
   * overlap, where waiting for each release left the decode, the append and the wake-ups
   * around the write one after another (+16 % single-reading msgs/s at 16 in flight per
   * connection, where the main thread was ~70 % busy: the wait, not its CPU, set the rate). Under load the batch still
   * grows with the write time, and with it the messages that share a decode job, a
   * compressed record per partition and an append.
   */
  private readonly cutNow = (): void => this.flush();

  /**
   * Schedules the cut of what is pending if the pipeline may take a batch now: at once
   * (`atOnce`) or at the end of this turn, or, when only `batchMinInterval` holds it back,
   * once that has passed. Says whether it scheduled one; if not, a stage finishing (or
   * `batchMaxDelay`) cuts it. The interval is what keeps a moderately loaded gateway from
   * cutting a batch per turn: at 10 000 msgs/s from 50 devices the disk's ~1.2 ms round set
   * ~850 batches a second of ~12 messages, nearly a record (reset, encode, compress, append,
   * a read by a processor) per message, and a PUBACK write per publish.
   */
  private scheduleCut(atOnce: boolean): boolean {
    if (this.pending.length === 0 || this.decoding > 0 || this.unreleased >= MAX_UNRELEASED_TO_CUT) return false;
    const c = this.o.config;
    const now = performance.now();
    // batchMaxDelay still bounds the wait from the batch's first message.
    const wait = this.pending.length >= CUT_WITHOUT_INTERVAL ? 0 : Math.min(this.lastCutAt + c.batchMinInterval, this.pendingSince + c.batchMaxDelay) - now;
    if (wait > 0) this.intervalTimer ??= setTimeout(this.cutNow, wait);
    else if (atOnce) this.flush();
    else this.cutAtTurnEnd ??= setImmediate(this.cutNow);
    return true;
  }

  /** Cuts the current micro-batch and sends it on (once the pool has room, if it is full). */
  flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    clearImmediate(this.cutAtTurnEnd);
    this.cutAtTurnEnd = undefined;
    clearTimeout(this.intervalTimer);
    this.intervalTimer = undefined;
    this.countReceived();
    if (this.pending.length === 0) return;
    if (this.o.pool.saturated) {
      // The batch keeps growing meanwhile; maxInflightBytes bounds it.
      if (!this.waitingForPool) {
        this.waitingForPool = true;
        void this.o.pool.whenNotSaturated().then(() => {
          this.waitingForPool = false;
          this.flush();
        });
      }
      return;
    }
    const batch = this.pending;
    const since = this.pendingSince;
    this.lastCutAt = performance.now();
    this.pending = [];
    this.pendingBytes = 0;
    this.unreleased++;
    this.o.metrics.inflightBytes.set(this.inflight);
    const { job, transferList } = this.job.take();
    this.o.metrics.decodeBatchMessages.observe(batch.length);
    const started = performance.now();
    const decoded = this.o.pool.decode(job, transferList).then((result) => {
      this.o.metrics.decodeSeconds.observe((performance.now() - started) / 1000);
      if (result.jobBuffers !== undefined) this.job.recycle(result.jobBuffers);
      return result;
    });
    // Appends are issued in cut order: this batch's wait for the previous batch's appends
    // to be issued (not to be durable), so the group commit still takes many batches.
    this.decoding++;
    const issued = this.appendTail.then(() => decoded).then((result) => ({ durable: this.persist(result, batch) }));
    this.appendTail = issued.then(this.appendsIssued, this.appendsIssued);
    const durable = issued.then((appends) => appends.durable);
    this.acks.enqueue(durable, (err) => {
      this.unreleased--;
      this.release(batch, err);
      // One call per batch, counted once per publish: the hot path stays batch-oriented,
      // and a stall's large batch weighs what its publishes do.
      this.o.metrics.pubackSeconds.observe((performance.now() - since) / 1000, batch.length);
      // What arrived while this batch was on its way is cut now, not when its timer fires.
      this.scheduleCut(true);
    });
  }

  /** A batch's appends are issued (or it failed): what arrived meanwhile is cut at the end of the turn, while the batch is written. */
  private readonly appendsIssued = (): void => {
    this.decoding--;
    this.scheduleCut(false);
  };

  /** Hands the receive counts since the last call to the metric, one inc per kind. */
  private countReceived(): void {
    if (this.receivedProtobuf > 0) this.messagesProtobuf.inc(this.receivedProtobuf);
    if (this.receivedJson > 0) this.messagesJson.inc(this.receivedJson);
    if (this.receivedMapped > 0) this.messagesMapped.inc(this.receivedMapped);
    this.receivedMapped = 0;
    if (this.receivedSparkplug > 0) this.messagesSparkplug.inc(this.receivedSparkplug);
    this.receivedSparkplug = 0;
    this.receivedProtobuf = 0;
    this.receivedJson = 0;
  }

  /**
   * Guards, dead-letters and appends one decoded micro-batch. Every append is issued before
   * this returns (the log assigns offsets in call order); the promise says when all are durable.
   */
  private persist(result: DecodeResult, batch: PendingPublish[]): Promise<void> {
    // Batches arrive compressed; one that must drop a message is uncompressed, flagged and
    // compressed again here. That only happens when a device hits the cardinality guard.
    const batchIndex = new Map<number, number>();
    result.partitions.forEach((p, k) => batchIndex.set(p, k));
    const patched = new Map<number, Uint8Array>();
    let readings = 0;
    let over: string | undefined;
    const charge = this.o.flows?.enabled === true; // a Map lookup per message otherwise, for nothing
    for (let i = 0; i < batch.length; i++) {
      const publish = batch[i]!;
      const status = result.status[i]!;
      if (status !== 0) {
        this.reject(publish, reasonName(status), result.details[i]);
      } else if ((over = this.overCardinality(publish.device, result, i)) !== undefined) {
        const k = batchIndex.get(publish.partition)!;
        let bytes = patched.get(k);
        if (!bytes) patched.set(k, (bytes = uncompressBatch(result.batches[k]!)));
        bytes[msgFlagsOffset(bytes) + result.msgPartitionIndex[i]!] = MSG_FLAG_DROPPED;
        this.reject(publish, 'cardinality_limit', over);
      } else {
        readings += result.readings[i]!;
        if (charge) this.o.flows!.chargeReadings(publish.device, result.readings[i]!);
      }
    }
    const started = performance.now();
    for (const [k, bytes] of patched) result.batches[k] = compressBatch(bytes);
    const appends = result.batches.map((record, k) => this.o.log.append(result.partitions[k]!, record));
    return Promise.all(appends).then(() => {
      this.o.metrics.appendSeconds.observe((performance.now() - started) / 1000);
      this.o.metrics.readings.inc(readings);
    });
  }

  /**
   * Admits a message's metric names and series under the per-device cardinality guards;
   * says which guard it would pass, or undefined when admitted.
   */
  private overCardinality(device: string, result: DecodeResult, i: number): string | undefined {
    let known = this.cardinality.get(device);
    if (!known) this.cardinality.set(device, (known = { metrics: new Set(), series: new Set() }));
    const mFrom = i === 0 ? 0 : result.msgMetricsEnd[i - 1]!;
    const mTo = result.msgMetricsEnd[i]!;
    const sFrom = i === 0 ? 0 : result.msgSeriesEnd[i - 1]!;
    const sTo = result.msgSeriesEnd[i]!;
    let freshMetrics = 0;
    for (let m = mFrom; m < mTo; m++) if (!known.metrics.has(result.metricNames[result.msgMetrics[m]!]!)) freshMetrics++;
    let freshSeries = 0;
    // Kept as int32 (`| 0`): a Uint32 hash ≥ 2^31 is a boxed heap number in the Set, int32s are
    // small integers (node --expose-gc, 2 M hashes in sets of 50: 27 vs 35 bytes a hash, 37 vs 54–61 ns an add or has).
    for (let k = sFrom; k < sTo; k++) if (!known.series.has(result.msgSeries[k]! | 0)) freshSeries++;
    if (freshMetrics === 0 && freshSeries === 0) return undefined;
    if (known.metrics.size + freshMetrics > this.o.maxMetricsPerDevice) return `more than ${this.o.maxMetricsPerDevice} distinct metrics for this device`;
    if (known.series.size + freshSeries > this.o.maxSeriesPerDevice) return `more than ${this.o.maxSeriesPerDevice} distinct series (metric × tags) for this device`;
    for (let m = mFrom; m < mTo; m++) known.metrics.add(result.metricNames[result.msgMetrics[m]!]!);
    for (let k = sFrom; k < sTo; k++) known.series.add(result.msgSeries[k]! | 0);
    return undefined;
  }

  private reject(publish: PendingPublish, reason: string, detail: string | undefined): void {
    this.o.metrics.rejects.inc({ reason });
    this.o.deadLetters.record(publish.device, reason, publish.payload, detail || undefined, publish.mapping);
    publish.onRefused?.(reason);
  }

  /**
   * Refuses a payload before decode (a Sparkplug B topic that maps to no device id): counted
   * in sluice_gateway_rejected_total{reason} and dead-lettered like a decode refusal. The
   * publish itself is answered as accepted (3.1.1 has no negative PUBACK).
   */
  refuse(device: string, reason: RejectReason, payload: Uint8Array, detail: string): void {
    this.o.metrics.rejects.inc({ reason });
    this.o.deadLetters.record(device, reason, payload, detail);
  }

  private release(batch: PendingPublish[], err: Error | undefined): void {
    if (err) this.o.logger.error({ err, publishes: batch.length }, 'micro-batch not made durable; its publishes are not acknowledged');
    else answerPublishes(batch);
    for (const publish of batch) {
      this.inflight -= publish.payload.byteLength;
      publish.done?.(err ?? null);
    }
    this.o.metrics.inflightBytes.set(this.inflight);
    while (this.held.length > 0 && (this.inflight === 0 || this.inflight < this.o.config.maxInflightBytes)) this.held.shift()!();
    if (this.held.length === 0 && this.o.readGate?.shut === true) this.o.readGate.open();
  }

  /** Flushes what is batched and waits until every accepted publish has been released. */
  async close(): Promise<void> {
    this.closed = true;
    while (this.held.length > 0) this.held.shift()!();
    this.o.readGate?.open(); // what the connections still send is refused, not left unread
    while (this.pending.length > 0) {
      await this.o.pool.whenNotSaturated();
      this.flush();
    }
    await this.acks.drained();
  }
}
