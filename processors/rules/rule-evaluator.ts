import type { ByteReader, ByteWriter } from '../state/bytes.js';
import type { FiredWindow } from '../windowing/fired-window.js';
import { TimerQueue } from '../windowing/timer-queue.js';
import { absenceDeadline, absenceFire, absenceReading, AbsenceCell } from './absence.js';
import { Change, type Cell } from './cell.js';
import { DeviceRules } from './device-rules.js';
import { readEvaluatorState, writeEvaluatorState, type DroppedAlert } from './evaluator-snapshot.js';
import { RateCell, rateWindow } from './rate.js';
import { thresholdOf, type AbsenceRule, type AlertTransition, type Rule } from './rule.js';
import { Role, RuleSet } from './rule-set.js';
import { SequenceCell, sequenceFirst, sequenceThen } from './sequence.js';
import { ThresholdCell, thresholdWindow } from './threshold.js';
import { makeTransition } from './transition.js';

/** Counters since the evaluator was created (carried through snapshots). */
export interface RuleEvaluatorStats {
  /** (window, rule) pairs evaluated. */
  windows: number;
  /** (window, rule) pairs ignored: a re-fired window or one older than the last taken for its series. */
  ignored: number;
  fired: number;
  resolved: number;
}

/** Where transitions go, in the order they happen. */
export type TransitionSink = (transition: AlertTransition) => void;

/**
 * The rules of one partition task, evaluated in event time, keyed by device (Flink CEP's
 * keyed NFA state, with the rule kinds of threshold.ts, rate.ts, absence.ts and
 * sequence.ts). Everything it decides follows from its inputs and their order, so a
 * task that restores it from a checkpoint and replays the log sends the same transitions
 * with the same ids.
 *
 * The caller's contract (the partition task):
 * - onWindow() for each window the window operators emit, in the order they emit them
 *   (re-fires included: they are ignored, see threshold.ts);
 * - onReadings() once per run of readings of one (device, reading tags, metric), with the
 *   run's newest event time — never once per reading;
 * - advance(now) with a time it chooses (the partition's event time, or an idle clock) to
 *   let absence rules notice silences; for exactly-once the `now`s must be the same on
 *   replay (derived from the log), since they decide whether a silence is noticed before
 *   the device's next reading arrives.
 * Transitions go to the sink given to the constructor, synchronously, from those three
 * calls. replaceRules() and takeDroppedAlerts() (after a restore) return theirs instead
 * (rare, and the caller decides when they are sent).
 *
 * Per-series kinds (threshold, rate) keep a cell per (rule, device, reading tags); the
 * per-device kinds (absence, sequence) one per (rule, device). A device's entry keeps its
 * cells until their rule is removed or changed, also when the device stops matching the
 * rule (its registry tags changed): an alert firing then stays firing until the rule
 * changes (a known limit). Size: ~100 bytes a threshold, absence or
 * sequence cell, plus 16 bytes per window of `over` for rate.
 *
 * Snapshots (evaluator-snapshot.ts): snapshot() writes every device with cells;
 * snapshotDelta() the devices changed since the previous snapshot of either kind, and the
 * ones that lost their last cell; restore() applies either (a full one replaces the
 * state, a delta updates it), in order.
 */
export class RuleEvaluator {
  readonly stats: RuleEvaluatorStats = { windows: 0, ignored: 0, fired: 0, resolved: 0 };
  private set: RuleSet;
  private readonly devices = new Map<string, DeviceRules>();
  private changed: DeviceRules[] = [];
  /** Absence cells by deadline (lazy: an entry whose cell moved on is re-pushed or dropped when popped). */
  private readonly timers = new TimerQueue<AbsenceCell>();
  /** advance()'s scratch list. */
  private readonly due: AbsenceCell[] = [];
  /** After a restore: devices whose restored state lost cells to a rule change, with the firing alerts among them. */
  private readonly dropped = new Map<string, DroppedAlert[]>();

