import { ConfigError } from '../core/index.js';
import { MSG_FLAG_RECEIVE_TIME, MSG_FLAGS_NOT_READINGS, TEXT_KIND_BOOL, type ColumnarBatch } from '../proto/index.js';
import { FINGERPRINT_SAME, FINGERPRINT_SEED, FINGERPRINT_UNKNOWN, mixDouble, mixWord, SeqFingerprints } from './seq-fingerprints.js';
import { ByteReader, ByteWriter } from './state/bytes.js';

const MAGIC = 0x44515053; // "SPQD"
/** 2: high-water mark + 64-bit reorder bitmap (read, converted); 3: seen seqs as ranges; 4: and each device's latest event time and its seqs before its last restart, and the restarts counter; 5: and both runs' fingerprints. */
const VERSION = 5;
const VERSION_TIMES = 4;
const VERSION_RANGES = 3;
const VERSION_BITMAP = 2;
const FULL = 0;
const DELTA = 1;

/**
 * How far above a restarted device's highest seq a seq its previous run used still counts
 * as the device counting on (a refused message leaves a gap), when no fingerprint decides.
 */
const RUN_REACH = 64;
/** Readings of each kind a message's fingerprint covers: a re-send repeats them all, new data differs in its first ones. */
const FINGERPRINT_READINGS = 16;

/** Default and largest number of gaps between seen seqs that a device's state remembers exactly. */
export const DEFAULT_MAX_SEQ_GAPS = 32;
export const MAX_SEQ_GAPS = 255;

/** Per device: the seqs seen, as sorted, disjoint, non-adjacent closed ranges. */
interface SeqState {
  /** [from0, to0, from1, to1, …]; the last `to` is the device's highest seq. */
  ranges: number[];
  /** The latest event time of the device's accepted messages; NaN when unknown (state restored from version 3). */
  maxTime: number;
  /** Fingerprints of this run's first messages and the device's latest; undefined until one is recorded. */
  fingerprints: SeqFingerprints | undefined;
  /** The seqs, latest time and fingerprints the device had before its last restart, so that a re-send from before it is still known. */
  before: { ranges: number[]; maxTime: number; fingerprints: SeqFingerprints | undefined } | undefined;
  /** Changed since the last snapshot (then the device is in the changed list). */
  changed: boolean;
}

/** What the deduplicator decided, by outcome. */
export interface DedupStats {
  accepted: number;
  /** Same seq as one already accepted (QoS 1 redelivery, device resend). */
  duplicates: number;
  /** Gaps closed to keep a device under maxGaps: the seqs in them now count as seen. */
  gapsClosed: number;
  /** seq 0: the device does not number its batches; always accepted. */
  unsequenced: number;
  /** A seq seen before on a message with other readings than the one kept under it, or (none kept) all newer than any of the device's: a restart, counted again from there. */
  restarts: number;
}

