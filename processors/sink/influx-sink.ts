/** A partition's buffer of points (and deletes) on their way to InfluxDB, and the pre-commit flush before a checkpoint. */
import { SinkGateClosedError } from './errors.js';
import type { InfluxWriter } from './influx-writer.js';
import { encodePoint, pointKey, type EncodedPoint, type SinkPoint, type SinkPointId } from './point.js';
import type { WriteGate } from './write-gate.js';

export type { WriteGate } from './write-gate.js';

export interface InfluxSinkOptions {
  /** Usually one writer shared by every partition of a processor. */
  writer: Pick<InfluxWriter, 'write' | 'delete'>;
  /** Lines per write request (influx.batchSize). */
  batchSize: number;
  /** Background flush period in ms (influx.flushInterval), once start() is called. */
  flushInterval: number;
  /** Points and deletes buffered (or in flight) past which `saturated` turns true. Default 10 × batchSize. */
  maxBufferedPoints?: number;
  /** A background flush failed; its points stay buffered and the next one retries them. */
  onError?: (error: unknown) => void;
  /** Held closed, no write or delete is sent (distributed mode: a lease that may have passed to another processor). */
  gate?: WriteGate;
  /** A flush found the gate closed and waits for it. */
  onGateClosed?: () => void;
  /**
   * The retention policy a measurement's points are written to, when not the writer's default
   * (retentionRoute(influx)); points of different policies go in different requests.
   */
  route?: ((measurement: string) => string | undefined) | undefined;
}

/** A buffered write (a line) or delete (a point id), who added it (InfluxSink.discard), and its retention policy (undefined: the writer's default). */
interface Buffered<T> {
  value: T;
  owner: number | undefined;
  rp: string | undefined;
}

/** One request's worth of values, all of one retention policy. */
interface Batch<T> {
  rp: string | undefined;
  values: T[];
}

/**
 * Buffers line protocol by InfluxDB's point identity (series + time), so a window fired
 * again before the flush replaces its earlier point instead of racing it, and every flush
 * holds each point once. Flushes run one after another, never overlapping, so a point
 * written by a later flush always lands after the same point from an earlier one.
 *
 * Deletes (a session window's points superseded by a merged or moved session) are buffered
 * by the same identity, and one point is never both to write and to delete: the later call
 * wins. A flush writes its points first and only then runs its deletes, so a delete lands
 * after every write of that point made before it (in this flush or an earlier one), and
 * nothing added after it can be deleted by it.
 */
export class InfluxSink {
  /** Lines to write by key, in write order; each with its owner (partition), so discard() can drop one owner's output. */
  private pending = new Map<string, Buffered<string>>();
  private deletes = new Map<string, Buffered<SinkPointId>>();
  /** Owners whose output was discarded: their failed in-flight writes are not put back. */
  private readonly discarded = new Set<number>();
  private inflight = 0;
  /** The last queued flush; it never rejects, so each flush can chain on it. */
  private tail: Promise<void> = Promise.resolve();
  private backgroundQueued = false;
  private timer: NodeJS.Timeout | undefined;
  private readonly maxBuffered: number;

  constructor(private readonly options: InfluxSinkOptions) {
    this.maxBuffered = options.maxBufferedPoints ?? 10 * options.batchSize;
  }

  /** Points and deletes added and not yet durable in InfluxDB (buffered or in flight). */
  get size(): number {
    return this.pending.size + this.deletes.size + this.inflight;
  }

  /** True while `size` is at or past maxBufferedPoints: stop reading the log and await flush(). */
  get saturated(): boolean {
    return this.size >= this.maxBuffered;
  }

  /**
   * Buffers a point; throws PointInvalidError (nothing buffered) if it cannot be written.
   * A point with the same measurement, tags and time as a buffered one replaces it; callers
   * always write a point's whole field set, so this is what InfluxDB's upsert would keep.
   */
  add(point: SinkPoint, owner?: number): void {
    this.addEncoded(encodePoint(point), point.measurement, owner);
  }

  /** Buffers a point already encoded (encodePoint's line and key, or the same text made otherwise), as add() does. */
  addEncoded({ line, key }: EncodedPoint, measurement: string, owner?: number): void {
    // The write replaces every field of the point, so a pending delete of it has nothing left to do.
    if (this.deletes.size > 0) this.deletes.delete(key);
    // One Map operation for a new point (the usual case); a replaced one is moved to the
    // end, keeping the buffer in write order.
    const size = this.pending.size;
    const entry = { value: line, owner, rp: this.options.route?.(measurement) };
    this.pending.set(key, entry);
    if (this.pending.size === size) {
      this.pending.delete(key);
      this.pending.set(key, entry);
    }
    this.full();
  }

  /**
   * Buffers a delete of the point `id` names (measurement, tags, time: exactly what add()
   * was given for it); throws PointInvalidError (nothing buffered) if it cannot be named. A
   * buffered write of that point is dropped, but the delete stays: an earlier flush, or the
   * run before a crash, may have written it.
   */
  delete(id: SinkPointId, owner?: number): void {
    const key = pointKey(id);
    this.pending.delete(key);
    this.deletes.set(key, { value: id, owner, rp: this.options.route?.(id.measurement) });
    this.full();
  }

