import type { ByteReader, ByteWriter } from '../state/bytes.js';
import { Cell, Change } from './cell.js';
import { holds, type SequenceRule } from './rule.js';
import { readFlag } from './threshold.js';

/**
 * Sequence, per device: `first` holds on a window of its metric, then `then` holds on a
 * window of its metric that ends strictly after it and at most `within` later
 * (0 < end(B) − end(A) ≤ within; strictly, so a window is never its own predecessor and
 * the order the two metrics' windows of one end arrive in does not matter).
 * - The A a B pairs with is the newest window of first's metric on which `first` held and
 *   that ends before B's window. Windows of one device close in end order, but two
 *   series' windows of the same end come in either order, so the cell keeps the newest A
 *   and the one before it: enough for A and B windows of one end in any order. Firing uses
 *   up that A and those before it, so the next episode needs a new A.
 * - Fires at the end of B's window; resolves at the end of the first later window of
 *   then's metric on which `then` no longer holds (NaN: neither).
 * - Each side takes its windows in the order their end grows; an older or repeated window
 *   of a side is ignored (threshold.ts).
 */
export class SequenceCell extends Cell {
  /** End of the newest window on which `first` held and that no firing used yet (−Infinity: none). */
  pendingFirst = -Infinity;
  /** The same for the one before pendingFirst (−Infinity: none). */
  previousFirst = -Infinity;
  lastFirstEnd = -Infinity;
  lastThenEnd = -Infinity;

  get lastTime(): number {
    return Math.max(this.lastFirstEnd, this.lastThenEnd);
  }
}

/** A window of first's metric. */
export function sequenceFirst(rule: SequenceRule, cell: SequenceCell, end: number, value: number): Change {
  if (!(end > cell.lastFirstEnd)) return Change.Ignored;
  cell.lastFirstEnd = end;
  if (holds(rule.first, value)) {
    cell.previousFirst = cell.pendingFirst;
    cell.pendingFirst = end;
  }
  return Change.None;
}

/** A window of then's metric. */
export function sequenceThen(rule: SequenceRule, cell: SequenceCell, end: number, value: number): Change {
  if (!(end > cell.lastThenEnd)) return Change.Ignored;
  cell.lastThenEnd = end;
  cell.value = value;
  if (cell.firing) {
    if (!holds(rule.clear, value)) return Change.None;
    cell.firing = false;
    return Change.Resolved;
  }
  if (!holds(rule.then, value)) return Change.None;
  const newest = cell.pendingFirst < end;
  const first = newest ? cell.pendingFirst : cell.previousFirst;
  if (!(first < end && end - first <= rule.withinMs)) return Change.None;
  cell.previousFirst = -Infinity;
  if (newest) cell.pendingFirst = -Infinity;
  cell.firing = true;
  return Change.Fired;
}

/** [pendingFirst f64][previousFirst f64][lastFirstEnd f64][lastThenEnd f64][firing u8][value f64] */
export function writeSequence(w: ByteWriter, cell: SequenceCell): void {
  w.f64(cell.pendingFirst);
  w.f64(cell.previousFirst);
  w.f64(cell.lastFirstEnd);
  w.f64(cell.lastThenEnd);
  w.u8(cell.firing ? 1 : 0);
  w.f64(cell.value);
}

export function readSequence(r: ByteReader, cell: SequenceCell): void {
  cell.pendingFirst = r.f64();
  cell.previousFirst = r.f64();
  cell.lastFirstEnd = r.f64();
  cell.lastThenEnd = r.f64();
  cell.firing = readFlag(r);
  cell.value = r.f64();
  if (cell.pendingFirst > cell.lastFirstEnd || cell.previousFirst >= Math.max(cell.pendingFirst, -Number.MAX_VALUE)) {
    r.fail(`sequence firsts at ${cell.previousFirst} and ${cell.pendingFirst}, last window ${cell.lastFirstEnd}`);
  }
}