  constructor(
    rules: readonly Rule[],
    private readonly sink: TransitionSink,
  ) {
    this.set = new RuleSet(rules);
  }

  /** The rules in force. */
  get rules(): readonly Rule[] {
    return this.set.rules;
  }

  /** Some rule watches readings (an absence rule): only then need the caller call onReadings(). */
  get watchesReadings(): boolean {
    return this.set.hasAbsence;
  }

  /** Devices with rule state, and alerts firing now. */
  get stateSize(): { devices: number; cells: number; firing: number } {
    let devices = 0;
    let cells = 0;
    let firing = 0;
    for (const d of this.devices.values()) {
      if (d.cellCount === 0) continue;
      devices++;
      cells += d.cellCount;
      for (const head of d.cells) for (let c = head; c !== undefined; c = c.next) if (c.firing) firing++;
    }
    return { devices, cells, firing };
  }

  /** A window closed (or re-fired): the rules that read its window and metric take it. */
  onWindow(w: FiredWindow): void {
    const routes = this.set.routesOf(w.window, w.metric);
    if (routes === undefined) return;
    let d: DeviceRules | undefined;
    for (const route of routes) {
      const slot = route.slot;
      d ??= this.device(w.device, w.deviceTags);
      if (!d.selects(this.set, slot) || !this.set.matchers[slot]!.matchesReading(w.readingTags)) continue;
      const rule = this.set.rules[slot]!;
      const value = w.result[route.aggregate];
      let cell: Cell | undefined;
      let change: Change;
      switch (rule.kind) {
        case 'threshold':
          cell = d.cell(slot, w.readingTags) ?? d.add(new ThresholdCell(w.readingTags, slot));
          change = thresholdWindow(rule, cell as ThresholdCell, w.end, value);
          break;
        case 'rate':
          cell = d.cell(slot, w.readingTags) ?? d.add(new RateCell(w.readingTags, slot, rule.overWindows));
          change = rateWindow(rule, cell as RateCell, w.end, value);
          break;
        case 'sequence':
          cell = d.cell(slot, '') ?? d.add(new SequenceCell('', slot));
          change = route.role === Role.First ? sequenceFirst(rule, cell as SequenceCell, w.end, value) : sequenceThen(rule, cell as SequenceCell, w.end, value);
          break;
        default:
          continue; // absence rules have no routes
      }
      if (change === Change.Ignored) {
        this.stats.ignored++;
        continue;
      }
      this.stats.windows++;
      this.touch(d);
      if (change !== Change.None) this.send(d, cell, change === Change.Fired ? 'firing' : 'resolved', w.end);
    }
  }

  /**
   * A run of readings of one device, reading tags and metric, whose newest event time is
   * `lastEventTime`: what absence rules watch. Costs two map lookups when no absence rule
   * watches the metric.
   */
  onReadings(device: string, deviceTags: string, readingTags: string, metric: string, lastEventTime: number): void {
    if (!this.set.hasAbsence || !Number.isFinite(lastEventTime)) return;
    const specific = this.set.absenceOf(metric);
    const any = this.set.absenceAny;
    if (specific === undefined && any.length === 0) return;
    const d = this.device(device, deviceTags);
    if (specific !== undefined) for (const slot of specific) this.absenceReading(d, slot, readingTags, lastEventTime);
    for (const slot of any) this.absenceReading(d, slot, readingTags, lastEventTime);
  }

  private absenceReading(d: DeviceRules, slot: number, readingTags: string, time: number): void {
    if (!d.selects(this.set, slot) || !this.set.matchers[slot]!.matchesReading(readingTags)) return;
    const cell = (d.cell(slot, '') as AbsenceCell | undefined) ?? d.add(new AbsenceCell('', slot));
    const change = absenceReading(cell, time);
    if (change === Change.Ignored) return;
    this.touch(d);
    if (change === Change.Resolved) this.send(d, cell, 'resolved', cell.resolvedAt);
    this.arm(cell);
  }

