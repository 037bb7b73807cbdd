import { ByteReader, ByteWriter } from '../state/bytes.js';
import type { WindowState } from './window-state.js';
import { addValues, clearSketch, createSketch, mergeSketch, readSketch, writeSketch, type Sketch, type SketchKeyMemo } from './quantile-sketch.js';

/** The fields of one window point (DESIGN.md, InfluxDB schema). */
export interface AggregateResult {
  count: number;
  sum: number;
  min: number;
  max: number;
  mean: number;
  /** Value at the earliest event time; ties go to the earlier arrival. */
  first: number;
  /** Value at the latest event time; ties go to the later arrival. */
  last: number;
  /** Population standard deviation. */
  stddev: number;
  p50: number;
  p90: number;
  p99: number;
}

const FORMAT_VERSION = 2; // 2: a quantile-mode byte (none, raw values, sketch)
/** In place of the version byte: an accumulator of one reading, stored as [time f64][value f64] (sparse windows: a slow sensor). */
const ONE_READING = 3;
/** The operator refuses event times beyond this (the Date range); so does a restore. */
const MAX_EVENT_TIME = 8.64e15;
/** Up to this many values are kept as they are and their quantiles computed exactly; beyond it a DDSketch takes over. */
export const EXACT_QUANTILE_LIMIT = 16;
/** Scratch for exact quantiles: results are read before the next call, so one array serves every accumulator. */
const SORTED = new Float64Array(EXACT_QUANTILE_LIMIT);
/** Scratch for the values a new sketch takes over (toSketch), likewise shared. */
const TO_SKETCH = new Float64Array(EXACT_QUANTILE_LIMIT);
/**
 * Sketches of accumulators cleared or released, emptied (as new), for the next ones that
 * need a sketch. A window's sketch lives from seconds to minutes, long enough to reach V8's
 * old generation: handing it on spares its ~30 objects to the old generation's collector
 * and their making (bench:processors, windows firing: see README).
 */
const spareSketches: Sketch[] = [];
/** At most this many spares (~1 KB each): enough for the windows one watermark step closes in a busy partition. */
const MAX_SPARE_SKETCHES = 4096;
const NO_VALUES = 0;
const RAW_VALUES = 1;
const SKETCH = 2;

/**
 * Aggregates of one (device, metric, window). Finite values only (the gateway refuses
 * NaN and ±Infinity; the operator skips them too).
 * - sum is compensated (Neumaier), so it is as exact as a float sum can be in any order,
 *   and mean = sum / count agrees with the sum InfluxDB shows.
 * - stddev uses Welford's running mean and M2, merged with Chan et al.'s formula, so it
 *   does not cancel catastrophically when values sit far from zero (e.g. 1e9 ± 1).
 * - quantiles: q is the value at 0-based rank floor(q · (n − 1)) of the sorted values
 *   (DDSketch's definition). Up to EXACT_QUANTILE_LIMIT values it is computed exactly
 *   from the values themselves; beyond, from a DDSketch within 1 % relative error (see
 *   quantile-sketch.ts). A DDSketch costs ~0.8 KB of heap and ~30 small objects, which
 *   for the common sparse window (a 1 Hz sensor in a 10 s window) would be most of the
 *   state, its GC work and its snapshot size.
 * Memory (measured): ~500 bytes with ≤ 16 values, ~1.3 KB once it holds a sketch.
 * Values near the float limit can overflow sum (±Infinity) or the variance (stddev
 * Infinity); result() reports those as they are and the point leaves such fields out.
 */
export class WindowAccumulator {
  count = 0;
  private sum = 0;
  private compensation = 0;
  private welfordMean = 0;
  private m2 = 0;
  private min = Infinity;
  private max = -Infinity;
  private firstTime = Infinity;
  private firstValue = NaN;
  private lastTime = -Infinity;
  private lastValue = NaN;
  /** The values while count ≤ EXACT_QUANTILE_LIMIT (undefined when empty or once the sketch exists). */
  private values: number[] | undefined = undefined;
  private sketch: Sketch | undefined = undefined;
  /**
   * A sliding operator's pane that a tumbling window of the same length may share
   * (WindowOperator.lendPane): the batch it was made in, as long as every reading it took
   * was one that tumbling window takes too; −1 otherwise.
   */
  shareableIn = -1;
  /** The tumbling window sharing this pane, which adds nothing itself (WindowState.sharesPane). */
  sharedWith: WindowState | undefined = undefined;

