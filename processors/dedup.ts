import { ConfigError } from '../core/index.js';
import { MSG_FLAG_DROPPED, type ColumnarBatch } from '../proto/index.js';
import { ByteReader, ByteWriter } from './state/bytes.js';

const MAGIC = 0x44515053; // "SPQD"
const VERSION = 2; // 2: full or delta
const FULL = 0;
const DELTA = 1;

/** Most seqs below the high-water mark that are remembered one by one. */
export const MAX_REORDER_WINDOW = 64;

/** Per device: the highest seq accepted and a 64-bit map of the seqs just below it (bit i = seq high − 1 − i). */
interface SeqState {
  high: number;
  lo: number; // bits 0–31
  hi: number; // bits 32–63
  /** Changed since the last snapshot (then the device is in the changed list). */
  changed: boolean;
}

/** What the deduplicator decided, by outcome. */
export interface DedupStats {
  accepted: number;
  /** Same seq as one already accepted (QoS 1 redelivery, device resend). */
  duplicates: number;
  /** Further below the high-water mark than the reorder window: treated as duplicates and dropped. */
  farBehind: number;
  /** seq 0: the device does not number its batches; always accepted. */
  unsequenced: number;
}

/**
 * Drops re-sent device batches by ReadingBatch.seq, per partition (IPsec/DTLS-style
 * anti-replay window). Accepts each seq once even when batches arrive slightly out of
 * order (within `reorderWindow` of the newest). A device whose seq restarts from 1
 * after a reboot is dropped as far-behind until it passes its old high-water mark:
 * devices must persist seq (or use e.g. a millisecond clock). State: ~100 bytes a device.
 * Devices are never forgotten, so a delta snapshot is the counters plus the devices whose
 * state changed since the previous snapshot.
 */
export class SeqDeduplicator {
  private readonly devices = new Map<string, SeqState>();
  private changed: string[] = [];
  readonly stats: DedupStats = { accepted: 0, duplicates: 0, farBehind: 0, unsequenced: 0 };

  constructor(readonly reorderWindow = MAX_REORDER_WINDOW) {
    if (!Number.isInteger(reorderWindow) || reorderWindow < 0 || reorderWindow > MAX_REORDER_WINDOW) {
      throw new ConfigError(`reorderWindow must be an integer in [0, ${MAX_REORDER_WINDOW}], got ${reorderWindow}`);
    }
  }

  /** Devices with state. */
  get size(): number {
    return this.devices.size;
  }

  /** True if this (device, seq) is new: process it. False for a duplicate or far-behind seq. */
  accept(device: string, seq: number): boolean {
    // seq is a uint64 on the wire and ≤ 2^53 − 1 after the gateway; anything else is "no seq".
    if (!(seq > 0) || !Number.isSafeInteger(seq)) {
      this.stats.unsequenced++;
      return true;
    }
    const s = this.devices.get(device);
    if (s === undefined) {
      this.devices.set(device, { high: seq, lo: 0, hi: 0, changed: true });
      this.changed.push(device);
      this.stats.accepted++;
      return true;
    }
    if (seq > s.high) {
      shiftIn(s, seq - s.high);
      s.high = seq;
      this.touch(device, s);
      this.stats.accepted++;
      return true;
    }
    if (seq === s.high) {
      this.stats.duplicates++;
      return false;
    }
    const bit = s.high - seq - 1;
    if (bit >= this.reorderWindow) {
      this.stats.farBehind++;
      return false;
    }
    const word = bit < 32 ? s.lo : s.hi;
    const mask = 1 << (bit & 31);
    if ((word & mask) !== 0) {
      this.stats.duplicates++;
      return false;
    }
    if (bit < 32) s.lo |= mask;
    else s.hi |= mask;
    this.touch(device, s);
    this.stats.accepted++;
    return true;
  }

  private touch(device: string, s: SeqState): void {
    if (s.changed) return;
    s.changed = true;
    this.changed.push(device);
  }

  /** Decides every message of a batch in order (1 = process); messages the gateway flagged dropped are 0 and leave no trace. */
  acceptBatch(batch: ColumnarBatch): Uint8Array {
    const n = batch.msgDevice.length;
    const out = new Uint8Array(n);
    for (let m = 0; m < n; m++) {
      if ((batch.msgFlags[m]! & MSG_FLAG_DROPPED) !== 0) continue;
      out[m] = this.accept(batch.strings[batch.msgDevice[m]!]!, batch.msgSeq[m]!) ? 1 : 0;
    }
    return out;
  }

  /** State for a checkpoint: counters and every device's high-water mark and bitmap. */
  snapshot(): Uint8Array {
    const w = new ByteWriter(this.snapshotSizeHint);
    drain(this.writeSnapshot(w));
    return w.finish();
  }

