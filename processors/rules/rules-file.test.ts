import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { windowsConfigSchema, type WindowSpec } from '../windowing/window-spec.js';
import { RulesFileUnreadableError, RulesInvalidError } from './errors.js';
import { loadRulesFile, parseRules } from './rules-file.js';

const WINDOWS: WindowSpec[] = windowsConfigSchema.parse([
  { name: 'w10s', type: 'tumbling', size: '10s' },
  { name: 'slide1m', type: 'sliding', size: '1m', slide: '15s' },
  { name: 'sess', type: 'session', gap: '30s' },
]);

/** The problem lines of a file that must not validate. */
function problems(text: string, windows: readonly WindowSpec[] = WINDOWS): string[] {
  try {
    parseRules(text, { windows, source: 'test.yaml' });
  } catch (err) {
    expect(err).toBeInstanceOf(RulesInvalidError);
    expect((err as RulesInvalidError).code).toBe('SLUICE_RULES_INVALID');
    expect((err as Error).message).toBe(`invalid rules in test.yaml:\n  ${(err as RulesInvalidError).problems.join('\n  ')}`);
    return [...(err as RulesInvalidError).problems];
  }
  throw new Error('expected the rules to be refused');
}

const rule = (body: string, extra = ''): string => `rules:\n  - name: r1\n    severity: warning\n${extra}${body}`;

describe('parseRules: one rule of each kind', () => {
  it('compiles threshold, rate, absence and sequence with their defaults', () => {
    const rules = parseRules(
      `
rules:
  - name: hot
    severity: critical
    description: too warm
    devices: { ids: [fridge-*, oven-1], tags: { site: oslo }, readingTags: { zone: top } }
    threshold: { metric: temp, aggregate: mean, op: '>', value: 80, for: 3, clear: { op: '<', value: 75 } }
  - name: hot.for-duration
    severity: info
    window: slide1m
    threshold: { metric: temp, aggregate: max, op: '>=', value: 80, for: 1m }
  - name: pressure_drop
    severity: warning
    rate: { metric: pressure, over: 1m, op: '<', value: -0.5 }
  - name: silent
    severity: warning
    absence: { for: 2m }
  - name: door-then-warm
    severity: warning
    sequence:
      first: { metric: door, aggregate: max, op: '>=', value: 1 }
      then: { metric: temp, aggregate: mean, op: '>', value: 8 }
      within: 5m
`,
      { windows: WINDOWS },
    );
    expect(rules).toEqual([
      {
        name: 'hot',
        severity: 'critical',
        description: 'too warm',
        devices: { ids: ['fridge-*', 'oven-1'], tags: { site: 'oslo' }, readingTags: { zone: 'top' } },
        kind: 'threshold',
        window: { name: 'w10s', shape: 'tumbling size=10000', step: 10_000 },
        metric: 'temp',
        aggregate: 'mean',
        fire: { op: '>', value: 80 },
        clear: { op: '<', value: 75 },
        forWindows: 3,
      },
      expect.objectContaining({ name: 'hot.for-duration', description: '', devices: {}, window: { name: 'slide1m', shape: 'sliding size=60000 slide=15000', step: 15_000 }, fire: { op: '>=', value: 80 }, clear: { op: '<', value: 80 }, forWindows: 4 }),
      expect.objectContaining({ kind: 'rate', aggregate: 'mean', overMs: 60_000, overWindows: 6, fire: { op: '<', value: -0.5 }, clear: { op: '>=', value: -0.5 } }),
      { name: 'silent', severity: 'warning', description: '', devices: {}, kind: 'absence', metric: undefined, forMs: 120_000 },
      expect.objectContaining({ kind: 'sequence', withinMs: 300_000, first: { metric: 'door', aggregate: 'max', op: '>=', value: 1 }, then: { metric: 'temp', aggregate: 'mean', op: '>', value: 8 }, clear: { op: '<=', value: 8 } }),
    ]);
  });

  it('accepts an empty rule list, and an absence rule with no windows configured', () => {
    expect(parseRules('rules: []', { windows: [] })).toEqual([]);
    expect(parseRules(rule('    absence: { metric: temp, for: 30s }\n'), { windows: [] })).toMatchObject([{ kind: 'absence', metric: 'temp', forMs: 30_000 }]);
  });
});

