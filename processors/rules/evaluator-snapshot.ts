import type { ByteReader, ByteWriter } from '../state/bytes.js';
import { AbsenceCell, readAbsence, writeAbsence } from './absence.js';
import type { Cell } from './cell.js';
import type { DeviceRules } from './device-rules.js';
import { RateCell, readRate, writeRate } from './rate.js';
import { RULE_KINDS, SEVERITIES, thresholdOf, type Rule, type RuleKind } from './rule.js';
import type { RuleSet } from './rule-set.js';
import { readSequence, SequenceCell, writeSequence } from './sequence.js';
import { readThreshold, ThresholdCell, writeThreshold } from './threshold.js';
import type { RuleLabel } from './transition.js';

/**
 * The snapshot codec of a RuleEvaluator. Layout:
 * [u32 magic "SRUL"][u8 version][u8 full|delta][4 × f64 stats]
 * [varint rules] per rule: [name][definition hash][u8 kind][u8 severity][description][f64 resolved threshold]
 * [varint removed] per removed device: [id]            (delta only)
 * [varint devices] per device: [id][device tags][varint cells]
 *   per cell: [varint rule index][reading tags][the kind's fields (threshold.ts, rate.ts, absence.ts, sequence.ts)]
 * Strings are varint-length UTF-8. The rule table lets a restore tell which cells belong
 * to rules still in force with the same definition, and date, label and resolve the
 * firing alerts of the others. Checksums and compression are the checkpoint store's job.
 */
const MAGIC = 0x4c555253; // "SRUL"
const VERSION = 1;
const KINDS = ['full', 'delta'] as const;
export type EvaluatorSnapshotKind = (typeof KINDS)[number];

/** What the counters are (RuleEvaluatorStats): written in this order. */
export interface EvaluatorCounters {
  windows: number;
  ignored: number;
  fired: number;
  resolved: number;
}

/** A device's state as read. */
export interface RestoredDevice {
  device: string;
  deviceTags: string;
  /** Cells of rules in force (slot set). */
  cells: Cell[];
  /** Cells of rules no longer in force: the device's next delta must be written without them. */
  dropped: number;
}

/** A firing alert of a rule no longer in force (or changed). */
export interface DroppedAlert {
  rule: RuleLabel;
  threshold: number;
  device: string;
  deviceTags: string;
  cell: Cell;
}

export interface RestoredState {
  kind: EvaluatorSnapshotKind;
  stats: EvaluatorCounters;
  removed: string[];
  devices: RestoredDevice[];
  dropped: DroppedAlert[];
}

/**
 * Writes `devices` (full: every device; delta: the changed ones). A device with cells is
 * written whole and marked persisted; in a delta, a persisted device left without cells
 * is written as removed.
 */
export function writeEvaluatorState(w: ByteWriter, kind: EvaluatorSnapshotKind, set: RuleSet, stats: EvaluatorCounters, devices: Iterable<DeviceRules>): void {
  w.u32(MAGIC);
  w.u8(VERSION);
  w.u8(KINDS.indexOf(kind));
  for (const v of [stats.windows, stats.ignored, stats.fired, stats.resolved]) w.f64(v);
  w.varint(set.rules.length);
  set.rules.forEach((rule, i) => {
    w.string(rule.name);
    w.string(set.definitions[i]!);
    w.u8(RULE_KINDS.indexOf(rule.kind));
    w.u8(SEVERITIES.indexOf(rule.severity));
    w.string(rule.description);
    w.f64(thresholdOf(rule, 'resolved'));
  });
  const list = [...devices];
  const removed = kind === 'delta' ? list.filter((d) => d.cellCount === 0 && d.persisted) : [];
  w.varint(removed.length);
  for (const d of removed) {
    w.string(d.id);
    d.persisted = false;
  }
  let n = 0;
  for (const d of list) if (d.cellCount > 0) n++;
  w.varint(n);
  for (const d of list) {
    if (d.cellCount === 0) {
      d.persisted = false; // full: not in this snapshot (a delta wrote it as removed above)
      continue;
    }
    w.string(d.id);
    w.string(d.deviceTags);
    w.varint(d.cellCount);
    for (const head of d.cells) {
      for (let c = head; c !== undefined; c = c.next) {
        const rule = set.rules[c.slot]!;
        w.varint(c.slot);
        w.string(c.readingTags);
        writeCell(w, rule, c);
      }
    }
    d.persisted = true;
  }
}

function writeCell(w: ByteWriter, rule: Rule, c: Cell): void {
  switch (rule.kind) {
    case 'threshold':
      return writeThreshold(w, c as ThresholdCell);
    case 'rate':
      return writeRate(w, c as RateCell, rule);
    case 'absence':
      return writeAbsence(w, c as AbsenceCell);
    case 'sequence':
      return writeSequence(w, c as SequenceCell);
  }
}

