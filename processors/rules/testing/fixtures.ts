import type { AggregateResult } from '../../windowing/accumulator.js';
import type { FiredWindow } from '../../windowing/fired-window.js';
import { windowsConfigSchema, type WindowSpec } from '../../windowing/window-spec.js';
import { RuleEvaluator } from '../rule-evaluator.js';
import type { AlertTransition, Rule } from '../rule.js';
import { parseRules } from '../rules-file.js';

/** Test helper: tumbling 10 s (`w10s`, the default), sliding 1 m by 15 s (`slide1m`) and session 30 s (`sess`). */
export const TEST_WINDOWS: WindowSpec[] = windowsConfigSchema.parse([
  { name: 'w10s', type: 'tumbling', size: '10s' },
  { name: 'slide1m', type: 'sliding', size: '1m', slide: '15s' },
  { name: 'sess', type: 'session', gap: '30s' },
]);

/** Rules from YAML of the rule list's items (`- name: …`), against TEST_WINDOWS. */
export function rules(items: string, windows: readonly WindowSpec[] = TEST_WINDOWS): Rule[] {
  return parseRules(`rules:\n${items}`, { windows });
}

/** An evaluator over `items` and the transitions it sent, in order. */
export function evaluator(items: string, windows: readonly WindowSpec[] = TEST_WINDOWS): { ev: RuleEvaluator; out: AlertTransition[] } {
  const out: AlertTransition[] = [];
  return { ev: new RuleEvaluator(rules(items, windows), (t) => out.push(t)), out };
}

/** Every aggregate of a window equal to `value` (count 1). */
export function result(value: number): AggregateResult {
  return { count: 1, sum: value, min: value, max: value, mean: value, first: value, last: value, stddev: 0, p50: value, p90: value, p99: value };
}

/** A fired window of `device`/`metric` ending at `end` (window w10s: start = end − 10 s) with every aggregate `value`. */
export function win(device: string, metric: string, end: number, value: number, more: Partial<FiredWindow> = {}): FiredWindow {
  return { window: 'w10s', device, metric, deviceTags: '', readingTags: '', start: end - 10_000, end, result: result(value), ...more };
}

/** The transitions as "state@time" strings (what most tests compare). */
export function states(out: readonly AlertTransition[]): string[] {
  return out.map((t) => `${t.rule}:${t.device}${t.readingTags === '' ? '' : `{${t.readingTags}}`} ${t.state}@${t.time}`);
}
