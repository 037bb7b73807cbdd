import type { ByteReader, ByteWriter } from './state/bytes.js';

/** Messages of a run kept from its start: a device that reboots without keeping its seq numbers from 1 again. */
const FIRST = 4;
/** A device's latest messages kept, over its restarts: it re-sends what it had in flight. */
const RECENT = 16;
const SLOTS = FIRST + RECENT;

/** A kept message has this seq and fingerprint: a re-send. */
export const FINGERPRINT_SAME = 1;
/** Only other fingerprints are kept under this seq: new data under a reused seq. */
export const FINGERPRINT_OTHER = -1;
/** Nothing kept under this seq. */
export const FINGERPRINT_UNKNOWN = 0;
export type FingerprintMatch = typeof FINGERPRINT_SAME | typeof FINGERPRINT_OTHER | typeof FINGERPRINT_UNKNOWN;

/**
 * Fingerprints (a 32-bit hash of the readings) of some of a device's accepted messages, by
 * seq: the first FIRST of its current run and its latest RECENT, over restarts. A message
 * under a seq kept here can be told apart: a re-send carries the readings it had, so the
 * same fingerprint is a duplicate and only other ones mean new data under a reused seq,
 * whatever its times say (a rebooted device's clock may be behind). The latest are carried
 * over a restart, so a re-send of one of them is known whichever run it came from (two
 * processes under one id restart each other's runs at every message). Seqs not kept here
 * have no fingerprint, and the deduplicator's time rule decides them. 320 bytes a device.
 */
export class SeqFingerprints {
  /** [seq, hash] per slot: slots 0 … FIRST − 1 this run's first messages, then a ring of the latest. */
  private readonly pairs = new Float64Array(2 * SLOTS);
  /** This run's first messages kept (at most FIRST). */
  private firsts = 0;
  /** Messages ever put in the ring. */
  private ringed = 0;

  /** Records an accepted message's fingerprint. */
  record(seq: number, hash: number): void {
    if (this.firsts < FIRST) this.set(this.firsts++, seq, hash);
    this.set(FIRST + (this.ringed++ % RECENT), seq, hash);
  }

  /** What the kept fingerprints say of a message under `seq` with fingerprint `hash`. */
  match(seq: number, hash: number): FingerprintMatch {
    // Plain loops, not slots(): a restarted device asks this for every message.
    let found: FingerprintMatch = FINGERPRINT_UNKNOWN;
    for (let slot = 0; slot < this.firsts && found !== FINGERPRINT_SAME; slot++) found = this.compare(slot, seq, hash, found);
    const ringEnd = FIRST + Math.min(this.ringed, RECENT);
    for (let slot = FIRST; slot < ringEnd && found !== FINGERPRINT_SAME; slot++) found = this.compare(slot, seq, hash, found);
    return found;
  }

  /** The table of the run a restart begins: no first messages yet, the latest carried over. */
  nextRun(): SeqFingerprints {
    const next = new SeqFingerprints();
    next.pairs.set(this.pairs.subarray(2 * FIRST), 2 * FIRST);
    next.ringed = this.ringed;
    return next;
  }

  /** The counts, the highest seq kept, then each kept slot as its distance below that and its hash. */
  write(w: ByteWriter): void {
    w.varint(this.firsts);
    w.varint(this.ringed);
    let top = 0;
    for (const slot of this.slots()) top = Math.max(top, this.pairs[2 * slot]!);
    w.f64(top);
    for (const slot of this.slots()) {
      w.varint(top - this.pairs[2 * slot]!);
      w.u32(this.pairs[2 * slot + 1]!);
    }
  }

  /** Reads what write() wrote. */
  static read(r: ByteReader, device: string): SeqFingerprints {
    const f = new SeqFingerprints();
    f.firsts = r.varint();
    f.ringed = r.varint();
    if (f.firsts > FIRST || f.firsts > f.ringed) r.fail(`${f.firsts} first fingerprints of ${f.ringed} for device ${device}`);
    const top = r.f64();
    for (const slot of f.slots()) {
      const seq = top - r.varint();
      if (!(seq > 0) || !Number.isSafeInteger(seq)) r.fail(`fingerprinted seq ${seq} for device ${device}`);
      f.set(slot, seq, r.u32());
    }
    return f;
  }

  private *slots(): Generator<number> {
    for (let slot = 0; slot < this.firsts; slot++) yield slot;
    for (let k = 0; k < Math.min(this.ringed, RECENT); k++) yield FIRST + k;
  }

  /** `found` updated by one slot: same beats other beats unknown. */
  private compare(slot: number, seq: number, hash: number, found: FingerprintMatch): FingerprintMatch {
    if (this.pairs[2 * slot] !== seq) return found;
    return this.pairs[2 * slot + 1] === hash ? FINGERPRINT_SAME : FINGERPRINT_OTHER;
  }

  private set(slot: number, seq: number, hash: number): void {
    this.pairs[2 * slot] = seq;
    this.pairs[2 * slot + 1] = hash;
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
