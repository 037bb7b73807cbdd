import { describe, expect, it } from 'vitest';
import { Backoff } from './backoff.js';

describe('Backoff', () => {
  it('doubles from the initial delay up to the maximum', () => {
    const b = new Backoff(50, 1000, () => 1);
    expect(Array.from({ length: 7 }, () => b.next())).toEqual([50, 100, 200, 400, 800, 1000, 1000]);
    expect(b.attempts).toBe(7);
  });

  it('jitters each delay within its upper half', () => {
    const low = new Backoff(100, 1000, () => 0);
    expect([low.next(), low.next(), low.next()]).toEqual([50, 100, 200]);
  });

  it('starts over after a reset', () => {
    const b = new Backoff(50, 1000, () => 1);
    b.next();
    b.next();
    b.reset();
    expect(b.attempts).toBe(0);
    expect(b.next()).toBe(50);
  });

  it('stays bounded after very many failures', () => {
    const b = new Backoff(50, 2000, () => 1);
    for (let i = 0; i < 10_000; i++) b.next();
    expect(b.next()).toBe(2000);
  });
});
