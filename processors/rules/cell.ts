import type { DeviceRules } from './device-rules.js';

/**
 * What a rule keeps per device (per series for threshold and rate): the base of the
 * kinds' cells (threshold.ts, rate.ts, absence.ts, sequence.ts). A cell belongs to one
 * device's entry and one rule slot; cells of one slot with different reading tags are
 * chained through `next`.
 */
export abstract class Cell {
  /** An alert is firing for this rule and device (series). */
  firing = false;
  /** The last value evaluated (aggregate, rate, seconds of silence): what a resolve forced by a rule change reports. */
  value = NaN;
  next: Cell | undefined = undefined;
  /** Dropped (rule removed or changed, or replaced by a restore): timer entries that still point at it are ignored. */
  dead = false;
  /** The device entry holding it (set when added). */
  owner: DeviceRules | undefined = undefined;

  constructor(
    /** The series' reading tags for threshold and rate cells, '' for the per-device kinds. */
    readonly readingTags: string,
    /** The rule's index in the evaluator's current rule list (it moves when rules are replaced). */
    public slot: number,
  ) {}

  /** Event time of the last input that changed the cell: when a resolve forced by a restore is dated, absent a caller's time. */
  abstract get lastTime(): number;
}

/** What an input did to a cell. */
export const Change = {
  /** An older or repeated window: nothing changed. */
  Ignored: -1,
  None: 0,
  Fired: 1,
  Resolved: 2,
} as const;
export type Change = (typeof Change)[keyof typeof Change];