/**
 * Drops re-sent device batches by ReadingBatch.seq, per partition. It remembers exactly
 * which seqs of a device it has seen, as ranges, so the decision does not depend on the
 * order they arrive in: a device that sends its newest data first and its backlog after,
 * or seqs with gaps (a refused message, a seq that is a clock), is counted exactly. A
 * device that numbers its batches 1, 2, 3 … holds one range however long it runs.
 *
 * The bound: at most `maxGaps` gaps are remembered per device. One more closes the
 * smallest gap (the fewest seqs; the lowest on a tie), whose seqs then count as seen, so
 * a batch that later arrives with such a seq is dropped as a duplicate. With the gateway
 * appending each device's messages in arrival order, that needs a device to leave more
 * than `maxGaps` holes and then fill the smallest.
 *
 * A device that reboots without keeping its seq numbers from 1 again, and its new
 * batches would all be dropped as duplicates until it passed its old seqs: readings the
 * gateway acknowledged, lost. So a seen seq is a duplicate only when the message could be
 * the one seen: a re-sent batch carries the event times it had, none later than the
 * device's latest accepted one. A message whose every reading is later than that is new
 * data under a reused seq: the device restarted, and its seqs start over from this one
 * (`restarts`). Readings stamped with the receive time (time 0, MSG_FLAG_RECEIVE_TIME) get
 * a new time on every re-send, so such a message with a seen seq stays a duplicate. The
 * seqs from before the last restart are kept too: a re-send of one of those that comes
 * after the restart (its times no later than the device's latest then) is a duplicate.
 *
 * Times cannot tell a device whose clock went back as it rebooted (a clock restored from a
 * file, not yet set by NTP): its new messages under reused seqs look like re-sends, and
 * were dropped after their PUBACK. So where it can, content decides: the fingerprints of
 * each run's first 4 messages and the device's latest 16 are kept (`SeqFingerprints`), and
 * a seen seq is a duplicate if a kept message has its seq and fingerprint, new data if only
 * other fingerprints are kept under it. Readings stamped with the receive time are
 * fingerprinted by their values alone. Once restarted, a seq just above the new run's
 * highest (within RUN_REACH) that only the previous run used, and that run kept no
 * fingerprint of, is the device counting on. What is left to times: a reused seq with no
 * fingerprint kept (a device that restarts from a stale stored seq far from both ends of
 * its run; a re-send from more than 16 messages back).
 * Devices are never forgotten, so a delta snapshot is the counters plus the devices whose
 * state changed since the previous one. State: ~90 bytes a device plus 16 a gap, and 320
 * for each run's fingerprints.
 */
export class SeqDeduplicator {
  private readonly devices = new Map<string, SeqState>();
  private changed: string[] = [];
  readonly stats: DedupStats = { accepted: 0, duplicates: 0, gapsClosed: 0, unsequenced: 0, restarts: 0 };

  constructor(readonly maxGaps = DEFAULT_MAX_SEQ_GAPS) {
    if (!Number.isInteger(maxGaps) || maxGaps < 0 || maxGaps > MAX_SEQ_GAPS) {
      throw new ConfigError(`maxGaps must be an integer in [0, ${MAX_SEQ_GAPS}], got ${maxGaps}`);
    }
  }

  /** Devices with state. */
  get size(): number {
    return this.devices.size;
  }

  /**
   * True if this (device, seq) is new: process it. False for a seq seen before, unless its
   * `fingerprint` differs from the one kept for that seq, or (none kept) every reading of
   * the message is later than the device's latest (`minTime` > it): a restarted device's
   * seq. `minTime` and `maxTime` are the message's earliest and latest event times; NaN
   * (unknown, or stamped with the receive time) never restarts by time.
   */
  accept(device: string, seq: number, minTime = NaN, maxTime = NaN, fingerprint?: number): boolean {
    // seq is a uint64 on the wire and ≤ 2^53 − 1 after the gateway; anything else is "no seq".
    if (!(seq > 0) || !Number.isSafeInteger(seq)) {
      this.stats.unsequenced++;
      return true;
    }
    const s = this.devices.get(device);
    if (s === undefined) {
      const fingerprints = fingerprint === undefined ? undefined : new SeqFingerprints();
      fingerprints?.record(seq, fingerprint!);
      this.devices.set(device, { ranges: [seq, seq], maxTime, fingerprints, before: undefined, changed: true });
      this.changed.push(device);
      this.stats.accepted++;
      return true;
    }
    if (s.before !== undefined && (isKept(s, seq, fingerprint) || (holds(s.before.ranges, seq) && isFromBefore(s, seq, minTime, fingerprint)))) {
      this.stats.duplicates++; // sent before the restart, and again after it
      return false;
    }
    const r = s.ranges;
    const last = r.length - 1;
    // The common cases first: the next seq, or a jump ahead.
    if (seq === r[last]! + 1) r[last] = seq;
    else if (seq > r[last]!) {
      r.push(seq, seq);
      this.bound(r);
    } else if (!this.insert(r, seq)) {
      const kept = fingerprint === undefined ? FINGERPRINT_UNKNOWN : (s.fingerprints?.match(seq, fingerprint) ?? FINGERPRINT_UNKNOWN);
      if (kept === FINGERPRINT_SAME || (kept === FINGERPRINT_UNKNOWN && !(minTime > s.maxTime))) {
        this.stats.duplicates++;
        return false;
      }
      s.before = { ranges: r, maxTime: s.maxTime, fingerprints: s.fingerprints };
      s.ranges = [seq, seq];
      s.fingerprints = s.fingerprints?.nextRun();
      this.stats.restarts++;
    }
    if (fingerprint !== undefined) (s.fingerprints ??= new SeqFingerprints()).record(seq, fingerprint);
    if (!(s.maxTime >= maxTime)) s.maxTime = maxTime; // NaN (unknown) takes the first time known
    this.touch(device, s);
    this.stats.accepted++;
    return true;
  }