  /** Adds one reading (event time in ms, finite value). */
  add(time: number, value: number): void {
    const n = ++this.count;
    const s = this.sum + value;
    this.compensation += Math.abs(this.sum) >= Math.abs(value) ? this.sum - s + value : value - s + this.sum;
    this.sum = s;
    const delta = value - this.welfordMean;
    this.welfordMean += delta / n;
    this.m2 += delta * (value - this.welfordMean);
    if (value < this.min) this.min = value;
    if (value > this.max) this.max = value;
    if (time < this.firstTime) {
      this.firstTime = time;
      this.firstValue = value;
    }
    if (time >= this.lastTime) {
      this.lastTime = time;
      this.lastValue = value;
    }
    this.addQuantileValue(value);
  }

  /**
   * Adds readings [from, to) of these columns (event times in ms, finite values) in order:
   * the same state, bit for bit, as add() for each, in one loop over the slice (the
   * operator's path for a run of one key's readings in one window). `memo`: the sketch keys
   * of these columns' values, shared with the other windows the readings go to.
   */
  addMany(time: Float64Array, value: Float64Array, from: number, to: number, memo?: SketchKeyMemo): void {
    if (from >= to) return;
    // The fields in locals for the loop, the same operations in the same order as add().
    let n = this.count;
    let sum = this.sum;
    let compensation = this.compensation;
    let mean = this.welfordMean;
    let m2 = this.m2;
    let min = this.min;
    let max = this.max;
    let firstTime = this.firstTime;
    let firstValue = this.firstValue;
    let lastTime = this.lastTime;
    let lastValue = this.lastValue;
    for (let j = from; j < to; j++) {
      const t = time[j]!;
      const v = value[j]!;
      n++;
      const s = sum + v;
      compensation += Math.abs(sum) >= Math.abs(v) ? sum - s + v : v - s + sum;
      sum = s;
      const delta = v - mean;
      mean += delta / n;
      m2 += delta * (v - mean);
      if (v < min) min = v;
      if (v > max) max = v;
      if (t < firstTime) {
        firstTime = t;
        firstValue = v;
      }
      if (t >= lastTime) {
        lastTime = t;
        lastValue = v;
      }
    }
    this.count = n;
    this.sum = sum;
    this.compensation = compensation;
    this.welfordMean = mean;
    this.m2 = m2;
    this.min = min;
    this.max = max;
    this.firstTime = firstTime;
    this.firstValue = firstValue;
    this.lastTime = lastTime;
    this.lastValue = lastValue;
    this.addQuantileValues(value, from, to, memo);
  }

  /** addQuantileValue() for values[from, to): the raw values while they fit, then the sketch in bulk. */
  private addQuantileValues(value: Float64Array, from: number, to: number, memo: SketchKeyMemo | undefined): void {
    let j = from;
    if (this.sketch === undefined) {
      // [v] as add() makes it: an array grown from [] by push reserves 17 slots (sparse windows: 1 M of them).
      const values = (this.values ??= [value[j++]!]);
      while (j < to && values.length < EXACT_QUANTILE_LIMIT) values.push(value[j++]!);
      if (j === to) return;
    }
    addValues(this.toSketch(), value, j, to, memo);
  }

  private addQuantileValue(value: number): void {
    if (this.sketch !== undefined) this.sketch.accept(value);
    else if (this.values === undefined) this.values = [value];
    else if (this.values.length < EXACT_QUANTILE_LIMIT) this.values.push(value);
    else this.toSketch().accept(value);
  }

  private toSketch(): Sketch {
    if (this.sketch === undefined) {
      this.sketch = spareSketches.pop() ?? createSketch();
      const values = this.values ?? [];
      for (let i = 0; i < values.length; i++) TO_SKETCH[i] = values[i]!;
      addValues(this.sketch, TO_SKETCH, 0, values.length); // as accept() of each, in order
      this.values = undefined;
    }
    return this.sketch;
  }

  /** An exact copy, field for field and bin for bin (a merge into an empty one can round m2 to NaN for huge values). */
  copy(): WindowAccumulator {
    const c = new WindowAccumulator();
    c.count = this.count;
    c.sum = this.sum;
    c.compensation = this.compensation;
    c.welfordMean = this.welfordMean;
    c.m2 = this.m2;
    c.min = this.min;
    c.max = this.max;
    c.firstTime = this.firstTime;
    c.firstValue = this.firstValue;
    c.lastTime = this.lastTime;
    c.lastValue = this.lastValue;
    c.values = this.values?.slice();
    const sketch = this.sketch;
    if (sketch !== undefined) {
      const into = (c.sketch = spareSketches.pop() ?? createSketch());
      mergeSketch(into, sketch);
      into.sum = sketch.sum;
      into.min = sketch.min;
      into.max = sketch.max;
    }
    return c;
  }

