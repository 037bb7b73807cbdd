import { describe, expect, it } from 'vitest';
import { FailureBackoff } from './failure-backoff.js';

function clock(): { now: () => number; advance: (ms: number) => void } {
  let t = 1_000_000;
  return { now: () => t, advance: (ms) => (t += ms) };
}

describe('FailureBackoff', () => {
  it('backs off from the `threshold`-th failure in a row, doubling up to the max', () => {
    const c = clock();
    const b = new FailureBackoff({ threshold: 2, initialMs: 1000, maxMs: 4000, maxKeys: 10 }, c.now);
    b.fail('k');
    expect(b.remainingMs('k')).toBe(0);
    b.fail('k');
    expect(b.remainingMs('k')).toBe(1000);
    c.advance(1000);
    b.fail('k');
    expect(b.remainingMs('k')).toBe(2000);
    c.advance(2000);
    b.fail('k');
    expect(b.remainingMs('k')).toBe(4000);
    c.advance(4000);
    b.fail('k');
    expect(b.remainingMs('k')).toBe(4000);
    expect(b.remainingMs('other')).toBe(0);
  });

  it('clears a key on success, and forgets it after a quiet max period', () => {
    const c = clock();
    const b = new FailureBackoff({ threshold: 1, initialMs: 1000, maxMs: 8000, maxKeys: 10 }, c.now);
    b.fail('k');
    expect(b.remainingMs('k')).toBe(1000);
    b.succeed('k');
    expect(b.remainingMs('k')).toBe(0);
    b.fail('k');
    c.advance(1000 + 8000);
    expect(b.remainingMs('k')).toBe(0);
    expect(b.size).toBe(0);
    b.fail('k');
    expect(b.remainingMs('k')).toBe(1000); // afresh, not 2000
  });

  it('tracks at most maxKeys, forgetting the least recently failed', () => {
    const b = new FailureBackoff({ threshold: 1, initialMs: 1000, maxMs: 8000, maxKeys: 2 });
    b.fail('a');
    b.fail('b');
    b.fail('a');
    b.fail('c');
    expect(b.size).toBe(2);
    expect(b.remainingMs('b')).toBe(0);
    expect(b.remainingMs('a')).toBeGreaterThan(0);
  });
});
