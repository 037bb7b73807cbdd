import { readFile } from 'node:fs/promises';
import YAML, { LineCounter, isMap, type Document } from 'yaml';
import { parseDuration } from '../../core/index.js';
import type { WindowSpec } from '../windowing/window-spec.js';
import { formatDuration } from './describe-rule.js';
import { RulesFileUnreadableError, RulesInvalidError } from './errors.js';
import { negate, overlaps, RULE_KINDS, type Condition, type DeviceSelector, type Rule, type RuleKind, type RuleWindow } from './rule.js';
import { RULE_DURATION, rulesFileSchema, type RawRule } from './rules-schema.js';

/**
 * Reads and validates a rules file (rules-schema.ts) against the configured windows.
 * Every problem is reported at once, one line each, like the config loader's:
 * `rules[2].threshold.op (rule "overheat", line 14): expected one of > >= < <= (got "=>")`.
 */

export interface ParseRulesOptions {
  /** The configured windows (config `windows`): rule windows must be among them; the default window is the first. */
  windows: readonly WindowSpec[];
  /** What the text is, for messages (a file path). */
  source?: string;
}

/** Reads, parses and validates the rules file at `path`. */
export async function loadRulesFile(path: string, options: Omit<ParseRulesOptions, 'source'>): Promise<Rule[]> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    throw new RulesFileUnreadableError(path, { cause: err });
  }
  return parseRules(text, { ...options, source: path });
}

/** Parses and validates rules YAML; throws RulesInvalidError listing every problem. */
export function parseRules(text: string, options: ParseRulesOptions): Rule[] {
  const source = options.source ?? 'rules';
  const lines = new LineCounter();
  const doc = YAML.parseDocument(text, { lineCounter: lines, prettyErrors: false });
  if (doc.errors.length > 0) throw new RulesInvalidError(source, doc.errors.map((e) => `not valid YAML: ${e.message.split('\n')[0]}`));
  const raw = (doc.toJS() as unknown) ?? {};
  const issues: Issue[] = [];
  const parsed = rulesFileSchema.safeParse(raw);
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      if (issue.code === 'unrecognized_keys') for (const key of issue.keys) issues.push({ path: [...(issue.path as Path), key], message: 'unknown key', unknownKey: true });
      else issues.push({ path: issue.path as Path, message: issue.message });
    }
  }
  checkRules(raw, options.windows, issues);
  if (issues.length > 0 || !parsed.success) {
    throw new RulesInvalidError(source, sortIssues(issues).map((issue) => formatIssue(issue, raw, doc, lines)));
  }
  return parsed.data.rules.map((rule) => compileRule(rule, options.windows));
}

type Path = (string | number)[];

interface Issue {
  path: Path;
  message: string;
  unknownKey?: boolean;
}

/** The checks zod's shape cannot make: run on the raw data, defensively, so they add to zod's issues rather than wait for them to be fixed. */
function checkRules(raw: unknown, windows: readonly WindowSpec[], issues: Issue[]): void {
  const rules = isRecord(raw) && Array.isArray(raw.rules) ? (raw.rules as unknown[]) : [];
  const names = new Map<string, number>();
  rules.forEach((rule, i) => {
    if (!isRecord(rule)) return;
    const at = (...path: Path): Path => ['rules', i, ...path];
    const add = (path: Path, message: string): void => {
      issues.push({ path, message });
    };
    if (typeof rule.name === 'string') {
      const first = names.get(rule.name);
      if (first === undefined) names.set(rule.name, i);
      else add(at('name'), `name "${rule.name}" is already used by rules[${first}]: names must be unique`);
    }
    const kinds = RULE_KINDS.filter((k) => rule[k] !== undefined);
    if (kinds.length !== 1) {
      if (kinds.length === 0) add(at(), `a rule needs exactly one of ${RULE_KINDS.join(', ')}`);
      else add(at(kinds[1]!), `a rule has exactly one of ${RULE_KINDS.join(', ')}; this one has ${kinds.join(' and ')}`);
      return;
    }
    const kind = kinds[0]!;
    const body = rule[kind];
    if (!isRecord(body)) return;
    for (const field of DURATION_FIELDS[kind]) {
      const ms = durationMs(body[field]);
      if (ms !== undefined && ms <= 0) add(at(kind, field), 'expected a duration longer than 0');
    }
    if (kind === 'absence') {
      if (rule.window !== undefined) add(at('window'), 'window does not apply to an absence rule: it watches readings, not windows');
      return;
    }
    const window = resolveWindow(rule.window, windows);
    if (typeof window === 'string') add(rule.window === undefined ? at() : at('window'), `${window} (a ${kind} rule reads window aggregates)`);
    else if (window !== undefined) checkWindowed(kind, body, window, at, add);
  });
}

