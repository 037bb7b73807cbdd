import type { MetricCondition, Rule } from './rule.js';

/** A duration in ms as the largest whole unit: 120000 → "2m", 1500 → "1500ms". */
export function formatDuration(ms: number): string {
  for (const [unit, size] of [['d', 86_400_000], ['h', 3_600_000], ['m', 60_000], ['s', 1000]] as const) if (ms !== 0 && ms % size === 0) return `${ms / size}${unit}`;
  return `${ms}ms`;
}

function condition(c: MetricCondition): string {
  return `${c.aggregate}(${c.metric}) ${c.op} ${c.value}`;
}

/** What a rule watches, in one line (for `sluice rules check` and reload logs). */
export function describeRule(rule: Rule): string {
  switch (rule.kind) {
    case 'threshold': {
      const span = rule.window.step === 0 ? '' : ` (${formatDuration(rule.forWindows * rule.window.step)})`;
      const windows = `${rule.forWindows} consecutive ${rule.window.name} window${rule.forWindows === 1 ? '' : 's'}${span}`;
      return `${rule.aggregate}(${rule.metric}) ${rule.fire.op} ${rule.fire.value} on ${windows}; clears when ${rule.aggregate}(${rule.metric}) ${rule.clear.op} ${rule.clear.value}`;
    }
    case 'rate':
      return `change of ${rule.aggregate}(${rule.metric}) over ${formatDuration(rule.overMs)} of ${rule.window.name} windows ${rule.fire.op} ${rule.fire.value} per second`;
    case 'absence':
      return `no reading${rule.metric === undefined ? '' : ` of ${rule.metric}`} for ${formatDuration(rule.forMs)}`;
    case 'sequence':
      return `${condition(rule.first)}, then within ${formatDuration(rule.withinMs)} ${condition(rule.then)} (${rule.window.name} windows); clears when ${rule.then.aggregate}(${rule.then.metric}) ${rule.clear.op} ${rule.clear.value}`;
  }
}
