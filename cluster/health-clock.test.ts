import { describe, expect, it } from 'vitest';
import { parseClusterConfig } from './config.js';
import { HealthClock } from './health-clock.js';

function clockAt() {
  let wall = 0;
  const clock = new HealthClock(() => wall);
  return { clock, advance: (ms: number) => (wall += ms), wall: () => wall };
}

describe('HealthClock', () => {
  it('credits time between confirmations, in steps', () => {
    const { clock, advance } = clockAt();
    clock.confirm(0);
    advance(1000);
    expect(clock.now()).toBe(0);
    clock.confirm(990);
    expect(clock.now()).toBe(1000);
  });

  it('after an interruption credits only the span of the write that proved health', () => {
    const { clock, advance } = clockAt();
    clock.confirm(0);
    advance(1000);
    clock.interrupt();
    advance(8000); // outage
    const started = clock.wallNow();
    advance(20);
    clock.confirm(started);
    expect(clock.now()).toBe(20);
  });

  it('never counts time before an observation as silence after it', () => {
    const { clock, advance } = clockAt();
    clock.confirm(0);
    advance(900);
    const seenAt = clock.stamp();
    advance(100);
    clock.confirm(950);
    expect(clock.now() - seenAt).toBe(100);
  });
});

describe('cluster config', () => {
  it('has the documented defaults', () => {
    const c = parseClusterConfig({});
    expect(c).toMatchObject({ heartbeatInterval: 1000, memberTimeout: 4000, leaseTime: 6000, fenceAfter: 4000, membersBucket: 'SLUICE_MEMBERS', leasesBucket: 'SLUICE_LEASES' });
    expect(c.handoffGrace).toBeUndefined();
    expect(c.memberId).toMatch(new RegExp(`-${process.pid}-[0-9a-f]{6}$`));
  });

  it('refuses a fenceAfter that does not end before an observer may take the lease', () => {
    expect(() => parseClusterConfig({ fenceAfter: '5s' })).toThrow(/cluster\.fenceAfter: must be below leaseTime − heartbeatInterval \(5000 ms\) \(got 5000\)/);
    expect(() => parseClusterConfig({ leaseTime: '10s', fenceAfter: '8s', handoffGrace: '2s' })).not.toThrow();
  });

  it('refuses unknown keys and bad durations with their path', () => {
    expect(() => parseClusterConfig({ leaseTimeout: '6s' })).toThrow(/cluster: .*leaseTimeout/);
    expect(() => parseClusterConfig({ handoffGrace: 'soon' })).toThrow(/cluster\.handoffGrace/);
  });
});
