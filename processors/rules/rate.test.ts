import { describe, expect, it } from 'vitest';
import { evaluator, states, win } from './testing/fixtures.js';

const DROP = `
  - name: drop
    severity: warning
    rate: { metric: pressure, over: 30s, op: '<', value: -0.1 }
`;

describe('rate', () => {
  it('compares the window ending at t with the one ending at t − over, per second of event time', () => {
    const { ev, out } = evaluator(DROP);
    // 30 s apart: 100 → 97 is −0.1/s (not < −0.1), 100 → 96 is −0.133/s
    const values = [100, 100, 100, 97, 96, 95, 95, 95, 95];
    values.forEach((v, i) => ev.onWindow(win('d1', 'pressure', (i + 1) * 10_000, v)));
    expect(states(out)).toEqual(['drop:d1 firing@50000', 'drop:d1 resolved@70000']);
    expect(out[0]!.value).toBeCloseTo(-4 / 30, 12);
    expect(out[0]!.threshold).toBe(-0.1);
    expect(out[1]!.value).toBeCloseTo(-2 / 30, 12); // 97 → 95
  });

  it('does nothing while the window `over` earlier is missing, and never takes a stale slot for it', () => {
    const { ev, out } = evaluator(DROP);
    ev.onWindow(win('d1', 'pressure', 10_000, 100));
    ev.onWindow(win('d1', 'pressure', 50_000, 50)); // nothing ended at 20 s
    ev.onWindow(win('d1', 'pressure', 90_000, 0)); // 60 s has no window; 10 s's slot is stale
    expect(states(out)).toEqual([]);
    ev.onWindow(win('d1', 'pressure', 120_000, -10)); // against 90 s: −10/30 per second
    expect(states(out)).toEqual(['drop:d1 firing@120000']);
  });

  it('reads its aggregate (default mean) and ignores re-fired and older windows', () => {
    const { ev, out } = evaluator(DROP);
    ev.onWindow(win('d1', 'pressure', 10_000, 100));
    ev.onWindow({ ...win('d1', 'pressure', 40_000, 0), result: { ...win('', '', 0, 0).result, mean: 99, min: 0 } });
    expect(states(out)).toEqual([]);
    ev.onWindow(win('d1', 'pressure', 10_000, 200)); // older: ignored, the ring keeps 100
    ev.onWindow(win('d1', 'pressure', 40_000, 0)); // re-fire: ignored
    ev.onWindow(win('d1', 'pressure', 70_000, 90)); // 99 → 90 over 30 s = −0.3/s
    expect(states(out)).toEqual(['drop:d1 firing@70000']);
    expect(ev.stats.ignored).toBe(2);
  });

  it('works on sliding windows with over a multiple of the slide', () => {
    const { ev, out } = evaluator(`
  - name: rise
    severity: info
    window: slide1m
    rate: { metric: t, aggregate: max, over: 45s, op: '>', value: 1 }
`);
    ev.onWindow(win('d1', 't', 75_000, 10, { window: 'slide1m' }));
    ev.onWindow(win('d1', 't', 90_000, 10, { window: 'slide1m' }));
    ev.onWindow(win('d1', 't', 105_000, 10, { window: 'slide1m' }));
    ev.onWindow(win('d1', 't', 120_000, 60, { window: 'slide1m' })); // vs 75 s: 50 / 45 s > 1
    expect(states(out)).toEqual(['rise:d1 firing@120000']);
  });
});
