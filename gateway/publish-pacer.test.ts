import { afterEach, describe, expect, it, vi } from 'vitest';
import { PublishPacer } from './publish-pacer.js';

afterEach(() => {
  vi.useRealTimers();
});

describe('PublishPacer', () => {
  it('runs at once when nothing waits', () => {
    const ran: string[] = [];
    new PublishPacer().schedule(0, () => ran.push('a'));
    expect(ran).toEqual(['a']);
  });

  it('never lets a publish overtake one that arrived before it, whatever their delays', () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
    const pacer = new PublishPacer();
    const ran: string[] = [];
    pacer.schedule(10, () => ran.push('a'));
    pacer.schedule(3, () => ran.push('b')); // due earlier, arrived later
    pacer.schedule(0, () => ran.push('c'));
    expect(pacer.waiting).toBe(3);
    vi.advanceTimersByTime(5);
    expect(ran).toEqual([]);
    vi.advanceTimersByTime(5);
    expect(ran).toEqual(['a', 'b', 'c']);
    pacer.schedule(20, () => ran.push('d'));
    pacer.schedule(40, () => ran.push('e'));
    vi.advanceTimersByTime(25);
    expect(ran).toEqual(['a', 'b', 'c', 'd']);
    vi.advanceTimersByTime(20);
    expect(ran).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(pacer.waiting).toBe(0);
  });
});