  /** Adds a seq at or below the highest into the ranges; false if it is already there. */
  private insert(r: number[], seq: number): boolean {
    const from = rangeAtOrAbove(r, seq);
    if (seq >= r[from]!) return false;
    const joinsAbove = seq === r[from]! - 1;
    const joinsBelow = from > 0 && seq === r[from - 1]! + 1;
    if (joinsAbove && joinsBelow) r.splice(from - 1, 2); // fills the gap: two ranges become one
    else if (joinsAbove) r[from] = seq;
    else if (joinsBelow) r[from - 1] = seq;
    else {
      r.splice(from, 0, seq, seq);
      this.bound(r);
    }
    return true;
  }

  /** Closes the smallest gap while the ranges hold more than maxGaps gaps. */
  private bound(r: number[]): void {
    while (r.length / 2 - 1 > this.maxGaps) {
      let best = 1;
      for (let k = 3; k < r.length - 1; k += 2) if (r[k + 1]! - r[k]! < r[best + 1]! - r[best]!) best = k;
      r.splice(best, 2);
      this.stats.gapsClosed++;
    }
  }

  private touch(device: string, s: SeqState): void {
    if (s.changed) return;
    s.changed = true;
    this.changed.push(device);
  }

  /**
   * Decides every message of a batch in order (1 = process); messages the gateway flagged
   * dropped, and status records, are 0 and leave no trace. `maxTimes[m]` (when given, at
   * least a message long) receives message m's latest event time, −Infinity for messages
   * that are not readings: the caller's device clocks need it too.
   */
  acceptBatch(batch: ColumnarBatch, maxTimes?: Float64Array): Uint8Array {
    const n = batch.msgDevice.length;
    const out = new Uint8Array(n);
    const { numEnd, textEnd, time, textTime, msgFlags } = batch;
    for (let m = 0; m < n; m++) {
      const flags = msgFlags[m]!;
      if ((flags & MSG_FLAGS_NOT_READINGS) !== 0) {
        if (maxTimes !== undefined) maxTimes[m] = -Infinity;
        continue;
      }
      const numFrom = m === 0 ? 0 : numEnd[m - 1]!;
      const textFrom = m === 0 ? 0 : textEnd[m - 1]!;
      let max = -Infinity;
      for (let r = numFrom; r < numEnd[m]!; r++) if (time[r]! > max) max = time[r]!;
      for (let r = textFrom; r < textEnd[m]!; r++) if (textTime[r]! > max) max = textTime[r]!;
      if (maxTimes !== undefined) maxTimes[m] = max;
      const seq = batch.msgSeq[m]!;
      // The earliest time only matters for a seq seen before (rare), so it is found only then, in accept().
      const device = batch.strings[batch.msgDevice[m]!]!;
      const stamped = (flags & MSG_FLAG_RECEIVE_TIME) !== 0;
      const min = stamped ? NaN : this.mayRestart(device, seq) ? minTime(batch, numFrom, numEnd[m]!, textFrom, textEnd[m]!) : NaN;
      const fingerprint = seq > 0 ? fingerprintOf(batch, numFrom, numEnd[m]!, textFrom, textEnd[m]!, !stamped) : undefined;
      out[m] = this.accept(device, seq, min, max, fingerprint) ? 1 : 0;
    }
    return out;
  }

