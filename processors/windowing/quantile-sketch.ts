import { LogCollapsingLowestDenseDDSketch } from '@datadog/sketches-js';
import { ByteReader, ByteWriter, varintLength } from '../state/bytes.js';

/**
 * The quantile sketch behind p50/p90/p99: DDSketch from @datadog/sketches-js (2.1.1),
 * relative accuracy 1 %. Three things in that version are worked around here, each
 * with a test in quantile-sketch.test.ts:
 * - `merge()` merges only the positive store: negative values vanish. We merge both
 *   stores bin by bin through the public `add()` (DenseStore.merge also skips growing
 *   its range when the other store's max key is 0, i.e. values near 1.0).
 * - `fromProto()` rebuilds the mapping from gamma, and its multiplier differs in the
 *   last bit, so a value on a bin boundary could land in another bin after a restore.
 *   Every sketch here shares one mapping object, restored ones included.
 * - `toProto()` writes the store's whole backing array (128-bin chunks: ~1 KB for a
 *   single value) and costs ~20 µs. We write the same DDSketch protobuf message
 *   ourselves with only the occupied bins; the library's fromProto() reads it and we
 *   read its toProto() output.
 * Stores collapse their lowest bins beyond 2048 (a dynamic range of ~6e17 at 1 %), so
 * a device sending 1e-300 and 1e300 costs 32 KB at most instead of 70 000 bins.
 */
export type Sketch = LogCollapsingLowestDenseDDSketch;
type Store = Sketch['store'];

/** Relative accuracy of every sketch: a quantile is within 1 % of the exact order statistic. */
export const RELATIVE_ACCURACY = 0.01;
const BIN_LIMIT = 2048;
/** Bins are added 16 at a time rather than 128: a 10-second window of a steady sensor spans ~10–30 bins. */
const CHUNK_SIZE = 16;

const MAPPING = new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: RELATIVE_ACCURACY }).mapping;

/** A new empty sketch with the shared mapping. */
export function createSketch(): Sketch {
  const s = new LogCollapsingLowestDenseDDSketch({ relativeAccuracy: RELATIVE_ACCURACY, binLimit: BIN_LIMIT });
  s.mapping = MAPPING;
  s.store.chunkSize = CHUNK_SIZE;
  s.negativeStore.chunkSize = CHUNK_SIZE;
  return s;
}

/**
 * Empties a sketch for reuse (a scratch sketch): exactly the state of a new one, fields of
 * the stores included (the library re-centres a non-empty array on a far key by growing it
 * past the bin limit, after which it would not collapse as a new store does).
 */
export function clearSketch(s: Sketch): void {
  for (const store of [s.store, s.negativeStore]) {
    store.bins = [];
    store.offset = 0;
    store.count = 0;
    store.minKey = Infinity;
    store.maxKey = -Infinity;
    (store as Store & { isCollapsed: boolean }).isCollapsed = false;
  }
  s.zeroCount = 0;
  s.count = 0;
  s.min = Infinity;
  s.max = -Infinity;
  s.sum = 0;
}

/** Adds `from`'s bins into `into`, as the library's add(key, count) for each occupied bin does. */
function addStore(into: Store, from: Store): void {
  const [lo, hi] = extent(from);
  if (lo > hi) return;
  const foff = from.offset;
  const fbins = from.bins;
  // Its range extended once to the occupied keys, then the counts: the same bins (see addValues), unless bins could collapse.
  if (!reserve(into, foff + lo, foff + hi)) {
    for (let i = lo; i <= hi; i++) {
      const c = fbins[i]!;
      if (c > 0) into.add(foff + i, c);
    }
    return;
  }
  const bins = into.bins;
  const shift = foff - into.offset;
  let n = 0;
  for (let i = lo; i <= hi; i++) {
    const c = fbins[i]!;
    if (c > 0) {
      bins[i + shift]! += c;
      n += c;
    }
  }
  into.count += n;
}

/** Adds every value of `from` into `into` (both stores, zeros and count). */
export function mergeSketch(into: Sketch, from: Sketch): void {
  addStore(into.store, from.store);
  addStore(into.negativeStore, from.negativeStore);
  into.zeroCount += from.zeroCount;
  into.count += from.count;
}

/** Keys of the values addValues() is adding (a value's sign says its store); grown as needed, shared by every sketch. */
let scratchKeys = new Int32Array(256);
/** MAPPING.key(v) is Math.ceil(Math.log2(v) · _multiplier) + _offset (LogarithmicMapping 2.1.1); addValues() inlines it. */
const MULTIPLIER = (MAPPING as unknown as { _multiplier: number })._multiplier;
const KEY_OFFSET = (MAPPING as unknown as { _offset: number })._offset;