describe('parseRules: errors', () => {
  it('names the path, the rule, the line, what was expected and the value given', () => {
    expect(problems(rule("    threshold: { metric: temp, aggregate: mean, op: '=>', value: 80, for: 3 }\n"))).toEqual([
      `rules[0].threshold.op (rule "r1", line 4): expected one of > >= < <= (quote them in YAML: '>') (got "=>")`,
    ]);
  });

  it('reports every problem of every rule at once, in file order', () => {
    const lines = problems(`
rules:
  - name: bad name
    severity: severe
    threshold: { metric: temp, aggregate: average, op: '>', value: high, for: 0 }
  - name: ok
    severity: info
    window: nope
    rate: { metric: p, over: 1m, op: '<', value: -1, extra: 1 }
  - name: ok
    severity: info
    absence: { for: 120 }
    sequence: { first: { metric: a, aggregate: max, op: '>', value: 1 }, then: { metric: b, aggregate: max, op: '>', value: 1 }, within: 5m }
  - severity: info
`);
    expect(lines).toEqual([
      'rules[0].name (rule "bad name", line 3): expected letters, digits, _ . and - only (got "bad name")',
      'rules[0].severity (rule "bad name", line 4): expected one of info, warning, critical (got "severe")',
      'rules[0].threshold.aggregate (rule "bad name", line 5): expected one of count, sum, min, max, mean, first, last, stddev, p50, p90, p99 (got "average")',
      'rules[0].threshold.for (rule "bad name", line 5): expected a number of windows (e.g. 3) or a duration with a unit (e.g. "3m") (got 0)',
      'rules[0].threshold.value (rule "bad name", line 5): expected a number (got "high")',
      'rules[1].rate.extra (rule "ok", line 9): unknown key',
      'rules[1].window (rule "ok", line 8): unknown window "nope": the configured windows are w10s, slide1m, sess (a rate rule reads window aggregates) (got "nope")',
      'rules[2].absence.for (rule "ok", line 12): expected a duration with a unit, e.g. "30s", "2m" or "1h" (got 120)',
      'rules[2].name (rule "ok", line 10): name "ok" is already used by rules[1]: names must be unique (got "ok")',
      'rules[2].sequence (rule "ok", line 13): a rule has exactly one of threshold, rate, absence, sequence; this one has absence and sequence',
      'rules[3] (line 14): a rule needs exactly one of threshold, rate, absence, sequence',
      'rules[3].name (line 14): expected a rule name (got nothing)',
    ]);
  });

  it('checks durations against the window step', () => {
    const t = (extra: string, body: string): string[] => problems(rule(body, extra));
    expect(t('', "    threshold: { metric: t, aggregate: mean, op: '>', value: 1, for: 25s }\n")).toEqual([
      expect.stringMatching(/^rules\[0\]\.threshold\.for .*: expected a whole multiple of window w10s's step \(10s\), e\.g\. "30s", or a number of windows \(got "25s"\)$/),
    ]);
    expect(t('    window: sess\n', "    threshold: { metric: t, aggregate: mean, op: '>', value: 1, for: 1m }\n")[0]).toMatch(/threshold\.for .*session window.*give a number of windows/);
    expect(parseRules(rule("    threshold: { metric: t, aggregate: mean, op: '>', value: 1, for: 2 }\n", '    window: sess\n'), { windows: WINDOWS })[0]).toMatchObject({ forWindows: 2, window: { step: 0 } });
    expect(t('    window: slide1m\n', "    rate: { metric: p, over: 20s, op: '<', value: -1 }\n")[0]).toMatch(/rate\.over .*whole multiple of window slide1m's step \(15s\).*t − over/);
    expect(t('    window: sess\n', "    rate: { metric: p, over: 1m, op: '<', value: -1 }\n")[0]).toMatch(/rate\.over .*session window.*tumbling or sliding/);
    expect(t('', "    rate: { metric: p, over: 0s, op: '<', value: -1 }\n")[0]).toMatch(/rate\.over .*longer than 0/);
    expect(t('', '    sequence: { first: { metric: a, aggregate: max, op: ">", value: 1 }, then: { metric: b, aggregate: max, op: ">", value: 1 }, within: 5s }\n')[0]).toMatch(/sequence\.within .*at least window w10s's step \(10s\)/);
    expect(t('    window: w10s\n', '    absence: { for: 1m }\n')[0]).toMatch(/^rules\[0\]\.window .*does not apply to an absence rule/);
  });

  it('refuses a clear condition that overlaps the firing one, and accepts one that does not', () => {
    const clear = (fire: string, c: string): string[] | undefined => {
      const text = rule(`    threshold: { metric: t, aggregate: mean, ${fire}, for: 1, clear: { ${c} } }\n`);
      try {
        parseRules(text, { windows: WINDOWS });
        return undefined;
      } catch {
        return problems(text);
      }
    };
    expect(clear("op: '>', value: 80", "op: '<', value: 90")![0]).toMatch(/threshold\.clear .*overlaps the firing one \(> 80\)/);
    expect(clear("op: '>', value: 80", "op: '>', value: 90")).toBeDefined(); // same direction always overlaps
    expect(clear("op: '>=', value: 80", "op: '<=', value: 80")).toBeDefined(); // 80 both fires and clears
    expect(clear("op: '>', value: 80", "op: '<=', value: 80")).toBeUndefined();
    expect(clear("op: '<', value: 10", "op: '>', value: 12")).toBeUndefined();
  });

  it('needs a window for windowed rules when none are configured', () => {
    expect(problems(rule("    threshold: { metric: t, aggregate: mean, op: '>', value: 1, for: 1 }\n"), [])).toEqual([
      'rules[0] (rule "r1", line 2): no windows are configured (windows: []) (a threshold rule reads window aggregates)',
    ]);
  });

  it('refuses unknown keys at every level, bad selectors and YAML that does not parse', () => {
    expect(problems('rule: []')).toEqual(['rule (line 1): unknown key', 'rules (line 1): expected a list of rules (rules: [] for none) (got nothing)']);
    expect(problems(rule('    absence: { for: 1m }\n', '    devices: { ids: [], tags: { site: 3 }, model: x }\n'))).toEqual([
      'rules[0].devices.ids (rule "r1", line 4): expected at least one id (leave ids out to select every device) (got [])',
      'rules[0].devices.model (rule "r1", line 4): unknown key',
      'rules[0].devices.tags.site (rule "r1", line 4): expected a tag value (a string: quote numbers) (got 3)',
    ]);
    expect(problems('rules: [\n  name: x')[0]).toMatch(/^not valid YAML: /);
    expect(problems('rules: []\nrules: []')[0]).toMatch(/^not valid YAML: Map keys must be unique/);
  });
});

describe('loadRulesFile', () => {
  it('reads a file, names it in errors, and says when it cannot be read', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'sluice-rules-'));
    try {
      const file = join(dir, 'rules.yaml');
      await writeFile(file, rule('    absence: { for: 1m }\n'));
      expect(await loadRulesFile(file, { windows: WINDOWS })).toMatchObject([{ name: 'r1', kind: 'absence' }]);
      await writeFile(file, rule('    absence: { for: 1 }\n'));
      await expect(loadRulesFile(file, { windows: WINDOWS })).rejects.toThrow(`invalid rules in ${file}:\n  rules[0].absence.for`);
      const missing = loadRulesFile(join(dir, 'missing.yaml'), { windows: WINDOWS });
      await expect(missing).rejects.toBeInstanceOf(RulesFileUnreadableError);
      await expect(missing).rejects.toMatchObject({ code: 'SLUICE_RULES_UNREADABLE', message: expect.stringContaining('ENOENT') });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