  /** True when accept() may weigh the message's times: `seq` is at or below the device's highest, or it restarted before (a cheap pre-check). */
  private mayRestart(device: string, seq: number): boolean {
    const s = this.devices.get(device);
    return s !== undefined && (s.before !== undefined || (seq <= s.ranges[s.ranges.length - 1]! && s.maxTime === s.maxTime));
  }

  /** State for a checkpoint: counters and every device's ranges. */
  snapshot(): Uint8Array {
    const w = new ByteWriter(this.snapshotSizeHint);
    drain(this.writeSnapshot(w));
    return w.finish();
  }

  /** Bytes a full snapshot will take, roughly (to size a buffer). */
  get snapshotSizeHint(): number {
    return 64 + this.devices.size * 240;
  }

  /** Bytes a delta snapshot will take, roughly. */
  get deltaSizeHint(): number {
    return 64 + this.changed.length * 240;
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
    w.u8(this.maxGaps);
    for (const v of [this.stats.accepted, this.stats.duplicates, this.stats.gapsClosed, this.stats.unsequenced, this.stats.restarts]) w.f64(v);
    w.varint(devices);
  }

  /**
   * Restores a full snapshot (with the gap bound it was taken with), then the deltas taken
   * after it, in order. Version 2 snapshots (a 64-seq reorder bitmap) are converted to what
   * they meant: everything more than 64 below the high-water mark counted as seen.
   */
  static restore(bytes: Uint8Array, deltas: readonly Uint8Array[] = []): SeqDeduplicator {
    const r = new ByteReader(bytes, 'dedup snapshot');
    const header = readHeader(r, FULL);
    const d = new SeqDeduplicator(header.maxGaps);
    d.read(r, header.version);
    for (const delta of deltas) {
      const rd = new ByteReader(delta, 'dedup delta');
      const h = readHeader(rd, DELTA);
      if (h.maxGaps !== d.maxGaps) rd.fail(`gap bound ${h.maxGaps} differs from the full snapshot's (${d.maxGaps})`);
      d.read(rd, h.version);
    }
    return d;
  }

  private read(r: ByteReader, version: number): void {
    this.stats.accepted = r.f64();
    this.stats.duplicates = r.f64();
    this.stats.gapsClosed = r.f64();
    this.stats.unsequenced = r.f64();
    if (version >= VERSION_TIMES) this.stats.restarts = r.f64();
    const n = r.varint();
    for (let i = 0; i < n; i++) {
      const device = r.string();
      let ranges: number[];
      if (version === VERSION_BITMAP) this.bound((ranges = readBitmapDevice(r, device)));
      else ranges = readRanges(r, device, this.maxGaps);
      let maxTime = NaN;
      let fingerprints: SeqFingerprints | undefined;
      let before: SeqState['before'] = undefined;
      if (version >= VERSION_TIMES) {
        maxTime = r.f64();
        if (version === VERSION) fingerprints = readFingerprints(r, device);
        if (r.u8() === 1) {
          const beforeRanges = readRanges(r, device, this.maxGaps);
          const beforeMaxTime = r.f64();
          before = { ranges: beforeRanges, maxTime: beforeMaxTime, fingerprints: version === VERSION ? readFingerprints(r, device) : undefined };
        }
      }
      this.devices.set(device, { ranges, maxTime, fingerprints, before, changed: false });
    }
    r.end();
  }
}