/**
 * Adds values[from, to) as accept() would one by one: the same count in the same bin
 * for every key, the same counts, sum, min and max. Keys are computed first, then each
 * store's range is extended once to hold them (the library grows by a chunk and
 * re-centres, copying its bins, for every key outside its range), then the bins are
 * counted. Where the bins sit in the store's array does not matter to anything that
 * reads it (quantiles, merges, snapshots all go by key), and neither does growing in
 * one step rather than key by key, as long as no bins collapse: a store that has
 * collapsed, or would, takes the library's add() key by key.
 */
export function addValues(s: Sketch, values: Float64Array, from: number, to: number, memo?: SketchKeyMemo): void {
  const keys = memo?.keys;
  const rest = countInRange(s, values, from, to, keys);
  if (rest < to) addGrowing(s, values, rest, to, keys);
}

/** In a SketchKeyMemo: a key not computed yet (no real key comes near it: they lie within ±40 000). */
const UNSET = -0x80000000;

/**
 * The sketch keys of one batch's value column, each computed on first use and then shared
 * by every sketch that takes the same value: with a tumbling and a sliding window each
 * reading goes into two sketches, and the key (a log2) was the processors' largest single
 * cost. A key depends on the value alone, so the bins are the same either way.
 */
export class SketchKeyMemo {
  keys = new Int32Array(0);

  /** Forgets every key: the next batch's values [0, n) are about to be added. */
  reset(n: number): void {
    if (this.keys.length < n) this.keys = new Int32Array(Math.max(n, this.keys.length * 2));
    this.keys.fill(UNSET, 0, n);
  }
}

/** MAPPING.key(|v|), from the memo when an earlier sketch computed it for value i. */
function keyOf(abs: number, i: number, memo: Int32Array | undefined): number {
  if (memo === undefined) return Math.ceil(Math.log2(abs) * MULTIPLIER) + KEY_OFFSET;
  let key = memo[i]!;
  if (key === UNSET) memo[i] = key = Math.ceil(Math.log2(abs) * MULTIPLIER) + KEY_OFFSET;
  return key;
}

/**
 * The common case in one pass: counts values while each one's key is inside its store's
 * range (for such a key the library's add() is just this increment); returns the index
 * of the first value that is not, from which addGrowing() takes over.
 */
function countInRange(s: Sketch, values: Float64Array, from: number, to: number, memo: Int32Array | undefined): number {
  const minPossible = MAPPING.minPossible;
  const pos = s.store;
  const neg = s.negativeStore;
  const pbins = pos.bins;
  const nbins = neg.bins;
  const poff = pos.offset;
  const noff = neg.offset;
  const pmin = pos.minKey;
  const pmax = pos.maxKey;
  const nmin = neg.minKey;
  const nmax = neg.maxKey;
  let pcount = 0;
  let ncount = 0;
  let zeros = 0;
  let sum = s.sum;
  let min = s.min;
  let max = s.max;
  let i = from;
  for (; i < to; i++) {
    const v = values[i]!;
    if (v > minPossible) {
      const key = keyOf(v, i, memo);
      if (key < pmin || key > pmax) break;
      pbins[key - poff]! += 1;
      pcount++;
    } else if (v < -minPossible) {
      const key = keyOf(-v, i, memo);
      if (key < nmin || key > nmax) break;
      nbins[key - noff]! += 1;
      ncount++;
    } else {
      zeros++;
    }
    sum += v; // accept(): sum += value * weight, weight 1
    if (v < min) min = v;
    if (v > max) max = v;
  }
  pos.count += pcount;
  neg.count += ncount;
  s.zeroCount += zeros;
  s.count += i - from;
  s.sum = sum;
  s.min = min;
  s.max = max;
  return i;
}

