import { createHash } from 'node:crypto';
import { SelectorMatcher } from './device-selector.js';
import { fingerprint, type Aggregate, type Rule } from './rule.js';

/** Which side of a rule a window feeds. */
export const Role = { Main: 0, First: 1, Then: 2 } as const;
export type Role = (typeof Role)[keyof typeof Role];

/** A rule a (window, metric) feeds, and what it reads of the window. */
export interface Route {
  slot: number;
  role: Role;
  aggregate: Aggregate;
}

/**
 * The rules in force, compiled for lookups: per rule its selector matcher and its
 * definition's hash; routes from (window, metric) to the rules that read them; the
 * absence rules by metric. Built once per rule change; inputs cost two map lookups.
 */
export class RuleSet {
  readonly matchers: readonly SelectorMatcher[];
  /** Hash of each rule's fingerprint (rule.ts): the rule's identity in snapshots. */
  readonly definitions: readonly string[];
  private readonly routes = new Map<string, Map<string, Route[]>>();
  private readonly absenceByMetric = new Map<string, number[]>();
  /** Absence rules that count readings of any metric. */
  readonly absenceAny: readonly number[];
  readonly hasAbsence: boolean;

  constructor(readonly rules: readonly Rule[]) {
    this.matchers = rules.map((r) => new SelectorMatcher(r.devices));
    this.definitions = rules.map((r) => createHash('sha256').update(fingerprint(r)).digest('hex').slice(0, 16));
    const any: number[] = [];
    rules.forEach((rule, slot) => {
      switch (rule.kind) {
        case 'threshold':
        case 'rate':
          this.route(rule.window.name, rule.metric, { slot, role: Role.Main, aggregate: rule.aggregate });
          break;
        case 'sequence':
          this.route(rule.window.name, rule.first.metric, { slot, role: Role.First, aggregate: rule.first.aggregate });
          this.route(rule.window.name, rule.then.metric, { slot, role: Role.Then, aggregate: rule.then.aggregate });
          break;
        case 'absence':
          if (rule.metric === undefined) any.push(slot);
          else {
            let list = this.absenceByMetric.get(rule.metric);
            if (list === undefined) this.absenceByMetric.set(rule.metric, (list = []));
            list.push(slot);
          }
          break;
      }
    });
    this.absenceAny = any;
    this.hasAbsence = any.length > 0 || this.absenceByMetric.size > 0;
  }

  private route(window: string, metric: string, route: Route): void {
    let byMetric = this.routes.get(window);
    if (byMetric === undefined) this.routes.set(window, (byMetric = new Map()));
    let list = byMetric.get(metric);
    if (list === undefined) byMetric.set(metric, (list = []));
    list.push(route);
  }

  /** The rules a window of `metric` in `window` feeds (undefined: none). */
  routesOf(window: string, metric: string): readonly Route[] | undefined {
    return this.routes.get(window)?.get(metric);
  }

  /** The absence rules that watch `metric` specifically (undefined: none). */
  absenceOf(metric: string): readonly number[] | undefined {
    return this.absenceByMetric.get(metric);
  }

  /** The slot of the rule named `name` with this definition hash, or −1. */
  slotOf(name: string, definition: string): number {
    for (let i = 0; i < this.rules.length; i++) if (this.rules[i]!.name === name && this.definitions[i] === definition) return i;
    return -1;
  }
}