/** Devices a snapshot writes between two yields. */
const SNAPSHOT_SLICE = 16_384;

/** A device: its id, its ranges, its latest time, its fingerprints, then 0, or 1 and the ranges, latest time and fingerprints it had before its last restart. */
function writeDevice(w: ByteWriter, device: string, s: SeqState): void {
  w.string(device);
  writeRanges(w, s.ranges);
  w.f64(s.maxTime);
  writeFingerprints(w, s.fingerprints);
  if (s.before === undefined) {
    w.u8(0);
  } else {
    w.u8(1);
    writeRanges(w, s.before.ranges);
    w.f64(s.before.maxTime);
    writeFingerprints(w, s.before.fingerprints);
  }
}

/** 0, or 1 and the fingerprints. */
function writeFingerprints(w: ByteWriter, f: SeqFingerprints | undefined): void {
  w.u8(f === undefined ? 0 : 1);
  f?.write(w);
}

function readFingerprints(r: ByteReader, device: string): SeqFingerprints | undefined {
  return r.u8() === 1 ? SeqFingerprints.read(r, device) : undefined;
}

/** Ranges: their count, the first seq, then each range's length − 1 and the gap before the next, as varints. */
function writeRanges(w: ByteWriter, r: readonly number[]): void {
  w.varint(r.length / 2);
  w.f64(r[0]!);
  for (let k = 0; k < r.length; k += 2) {
    w.varint(r[k + 1]! - r[k]!);
    if (k + 2 < r.length) w.varint(r[k + 2]! - r[k + 1]! - 2);
  }
}

/** The index of the first range whose end is ≥ `seq` (the ranges' length when none is). */
function rangeAtOrAbove(r: readonly number[], seq: number): number {
  let lo = 0;
  let hi = r.length / 2;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (r[2 * mid + 1]! < seq) lo = mid + 1;
    else hi = mid;
  }
  return 2 * lo;
}

/** True when the ranges hold `seq`. */
function holds(r: readonly number[], seq: number): boolean {
  const from = rangeAtOrAbove(r, seq);
  return from < r.length && seq >= r[from]!;
}

/**
 * Whether a restarted device's message is one of its latest, whatever run sent it: their seqs
 * may be in neither the current nor the previous run's ranges (two processes under one id
 * restart each other's runs at every message).
 */
function isKept(s: SeqState, seq: number, fingerprint: number | undefined): boolean {
  return fingerprint !== undefined && s.fingerprints?.match(seq, fingerprint) === FINGERPRINT_SAME;
}

/** Whether a message under a seq the device's run before its restart used is a re-send from that run. */
function isFromBefore(s: SeqState, seq: number, minTime: number, fingerprint: number | undefined): boolean {
  const before = s.before!;
  if (fingerprint !== undefined) {
    const kept = before.fingerprints?.match(seq, fingerprint) ?? FINGERPRINT_UNKNOWN;
    if (kept !== FINGERPRINT_UNKNOWN) return kept === FINGERPRINT_SAME;
    const highest = s.ranges[s.ranges.length - 1]!;
    if (seq > highest && seq - highest <= RUN_REACH) return false;
  }
  // Only a message with its own times can be told to be from before: for one stamped with
  // the receive time (NaN) the current seqs decide, as for a device that never restarted.
  return minTime <= before.maxTime;
}

/**
 * A message's fingerprint: its reading counts and its first FINGERPRINT_READINGS numeric
 * and text readings' times (`withTimes`: not stamped with the receive time, which a re-send
 * changes) and values. String values are left out (batch-local dictionary indices).
 */
