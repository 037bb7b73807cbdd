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

  it('leaves out the buffered messages whose readings would be about maxBackfill old on return, and only those', () => {
    const options = simulationOptionsSchema.parse({ url: 'mqtt://127.0.0.1:1', devices: 8, rate: 400, batch: 5, duration: '20s', offlineShare: 0.25, offlineDuration: '12s', maxBackfill: '6s', disorder: 0.2, maxDelay: '300ms' });
    const start = 1_796_000_000_000;
    const plan = new FleetPlan(options, start);
    const receipt = plan.backlogReceipt(0)!;
    let silent = 0;
    let late = 0;
    let onTime = 0;
    for (let d = 0; d < 8; d++) {
      for (let k = 0; k < plan.messagesOf(d); k++) {
        if (plan.silent(d, k)) {
          silent++;
          expect(d).toBeLessThan(2);
          continue;
        }
        const away = plan.offline(d);
        const due = plan.sendOffset(d, k);
        if (away === undefined || due < away.from || due >= away.to) continue;
        for (const t of plan.message(d, k).time) {
          // every buffered reading is clearly past maxBackfill whenever in the receipt span it arrives, or clearly within it
          if (t < receipt.from - options.maxBackfill) late++;
          else if (t >= receipt.to - options.maxBackfill) onTime++;
          else expect.fail(`device ${d} message ${k}: reading at ${t - start} ms is neither`);
        }
      }
    }
    expect(silent).toBeGreaterThan(0);
    expect(late).toBeGreaterThan(0);
    expect(onTime).toBeGreaterThan(0);
  });
});
