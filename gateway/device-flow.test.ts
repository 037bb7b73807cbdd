import { afterEach, describe, expect, it, vi } from 'vitest';
import { deviceLimitsSchema } from './config.js';
import { DeviceFlows } from './device-flow.js';

afterEach(() => {
  vi.useRealTimers();
});

const limits = (over: Record<string, number>) => deviceLimitsSchema.parse({ messagesPerSecond: 0, readingsPerSecond: 0, bytesPerSecond: 0, ...over });

describe('DeviceFlows', () => {
  it('is off when every limit is 0', () => {
    expect(new DeviceFlows(limits({})).enabled).toBe(false);
    expect(new DeviceFlows(limits({ bytesPerSecond: 1 })).enabled).toBe(true);
  });

  it('shares one flow among a device\'s connections and keeps it across a reconnect until it has refilled', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const flows = new DeviceFlows(limits({ messagesPerSecond: 10, burst: 2 }));
    const a = flows.attach('d');
    expect(flows.attach('d')).toBe(a);
    expect([a.delayFor(10), a.delayFor(10), a.delayFor(10)]).toEqual([0, 0, 100]);
    flows.detach('d');
    flows.detach('d');
    // reconnecting at once finds the same, emptied bucket
    const b = flows.attach('d');
    expect(b).toBe(a);
    expect(b.delayFor(10)).toBeCloseTo(200);
    flows.detach('d');
    expect(flows.size).toBe(1);
    vi.advanceTimersByTime(1_000); // refilled (2 tokens of debt + 2 at 10/s: 400 ms; checked after ≥ 1 s)
    expect(flows.size).toBe(0);
  });

  it('charges readings after decode and bytes at once; the larger delay wins', () => {
    vi.useFakeTimers({ toFake: ['performance'] });
    const flows = new DeviceFlows(limits({ readingsPerSecond: 1_000, readingsBurst: 100, bytesPerSecond: 1_000, bytesBurst: 500 }));
    const f = flows.attach('d');
    expect(f.delayFor(100)).toBe(0);
    flows.chargeReadings('d', 600); // 500 over
    expect(f.delayFor(100)).toBeCloseTo(500);
    expect(f.delayFor(1_000)).toBeCloseTo(700); // bytes 1,200 − 500 = 700 over (700 ms) beats readings' 500 ms
  });
});
