import { parseTagSet } from '../../proto/index.js';
import type { Cell } from './cell.js';
import type { RuleSet } from './rule-set.js';

/**
 * One device's entry in a RuleEvaluator: its registry tags, which rules select it
 * (computed once per device, tag change and rule change), and its cells by rule slot
 * (cells of one slot with different reading tags chained).
 */
export class DeviceRules {
  deviceTags = '';
  private tags: Record<string, string> = {};
  /** Per rule slot: 1 when the rule's id and tag selectors take the device. */
  private selected = new Uint8Array(0);
  /** The RuleSet `selected` was computed for (undefined: recompute). */
  private selectedFor: RuleSet | undefined = undefined;
  cells: (Cell | undefined)[] = [];
  cellCount = 0;
  /** In the state of the last snapshot: a delta must say when it goes. */
  persisted = false;
  /** Changed since the last snapshot (then it is in the evaluator's changed list). */
  changed = false;

  constructor(readonly id: string) {}

  /** Records the device's current registry tags (canonical); a change makes the selection be computed again. */
  setTags(deviceTags: string): void {
    if (deviceTags === this.deviceTags) return;
    this.deviceTags = deviceTags;
    this.tags = parseTagSet(deviceTags);
    this.selectedFor = undefined;
  }

  /** Whether rule `slot` of `set` selects this device by id and registry tags. */
  selects(set: RuleSet, slot: number): boolean {
    if (this.selectedFor !== set) {
      const n = set.rules.length;
      if (this.selected.length !== n) this.selected = new Uint8Array(n);
      for (let i = 0; i < n; i++) this.selected[i] = set.matchers[i]!.matchesDevice(this.id, this.tags) ? 1 : 0;
      this.selectedFor = set;
    }
    return this.selected[slot] === 1;
  }

  /** The cell of `slot` for these reading tags, or undefined. */
  cell(slot: number, readingTags: string): Cell | undefined {
    let c = this.cells[slot];
    while (c !== undefined && c.readingTags !== readingTags) c = c.next;
    return c;
  }

  /** Adds a cell (none of its slot and reading tags exists) and returns it. */
  add<C extends Cell>(cell: C): C {
    cell.next = this.cells[cell.slot];
    cell.owner = this;
    this.cells[cell.slot] = cell;
    this.cellCount++;
    return cell;
  }
}
