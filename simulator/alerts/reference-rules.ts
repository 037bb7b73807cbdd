import { readFile } from 'node:fs/promises';
import { parse } from 'yaml';
import { SluiceError } from '../../core/index.js';
import type { ExpectedWindow } from '../expected/index.js';

/**
 * The rules file as the alert reference reads it: written from the README and
 * rules.example.yaml, not from processors/rules (the reference must share nothing with
 * the evaluator it checks). It trusts the file to be valid (`sluice rules check`, and the
 * processors refuse a bad one) and keeps only what decides when an alert fires.
 */

export type Op = '>' | '>=' | '<' | '<=';
export interface RefCondition {
  op: Op;
  value: number;
}
export interface RefSelector {
  ids?: string[];
  tags?: Record<string, string>;
  readingTags?: Record<string, string>;
}
interface RefBase {
  name: string;
  severity: string;
  description: string;
  devices: RefSelector;
}
/** A rule that reads window aggregates: the window's name, step (ms) and size. */
export interface RefWindow {
  name: string;
  step: number;
  size: number;
}
export interface RefThreshold extends RefBase {
  kind: 'threshold';
  window: RefWindow;
  metric: string;
  aggregate: string;
  fire: RefCondition;
  clear: RefCondition;
  windows: number;
}
export interface RefRate extends RefBase {
  kind: 'rate';
  window: RefWindow;
  metric: string;
  aggregate: string;
  overMs: number;
  fire: RefCondition;
}
export interface RefAbsence extends RefBase {
  kind: 'absence';
  metric: string | undefined;
  forMs: number;
}
export interface RefSequence extends RefBase {
  kind: 'sequence';
  window: RefWindow;
  first: RefCondition & { metric: string; aggregate: string };
  then: RefCondition & { metric: string; aggregate: string };
  withinMs: number;
}
export type RefRule = RefThreshold | RefRate | RefAbsence | RefSequence;

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** "30s", "2m", "1.5h" in ms. */
export function durationMs(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)\s*$/.exec(String(text));
  if (m === null) throw new SluiceError('SLUICE_SIM_RULES', `rule duration "${text}": expected a number and a unit (ms, s, m, h, d)`);
  return Math.round(Number(m[1]) * UNIT_MS[m[2]!]!);
}

/** Whether `value op limit` holds; never for NaN. */
export function holdsRef(c: RefCondition, value: number): boolean {
  if (Number.isNaN(value)) return false;
  if (c.op === '>') return value > c.value;
  if (c.op === '>=') return value >= c.value;
  if (c.op === '<') return value < c.value;
  return value <= c.value;
}

/** The condition true exactly where `c` is false (NaN aside). */
export function opposite(c: RefCondition): RefCondition {
  const flip: Record<Op, Op> = { '>': '<=', '>=': '<', '<': '>=', '<=': '>' };
  return { op: flip[c.op], value: c.value };
}

/** Reads a rules file for the reference; `windows` are the config's (a rule reads the first unless it names one). */
export async function readReferenceRules(path: string, windows: readonly ExpectedWindow[]): Promise<RefRule[]> {
  return referenceRules(parse(await readFile(path, 'utf8')) as unknown, windows);
}

/** The same from parsed YAML. */
export function referenceRules(doc: unknown, windows: readonly ExpectedWindow[]): RefRule[] {
  const list = (doc as { rules?: Record<string, unknown>[] } | null)?.rules ?? [];
  return list.map((r) => {
    const base: RefBase = { name: String(r.name), severity: String(r.severity), description: typeof r.description === 'string' ? r.description : '', devices: (r.devices as RefSelector | undefined) ?? {} };
    const windowOf = (): RefWindow => {
      const w = r.window === undefined ? windows[0] : windows.find((x) => x.name === r.window);
      if (w === undefined) throw new SluiceError('SLUICE_SIM_RULES', `rule ${base.name}: window ${String(r.window ?? '(first)')} is not configured`);
      if (w.type === 'session') throw new SluiceError('SLUICE_SIM_RULES', `rule ${base.name} reads session window ${w.name}: the simulator's alert reference models tumbling and sliding windows only`);
      return { name: w.name, step: w.type === 'sliding' ? w.slide! : w.size!, size: w.size! };
    };
    if (r.threshold !== undefined) {
      const t = r.threshold as { metric: string; aggregate: string; op: Op; value: number; for: number | string; clear?: RefCondition };
      const window = windowOf();
      const fire = { op: t.op, value: t.value };
      return { ...base, kind: 'threshold', window, metric: t.metric, aggregate: t.aggregate, fire, clear: t.clear ?? opposite(fire), windows: typeof t.for === 'number' ? t.for : durationMs(t.for) / window.step };
    }
    if (r.rate !== undefined) {
      const t = r.rate as { metric: string; aggregate?: string; over: string; op: Op; value: number };
      return { ...base, kind: 'rate', window: windowOf(), metric: t.metric, aggregate: t.aggregate ?? 'mean', overMs: durationMs(t.over), fire: { op: t.op, value: t.value } };
    }
    if (r.absence !== undefined) {
      const t = r.absence as { metric?: string; for: string };
      return { ...base, kind: 'absence', metric: t.metric, forMs: durationMs(t.for) };
    }
    if (r.sequence !== undefined) {
      const t = r.sequence as { first: RefSequence['first']; then: RefSequence['then']; within: string };
      return { ...base, kind: 'sequence', window: windowOf(), first: t.first, then: t.then, withinMs: durationMs(t.within) };
    }
    throw new SluiceError('SLUICE_SIM_RULES', `rule ${base.name}: none of threshold, rate, absence, sequence`);
  });
}

/** Whether a rule watches a device (id, registry tags) and a series (its reading tags). */
export function selects(s: RefSelector, device: string, deviceTags: Readonly<Record<string, string>>, readingTags: Readonly<Record<string, string>>): boolean {
  if (s.ids !== undefined && !s.ids.some((glob) => globMatches(glob, device))) return false;
  for (const [k, v] of Object.entries(s.tags ?? {})) if (deviceTags[k] !== v) return false;
  for (const [k, v] of Object.entries(s.readingTags ?? {})) if (readingTags[k] !== v) return false;
  return true;
}

/** `*` matches any run of characters, everything else itself. */
export function globMatches(glob: string, text: string): boolean {
  const parts = glob.split('*');
  if (parts.length === 1) return glob === text;
  if (!text.startsWith(parts[0]!) || !text.endsWith(parts[parts.length - 1]!) || text.length < parts[0]!.length + parts[parts.length - 1]!.length) return false;
  let at = parts[0]!.length;
  const end = text.length - parts[parts.length - 1]!.length;
  for (const p of parts.slice(1, -1)) {
    const i = text.indexOf(p, at);
    if (i < 0 || i + p.length > end) return false;
    at = i + p.length;
  }
  return true;
}