  /** Puts an absence cell on the timer queue at its deadline unless an entry at or before it is there (popping it re-arms). */
  private arm(cell: AbsenceCell): void {
    if (!Number.isNaN(cell.armedAt)) return;
    const at = absenceDeadline(this.set.rules[cell.slot] as AbsenceRule, cell);
    if (Number.isNaN(at)) return;
    cell.armedAt = at;
    this.timers.push(at, cell);
  }

  /**
   * Fires the absence rules of devices silent for their `for` as of `now` (event time the
   * caller chooses, see the class comment). Transitions are dated lastSeen + for and sent
   * in date order (then device id, then rule order), whatever order they were found in.
   */
  advance(now: number): void {
    const due = this.due;
    while (this.timers.size > 0 && this.timers.peekTime() <= now) {
      const at = this.timers.peekTime();
      const cell = this.timers.pop();
      if (cell.dead || cell.armedAt !== at) continue;
      cell.armedAt = NaN;
      const rule = this.set.rules[cell.slot];
      if (rule?.kind !== 'absence') continue;
      const deadline = absenceDeadline(rule, cell);
      if (Number.isNaN(deadline)) continue;
      if (deadline > at) {
        this.arm(cell); // seen since it was armed: popped again below if due
        continue;
      }
      absenceFire(rule, cell);
      due.push(cell);
    }
    if (due.length === 0) return;
    due.sort((a, b) => a.firedAt - b.firedAt || compare(a.owner!.id, b.owner!.id) || a.slot - b.slot);
    for (const cell of due) {
      const d = cell.owner!;
      this.touch(d);
      this.send(d, cell, 'firing', cell.firedAt);
    }
    due.length = 0;
  }

  /**
   * Puts `rules` in force. A rule with the same name and definition (rule.ts fingerprint:
   * severity and description aside) keeps its state; the state of a removed or changed
   * rule is dropped, and each of its firing alerts is returned resolved at `at` (the
   * caller's event time), sorted by device then rule. New rules start with no state.
   */
  replaceRules(rules: readonly Rule[], at: number): AlertTransition[] {
    const before = this.set;
    const after = new RuleSet(rules);
    const moveTo = before.rules.map((r, i) => after.slotOf(r.name, before.definitions[i]!));
    const resolved: AlertTransition[] = [];
    for (const d of this.devices.values()) {
      if (d.cellCount === 0) continue;
      const old = d.cells;
      d.cells = [];
      d.cellCount = 0;
      let dropped = false;
      for (let slot = 0; slot < old.length; slot++) {
        for (let c = old[slot], next: Cell | undefined; c !== undefined; c = next) {
          next = c.next;
          if (moveTo[slot]! >= 0) {
            c.slot = moveTo[slot]!;
            d.add(c);
          } else {
            dropped = true;
            c.dead = true;
            const rule = before.rules[slot]!;
            if (c.firing) resolved.push(makeTransition(rule, thresholdOf(rule, 'resolved'), d.id, d.deviceTags, c, 'resolved', at));
          }
        }
      }
      if (dropped) this.touch(d);
    }
    this.set = after;
    const order = new Map(before.rules.map((r, i) => [r.name, i]));
    return resolved.sort((a, b) => compare(a.device, b.device) || order.get(a.rule)! - order.get(b.rule)! || compare(a.readingTags, b.readingTags));
  }

  /** Writes every device with rule state (a full snapshot). The evaluator must not change until it returns. */
  snapshot(w: ByteWriter): void {
    writeEvaluatorState(w, 'full', this.set, this.stats, this.devices.values());
    for (const d of this.changed) d.changed = false;
    this.changed = [];
  }

  /** Writes what changed since the previous snapshot of either kind: changed devices whole, and the ones left without state. */
  snapshotDelta(w: ByteWriter): void {
    writeEvaluatorState(w, 'delta', this.set, this.stats, this.changed);
    for (const d of this.changed) d.changed = false;
    this.changed = [];
  }

