import { describe, expect, it } from 'vitest';
import { alertId } from './transition.js';
import { evaluator, rules, states, win } from './testing/fixtures.js';

const ONE = (name: string, selector = '', extra = ''): string => `
  - name: ${name}
    severity: warning
${selector}${extra}    threshold: { metric: temp, aggregate: mean, op: '>', value: 80, for: 1 }
`;

describe('RuleEvaluator: selection', () => {
  it('selects devices by id globs, registry tags and reading tags, all given parts required', () => {
    const { ev, out } = evaluator(
      ONE('by-id', "    devices: { ids: ['fridge-*', 'oven-1', 'a.b'] }\n") +
        ONE('by-tags', '    devices: { tags: { site: oslo, model: x1 } }\n') +
        ONE('by-reading', '    devices: { readingTags: { zone: top } }\n') +
        ONE('all-parts', "    devices: { ids: ['fridge-*'], tags: { site: oslo }, readingTags: { zone: top } }\n"),
    );
    const cases: [string, string, string][] = [
      ['fridge-1', 'model=x1,site=oslo', 'zone=top'],
      ['fridge-', 'site=oslo', ''],
      ['oven-1', 'model=x1,site=bergen', 'zone=bottom'],
      ['oven-12', 'model=x1,site=oslo', 'zone=top,x=1'],
      ['aXb', '', ''],
    ];
    for (const [device, deviceTags, readingTags] of cases) ev.onWindow(win(device, 'temp', 10_000, 90, { deviceTags, readingTags }));
    const by = (rule: string): string[] => out.filter((t) => t.rule === rule).map((t) => t.device);
    expect(by('by-id')).toEqual(['fridge-1', 'fridge-', 'oven-1']); // '.' is literal, '*' may be empty
    expect(by('by-tags')).toEqual(['fridge-1', 'oven-12']);
    expect(by('by-reading')).toEqual(['fridge-1', 'oven-12']);
    expect(by('all-parts')).toEqual(['fridge-1']);
    expect(out.find((t) => t.device === 'fridge-1')).toMatchObject({ deviceTags: 'model=x1,site=oslo', readingTags: 'zone=top' });
  });

  it('selects again when a device’s registry tags change', () => {
    const { ev, out } = evaluator(ONE('oslo', '    devices: { tags: { site: oslo } }\n'));
    ev.onWindow(win('d1', 'temp', 10_000, 90, { deviceTags: 'site=bergen' }));
    ev.onWindow(win('d1', 'temp', 20_000, 90, { deviceTags: 'site=oslo' }));
    expect(states(out)).toEqual(['oslo:d1 firing@20000']);
    expect(out[0]!.deviceTags).toBe('site=oslo');
  });
});

describe('RuleEvaluator: transition ids', () => {
  it('are the same for the same rule, device, reading tags, state and time, and differ otherwise', () => {
    const a = evaluator(ONE('hot'));
    const b = evaluator(ONE('cold') + ONE('hot'));
    for (const { ev } of [a, b]) ev.onWindow(win('d1', 'temp', 10_000, 90));
    const hot = b.out.find((t) => t.rule === 'hot')!;
    expect(hot.id).toBe(a.out[0]!.id);
    expect(hot.id).toBe(alertId('hot', 'd1', '', 'firing', 10_000));
    const ids = new Set([
      alertId('hot', 'd1', '', 'firing', 10_000),
      alertId('hot', 'd1', '', 'resolved', 10_000),
      alertId('hot', 'd1', '', 'firing', 10_001),
      alertId('hot', 'd2', '', 'firing', 10_000),
      alertId('hot', 'd1', 'zone=a', 'firing', 10_000),
      alertId('hot2', 'd1', '', 'firing', 10_000),
    ]);
    expect(ids.size).toBe(6);
  });
});

describe('RuleEvaluator: replaceRules', () => {
  const FIRING = ONE('keep') + ONE('change') + ONE('remove') + ONE('relabel') + `
  - name: quiet
    severity: info
    absence: { for: 1m }
`;

  it('keeps unchanged rules, drops removed and changed ones, and resolves their firing alerts at the given time', () => {
    const { ev, out } = evaluator(FIRING);
    for (const d of ['d2', 'd1']) {
      ev.onWindow(win(d, 'temp', 10_000, 90));
      ev.onReadings(d, '', '', 'temp', 10_000);
    }
    ev.advance(70_000);
    expect(ev.stateSize).toEqual({ devices: 2, cells: 10, firing: 10 });
    out.length = 0;
    const next = rules(
      ONE('keep') +
        ONE('change').replace("value: 80", "value: 85") +
        ONE('relabel').replace('severity: warning', 'severity: critical') +
        ONE('added') +
        `
  - name: quiet
    severity: info
    absence: { for: 2m }
`,
    );
    const resolved = ev.replaceRules(next, 99_000);
    expect(states(resolved)).toEqual(['change:d1 resolved@99000', 'remove:d1 resolved@99000', 'quiet:d1 resolved@99000', 'change:d2 resolved@99000', 'remove:d2 resolved@99000', 'quiet:d2 resolved@99000']);
    expect(resolved[0]).toMatchObject({ severity: 'warning', value: 90, threshold: 80 });
    expect(resolved[2]).toMatchObject({ value: 60, threshold: 60 });
    expect(out).toEqual([]); // returned, not sent
    expect(ev.stateSize).toEqual({ devices: 2, cells: 4, firing: 4 });
    // kept rules go on from their state; the relabelled one reports its new severity
    ev.onWindow(win('d1', 'temp', 20_000, 10));
    expect(out.map((t) => `${t.rule} ${t.state} ${t.severity}`)).toEqual(['keep resolved warning', 'relabel resolved critical']);
    // changed and added rules start afresh
    ev.onWindow(win('d1', 'temp', 30_000, 90));
    expect(out.slice(2).map((t) => `${t.rule} ${t.state}`)).toEqual(['keep firing', 'change firing', 'relabel firing', 'added firing']);
    // the old absence timers are dead; the new rule watches from the next reading
    ev.advance(1e9);
    expect(out.filter((t) => t.rule === 'quiet')).toEqual([]);
    ev.onReadings('d1', '', '', 'temp', 30_000);
    ev.advance(150_000);
    expect(states(out.filter((t) => t.rule === 'quiet'))).toEqual(['quiet:d1 firing@150000']);
  });
});