  /** Bytes a full snapshot will take, roughly (to size a buffer). */
  get snapshotSizeHint(): number {
    return 64 + this.devices.size * 40;
  }

  /** Bytes a delta snapshot will take, roughly. */
  get deltaSizeHint(): number {
    return 64 + this.changed.length * 40;
  }

  /** snapshot() into a writer, in slices: it yields every few thousand devices so that a caller can let the event loop run. No accept() until it is done. */
  *writeSnapshot(w: ByteWriter): Generator<void, void, void> {
    this.changed = [];
    this.writeHeader(w, FULL, this.devices.size);
    let n = 0;
    for (const [device, s] of this.devices) {
      s.changed = false;
      writeDevice(w, device, s);
      if (++n % SNAPSHOT_SLICE === 0) yield;
    }
  }

  /** The counters and the devices whose state changed since the previous snapshot (of either kind). */
  snapshotDelta(): Uint8Array {
    const w = new ByteWriter(this.deltaSizeHint);
    drain(this.writeDelta(w));
    return w.finish();
  }

  /** snapshotDelta() into a writer, in slices like writeSnapshot(). */
  *writeDelta(w: ByteWriter): Generator<void, void, void> {
    const changed = this.changed;
    this.changed = [];
    this.writeHeader(w, DELTA, changed.length);
    let n = 0;
    for (const device of changed) {
      const s = this.devices.get(device)!;
      s.changed = false;
      writeDevice(w, device, s);
      if (++n % SNAPSHOT_SLICE === 0) yield;
    }
  }

  private writeHeader(w: ByteWriter, kind: number, devices: number): void {
    w.u32(MAGIC);
    w.u8(VERSION);
    w.u8(kind);
    w.u8(this.reorderWindow);
    for (const v of [this.stats.accepted, this.stats.duplicates, this.stats.farBehind, this.stats.unsequenced]) w.f64(v);
    w.varint(devices);
  }

  /** Restores a full snapshot (with the reorder window it was taken with), then the deltas taken after it, in order. */
  static restore(bytes: Uint8Array, deltas: readonly Uint8Array[] = []): SeqDeduplicator {
    const r = new ByteReader(bytes, 'dedup snapshot');
    const d = new SeqDeduplicator(readHeader(r, FULL));
    d.read(r);
    for (const delta of deltas) {
      const rd = new ByteReader(delta, 'dedup delta');
      if (readHeader(rd, DELTA) !== d.reorderWindow) rd.fail(`reorder window differs from the full snapshot's (${d.reorderWindow})`);
      d.read(rd);
    }
    return d;
  }

  private read(r: ByteReader): void {
    this.stats.accepted = r.f64();
    this.stats.duplicates = r.f64();
    this.stats.farBehind = r.f64();
    this.stats.unsequenced = r.f64();
    const n = r.varint();
    for (let i = 0; i < n; i++) {
      const device = r.string();
      const high = r.f64();
      if (!Number.isSafeInteger(high) || high <= 0) r.fail(`seq ${high} for device ${device}`);
      this.devices.set(device, { high, lo: r.u32() | 0, hi: r.u32() | 0, changed: false });
    }
    r.end();
  }
}

/** Devices a snapshot writes between two yields. */
const SNAPSHOT_SLICE = 16_384;

function writeDevice(w: ByteWriter, device: string, s: SeqState): void {
  w.string(device);
  w.f64(s.high);
  w.u32(s.lo >>> 0);
  w.u32(s.hi >>> 0);
}

function drain(slices: Generator<void, void, void>): void {
  while (!slices.next().done);
}

/** Reads a snapshot header of the expected kind; returns its reorder window. */
function readHeader(r: ByteReader, kind: number): number {
  if (r.u32() !== MAGIC) r.fail('not a dedup snapshot');
  const version = r.u8();
  if (version !== VERSION) r.fail(`version ${version} (expected ${VERSION})`);
  if (r.u8() !== kind) r.fail(kind === FULL ? 'a delta where a full snapshot was expected' : 'a full snapshot where a delta was expected');
  const window = r.u8();
  if (window > MAX_REORDER_WINDOW) r.fail(`reorder window ${window}`);
  return window;
}

/** Shifts the 64-bit map left by d (the old high becomes bit d − 1). */
function shiftIn(s: SeqState, d: number): void {
  if (d > 64) {
    s.lo = 0;
    s.hi = 0;
    return;
  }
  // JS shifts take the count mod 32, so each case keeps counts in [0, 31].
  if (d >= 32) {
    s.hi = d === 64 ? 0 : s.lo << (d - 32);
    s.lo = 0;
  } else {
    s.hi = (s.hi << d) | (s.lo >>> (32 - d));
    s.lo <<= d;
  }
  const bit = d - 1;
  if (bit < 32) s.lo |= 1 << bit;
  else s.hi |= 1 << (bit - 32);
}
