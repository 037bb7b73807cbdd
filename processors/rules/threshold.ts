import type { ByteReader, ByteWriter } from '../state/bytes.js';
import { Cell, Change } from './cell.js';
import { holds, type ThresholdRule } from './rule.js';

/**
 * Threshold with duration and hysteresis, per series (device, reading tags), on one
 * window's aggregate of one metric.
 * - Fires at the end of the window that makes `fire` hold on `forWindows` consecutive
 *   windows. Consecutive means adjacent: each window ends one step (size for tumbling,
 *   slide for sliding) after the one before; a window with no readings does not fire, so
 *   it breaks the run (the condition was not seen to hold then). Session windows have no
 *   step: every next session continues the run.
 * - Once firing, resolves at the end of the first window on which `clear` holds (default:
 *   the negation of `fire`). Gaps do not resolve it.
 * - NaN (an aggregate InfluxDB would not store) satisfies neither condition: it breaks a
 *   run and does not resolve.
 * - Windows are taken in the order their end grows; a window ending at or before the last
 *   one taken (a re-fire with corrected aggregates, or an older window fired late) is
 *   ignored: alerts follow the first result of each window, so a transition once sent is
 *   never contradicted for the same window.
 */
export class ThresholdCell extends Cell {
  lastEnd = -Infinity;
  /** Consecutive windows on which `fire` held, while not firing. */
  streak = 0;

  get lastTime(): number {
    return this.lastEnd;
  }
}

/** Takes one window's aggregate `value` ending at `end`. */
export function thresholdWindow(rule: ThresholdRule, cell: ThresholdCell, end: number, value: number): Change {
  if (!(end > cell.lastEnd)) return Change.Ignored;
  const step = rule.window.step;
  const adjacent = step === 0 || end === cell.lastEnd + step;
  cell.lastEnd = end;
  cell.value = value;
  if (cell.firing) {
    if (!holds(rule.clear, value)) return Change.None;
    cell.firing = false;
    return Change.Resolved;
  }
  if (!holds(rule.fire, value)) {
    cell.streak = 0;
    return Change.None;
  }
  cell.streak = adjacent ? cell.streak + 1 : 1;
  if (cell.streak < rule.forWindows) return Change.None;
  cell.streak = 0;
  cell.firing = true;
  return Change.Fired;
}

/** [lastEnd f64][streak varint][firing u8][value f64] */
export function writeThreshold(w: ByteWriter, cell: ThresholdCell): void {
  w.f64(cell.lastEnd);
  w.varint(cell.streak);
  w.u8(cell.firing ? 1 : 0);
  w.f64(cell.value);
}

/** Reads what writeThreshold wrote; `rule` (when the cell is kept) bounds the streak. */
export function readThreshold(r: ByteReader, cell: ThresholdCell, rule: ThresholdRule | undefined): void {
  cell.lastEnd = r.f64();
  cell.streak = r.varint();
  cell.firing = readFlag(r);
  cell.value = r.f64();
  if (rule !== undefined && cell.streak >= rule.forWindows) r.fail(`threshold streak ${cell.streak} for a rule that fires at ${rule.forWindows}`);
  if (cell.firing && cell.streak !== 0) r.fail('a firing threshold with a streak');
}

/** A boolean byte: 0 or 1, anything else is corrupt. */
export function readFlag(r: ByteReader): boolean {
  const b = r.u8();
  if (b > 1) r.fail(`flag byte ${b}`);
  return b === 1;
}
