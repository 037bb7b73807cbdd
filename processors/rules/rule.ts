import type { AggregateResult } from '../windowing/accumulator.js';

/**
 * A rule as the evaluator uses it: validated, durations in ms, its window resolved
 * (rules-file.ts makes these from the YAML). Plain data, so two rules compare by value
 * (`fingerprint`).
 */

export const SEVERITIES = ['info', 'warning', 'critical'] as const;
export type Severity = (typeof SEVERITIES)[number];

export const COMPARISONS = ['>', '>=', '<', '<='] as const;
export type Comparison = (typeof COMPARISONS)[number];

/** The window point fields a rule may read (DESIGN.md, InfluxDB schema). */
export const AGGREGATES = ['count', 'sum', 'min', 'max', 'mean', 'first', 'last', 'stddev', 'p50', 'p90', 'p99'] as const satisfies readonly (keyof AggregateResult)[];
export type Aggregate = (typeof AGGREGATES)[number];

/** `value op threshold`; false when value is NaN. */
export interface Condition {
  op: Comparison;
  value: number;
}

/** A condition on one aggregate of one metric's window. */
export interface MetricCondition extends Condition {
  metric: string;
  aggregate: Aggregate;
}

/**
 * Which devices and readings a rule watches; every part given must match, an absent part
 * matches everything. `ids` are globs where `*` stands for any run of characters.
 */
export interface DeviceSelector {
  ids?: readonly string[];
  /** Registry tags the device must have, all of them. */
  tags?: Readonly<Record<string, string>>;
  /** Tags the reading (the window's series) must have, all of them. */
  readingTags?: Readonly<Record<string, string>>;
}

/** The window a rule reads: its name and its step, the distance between consecutive window ends (0: session windows, no fixed step). */
export interface RuleWindow {
  name: string;
  /** What the window is, as text ("tumbling size=10000"): part of the fingerprint, so a resized window makes its rules new. */
  shape: string;
  step: number;
}

interface RuleBase {
  name: string;
  severity: Severity;
  /** '' when not given. */
  description: string;
  devices: DeviceSelector;
}

/** Fires when `fire` held on `forWindows` consecutive windows; resolves on the first window where `clear` holds. */
export interface ThresholdRule extends RuleBase {
  kind: 'threshold';
  window: RuleWindow;
  metric: string;
  aggregate: Aggregate;
  fire: Condition;
  clear: Condition;
  forWindows: number;
}

/** Change per second of event time between the window ending at t and the one ending at t − over. */
export interface RateRule extends RuleBase {
  kind: 'rate';
  window: RuleWindow;
  metric: string;
  aggregate: Aggregate;
  overMs: number;
  /** overMs / window.step. */
  overWindows: number;
  fire: Condition;
  clear: Condition;
}

/** No reading (of `metric`, or of any metric) for `forMs` of event time. */
export interface AbsenceRule extends RuleBase {
  kind: 'absence';
  metric: string | undefined;
  forMs: number;
}

/** `first` held on a window, then `then` held on a window ending within (0, withinMs] after it. */
export interface SequenceRule extends RuleBase {
  kind: 'sequence';
  window: RuleWindow;
  first: MetricCondition;
  then: MetricCondition;
  /** What resolves a fired sequence: the negation of `then`, on a later window of then's metric. */
  clear: Condition;
  withinMs: number;
}

export type Rule = ThresholdRule | RateRule | AbsenceRule | SequenceRule;
export type RuleKind = Rule['kind'];
export const RULE_KINDS = ['threshold', 'rate', 'absence', 'sequence'] as const satisfies readonly RuleKind[];

/** One alert changing state: what the sinks, MQTT and webhooks are given. */
export interface AlertTransition {
  /** Stable: the same rule, device, reading tags, state and time give the same id (alert-id.ts), so receivers can drop repeats. */
  id: string;
  rule: string;
  device: string;
  /** The series' reading tags (canonical, '' = none) for threshold and rate alerts, which are per series; '' for absence and sequence, which are per device. */
  readingTags: string;
  severity: Severity;
  state: 'firing' | 'resolved';
  /** Event time of the transition (ms): see the rule kinds' files for which time each uses. */
  time: number;
  /** What was measured: the aggregate (threshold, sequence), the change per second (rate), the seconds of silence (absence). */
  value: number;
  /** What it was compared with: the firing condition's value when firing, the clear condition's when resolved (absence: `for` in seconds). */
  threshold: number;
  description: string;
  /** The device's registry tags, canonical "k=v,k2=v2". */
  deviceTags: string;
}

/** `value op threshold`; false for NaN. */
export function holds(c: Condition, value: number): boolean {
  switch (c.op) {
    case '>':
      return value > c.value;
    case '>=':
      return value >= c.value;
    case '<':
      return value < c.value;
    case '<=':
      return value <= c.value;
  }
}

const NEGATION: Record<Comparison, Comparison> = { '>': '<=', '>=': '<', '<': '>=', '<=': '>' };

/** The condition that holds exactly when `c` does not (NaN aside: neither holds for NaN). */
export function negate(c: Condition): Condition {
  return { op: NEGATION[c.op], value: c.value };
}

/**
 * Whether some value satisfies both conditions: a clear condition that overlaps its firing
 * condition would fire and clear on the same value (no hysteresis, flapping).
 */
export function overlaps(a: Condition, b: Condition): boolean {
  const up = (op: Comparison): boolean => op === '>' || op === '>=';
  if (up(a.op) === up(b.op)) return true; // both unbounded the same way
  const [low, high] = up(a.op) ? [a, b] : [b, a]; // low: x > / >= low.value; high: x < / <= high.value
  if (low.value < high.value) return true;
  return low.value === high.value && low.op === '>=' && high.op === '<=';
}

/** What a transition of `rule` compares its value with: the firing condition's value, or the clear condition's (absence: `for` in seconds). */
export function thresholdOf(rule: Rule, state: 'firing' | 'resolved'): number {
  switch (rule.kind) {
    case 'threshold':
    case 'rate':
      return state === 'firing' ? rule.fire.value : rule.clear.value;
    case 'sequence':
      return state === 'firing' ? rule.then.value : rule.clear.value;
    case 'absence':
      return rule.forMs / 1000;
  }
}

/**
 * The rule's identity for state: everything that decides when it fires, as text. Two
 * rules with the same name and fingerprint share state across a reload or a restore;
 * severity and description are left out (changing them relabels the alert, it does not
 * restart it).
 */
export function fingerprint(rule: Rule): string {
  const { name: _name, severity: _severity, description: _description, ...definition } = rule;
  return stableJson(definition);
}

function stableJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).filter(([, v]) => v !== undefined);
    entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
