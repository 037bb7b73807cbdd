import { ConfigError } from '../core/index.js';
import { MSG_FLAG_DROPPED, type ColumnarBatch } from '../proto/index.js';
import { ByteReader, ByteWriter } from './state/bytes.js';

const MAGIC = 0x44515053; // "SPQD"
const VERSION = 1;

/** Most seqs below the high-water mark that are remembered one by one. */
export const MAX_REORDER_WINDOW = 64;

/** Per device: the highest seq accepted and a 64-bit map of the seqs just below it (bit i = seq high − 1 − i). */
interface SeqState {
  high: number;
  lo: number; // bits 0–31
  hi: number; // bits 32–63
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
 */
export class SeqDeduplicator {
  private readonly devices = new Map<string, SeqState>();
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
      this.devices.set(device, { high: seq, lo: 0, hi: 0 });
      this.stats.accepted++;
      return true;
    }
    if (seq > s.high) {
      shiftIn(s, seq - s.high);
      s.high = seq;
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
    this.stats.accepted++;
    return true;
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
    const w = new ByteWriter(64 + this.devices.size * 32);
    w.u32(MAGIC);
    w.u8(VERSION);
    w.u8(this.reorderWindow);
    for (const v of [this.stats.accepted, this.stats.duplicates, this.stats.farBehind, this.stats.unsequenced]) w.f64(v);
    w.varint(this.devices.size);
    for (const [device, s] of this.devices) {
      w.string(device);
      w.f64(s.high);
      w.u32(s.lo >>> 0);
      w.u32(s.hi >>> 0);
    }
    return w.finish();
  }

  /** Restores a snapshot (with the reorder window it was taken with). */
  static restore(bytes: Uint8Array): SeqDeduplicator {
    const r = new ByteReader(bytes, 'dedup snapshot');
    if (r.u32() !== MAGIC) r.fail('not a dedup snapshot');
    const version = r.u8();
    if (version !== VERSION) r.fail(`version ${version} (expected ${VERSION})`);
    const window = r.u8();
    if (window > MAX_REORDER_WINDOW) r.fail(`reorder window ${window}`);
    const d = new SeqDeduplicator(window);
    d.stats.accepted = r.f64();
    d.stats.duplicates = r.f64();
    d.stats.farBehind = r.f64();
    d.stats.unsequenced = r.f64();
    const n = r.varint();
    for (let i = 0; i < n; i++) {
      const device = r.string();
      const high = r.f64();
      if (!Number.isSafeInteger(high) || high <= 0) r.fail(`seq ${high} for device ${device}`);
      d.devices.set(device, { high, lo: r.u32() | 0, hi: r.u32() | 0 });
    }
    r.end();
    return d;
  }
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
