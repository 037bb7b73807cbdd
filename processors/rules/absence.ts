import type { ByteReader, ByteWriter } from '../state/bytes.js';
import { Cell, Change } from './cell.js';
import type { AbsenceRule } from './rule.js';
import { readFlag } from './threshold.js';

/**
 * Absence, per device: no reading (of the rule's metric, or of any) for `for` of event
 * time.
 * - `lastSeen` is the newest event time of the device's matching readings (the task
 *   reports each run of readings once, with its newest time).
 * - The evaluator's advance(now) fires it when now − lastSeen ≥ for; the transition is
 *   dated lastSeen + for, whatever `now` was when it was noticed, so the date does not
 *   depend on when the caller looked. Which `now`s the caller passes decides only
 *   whether a silence is noticed before the device speaks again.
 * - It resolves at the next matching reading, dated with that run's newest event time,
 *   or with the firing time if the reading is older (a backlog from inside the silence):
 *   a resolve never predates its firing. Its value is the seconds of silence.
 * - A device starts being watched at its first matching reading: a device never heard
 *   from (or not since the rule was added) cannot be absent.
 */
export class AbsenceCell extends Cell {
  lastSeen = -Infinity;
  /** When the firing alert is dated (lastSeen + for at the time). */
  firedAt = NaN;
  /** Time of this cell's live timer entry in the evaluator's queue (NaN: none); not state, rebuilt on restore. */
  armedAt = NaN;
  /** Date of the last resolve (read by the evaluator right after absenceReading). */
  resolvedAt = NaN;

  get lastTime(): number {
    return this.firing ? this.firedAt : this.lastSeen;
  }
}

/** A run of matching readings whose newest event time is `time`. */
export function absenceReading(cell: AbsenceCell, time: number): Change {
  if (cell.firing) {
    const at = Math.max(time, cell.firedAt);
    cell.value = (at - cell.lastSeen) / 1000;
    if (time > cell.lastSeen) cell.lastSeen = time;
    cell.firing = false;
    cell.resolvedAt = at;
    return Change.Resolved;
  }
  if (!(time > cell.lastSeen)) return Change.Ignored;
  cell.lastSeen = time;
  return Change.None;
}

/** The event time at which the cell fires if nothing is seen before (NaN when it is firing or has seen nothing). */
export function absenceDeadline(rule: AbsenceRule, cell: AbsenceCell): number {
  return cell.firing || cell.lastSeen === -Infinity ? NaN : cell.lastSeen + rule.forMs;
}

/** Fires the cell (its deadline has passed): dated at the deadline. */
export function absenceFire(rule: AbsenceRule, cell: AbsenceCell): void {
  cell.firing = true;
  cell.firedAt = cell.lastSeen + rule.forMs;
  cell.value = rule.forMs / 1000;
}

/** [lastSeen f64][firing u8][firedAt f64][value f64] */
export function writeAbsence(w: ByteWriter, cell: AbsenceCell): void {
  w.f64(cell.lastSeen);
  w.u8(cell.firing ? 1 : 0);
  w.f64(cell.firedAt);
  w.f64(cell.value);
}

export function readAbsence(r: ByteReader, cell: AbsenceCell): void {
  cell.lastSeen = r.f64();
  cell.firing = readFlag(r);
  cell.firedAt = r.f64();
  cell.value = r.f64();
  if (cell.firing && !(cell.firedAt > cell.lastSeen)) r.fail(`absence fired at ${cell.firedAt}, not after its last reading at ${cell.lastSeen}`);
}