  /**
   * Drops the buffered writes and deletes `owner` added (a partition this processor lost):
   * its next owner writes them again from its checkpoint. A flush already sending them is
   * not recalled: with a gate, none is sent while the gate is closed. Returns how many it dropped.
   */
  discard(owner: number): number {
    this.discarded.add(owner);
    let dropped = 0;
    // An entry in flight keeps its owner, so a failed write of it is not put back.
    for (const buffer of [this.pending, this.deletes] as Map<string, Buffered<unknown>>[]) {
      for (const [key, entry] of buffer) {
        if (entry.owner !== owner) continue;
        buffer.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  /** Takes `owner`'s output again after a discard() (the partition was assigned back). */
  readmit(owner: number): void {
    this.discarded.delete(owner);
  }

  /** Resolves once every point and delete added before the call is durable in InfluxDB; on failure they stay buffered. */
  flush(): Promise<void> {
    const run = this.tail.then(() => this.writeOut());
    this.tail = run.catch(() => undefined);
    return run;
  }

  /** Starts flushing every flushInterval and whenever a full batch is buffered. */
  start(): void {
    if (this.timer !== undefined) return;
    this.timer = setInterval(() => {
      if (this.pending.size > 0 || this.deletes.size > 0) this.background();
    }, this.options.flushInterval);
    // The processor's own lifecycle keeps the process alive, not this timer.
    this.timer.unref();
  }

  /**
   * Stops background flushing and waits for a flush in progress; buffered points are not
   * written (flush() first for that). While InfluxDB is down that wait lasts until the
   * writer is closed.
   */
  async close(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.tail;
  }

  private full(): void {
    if (this.timer !== undefined && this.pending.size + this.deletes.size >= this.options.batchSize) this.background();
  }

  private background(): void {
    if (this.backgroundQueued) return;
    this.backgroundQueued = true;
    const run = this.tail.then(() => {
      this.backgroundQueued = false;
      return this.writeOut();
    });
    this.tail = run.catch((error: unknown) => this.options.onError?.(error));
  }

  /**
   * Writes everything buffered, in batches, then deletes; puts back whatever failed or did
   * not run. A request the gate stopped (the writer checks it before each one, retries
   * included) puts its points back too, less those of owners discarded meanwhile, and the
   * flush goes on once the gate opens: it does not fail for it.
   */
  private async writeOut(): Promise<void> {
    for (;;) {
      const gate = this.options.gate;
      // Checked right before the buffer is taken, with no await between: nothing discarded meanwhile is sent.
      if (gate !== undefined && !gate.isOpen()) {
        this.options.onGateClosed?.();
        while (!gate.isOpen()) await gate.whenOpen();
      }
      if (this.pending.size === 0 && this.deletes.size === 0) return;
      const writes = this.pending;
      const deletes = this.deletes;
      this.pending = new Map();
      this.deletes = new Map();
      this.inflight = writes.size + deletes.size;
      try {
        // The writer bounds requests in flight; batches of one flush hold distinct points, so
        // their relative order does not matter. The same goes for the deletes.
        let failure = await this.settle(writes, (lines, rp) => this.options.writer.write(lines, rp), this.pending);
        // Deletes only once every write of this flush is in. The two never name the same point,
        // but a delete may match more than its own series (2.x: one with more tags at that
        // time), and 1.x's SHOW TAG KEYS then knows every key this flush wrote.
        if (failure) this.putBack(deletes, this.deletes);
        else failure = await this.settle(deletes, (ids, rp) => this.options.writer.delete(ids, rp), this.deletes);
        if (failure === undefined) return;
        if (!(failure.reason instanceof SinkGateClosedError)) throw failure.reason;
      } finally {
        this.inflight = 0;
      }
    }
  }

  /**
   * Runs `send` on batches of the values of `entries`, each batch of one retention policy (a
   * request writes to one); puts the entries of failed batches back into `into`.
   */
  private async settle<T>(entries: Map<string, Buffered<T>>, send: (batch: T[], rp: string | undefined) => Promise<void>, into: Map<string, Buffered<T>>): Promise<{ reason: unknown } | undefined> {
    const size = this.options.batchSize;
    const batches: Batch<T>[] = [];
    // Batches of values only, each policy's in write order; a failed batch's entries are found
    // again by position (batchOf). Without routes every entry has rp undefined: one batch fills at a time.
    const filling = new Map<string | undefined, number>();
    const batchOf = new Uint32Array(entries.size);
    let position = 0;
    entries.forEach((entry) => {
      let index = filling.get(entry.rp);
      if (index === undefined) {
        index = batches.push({ rp: entry.rp, values: [] }) - 1;
        filling.set(entry.rp, index);
      }
      const values = batches[index]!.values;
      values.push(entry.value);
      if (values.length === size) filling.delete(entry.rp);
      batchOf[position++] = index;
    });
    const results = await Promise.allSettled(batches.map((batch) => send(batch.values, batch.rp)));
    const failed = new Set<number>();
    let failure: { reason: unknown } | undefined;
    results.forEach((result, i) => {
      if (result.status === 'fulfilled') return;
      failure ??= result;
      failed.add(i);
    });
    if (failed.size > 0) {
      const back = new Map<string, Buffered<T>>();
      let i = 0;
      for (const [key, entry] of entries) if (failed.has(batchOf[i++]!)) back.set(key, entry);
      this.putBack(back, into);
    }
    return failure;
  }

  /** A write or delete of a point added meanwhile wins over the failed older one. */
  private putBack<T>(entries: Map<string, Buffered<T>>, into: Map<string, Buffered<T>>): void {
    for (const [key, entry] of entries) {
      if (this.pending.has(key) || this.deletes.has(key)) continue;
      // A failed write of an owner discarded meanwhile is not retried: its new owner writes it.
      if (entry.owner !== undefined && this.discarded.has(entry.owner)) continue;
      into.set(key, entry);
    }
  }
}