  /**
   * Applies a snapshot() (replacing all state) or a snapshotDelta() (on top of the state),
   * taken by an evaluator with any rules. Meant for a fresh evaluator, then the deltas in
   * order; afterwards nothing counts as changed but the devices that lost state to a rule
   * change, so the next delta applies to the restored checkpoint and records that loss.
   * State of rules in force with the same definition is restored; that of others is
   * dropped, and their firing alerts wait for takeDroppedAlerts(). Throws
   * StateCorruptError on bytes that do not decode, before changing anything; the caller
   * checks `r.end()` if the snapshot is all `r` holds.
   */
  restore(r: ByteReader): void {
    const state = readEvaluatorState(r, this.set, this.devices);
    if (state.kind === 'full') {
      for (const d of this.devices.values()) retire(d);
      this.devices.clear();
      this.timers.clear();
      this.dropped.clear();
    }
    Object.assign(this.stats, state.stats);
    for (const id of state.removed) {
      retire(this.devices.get(id)!);
      this.devices.delete(id);
      this.dropped.delete(id);
    }
    for (const { device, deviceTags, cells, dropped } of state.devices) {
      let d = this.devices.get(device);
      if (d === undefined) this.devices.set(device, (d = new DeviceRules(device)));
      else retire(d);
      d.setTags(deviceTags);
      d.persisted = true;
      for (const cell of cells) {
        d.add(cell);
        if (cell instanceof AbsenceCell) this.arm(cell);
      }
      if (dropped > 0) this.dropped.set(device, []);
      else this.dropped.delete(device);
    }
    for (const alert of state.dropped) this.dropped.get(alert.device)!.push(alert);
    for (const d of this.changed) d.changed = false;
    this.changed = [];
    for (const id of this.dropped.keys()) this.touch(this.devices.get(id)!);
  }

  /**
   * After restore(): the alerts the restored state has firing for rules no longer in force
   * (removed, or changed since the checkpoint), resolved at `resolveAt` (the caller's
   * event time) or, without it, at the event time of each one's last input; sorted by
   * device, rule, reading tags. Each is returned once.
   */
  takeDroppedAlerts(resolveAt?: number): AlertTransition[] {
    const out: AlertTransition[] = [];
    for (const alerts of this.dropped.values()) {
      for (const { rule, threshold, device, deviceTags, cell } of alerts) out.push(makeTransition(rule, threshold, device, deviceTags, cell, 'resolved', resolveAt ?? cell.lastTime));
    }
    this.dropped.clear();
    return out.sort((a, b) => compare(a.device, b.device) || compare(a.rule, b.rule) || compare(a.readingTags, b.readingTags));
  }

  private device(id: string, deviceTags: string): DeviceRules {
    let d = this.devices.get(id);
    if (d === undefined) this.devices.set(id, (d = new DeviceRules(id)));
    if (d.deviceTags !== deviceTags) {
      d.setTags(deviceTags);
      if (d.cellCount > 0) this.touch(d); // the tags are state: transitions carry them
    }
    return d;
  }

  private touch(d: DeviceRules): void {
    if (d.changed) return;
    d.changed = true;
    this.changed.push(d);
  }

  private send(d: DeviceRules, cell: Cell, state: 'firing' | 'resolved', time: number): void {
    if (state === 'firing') this.stats.fired++;
    else this.stats.resolved++;
    const rule = this.set.rules[cell.slot]!;
    this.sink(makeTransition(rule, thresholdOf(rule, state), d.id, d.deviceTags, cell, state, time));
  }
}

/** Drops a device entry's cells (timer entries skip dead cells). */
function retire(d: DeviceRules): void {
  for (const head of d.cells) for (let c = head; c !== undefined; c = c.next) c.dead = true;
  d.cells = [];
  d.cellCount = 0;
}

function compare(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