/** addValues() from the first value whose key is outside its store's range: keys first, one extension per store, then the counts. */
function addGrowing(s: Sketch, values: Float64Array, from: number, to: number, memo: Int32Array | undefined): void {
  const n = to - from;
  if (scratchKeys.length < n) scratchKeys = new Int32Array(Math.max(n, scratchKeys.length * 2));
  const k = scratchKeys;
  const minPossible = MAPPING.minPossible;
  let plo = Infinity;
  let phi = -Infinity;
  let nlo = Infinity;
  let nhi = -Infinity;
  let zeros = 0;
  let sum = s.sum;
  let min = s.min;
  let max = s.max;
  for (let i = 0; i < n; i++) {
    const v = values[from + i]!;
    if (v > minPossible) {
      const key = keyOf(v, from + i, memo);
      k[i] = key;
      if (key < plo) plo = key;
      if (key > phi) phi = key;
    } else if (v < -minPossible) {
      const key = keyOf(-v, from + i, memo);
      k[i] = key;
      if (key < nlo) nlo = key;
      if (key > nhi) nhi = key;
    } else {
      zeros++;
    }
    sum += v; // accept(): sum += value * weight, weight 1
    if (v < min) min = v;
    if (v > max) max = v;
  }
  const pos = s.store;
  const neg = s.negativeStore;
  const positive = plo > phi || reserve(pos, plo, phi);
  const negative = nlo > nhi || reserve(neg, nlo, nhi);
  const pbins = pos.bins;
  const nbins = neg.bins;
  const poff = pos.offset;
  const noff = neg.offset;
  let pcount = 0;
  let ncount = 0;
  for (let i = 0; i < n; i++) {
    const v = values[from + i]!;
    if (v > minPossible) {
      if (positive) {
        pbins[k[i]! - poff]! += 1;
        pcount++;
      } else {
        pos.add(k[i]!, 1);
      }
    } else if (v < -minPossible) {
      if (negative) {
        nbins[k[i]! - noff]! += 1;
        ncount++;
      } else {
        neg.add(k[i]!, 1);
      }
    }
  }
  pos.count += pcount;
  neg.count += ncount;
  s.zeroCount += zeros;
  s.count += n;
  s.sum = sum;
  s.min = min;
  s.max = max;
}

/**
 * Makes a store's range [minKey, maxKey] cover keys [lo, hi] when that cannot collapse
 * bins, so that bins[key − offset] is each key's bin; false when it could (the caller
 * then adds key by key through the library, which collapses as it always did). A store
 * whose array is too small gets a new one with room for half its range again, so a wide
 * window (values over many orders of magnitude) is copied a few times, not once a chunk.
 * minKey and maxKey stay exactly the keys' range: the library's collapsing decides by them.
 */
function reserve(store: Store, lo: number, hi: number): boolean {
  // A LogCollapsingLowestDenseDDSketch's stores are CollapsingLowestDenseStores; the typings of `store` say DenseStore.
  if ((store as Store & { isCollapsed: boolean }).isCollapsed) return false;
  const minKey = store.minKey;
  const maxKey = store.maxKey;
  if (lo >= minKey && hi <= maxKey) return true;
  const newLo = lo < minKey ? lo : minKey;
  const newHi = hi > maxKey ? hi : maxKey;
  const width = newHi - newLo + 1;
  if (width > BIN_LIMIT) return false;
  const old = store.bins;
  if (newLo < store.offset || newHi >= store.offset + old.length) {
    // At most BIN_LIMIT bins, as the library's stores: past that it collapses, at the same length either way.
    const length = Math.min(BIN_LIMIT, CHUNK_SIZE * Math.ceil((width + (width >> 2)) / CHUNK_SIZE));
    const offset = newLo - ((length - width) >> 1);
    const bins = new Array<number>(length).fill(0);
    if (minKey <= maxKey) for (let key = minKey; key <= maxKey; key++) bins[key - offset] = old[key - store.offset]!;
    store.bins = bins;
    store.offset = offset;
  }
  store.minKey = newLo;
  store.maxKey = newHi;
  return true;
}

/** Index range [lo, hi] of a store's non-empty bins; lo > hi when empty. */
function extent(store: Store): [number, number] {
  const bins = store.bins;
  let lo = 0;
  let hi = bins.length - 1;
  while (lo <= hi && !(bins[lo]! > 0)) lo++;
  while (hi >= lo && !(bins[hi]! > 0)) hi--;
  return [lo, hi];
}

const zigzag = (v: number): number => ((v << 1) ^ (v >> 31)) >>> 0;

/** Byte length of a Store message holding bins [lo, hi]. */
function storeBodyLength(store: Store, lo: number, hi: number): number {
  const n = hi - lo + 1;
  const key = store.offset + lo;
  return 1 + varintLength(8 * n) + 8 * n + (key === 0 ? 0 : 1 + varintLength(zigzag(key)));
}

function writeStore(w: ByteWriter, fieldTag: number, store: Store, lo: number, hi: number): void {
  if (lo > hi) return; // an empty store is an absent field
  w.u8(fieldTag);
  w.varint(storeBodyLength(store, lo, hi));
  w.u8(0x12); // contiguousBinCounts = 2, packed doubles
  w.varint(8 * (hi - lo + 1));
  for (let i = lo; i <= hi; i++) w.f64(store.bins[i]!);
  const key = store.offset + lo;
  if (key !== 0) {
    w.u8(0x18); // contiguousBinIndexOffset = 3, sint32
    w.sint32(key);
  }
}