const DURATION_FIELDS: Record<RuleKind, readonly string[]> = { threshold: ['for'], rate: ['over'], absence: ['for'], sequence: ['within'] };

/** The checks of a windowed rule's fields against its window's step. */
function checkWindowed(kind: RuleKind, body: Record<string, unknown>, window: WindowSpec, at: (...path: Path) => Path, add: (path: Path, message: string) => void): void {
  const step = windowStep(window);
  const steps = `window ${window.name}'s step (${formatDuration(step)})`;
  if (kind === 'threshold') {
    const ms = durationMs(body.for);
    if (ms !== undefined && ms > 0) {
      if (step === 0) add(at(kind, 'for'), `window ${window.name} is a session window, whose windows have no fixed length: give a number of windows (e.g. 3)`);
      else if (ms % step !== 0) add(at(kind, 'for'), `expected a whole multiple of ${steps}, e.g. "${formatDuration(step * 3)}", or a number of windows`);
    }
    const fire = asCondition(body);
    const clear = asCondition(body.clear);
    if (fire !== undefined && clear !== undefined && overlaps(fire, clear)) {
      add(at(kind, 'clear'), `the clear condition (${clear.op} ${clear.value}) overlaps the firing one (${fire.op} ${fire.value}): a value could fire and clear at once; e.g. op '${negate(fire).op}' with a value on the other side of ${fire.value}`);
    }
  } else if (kind === 'rate') {
    const ms = durationMs(body.over);
    if (step === 0) add(at(kind, 'over'), `window ${window.name} is a session window: rate compares windows a fixed step apart, so it needs a tumbling or sliding window`);
    else if (ms !== undefined && ms > 0 && ms % step !== 0) add(at(kind, 'over'), `expected a whole multiple of ${steps}, e.g. "${formatDuration(step * 6)}": rate compares the window ending at t with the one ending at t − over`);
  } else if (kind === 'sequence') {
    const ms = durationMs(body.within);
    if (ms !== undefined && ms > 0 && step > 0 && ms < step) add(at(kind, 'within'), `expected at least ${steps}: window ends are ${formatDuration(step)} apart, so a shorter span never holds two of them`);
  }
}

/** The window a windowed rule reads, or why there is none (a string); undefined when `name` is neither absent nor a string. */
function resolveWindow(name: unknown, windows: readonly WindowSpec[]): WindowSpec | string | undefined {
  const configured = windows.length === 0 ? 'no windows are configured (windows: [])' : `the configured windows are ${windows.map((w) => w.name).join(', ')}`;
  if (name === undefined) return windows[0] ?? configured;
  if (typeof name !== 'string') return undefined;
  return windows.find((w) => w.name === name) ?? `unknown window "${name}": ${configured}`;
}

function windowStep(w: WindowSpec): number {
  return w.type === 'tumbling' ? w.size : w.type === 'sliding' ? w.slide : 0;
}

function windowShape(w: WindowSpec): string {
  return w.type === 'tumbling' ? `tumbling size=${w.size}` : w.type === 'sliding' ? `sliding size=${w.size} slide=${w.slide}` : `session gap=${w.gap}`;
}

function ruleWindow(name: string | undefined, windows: readonly WindowSpec[]): RuleWindow {
  const w = (name === undefined ? windows[0] : windows.find((s) => s.name === name))!;
  return { name: w.name, shape: windowShape(w), step: windowStep(w) };
}

