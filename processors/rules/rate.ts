import type { ByteReader, ByteWriter } from '../state/bytes.js';
import { Cell, Change } from './cell.js';
import { holds, type RateRule } from './rule.js';
import { readFlag } from './threshold.js';

/**
 * Rate of change, per series (device, reading tags): (v(t) − v(t − over)) / over in
 * seconds, where v(t) is the aggregate of the window ending at t. Evaluated at each
 * window whose counterpart `over` earlier exists (a window without readings has no
 * aggregate: no rate then, and nothing changes). Fires at the end of a window where the
 * rate satisfies the condition, resolves at the end of the first later one where it does
 * not (NaN: neither). Older or repeated windows are ignored as in threshold.ts.
 *
 * State: the last overWindows + 1 aggregates in a ring indexed by floor(end / step)
 * (consecutive window ends give consecutive indices even when size is not a multiple of
 * slide), each with its end so a stale slot is never taken for a missing window.
 */
export class RateCell extends Cell {
  lastEnd = -Infinity;
  readonly ends: Float64Array;
  readonly values: Float64Array;

  /** `windows`: the rule's overWindows (a ring of overWindows + 1). */
  constructor(readingTags: string, slot: number, windows: number) {
    super(readingTags, slot);
    this.ends = new Float64Array(windows + 1).fill(NaN);
    this.values = new Float64Array(windows + 1);
  }

  get lastTime(): number {
    return this.lastEnd;
  }
}

function slotOf(end: number, step: number, n: number): number {
  const i = Math.floor(end / step) % n;
  return i < 0 ? i + n : i;
}

/** Takes one window's aggregate `value` ending at `end`. */
export function rateWindow(rule: RateRule, cell: RateCell, end: number, value: number): Change {
  if (!(end > cell.lastEnd)) return Change.Ignored;
  cell.lastEnd = end;
  const n = cell.ends.length;
  const step = rule.window.step;
  const here = slotOf(end, step, n);
  cell.ends[here] = end;
  cell.values[here] = value;
  const before = slotOf(end - rule.overMs, step, n);
  if (cell.ends[before] !== end - rule.overMs) return Change.None;
  const rate = (value - cell.values[before]!) / (rule.overMs / 1000);
  if (Number.isNaN(rate)) return Change.None;
  cell.value = rate;
  if (cell.firing) {
    if (!holds(rule.clear, rate)) return Change.None;
    cell.firing = false;
    return Change.Resolved;
  }
  if (!holds(rule.fire, rate)) return Change.None;
  cell.firing = true;
  return Change.Fired;
}

/** [lastEnd f64][firing u8][value f64][varint k][k × (end f64, value f64)]: the ring's entries still within `over` of lastEnd. */
export function writeRate(w: ByteWriter, cell: RateCell, rule: RateRule): void {
  w.f64(cell.lastEnd);
  w.u8(cell.firing ? 1 : 0);
  w.f64(cell.value);
  const from = cell.lastEnd - rule.overMs;
  let k = 0;
  for (const end of cell.ends) if (end >= from) k++;
  w.varint(k);
  for (let i = 0; i < cell.ends.length; i++) {
    if (!(cell.ends[i]! >= from)) continue;
    w.f64(cell.ends[i]!);
    w.f64(cell.values[i]!);
  }
}

/** Reads what writeRate wrote into a fresh cell. Without `rule` (a rule no longer in force) the ring is skipped. */
export function readRate(r: ByteReader, cell: RateCell, rule: RateRule | undefined): void {
  cell.lastEnd = r.f64();
  cell.firing = readFlag(r);
  cell.value = r.f64();
  const k = r.varint();
  if (rule === undefined) return r.skip(16 * k);
  if (k > cell.ends.length) r.fail(`rate ring of ${k} entries for a rule that keeps ${cell.ends.length}`);
  for (let i = 0; i < k; i++) {
    const end = r.f64();
    const v = r.f64();
    if (!(end <= cell.lastEnd && end >= cell.lastEnd - rule.overMs)) r.fail(`rate entry ending at ${end} outside [${cell.lastEnd - rule.overMs}, ${cell.lastEnd}]`);
    const at = slotOf(end, rule.window.step, cell.ends.length);
    if (!Number.isNaN(cell.ends[at]!)) r.fail(`two rate entries in one slot (${end})`);
    cell.ends[at] = end;
    cell.values[at] = v;
  }
}
