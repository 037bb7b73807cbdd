import { describe, expect, it } from 'vitest';
import { FleetPlan } from './fleet-plan.js';
import { simulationOptionsSchema } from './options.js';

describe('FleetPlan seqs', () => {
  it('numbers a later run after an earlier one, as a device that persists its seq does', () => {
    const options = simulationOptionsSchema.parse({ url: 'mqtt://127.0.0.1:1', devices: 2, rate: 100, batch: 1, duration: '1s' });
    const earlier = new FleetPlan(options, 1_796_000_000_000);
    const later = new FleetPlan(options, 1_796_000_001_000); // one second on
    expect(earlier.message(0, 0).seq).toBe(earlier.seqBase + 1);
    expect(earlier.message(1, 5).seq).toBe(earlier.seqBase + 6);
    // a device that sent a million messages in that second still ends below the next run
    expect(earlier.seqBase + 1_000_000).toBeLessThan(later.message(0, 0).seq);
    expect(Number.isSafeInteger(new FleetPlan(options, Date.UTC(2200, 0, 1)).message(0, 1e6).seq)).toBe(true);
  });
});

describe('FleetPlan offline devices', () => {
  it('takes the first share of the devices offline from a quarter into the run, for offlineDuration', () => {
    const options = simulationOptionsSchema.parse({ url: 'mqtt://127.0.0.1:1', devices: 8, duration: '20s', offlineShare: 0.25, offlineDuration: '12s' });
    const plan = new FleetPlan(options, 0);
    expect([0, 1, 2, 7].map((d) => plan.offline(d))).toEqual([{ from: 5_000, to: 17_000 }, { from: 5_000, to: 17_000 }, undefined, undefined]);
    expect(new FleetPlan(simulationOptionsSchema.parse({ url: 'mqtt://127.0.0.1:1', devices: 8 }), 0).offline(0)).toBeUndefined();
  });
});