interface TableEntry {
  label: RuleLabel;
  kind: RuleKind;
  threshold: number;
  /** The rule in force with this name and definition, or undefined. */
  rule: Rule | undefined;
  slot: number;
}

/**
 * Reads a snapshot written by writeEvaluatorState against the rules in force (`set`) and,
 * for a delta, the devices it applies to. Changes nothing: the evaluator applies the
 * result. Throws StateCorruptError (ByteReader.fail) on bytes that do not decode.
 */
export function readEvaluatorState(r: ByteReader, set: RuleSet, current: ReadonlyMap<string, DeviceRules>): RestoredState {
  if (r.u32() !== MAGIC) r.fail('not a rule evaluator snapshot');
  const version = r.u8();
  if (version !== VERSION) r.fail(`rule evaluator snapshot version ${version} (expected ${VERSION})`);
  const kind = KINDS[r.u8()] ?? r.fail('unknown snapshot kind');
  const stats: EvaluatorCounters = { windows: r.f64(), ignored: r.f64(), fired: r.f64(), resolved: r.f64() };
  const table: TableEntry[] = [];
  const nRules = r.varint();
  for (let i = 0; i < nRules; i++) {
    const name = r.string();
    const definition = r.string();
    const ruleKind = RULE_KINDS[r.u8()] ?? r.fail('unknown rule kind');
    const severity = SEVERITIES[r.u8()] ?? r.fail('unknown severity');
    const description = r.string();
    const threshold = r.f64();
    const slot = set.slotOf(name, definition);
    const rule = slot >= 0 ? set.rules[slot] : undefined;
    if (rule !== undefined && rule.kind !== ruleKind) r.fail(`rule ${name} is a ${ruleKind} rule in the snapshot and a ${rule.kind} rule in force with the same definition`);
    table.push({ label: { name, severity, description }, kind: ruleKind, threshold, rule, slot });
  }
  const removed: string[] = [];
  const nRemoved = r.varint();
  if (kind === 'full' && nRemoved !== 0) r.fail('a full snapshot with removed devices');
  const gone = new Set<string>();
  for (let i = 0; i < nRemoved; i++) {
    const id = r.string();
    if (current.get(id)?.persisted !== true || gone.has(id)) r.fail(`removed device ${id} is not in the state the delta applies to`);
    gone.add(id);
    removed.push(id);
  }
  const devices: RestoredDevice[] = [];
  const dropped: DroppedAlert[] = [];
  const seen = new Set<string>();
  const nDevices = r.varint();
  for (let i = 0; i < nDevices; i++) {
    const device = r.string();
    if (seen.has(device) || gone.has(device)) r.fail(`device ${device} twice in one snapshot`);
    seen.add(device);
    const deviceTags = r.string();
    const nCells = r.varint();
    if (nCells === 0) r.fail(`device ${device} has no rule state`);
    const cells: Cell[] = [];
    let droppedCells = 0;
    const keys = new Set<string>();
    for (let j = 0; j < nCells; j++) {
      const index = r.varint();
      const entry = table[index] ?? r.fail(`cell of rule ${index}, the snapshot has ${table.length}`);
      const readingTags = r.string();
      const key = `${index}\n${readingTags}`;
      if (keys.has(key)) r.fail(`device ${device} has two cells of rule ${entry.label.name}${readingTags === '' ? '' : ` for ${readingTags}`}`);
      keys.add(key);
      if ((entry.kind === 'absence' || entry.kind === 'sequence') && readingTags !== '') r.fail(`a per-device ${entry.kind} cell with reading tags`);
      const cell = readCell(r, entry, readingTags);
      if (entry.rule !== undefined) {
        cells.push(cell);
        continue;
      }
      droppedCells++;
      if (cell.firing) dropped.push({ rule: entry.label, threshold: entry.threshold, device, deviceTags, cell });
    }
    devices.push({ device, deviceTags, cells, dropped: droppedCells });
  }
  return { kind, stats, removed, devices, dropped };
}

function readCell(r: ByteReader, entry: TableEntry, readingTags: string): Cell {
  const rule = entry.rule;
  switch (entry.kind) {
    case 'threshold': {
      const cell = new ThresholdCell(readingTags, entry.slot);
      readThreshold(r, cell, rule as Extract<Rule, { kind: 'threshold' }> | undefined);
      return cell;
    }
    case 'rate': {
      const rateRule = rule as Extract<Rule, { kind: 'rate' }> | undefined;
      const cell = new RateCell(readingTags, entry.slot, rateRule?.overWindows ?? 0);
      readRate(r, cell, rateRule);
      return cell;
    }
    case 'absence': {
      const cell = new AbsenceCell(readingTags, entry.slot);
      readAbsence(r, cell);
      return cell;
    }
    case 'sequence': {
      const cell = new SequenceCell(readingTags, entry.slot);
      readSequence(r, cell);
      return cell;
    }
  }
}
