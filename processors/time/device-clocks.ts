import { ByteReader, ByteWriter } from '../state/bytes.js';
import type { TimeConfig } from '../windowing/window-spec.js';

const MAGIC = 0x4b4c4344; // "DCLK"
const VERSION = 1;
const FULL = 0;
const DELTA = 1;
/** Devices a snapshot writes between two yields. */
const SNAPSHOT_SLICE = 16_384;

/** One device's event-time clock. */
export class DeviceClock {
  /** Newest event time among the device's accepted readings (ms); −Infinity before any. */
  maxTime = -Infinity;
  /** Processing time of its last reading at or past its watermark. */
  lastSeenAt = 0;
  /** Quiet for idleTimeout: its open windows fire without waiting for its event time. */
  idle = false;
  /** Changed since the last snapshot (then it is in the changed list). */
  changed = false;
  /** Advanced or went idle since the last takeMoved() (then it is in the moved list). */
  moved = false;
  /** Neighbours in the list of active devices, least recently seen first. */
  prev: DeviceClock | undefined = undefined;
  next: DeviceClock | undefined = undefined;
  active = false;

  constructor(readonly device: string) {}
}

/**
 * Event time per device (issue 11): a device's watermark is its own newest event time
 * minus maxOutOfOrderness, so no device's clock or backlog decides whether another
 * device's readings are on time. A window fires once its device's watermark passes its
 * end, or once the device has been quiet for idleTimeout of processing time; it is purged
 * only once the device's own event time is allowedLateness past it, so a device that
 * comes back after an outage still lands its buffered readings in their windows.
 *
 * Devices are never forgotten: a device whose windows were purged must still find its
 * readings for them late, not open a fresh window whose point would overwrite the full
 * one in InfluxDB. State: ~200 bytes a device (measured at 100 k); a delta snapshot holds the devices whose
 * clock moved since the previous snapshot.
 */
export class DeviceClocks {
  private readonly clocks = new Map<string, DeviceClock>();
  private changed: DeviceClock[] = [];
  private moved: DeviceClock[] = [];
  private head: DeviceClock | undefined = undefined;
  private tail: DeviceClock | undefined = undefined;
  /** maxTime a device not in the clocks starts at: −Infinity, or the partition's watermark when restored from a checkpoint older than per-device time. */
  private floorMaxTime = -Infinity;

  constructor(private readonly time: Pick<TimeConfig, 'maxOutOfOrderness' | 'idleTimeout'>) {}

  /** Devices with a clock. */
  get size(): number {
    return this.clocks.size;
  }

  /** The clock of `device`, created at −Infinity for a device never seen (any reading of it is on time). */
  get(device: string): DeviceClock {
    let c = this.clocks.get(device);
    if (c === undefined) {
      this.clocks.set(device, (c = new DeviceClock(device)));
      c.maxTime = this.floorMaxTime;
    }
    return c;
  }

  /** The device's watermark: its windows ending at or before it are complete. */
  watermark(c: DeviceClock): number {
    return c.maxTime - this.time.maxOutOfOrderness;
  }

  /** Records an accepted message of the clock's device whose newest reading is at `maxTime` (non-finite: no readings). */
  observe(c: DeviceClock, maxTime: number, nowMs: number): void {
    if (!Number.isFinite(maxTime)) return;
    // Only readings at or past its watermark count as the device being there: one that
    // sends nothing but stale readings is quiet, and its windows close.
    if (maxTime >= this.watermark(c)) {
      c.lastSeenAt = nowMs;
      if (c.idle) {
        c.idle = false;
        this.noteMoved(c);
      }
      this.toTail(c);
    }
    if (maxTime > c.maxTime) {
      c.maxTime = maxTime;
      this.noteMoved(c);
      if (!c.changed) {
        c.changed = true;
        this.changed.push(c);
      }
    }
  }

  /** Marks the devices quiet for idleTimeout idle (their windows may fire). */
  markIdle(nowMs: number): void {
    while (this.head !== undefined && nowMs - this.head.lastSeenAt >= this.time.idleTimeout) {
      const c = this.head;
      this.unlink(c);
      c.idle = true;
      this.noteMoved(c);
    }
  }