  /** Folds `other` in (session merges); `other`'s readings count as arriving after this one's for first/last ties. */
  merge(other: WindowAccumulator): void {
    if (other.count === 0) return;
    const na = this.count;
    const nb = other.count;
    const n = na + nb;
    const delta = other.welfordMean - this.welfordMean;
    this.welfordMean += delta * (nb / n);
    this.m2 += other.m2 + delta * delta * ((na * nb) / n);
    this.count = n;
    const s = this.sum + other.sum;
    this.compensation += (Math.abs(this.sum) >= Math.abs(other.sum) ? this.sum - s + other.sum : other.sum - s + this.sum) + other.compensation;
    this.sum = s;
    if (other.min < this.min) this.min = other.min;
    if (other.max > this.max) this.max = other.max;
    if (other.firstTime < this.firstTime) {
      this.firstTime = other.firstTime;
      this.firstValue = other.firstValue;
    }
    if (other.lastTime >= this.lastTime) {
      this.lastTime = other.lastTime;
      this.lastValue = other.lastValue;
    }
    if (other.sketch !== undefined) mergeSketch(this.toSketch(), other.sketch);
    else for (const v of other.values ?? []) this.addQuantileValue(v);
  }

  /**
   * Empties the accumulator, as new, for reuse: a scratch that merges are folded into and
   * whose result is read at once (WindowOperator, sliding windows in panes). Its sketch,
   * emptied, goes to the next accumulator that needs one.
   */
  clear(): void {
    this.count = 0;
    this.sum = 0;
    this.compensation = 0;
    this.welfordMean = 0;
    this.m2 = 0;
    this.min = Infinity;
    this.max = -Infinity;
    this.firstTime = Infinity;
    this.firstValue = NaN;
    this.lastTime = -Infinity;
    this.lastValue = NaN;
    this.values = undefined;
    this.release();
  }

  /**
   * Hands its sketch, emptied, to the next accumulator that needs one: for an accumulator
   * nothing reads again (a purged window's, a dropped pane's), or one being cleared.
   */
  release(): void {
    const sketch = this.sketch;
    if (sketch === undefined) return;
    this.sketch = undefined;
    if (spareSketches.length >= MAX_SPARE_SKETCHES) return;
    clearSketch(sketch);
    spareSketches.push(sketch);
  }

  /** The aggregates so far (all NaN but count when empty). */
  result(): AggregateResult {
    const n = this.count;
    // Past ±1.8e308 the sum is ±Infinity and its compensation NaN: report the overflow, not NaN.
    const sum = Number.isFinite(this.sum) ? this.sum + this.compensation : this.sum;
    const values = this.values;
    if (values !== undefined) {
      // insertion sort of ≤ 16 values: no allocation, no comparator calls
      for (let i = 0; i < values.length; i++) {
        const v = values[i]!;
        let j = i;
        for (; j > 0 && SORTED[j - 1]! > v; j--) SORTED[j] = SORTED[j - 1]!;
        SORTED[j] = v;
      }
    }
    const q = (p: number): number => {
      if (values !== undefined) return SORTED[Math.floor(p * (n - 1))]!;
      return this.sketch === undefined ? NaN : this.sketch.getValueAtQuantile(p);
    };
    return {
      count: n,
      sum,
      min: n === 0 ? NaN : this.min,
      max: n === 0 ? NaN : this.max,
      // Welford's mean stays finite when the sum overflows (two readings of 1.7e308).
      mean: n === 0 ? NaN : Number.isFinite(sum) ? sum / n : this.welfordMean,
      first: this.firstValue,
      last: this.lastValue,
      stddev: n === 0 ? NaN : Math.sqrt(Math.max(0, this.m2 / n)),
      p50: q(0.5),
      p90: q(0.9),
      p99: q(0.99),
    };
  }

  /**
   * Appends this accumulator to a snapshot: a version byte, 11 float64 fields, then the
   * raw values or the sketch's protobuf bytes; or, for one reading, 17 bytes from which
   * add() rebuilds exactly the same state.
   */
  writeTo(w: ByteWriter): void {
    if (this.isOneReading()) {
      w.u8(ONE_READING);
      w.f64(this.firstTime);
      w.f64(this.firstValue);
      return;
    }
    w.u8(FORMAT_VERSION);
    w.f64(this.count);
    w.f64(this.sum);
    w.f64(this.compensation);
    w.f64(this.welfordMean);
    w.f64(this.m2);
    w.f64(this.min);
    w.f64(this.max);
    w.f64(this.firstTime);
    w.f64(this.firstValue);
    w.f64(this.lastTime);
    w.f64(this.lastValue);
    if (this.sketch !== undefined) {
      w.u8(SKETCH);
      writeSketch(w, this.sketch);
    } else if (this.values !== undefined) {
      w.u8(RAW_VALUES);
      w.varint(this.values.length);
      for (const v of this.values) w.f64(v);
    } else {
      w.u8(NO_VALUES);
    }
  }