/** Builds the evaluator's rule from a rule that passed every check. */
function compileRule(raw: RawRule, windows: readonly WindowSpec[]): Rule {
  const devices: DeviceSelector = {};
  if (raw.devices?.ids !== undefined) devices.ids = raw.devices.ids;
  if (raw.devices?.tags !== undefined) devices.tags = raw.devices.tags;
  if (raw.devices?.readingTags !== undefined) devices.readingTags = raw.devices.readingTags;
  const base = { name: raw.name, severity: raw.severity, description: raw.description ?? '', devices };
  if (raw.threshold !== undefined) {
    const t = raw.threshold;
    const window = ruleWindow(raw.window, windows);
    const fire = { op: t.op, value: t.value };
    const forWindows = typeof t.for === 'number' ? t.for : parseDuration(t.for) / window.step;
    return { ...base, kind: 'threshold', window, metric: t.metric, aggregate: t.aggregate, fire, clear: t.clear ?? negate(fire), forWindows };
  }
  if (raw.rate !== undefined) {
    const r = raw.rate;
    const window = ruleWindow(raw.window, windows);
    const overMs = parseDuration(r.over);
    const fire = { op: r.op, value: r.value };
    return { ...base, kind: 'rate', window, metric: r.metric, aggregate: r.aggregate, overMs, overWindows: overMs / window.step, fire, clear: negate(fire) };
  }
  if (raw.absence !== undefined) return { ...base, kind: 'absence', metric: raw.absence.metric, forMs: parseDuration(raw.absence.for) };
  const s = raw.sequence!;
  return { ...base, kind: 'sequence', window: ruleWindow(raw.window, windows), first: s.first, then: s.then, clear: negate(s.then), withinMs: parseDuration(s.within) };
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}

/** Milliseconds of a valid rules-file duration; undefined for anything else (zod reports it). */
function durationMs(v: unknown): number | undefined {
  return typeof v === 'string' && RULE_DURATION.test(v) ? parseDuration(v) : undefined;
}

function asCondition(v: unknown): Condition | undefined {
  if (!isRecord(v) || typeof v.value !== 'number' || !['>', '>=', '<', '<='].includes(v.op as string)) return undefined;
  return { op: v.op as Condition['op'], value: v.value };
}

/** In file order: by rule, then path. */
function sortIssues(issues: Issue[]): Issue[] {
  const key = (i: Issue): string => i.path.map((p) => (typeof p === 'number' ? String(p).padStart(8, '0') : p)).join('\u0000');
  return issues.map((issue, n) => ({ issue, n, k: key(issue) })).sort((a, b) => (a.k < b.k ? -1 : a.k > b.k ? 1 : a.n - b.n)).map((x) => x.issue);
}

function formatIssue(issue: Issue, raw: unknown, doc: Document, lines: LineCounter): string {
  const at = formatPath(issue.path);
  const context: string[] = [];
  if (issue.path[0] === 'rules' && typeof issue.path[1] === 'number') {
    const name = valueAt(raw, ['rules', issue.path[1], 'name']);
    if (typeof name === 'string') context.push(`rule "${name}"`);
  }
  const line = lineOf(doc, lines, issue.path, issue.unknownKey === true);
  if (line !== undefined) context.push(`line ${line}`);
  const where = context.length > 0 ? `${at} (${context.join(', ')})` : at;
  if (issue.unknownKey) return `${where}: unknown key`;
  const value = valueAt(raw, issue.path);
  // A whole mapping (a rule, a kind's block) is the file itself, not a value to repeat.
  return isRecord(value) ? `${where}: ${issue.message}` : `${where}: ${issue.message} (got ${describe(value)})`;
}

/** The line of the value at `path` (of its key, for an unknown key), or of the nearest enclosing node the file has. */
function lineOf(doc: Document, lines: LineCounter, path: Path, unknownKey: boolean): number | undefined {
  if (unknownKey) {
    const parent = doc.getIn(path.slice(0, -1), true);
    if (isMap(parent)) {
      const pair = parent.items.find((p) => (p.key as { value?: unknown } | null)?.value === path[path.length - 1]);
      const range = (pair?.key as { range?: [number, number, number] } | null)?.range;
      if (range !== undefined) return lines.linePos(range[0]).line;
    }
  }
  for (let n = path.length; n >= 0; n--) {
    const node = doc.getIn(path.slice(0, n), true) as { range?: [number, number, number] } | undefined;
    if (node?.range !== undefined) return lines.linePos(node.range[0]).line;
  }
  return undefined;
}

function formatPath(path: Path): string {
  return path.map((k, i) => (typeof k === 'number' ? `[${k}]` : i === 0 ? k : `.${k}`)).join('') || '(root)';
}

function describe(value: unknown): string {
  return value === undefined ? 'nothing' : JSON.stringify(value);
}

function valueAt(raw: unknown, path: Path): unknown {
  let node = raw;
  for (const key of path) node = node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined;
  return node;
}
