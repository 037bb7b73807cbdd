import { describe, expect, it } from 'vitest';
import { StateCorruptError } from '../errors.js';
import { PartitionWatermark } from './watermark.js';

const cfg = { maxOutOfOrderness: 5_000, idleTimeout: 30_000 };
const T0 = 1_700_000_000_000;

describe('PartitionWatermark', () => {
  it('trails the max event time by maxOutOfOrderness and never goes back under disorder', () => {
    const wm = new PartitionWatermark(cfg, T0);
    expect(wm.current).toBe(-Infinity);
    expect(wm.observe(T0 + 10_000, T0)).toBe(T0 + 5_000);
    expect(wm.observe(T0 + 2_000, T0 + 1)).toBe(T0 + 5_000); // an older batch
    expect(wm.observe(T0 + 12_000, T0 + 2)).toBe(T0 + 7_000);
    expect(wm.observe(T0 + 11_999, T0 + 3)).toBe(T0 + 7_000);
    expect(wm.maxEventTime).toBe(T0 + 12_000);
  });

  it('ignores batches without readings', () => {
    const wm = new PartitionWatermark(cfg, T0);
    wm.observe(T0, T0);
    expect(wm.observe(-Infinity, T0 + 29_000)).toBe(T0 - 5_000);
    // the empty batch did not count as activity
    expect(wm.advanceIfIdle(T0 + 30_000)).toBe(T0 + 25_000);
  });

  it('advances with processing time only after idleTimeout without readings', () => {
    const wm = new PartitionWatermark(cfg, T0);
    wm.observe(T0 + 9_000, T0 + 9_000); // device clocks ≈ receive time
    expect(wm.advanceIfIdle(T0 + 38_999)).toBe(T0 + 4_000);
    expect(wm.idle).toBe(false);
    // idle: the event clock runs on from the last reading at processing-time speed
    expect(wm.advanceIfIdle(T0 + 39_000)).toBe(T0 + 34_000);
    expect(wm.idle).toBe(true);
    expect(wm.advanceIfIdle(T0 + 60_000)).toBe(T0 + 55_000); // = now − maxOutOfOrderness
    // a new reading ends idleness; the watermark does not go back to maxEvent − 5 s
    expect(wm.observe(T0 + 61_000, T0 + 61_000)).toBe(T0 + 56_000);
    expect(wm.idle).toBe(false);
    expect(wm.observe(T0 + 50_000, T0 + 62_000)).toBe(T0 + 56_000);
  });

  it('does not let late readings hold the idle clock back: a quiet neighbour\'s windows still close', () => {
    const wm = new PartitionWatermark(cfg, T0);
    wm.observe(T0 + 9_000, T0 + 9_000); // the last on-time reading: W = T0 + 4 s
    // A device keeps sending readings stamped long ago, behind W, every second.
    for (let s = 10; s <= 38; s++) expect(wm.observe(T0 - 60_000, T0 + s * 1_000)).toBe(T0 + 4_000);
    expect(wm.advanceIfIdle(T0 + 39_000)).toBe(T0 + 34_000);
    // an on-time reading still counts as activity
    wm.observe(T0 + 40_000, T0 + 40_000);
    expect(wm.advanceIfIdle(T0 + 69_999)).toBe(T0 + 35_000);
  });

  it('keeps the lag of a source whose event times trail processing time', () => {
    const wm = new PartitionWatermark(cfg, T0);
    const lag = 3_600_000; // backfilled data, an hour behind
    wm.observe(T0 - lag, T0);
    const after = wm.advanceIfIdle(T0 + 40_000);
    expect(after).toBe(T0 - lag + 40_000 - 5_000);
    // the source's next reading (still an hour behind) is on time
    expect(T0 + 40_000 - lag).toBeGreaterThan(after);
  });

  it('does nothing idle before the first reading', () => {
    const wm = new PartitionWatermark(cfg, T0);
    expect(wm.advanceIfIdle(T0 + 1e9)).toBe(-Infinity);
  });

  it('snapshots watermark and max event time; the idle clock restarts on restore', () => {
    const wm = new PartitionWatermark(cfg, T0);
    wm.observe(T0 + 10_000, T0 + 10_000);
    const back = PartitionWatermark.restore(cfg, wm.snapshot(), T0 + 600_000);
    expect([back.current, back.maxEventTime]).toEqual([T0 + 5_000, T0 + 10_000]);
    // restarted 10 minutes later: not idle yet, so replayed readings are not made late
    expect(back.advanceIfIdle(T0 + 600_000)).toBe(T0 + 5_000);
    expect(back.advanceIfIdle(T0 + 630_000)).toBe(T0 + 10_000 + 30_000 - 5_000);
    const fresh = PartitionWatermark.restore(cfg, new PartitionWatermark(cfg, 0).snapshot(), 0);
    expect(fresh.current).toBe(-Infinity);
    expect(() => PartitionWatermark.restore(cfg, new Uint8Array(5), 0)).toThrow(StateCorruptError);
  });
});