function fingerprintOf(batch: ColumnarBatch, numFrom: number, numTo: number, textFrom: number, textTo: number, withTimes: boolean): number {
  let h = mixWord(mixWord(FINGERPRINT_SEED, numTo - numFrom), textTo - textFrom);
  const numEnd = Math.min(numTo, numFrom + FINGERPRINT_READINGS);
  for (let r = numFrom; r < numEnd; r++) {
    if (withTimes) h = mixDouble(h, batch.time[r]!);
    h = mixDouble(h, batch.value[r]!);
  }
  const textEnd = Math.min(textTo, textFrom + FINGERPRINT_READINGS);
  for (let r = textFrom; r < textEnd; r++) {
    if (withTimes) h = mixDouble(h, batch.textTime[r]!);
    const kind = batch.textKind[r]!;
    h = mixWord(h, kind === TEXT_KIND_BOOL ? kind | (batch.textValue[r]! << 8) : kind);
  }
  return h >>> 0;
}

/** The earliest event time of a message's numeric readings [numFrom, numTo) and text readings [textFrom, textTo). */
function minTime(batch: ColumnarBatch, numFrom: number, numTo: number, textFrom: number, textTo: number): number {
  let min = Infinity;
  for (let r = numFrom; r < numTo; r++) if (batch.time[r]! < min) min = batch.time[r]!;
  for (let r = textFrom; r < textTo; r++) if (batch.textTime[r]! < min) min = batch.textTime[r]!;
  return min === Infinity ? NaN : min; // no readings: nothing says it is new
}

function readRanges(r: ByteReader, device: string, maxGaps: number): number[] {
  const count = r.varint();
  if (count < 1 || count > maxGaps + 1) r.fail(`${count} seq ranges for device ${device} (at most ${maxGaps + 1})`);
  const ranges = new Array<number>(2 * count);
  let at = r.f64();
  for (let k = 0; k < 2 * count; k += 2) {
    ranges[k] = at;
    at += r.varint();
    ranges[k + 1] = at;
    if (k + 2 < 2 * count) at += r.varint() + 2;
  }
  if (!(ranges[0]! > 0) || !Number.isSafeInteger(at)) r.fail(`seq range ${ranges[0]}…${at} for device ${device}`);
  return ranges;
}

/** A version 2 device (high-water mark, then bits i = seq high − 1 − i) as ranges with the same decisions. */
function readBitmapDevice(r: ByteReader, device: string): number[] {
  const high = r.f64();
  if (!Number.isSafeInteger(high) || high <= 0) r.fail(`seq ${high} for device ${device}`);
  const words = [r.u32(), r.u32()];
  const ranges: number[] = [];
  const add = (from: number, to: number): void => {
    if (ranges.length > 0 && from === ranges[ranges.length - 1]! + 1) ranges[ranges.length - 1] = to;
    else ranges.push(from, to);
  };
  if (high - 65 >= 1) add(1, high - 65); // below the bitmap: counted as seen (far behind)
  for (let bit = 63; bit >= 0; bit--) {
    const seq = high - 1 - bit;
    if (seq >= 1 && (words[bit >> 5]! >>> (bit & 31)) & 1) add(seq, seq);
  }
  add(high, high);
  return ranges;
}

function drain(slices: Generator<void, void, void>): void {
  while (!slices.next().done);
}

/** Reads a snapshot header of the expected kind. */
function readHeader(r: ByteReader, kind: number): { version: number; maxGaps: number } {
  if (r.u32() !== MAGIC) r.fail('not a dedup snapshot');
  const version = r.u8();
  if (version !== VERSION && version !== VERSION_TIMES && version !== VERSION_RANGES && version !== VERSION_BITMAP) {
    r.fail(`version ${version} (expected ${VERSION}, ${VERSION_TIMES}, ${VERSION_RANGES} or ${VERSION_BITMAP})`);
  }
  if (r.u8() !== kind) r.fail(kind === FULL ? 'a delta where a full snapshot was expected' : 'a full snapshot where a delta was expected');
  const bound = r.u8(); // version 2: its reorder window (the conversion takes the default gap bound)
  return { version, maxGaps: version === VERSION_BITMAP ? DEFAULT_MAX_SEQ_GAPS : bound };
}