/** Writes the sketch as a varint length followed by a DDSketch protobuf message (DDSketch.proto of sketches-js). */
export function writeSketch(w: ByteWriter, s: Sketch): void {
  const [plo, phi] = extent(s.store);
  const [nlo, nhi] = extent(s.negativeStore);
  const field = (len: number): number => (len === 0 ? 0 : 1 + varintLength(len) + len);
  const pos = plo > phi ? 0 : storeBodyLength(s.store, plo, phi);
  const neg = nlo > nhi ? 0 : storeBodyLength(s.negativeStore, nlo, nhi);
  w.varint(11 + field(pos) + field(neg) + (s.zeroCount === 0 ? 0 : 9));
  w.u8(0x0a); // mapping = 1: IndexMapping { gamma = 1 } (indexOffset 0 and interpolation NONE are proto3 defaults)
  w.u8(9);
  w.u8(0x09);
  w.f64(MAPPING.gamma);
  writeStore(w, 0x12, s.store, plo, phi);
  writeStore(w, 0x1a, s.negativeStore, nlo, nhi);
  if (s.zeroCount !== 0) {
    w.u8(0x21); // zeroCount = 4, double
    w.f64(s.zeroCount);
  }
}

/** The sketch as standalone DDSketch protobuf bytes (readable by the library's DDSketch.fromProto). */
export function sketchToProto(s: Sketch): Uint8Array {
  const w = new ByteWriter(64);
  writeSketch(w, s);
  const r = new ByteReader(w.finish());
  return r.bytesView(r.varint());
}

function skipField(r: ByteReader, wire: number): void {
  if (wire === 0) r.varint();
  else if (wire === 1) r.bytesView(8);
  else if (wire === 2) r.bytesView(r.varint());
  else if (wire === 5) r.bytesView(4);
  else r.fail(`unknown protobuf wire type ${wire}`);
}

function count(r: ByteReader, c: number): number {
  if (!(c >= 0 && c < Infinity)) r.fail(`bin count ${c} is not a finite count`);
  return c;
}

function readStore(r: ByteReader, store: Store): void {
  const contiguous: number[] = [];
  let offset = 0;
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      // binCounts: map<sint32, double> entry
      const e = new ByteReader(r.bytesView(r.varint()), 'quantile sketch bin');
      let key = 0;
      let c = 0;
      while (!e.done) {
        const t = e.varint();
        if (t === 0x08) key = e.sint32();
        else if (t === 0x11) c = count(e, e.f64());
        else skipField(e, t & 7);
      }
      if (c > 0) store.add(key, c);
    } else if (field === 2 && wire === 2) {
      const n = r.varint();
      if (n % 8 !== 0) r.fail(`packed doubles of ${n} bytes`);
      for (let i = 0; i < n / 8; i++) contiguous.push(count(r, r.f64()));
    } else if (field === 2 && wire === 1) {
      contiguous.push(count(r, r.f64()));
    } else if (field === 3 && wire === 0) {
      offset = r.sint32();
    } else {
      skipField(r, wire);
    }
  }
  for (let i = 0; i < contiguous.length; i++) if (contiguous[i]! > 0) store.add(offset + i, contiguous[i]);
}

/** Reads a DDSketch protobuf message (ours or the library's toProto()); throws StateCorruptError if it is not one we can use. */
export function sketchFromProto(bytes: Uint8Array): Sketch {
  const r = new ByteReader(bytes, 'quantile sketch');
  const s = createSketch();
  let gamma = NaN;
  while (!r.done) {
    const tag = r.varint();
    const field = Math.floor(tag / 8);
    const wire = tag & 7;
    if (field === 1 && wire === 2) {
      const m = new ByteReader(r.bytesView(r.varint()), 'quantile sketch mapping');
      while (!m.done) {
        const t = m.varint();
        if (t === 0x09) {
          gamma = m.f64();
        } else if (t === 0x11) {
          if (m.f64() !== 0) m.fail('index offset other than 0');
        } else if (t === 0x18) {
          if (m.varint() !== 0) m.fail('interpolated mapping (only the logarithmic one is used)');
        } else {
          skipField(m, t & 7);
        }
      }
    } else if ((field === 2 || field === 3) && wire === 2) {
      readStore(new ByteReader(r.bytesView(r.varint()), 'quantile sketch store'), field === 2 ? s.store : s.negativeStore);
    } else if (field === 4 && wire === 1) {
      s.zeroCount = count(r, r.f64());
    } else {
      skipField(r, wire);
    }
  }
  if (!(Math.abs(gamma - MAPPING.gamma) < 1e-12)) r.fail(`gamma ${gamma} is not that of ${RELATIVE_ACCURACY * 100} % accuracy (${MAPPING.gamma})`);
  s.count = s.store.count + s.negativeStore.count + s.zeroCount;
  return s;
}

/** Reads what writeSketch wrote. */
export function readSketch(r: ByteReader): Sketch {
  return sketchFromProto(r.bytesView(r.varint()));
}