  /** The clocks whose watermark rose or that went idle since the last call, each once. */
  takeMoved(): DeviceClock[] {
    const moved = this.moved;
    if (moved.length === 0) return moved;
    this.moved = [];
    for (const c of moved) c.moved = false;
    return moved;
  }

  private noteMoved(c: DeviceClock): void {
    if (c.moved) return;
    c.moved = true;
    this.moved.push(c);
  }

  private toTail(c: DeviceClock): void {
    if (this.tail === c) return;
    if (c.active) this.unlink(c);
    c.active = true;
    c.prev = this.tail;
    c.next = undefined;
    if (this.tail !== undefined) this.tail.next = c;
    else this.head = c;
    this.tail = c;
  }

  private unlink(c: DeviceClock): void {
    if (c.prev !== undefined) c.prev.next = c.next;
    else this.head = c.next;
    if (c.next !== undefined) c.next.prev = c.prev;
    else this.tail = c.prev;
    c.prev = c.next = undefined;
    c.active = false;
  }

  /** Bytes a full snapshot will take, roughly. */
  get snapshotSizeHint(): number {
    return 32 + this.clocks.size * 32;
  }

  /** Bytes a delta snapshot will take, roughly. */
  get deltaSizeHint(): number {
    return 32 + this.changed.length * 32;
  }

  /** Every device's newest event time, in slices (yields every few thousand devices). */
  *writeSnapshot(w: ByteWriter): Generator<void, void, void> {
    this.changed = [];
    yield* this.write(w, FULL, this.clocks.values(), this.clocks.size);
  }

  /** The devices whose clock moved since the previous snapshot of either kind. */
  *writeDelta(w: ByteWriter): Generator<void, void, void> {
    const changed = this.changed;
    this.changed = [];
    yield* this.write(w, DELTA, changed.values(), changed.length);
  }

  private *write(w: ByteWriter, kind: number, clocks: Iterable<DeviceClock>, count: number): Generator<void, void, void> {
    w.u32(MAGIC);
    w.u8(VERSION);
    w.u8(kind);
    w.f64(this.floorMaxTime);
    w.varint(count);
    let n = 0;
    for (const c of clocks) {
      c.changed = false;
      w.string(c.device);
      w.f64(c.maxTime);
      if (++n % SNAPSHOT_SLICE === 0) yield;
    }
  }

  /**
   * Restores a full snapshot and the deltas after it. Restored devices are active as of
   * `nowMs` (a restart is not idleness). A checkpoint from before per-device time has no
   * full snapshot: `floor` (its partition watermark) then stands in for the watermark of
   * every device, so what the partition had fired and purged stays closed.
   */
  static restore(time: Pick<TimeConfig, 'maxOutOfOrderness' | 'idleTimeout'>, full: Uint8Array | undefined, deltas: readonly Uint8Array[], nowMs: number, floor = -Infinity): DeviceClocks {
    const clocks = new DeviceClocks(time);
    clocks.floorMaxTime = floor + time.maxOutOfOrderness;
    if (full !== undefined) clocks.read(new ByteReader(full, 'device clocks'), FULL, nowMs);
    for (const d of deltas) clocks.read(new ByteReader(d, 'device clocks delta'), DELTA, nowMs);
    return clocks;
  }

  private read(r: ByteReader, kind: number, nowMs: number): void {
    if (r.u32() !== MAGIC) r.fail('not a device clock snapshot');
    const version = r.u8();
    if (version !== VERSION) r.fail(`version ${version} (expected ${VERSION})`);
    if (r.u8() !== kind) r.fail(kind === FULL ? 'a delta where a full snapshot was expected' : 'a full snapshot where a delta was expected');
    this.floorMaxTime = r.f64();
    const n = r.varint();
    for (let i = 0; i < n; i++) {
      const c = this.get(r.string());
      c.maxTime = r.f64();
      c.lastSeenAt = nowMs;
      this.toTail(c);
    }
    r.end();
  }
}
