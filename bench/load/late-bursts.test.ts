import { describe, expect, it } from 'vitest';
import { LateBursts } from './late-bursts.js';

describe('LateBursts', () => {
  it('keeps only PUBACKs later than the bar', () => {
    const b = new LateBursts(20, 100);
    b.note(0, 20);
    b.note(0, 5);
    expect(b.summary()).toEqual({ lateMs: 20, late: 0, bursts: 0, largestBurst: 0, medianGapMs: null });
  });

  it('groups late publishes in adjacent bins into one burst and gives the period between bursts', () => {
    const b = new LateBursts(20, 100);
    // Bursts at 1 000, 1 530 and 2 060 ms; the first spans two bins.
    for (const at of [1_000, 1_050, 1_120, 1_150]) b.note(at, 30);
    for (const at of [1_530, 1_540]) b.note(at, 25);
    b.note(2_060, 40);
    expect(b.summary()).toEqual({ lateMs: 20, late: 7, bursts: 3, largestBurst: 4, medianGapMs: 500 });
  });

  it('forgets the warm-up on reset', () => {
    const b = new LateBursts();
    b.note(10, 100);
    b.reset();
    b.note(5_000, 21);
    expect(b.summary()).toMatchObject({ late: 1, bursts: 1, largestBurst: 1, medianGapMs: null });
  });
});
