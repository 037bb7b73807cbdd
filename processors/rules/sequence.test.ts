import { describe, expect, it } from 'vitest';
import { evaluator, states, win } from './testing/fixtures.js';

const DOOR_WARM = `
  - name: door-warm
    severity: warning
    sequence:
      first: { metric: door, aggregate: max, op: '>=', value: 1 }
      then: { metric: temp, aggregate: mean, op: '>', value: 8 }
      within: 5m
`;

describe('sequence', () => {
  it('fires when then holds on a window ending within (0, within] after first held; resolves when then stops holding', () => {
    const { ev, out } = evaluator(DOOR_WARM);
    ev.onWindow(win('d1', 'temp', 10_000, 9)); // warm before any door: nothing
    ev.onWindow(win('d1', 'door', 20_000, 1));
    ev.onWindow(win('d1', 'temp', 20_000, 9)); // same end as the door: not after it
    ev.onWindow(win('d1', 'temp', 30_000, 5));
    ev.onWindow(win('d1', 'temp', 60_000, 9)); // 40 s after the door
    ev.onWindow(win('d1', 'temp', 70_000, 10));
    ev.onWindow(win('d1', 'temp', 80_000, 8)); // no longer > 8
    expect(states(out)).toEqual(['door-warm:d1 firing@60000', 'door-warm:d1 resolved@80000']);
    expect(out[0]).toMatchObject({ value: 9, threshold: 8 });
    expect(out[1]).toMatchObject({ value: 8, threshold: 8 });
    ev.onWindow(win('d1', 'temp', 90_000, 9)); // the door was used up by the firing
    expect(out).toHaveLength(2);
  });

  it('does not fire past `within`, and uses the newest first', () => {
    const { ev, out } = evaluator(DOOR_WARM);
    ev.onWindow(win('d1', 'door', 10_000, 1));
    ev.onWindow(win('d1', 'temp', 310_001, 9, { end: 320_000 })); // 310 s after: too late
    ev.onWindow(win('d1', 'door', 330_000, 1));
    ev.onWindow(win('d1', 'door', 340_000, 0)); // not holding: the pending door stays 330 s
    ev.onWindow(win('d1', 'temp', 630_000, 9)); // exactly 300 s after: fires
    expect(states(out)).toEqual(['door-warm:d1 firing@630000']);
  });

  it('works when first and then read the same metric', () => {
    const { ev, out } = evaluator(`
  - name: climb
    severity: info
    sequence:
      first: { metric: t, aggregate: max, op: '>', value: 5 }
      then: { metric: t, aggregate: max, op: '>', value: 10 }
      within: 30s
`);
    ev.onWindow(win('d1', 't', 10_000, 11)); // both hold on one window: not a sequence
    ev.onWindow(win('d1', 't', 20_000, 11)); // the 10 s window was a first: fires
    expect(states(out)).toEqual(['climb:d1 firing@20000']);
  });

  it('pairs B with the A before it, the same whichever of the two series of one window end comes first', () => {
    for (const doorFirst of [true, false]) {
      const { ev, out } = evaluator(DOOR_WARM);
      ev.onWindow(win('d1', 'door', 10_000, 1));
      const both = [win('d1', 'door', 20_000, 1), win('d1', 'temp', 20_000, 9)];
      for (const w of doorFirst ? both : both.reverse()) ev.onWindow(w);
      expect(states(out)).toEqual(['door-warm:d1 firing@20000']);
      // the door at 20 s was not used: after the resolve it pairs with a warm window
      ev.onWindow(win('d1', 'temp', 30_000, 5));
      ev.onWindow(win('d1', 'temp', 40_000, 9));
      expect(states(out)).toEqual(['door-warm:d1 firing@20000', 'door-warm:d1 resolved@30000', 'door-warm:d1 firing@40000']);
    }
  });

  it('ignores re-fired and older windows of either side', () => {
    const { ev, out } = evaluator(DOOR_WARM);
    ev.onWindow(win('d1', 'door', 20_000, 0));
    ev.onWindow(win('d1', 'door', 20_000, 1)); // a re-fire saying the door did open: ignored
    ev.onWindow(win('d1', 'temp', 30_000, 9));
    ev.onWindow(win('d1', 'temp', 30_000, 9));
    expect(out).toEqual([]);
    expect(ev.stats).toMatchObject({ windows: 2, ignored: 2 });
  });
});