  /** True when the state is exactly what add(firstTime, firstValue) makes of an empty accumulator (Object.is: −0 counts). */
  private isOneReading(): boolean {
    const v = this.firstValue;
    return (
      this.count === 1 &&
      this.values !== undefined &&
      Object.is(this.values[0], v) &&
      Object.is(this.sum, 0 + v) &&
      Object.is(this.compensation, 0) &&
      Object.is(this.welfordMean, 0 + v) &&
      Object.is(this.m2, 0) &&
      Object.is(this.min, v) &&
      Object.is(this.max, v) &&
      this.lastTime === this.firstTime &&
      Object.is(this.lastValue, v)
    );
  }

  /** Reads what writeTo wrote; throws StateCorruptError on bad bytes. */
  static readFrom(r: ByteReader): WindowAccumulator {
    const version = r.u8();
    if (version === ONE_READING) {
      const acc = new WindowAccumulator();
      const time = r.f64();
      const value = r.f64();
      if (!(Math.abs(time) <= MAX_EVENT_TIME) || !Number.isFinite(value)) r.fail(`reading (${time}, ${value})`);
      acc.add(time, value);
      return acc;
    }
    if (version !== FORMAT_VERSION) r.fail(`accumulator format ${version} (expected ${FORMAT_VERSION})`);
    const count = r.f64();
    const fields = [r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64()] as const;
    const acc = new WindowAccumulator();
    const mode = r.u8();
    let held = 0;
    if (mode === SKETCH) {
      acc.sketch = readSketch(r);
      held = acc.sketch.count;
    } else if (mode === RAW_VALUES) {
      held = r.varint();
      if (held > EXACT_QUANTILE_LIMIT) r.fail(`${held} raw values (at most ${EXACT_QUANTILE_LIMIT})`);
      acc.values = [];
      for (let i = 0; i < held; i++) acc.values.push(r.f64());
    } else if (mode !== NO_VALUES) {
      r.fail(`quantile mode ${mode}`);
    }
    if (!Number.isSafeInteger(count) || count < 0 || count !== held) r.fail(`count ${count} does not match the ${held} values held for quantiles`);
    acc.count = count;
    [acc.sum, acc.compensation, acc.welfordMean, acc.m2, acc.min, acc.max, acc.firstTime, acc.firstValue, acc.lastTime, acc.lastValue] = fields;
    return acc;
  }

  /**
   * Checks and steps over what writeTo wrote without building anything: a restore keeps
   * the bytes until the window is next used (WindowState.acc). Everything but a sketch's
   * bins is checked here; those are checked when it is decoded.
   */
  static skip(r: ByteReader): void {
    const version = r.u8();
    if (version === ONE_READING) {
      const time = r.f64();
      const value = r.f64();
      if (!(Math.abs(time) <= MAX_EVENT_TIME) || !Number.isFinite(value)) r.fail(`reading (${time}, ${value})`);
      return;
    }
    if (version !== FORMAT_VERSION) r.fail(`accumulator format ${version} (expected ${FORMAT_VERSION})`);
    const count = r.f64();
    r.skip(80); // the ten other float64 fields
    const mode = r.u8();
    let held = count;
    if (mode === SKETCH) {
      r.skip(r.varint());
      if (count < 1) held = NaN;
    } else if (mode === RAW_VALUES) {
      held = r.varint();
      if (held > EXACT_QUANTILE_LIMIT) r.fail(`${held} raw values (at most ${EXACT_QUANTILE_LIMIT})`);
      r.skip(8 * held);
    } else if (mode === NO_VALUES) {
      held = 0;
    } else {
      r.fail(`quantile mode ${mode}`);
    }
    if (!Number.isSafeInteger(count) || count < 0 || count !== held) r.fail(`count ${count} does not match the ${held} values held for quantiles`);
  }

  /** Compact binary form for checkpoints; deserialize() restores it exactly. */
  serialize(): Uint8Array {
    const w = new ByteWriter(256);
    this.writeTo(w);
    return w.finish();
  }

  /** Restores a serialized accumulator; throws StateCorruptError on bad bytes. */
  static deserialize(bytes: Uint8Array): WindowAccumulator {
    const r = new ByteReader(bytes, 'window accumulator');
    const acc = WindowAccumulator.readFrom(r);
    r.end();
    return acc;
  }
}
