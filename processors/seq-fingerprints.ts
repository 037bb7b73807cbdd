import type { ByteReader, ByteWriter } from './state/bytes.js';

/** Seqs of a run kept from its start: a device that reboots without keeping its seq numbers from 1 again. */
const FIRST = 4;
/** Seqs of a run kept from its end: a device re-sends what it had in flight, its newest messages. */
const RECENT = 16;
const SLOTS = FIRST + RECENT;

/**
 * Fingerprints (a 32-bit hash of the readings) of some of one device run's accepted
 * messages, by seq: the first FIRST and the latest RECENT. A message under a seq kept here
 * can be told apart: a re-send carries the readings it had, so the same fingerprint is a
 * duplicate and another one is new data under a reused seq, whatever its times say (a
 * rebooted device's clock may be behind). Seqs not kept here have no fingerprint, and the
 * deduplicator's time rule decides them. 20 slots: 320 bytes a device.
 */
export class SeqFingerprints {
  /** [seq, hash] per slot: slots 0 … FIRST − 1 the run's first messages, then a ring of its latest. */
  private readonly pairs = new Float64Array(2 * SLOTS);
  /** Messages recorded since the run began. */
  private recorded = 0;

  /** Records an accepted message's fingerprint. */
  record(seq: number, hash: number): void {
    const slot = this.recorded < FIRST ? this.recorded : FIRST + ((this.recorded - FIRST) % RECENT);
    this.pairs[2 * slot] = seq;
    this.pairs[2 * slot + 1] = hash;
    this.recorded++;
  }

  /** The fingerprint kept for `seq`, or undefined. */
  lookup(seq: number): number | undefined {
    const n = Math.min(this.recorded, SLOTS);
    for (let slot = 0; slot < n; slot++) if (this.pairs[2 * slot] === seq) return this.pairs[2 * slot + 1];
    return undefined;
  }

  /** Count, then each kept slot as its distance below `top` (the run's highest seq, which every kept seq is at or below) and its hash. */
  write(w: ByteWriter, top: number): void {
    w.varint(this.recorded);
    const n = Math.min(this.recorded, SLOTS);
    for (let slot = 0; slot < n; slot++) {
      w.varint(top - this.pairs[2 * slot]!);
      w.u32(this.pairs[2 * slot + 1]!);
    }
  }

  /** Reads what write() wrote with the same `top`. */
  static read(r: ByteReader, top: number, device: string): SeqFingerprints {
    const f = new SeqFingerprints();
    f.recorded = r.varint();
    const n = Math.min(f.recorded, SLOTS);
    for (let slot = 0; slot < n; slot++) {
      const seq = top - r.varint();
      if (!(seq > 0)) r.fail(`fingerprinted seq ${seq} for device ${device}`);
      f.pairs[2 * slot] = seq;
      f.pairs[2 * slot + 1] = r.u32();
    }
    return f;
  }
}

const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);

/** Starts a fingerprint. */
export const FINGERPRINT_SEED = 0x9747b28c;

/** Folds a 32-bit word into a fingerprint (MurmurHash2's multiply and shift). */
export function mixWord(h: number, x: number): number {
  h = Math.imul(h ^ x, 0x5bd1e995);
  return h ^ (h >>> 13);
}

/** Folds a double's 64 bits into a fingerprint. */
export function mixDouble(h: number, v: number): number {
  bits[0] = v;
  return mixWord(mixWord(h, words[0]!), words[1]!);
}
