import { ByteReader, ByteWriter } from '../state/bytes.js';
import { createSketch, mergeSketch, readSketch, writeSketch, type Sketch } from './quantile-sketch.js';

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

const FORMAT_VERSION = 1;

/**
 * Aggregates of one (device, metric, window). Finite values only (the gateway refuses
 * NaN and ±Infinity; the operator skips them too).
 * - sum is compensated (Neumaier), so it is as exact as a float sum can be in any order,
 *   and mean = sum / count agrees with the sum InfluxDB shows.
 * - stddev uses Welford's running mean and M2, merged with Chan et al.'s formula, so it
 *   does not cancel catastrophically when values sit far from zero (e.g. 1e9 ± 1).
 * - quantiles come from a DDSketch (see quantile-sketch.ts for its definition and error).
 * Memory: ~150 bytes of fields plus the sketch (~0.5–1 KB for a typical window).
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
  private sketch: Sketch;

  constructor(sketch: Sketch = createSketch()) {
    this.sketch = sketch;
  }

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
    this.sketch.accept(value);
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
    mergeSketch(this.sketch, other.sketch);
  }

  /** The aggregates so far (all NaN but count when empty). */
  result(): AggregateResult {
    const n = this.count;
    const sum = this.sum + this.compensation;
    const q = (p: number): number => (n === 0 ? NaN : this.sketch.getValueAtQuantile(p));
    return {
      count: n,
      sum,
      min: n === 0 ? NaN : this.min,
      max: n === 0 ? NaN : this.max,
      mean: n === 0 ? NaN : sum / n,
      first: this.firstValue,
      last: this.lastValue,
      stddev: n === 0 ? NaN : Math.sqrt(Math.max(0, this.m2 / n)),
      p50: q(0.5),
      p90: q(0.9),
      p99: q(0.99),
    };
  }

  /** Appends this accumulator to a snapshot: a version byte, 11 float64 fields, then the sketch's protobuf bytes. */
  writeTo(w: ByteWriter): void {
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
    writeSketch(w, this.sketch);
  }

  /** Reads what writeTo wrote; throws StateCorruptError on bad bytes. */
  static readFrom(r: ByteReader): WindowAccumulator {
    const version = r.u8();
    if (version !== FORMAT_VERSION) r.fail(`accumulator format ${version} (expected ${FORMAT_VERSION})`);
    const count = r.f64();
    const fields = [r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64(), r.f64()] as const;
    const acc = new WindowAccumulator(readSketch(r));
    if (!Number.isSafeInteger(count) || count < 0 || count !== acc.sketch.count) r.fail(`count ${count} does not match the sketch's ${acc.sketch.count}`);
    acc.count = count;
    [acc.sum, acc.compensation, acc.welfordMean, acc.m2, acc.min, acc.max, acc.firstTime, acc.firstValue, acc.lastTime, acc.lastValue] = fields;
    return acc;
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
