import { describe, expect, it } from 'vitest';
import { ConnectPacer, MAX_CONNECT_HOLD_MS } from './connect-pacer.js';

function pacer(perMinute: number, burst: number): { pacer: ConnectPacer; advance: (ms: number) => void } {
  let now = 1_000;
  return { pacer: new ConnectPacer({ perMinute, burst }, () => now), advance: (ms) => (now += ms) };
}

describe('ConnectPacer', () => {
  it('answers a burst at once, then holds each CONNECT for its turn at the rate', () => {
    const { pacer: p } = pacer(60, 3);
    expect([p.take('a'), p.take('a'), p.take('a')]).toEqual([0, 0, 0]);
    // One a second: the 4th CONNECT's turn is 1 s away, the 5th's 2 s.
    expect(p.take('a')).toBe(1000);
    expect(p.take('a')).toBe(2000);
  });

  it('paces each device on its own', () => {
    const { pacer: p } = pacer(60, 1);
    expect(p.take('a')).toBe(0);
    expect(p.take('a')).toBe(1000);
    expect(p.take('b')).toBe(0);
  });

  it('refills with time', () => {
    const { pacer: p, advance } = pacer(60, 2);
    p.take('a');
    p.take('a');
    advance(1500);
    expect(p.take('a')).toBe(0);
    expect(p.take('a')).toBe(500);
  });

  it(`refuses (-1) a CONNECT whose turn is over ${MAX_CONNECT_HOLD_MS} ms away, and the refusal takes no turn`, () => {
    const { pacer: p, advance } = pacer(60, 1);
    const waits = Array.from({ length: 12 }, () => p.take('a'));
    expect(waits.slice(0, 11)).toEqual([0, 1000, 2000, 3000, 4000, 5000, 6000, 7000, 8000, 9000, 10000]);
    expect(waits[11]).toBe(-1);
    expect(p.take('a')).toBe(-1);
    // Had the refusals taken turns, the next would be further out than 10 s.
    advance(1000);
    expect(p.take('a')).toBe(10000);
  });

  it('never holds with perMinute 0 (off)', () => {
    const { pacer: p } = pacer(0, 1);
    expect(Array.from({ length: 100 }, () => p.take('a')).every((w) => w === 0)).toBe(true);
    expect(p.tracked).toBe(0);
  });

  it('forgets devices whose bucket is full again, so memory follows the devices connecting now', () => {
    const { pacer: p, advance } = pacer(60, 2);
    for (let i = 0; i < 1000; i++) p.take(`d${i}`);
    expect(p.tracked).toBe(1000);
    advance(1000); // one token back each: all full
    p.take('late');
    expect(p.tracked).toBe(1);
  });
});
