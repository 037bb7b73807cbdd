import { describe, expect, it } from 'vitest';
import { evaluator, states, win } from './testing/fixtures.js';

const HOT = `
  - name: hot
    severity: critical
    description: too warm
    threshold: { metric: temp, aggregate: mean, op: '>', value: 80, for: 3, clear: { op: '<', value: 75 } }
`;

/** Feeds device d1's temp windows ending at 10 s, 20 s, … with these values. */
function feed(values: number[], items = HOT, from = 1): ReturnType<typeof evaluator> {
  const e = evaluator(items);
  values.forEach((v, i) => e.ev.onWindow(win('d1', 'temp', (from + i) * 10_000, v)));
  return e;
}

describe('threshold', () => {
  it('fires at the end of the window that completes `for` consecutive windows, with value, threshold and labels', () => {
    const { out } = feed([81, 82, 83, 84]);
    expect(states(out)).toEqual(['hot:d1 firing@30000']);
    expect(out[0]).toMatchObject({ rule: 'hot', device: 'd1', severity: 'critical', description: 'too warm', value: 83, threshold: 80, deviceTags: '', readingTags: '' });
    expect(out[0]!.id).toMatch(/^[0-9a-f]{16}$/);
  });

  it('restarts the count when the condition fails or a window is missing (no readings: not seen to hold)', () => {
    expect(states(feed([81, 82, 70, 81, 82]).out)).toEqual([]);
    const e = evaluator(HOT);
    for (const end of [10_000, 20_000, 40_000, 50_000]) e.ev.onWindow(win('d1', 'temp', end, 90)); // 30 s missing
    expect(states(e.out)).toEqual([]);
    e.ev.onWindow(win('d1', 'temp', 60_000, 90));
    expect(states(e.out)).toEqual(['hot:d1 firing@60000']);
  });

  it('resolves only when the clear condition holds (hysteresis), then needs a full run again', () => {
    const { out } = feed([81, 82, 83, 78, 76, 74, 81, 81, 81]);
    expect(states(out)).toEqual(['hot:d1 firing@30000', 'hot:d1 resolved@60000', 'hot:d1 firing@90000']);
    expect(out[1]).toMatchObject({ value: 74, threshold: 75 });
  });

  it('clears on the negation of the firing condition by default', () => {
    const items = `
  - name: hot
    severity: warning
    threshold: { metric: temp, aggregate: max, op: '>=', value: 80, for: 1 }
`;
    expect(states(feed([80, 80, 79.9, 80], items).out)).toEqual(['hot:d1 firing@10000', 'hot:d1 resolved@30000', 'hot:d1 firing@40000']);
  });

  it('takes a duration as whole window steps, on sliding windows too', () => {
    const e = evaluator(`
  - name: hot
    severity: warning
    window: slide1m
    threshold: { metric: temp, aggregate: mean, op: '>', value: 80, for: 1m }
`);
    for (let i = 1; i <= 5; i++) e.ev.onWindow(win('d1', 'temp', 60_000 + i * 15_000, 90, { window: 'slide1m', start: i * 15_000 }));
    expect(states(e.out)).toEqual(['hot:d1 firing@120000']); // the 4th window of a 15 s slide
  });

  it('counts every next session as consecutive', () => {
    const e = evaluator(`
  - name: hot
    severity: warning
    window: sess
    threshold: { metric: temp, aggregate: mean, op: '>', value: 80, for: 2 }
`);
    e.ev.onWindow(win('d1', 'temp', 50_000, 90, { window: 'sess' }));
    e.ev.onWindow(win('d1', 'temp', 500_000, 90, { window: 'sess' }));
    expect(states(e.out)).toEqual(['hot:d1 firing@500000']);
  });

  it('treats NaN as neither firing nor clearing', () => {
    expect(states(feed([81, NaN, 81, 81, 81, NaN, 74]).out)).toEqual(['hot:d1 firing@50000', 'hot:d1 resolved@70000']);
  });

  it('ignores re-fired and older windows: one transition per window at most, state unchanged', () => {
    const e = feed([81, 82]);
    e.ev.onWindow(win('d1', 'temp', 20_000, 70)); // re-fire of the last window with a corrected aggregate
    e.ev.onWindow(win('d1', 'temp', 10_000, 70)); // an older window
    e.ev.onWindow(win('d1', 'temp', 30_000, 83));
    expect(states(e.out)).toEqual(['hot:d1 firing@30000']);
    e.ev.onWindow(win('d1', 'temp', 30_000, 83)); // a re-fire of the firing window
    e.ev.onWindow(win('d1', 'temp', 30_000, 10));
    expect(states(e.out)).toEqual(['hot:d1 firing@30000']);
    expect(e.ev.stats).toMatchObject({ windows: 3, ignored: 4, fired: 1, resolved: 0 });
  });

  it('keeps a state per series: reading tags apart, devices apart', () => {
    const e = evaluator(HOT);
    for (let i = 1; i <= 3; i++) {
      e.ev.onWindow(win('d1', 'temp', i * 10_000, 90, { readingTags: 'zone=top' }));
      e.ev.onWindow(win('d1', 'temp', i * 10_000, 20, { readingTags: 'zone=bottom' }));
      e.ev.onWindow(win('d2', 'temp', i * 10_000, i === 2 ? 20 : 90));
    }
    expect(states(e.out)).toEqual(['hot:d1{zone=top} firing@30000']);
    expect(e.ev.stateSize).toEqual({ devices: 2, cells: 3, firing: 1 });
  });

  it('reads only its window, metric and aggregate', () => {
    const e = evaluator(`
  - name: p99
    severity: info
    threshold: { metric: temp, aggregate: p99, op: '>', value: 80, for: 1 }
`);
    e.ev.onWindow(win('d1', 'humidity', 10_000, 90));
    e.ev.onWindow(win('d1', 'temp', 10_000, 90, { window: 'slide1m' }));
    e.ev.onWindow({ ...win('d1', 'temp', 20_000, 0), result: { ...win('d1', 'temp', 0, 0).result, p99: 81 } });
    expect(states(e.out)).toEqual(['p99:d1 firing@20000']);
  });
});
