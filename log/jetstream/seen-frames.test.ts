import { describe, expect, it } from 'vitest';
import { SeenFrames } from './seen-frames.js';

describe('SeenFrames', () => {
  it('skips a second copy of a frame (same writer and frame number, a higher sequence), and only that', () => {
    const seen = new SeenFrames();
    // Writer A's frame 7 stored at 10 and, retried after the window, again at 14; writer B between them.
    const reads: [string | undefined, number][] = [['A.0.7', 10], ['B.0.3', 11], ['B.0.4', 12], ['A.0.7', 14], ['A.0.8', 15], ['B.0.5', 16]];
    expect(reads.map(([id, seq]) => seen.isCopy(id, seq))).toEqual([false, false, false, true, false, false]);
    expect(seen.skipped).toBe(1);
    // Read again from the start (a restore): the first copy is read, the second skipped again.
    expect(reads.map(([id, seq]) => seen.isCopy(id, seq))).toEqual([false, false, false, true, false, false]);
    expect(seen.skipped).toBe(2);
  });

  it('finds the copy when a read starts between the two copies of a frame it met before', () => {
    const seen = new SeenFrames();
    expect(seen.isCopy('A.1.7', 10)).toBe(false);
    expect(seen.isCopy('A.1.7', 14)).toBe(true);
    const fresh = new SeenFrames();
    // A process that never met the first copy cannot tell from its own memory…
    expect(fresh.isCopy('A.1.7', 14)).toBe(false);
    // …but one given what another knew (a checkpoint's writers()) can.
    const restored = new SeenFrames();
    for (const [writer, frame, seq] of seen.writers()) restored.remember(writer, frame, seq);
    expect(restored.isCopy('A.1.7', 14)).toBe(true);
  });

  it('hands over its writers least recently met first, so remember() keeps the same ones under the bound', () => {
    const seen = new SeenFrames(2);
    for (const [id, seq] of [['A.0.1', 1], ['B.0.1', 2], ['A.0.2', 3]] as const) seen.isCopy(id, seq);
    expect([...seen.writers()]).toEqual([['B.0', 1, 2], ['A.0', 2, 3]]);
    const restored = new SeenFrames(2);
    for (const [writer, frame, seq] of seen.writers()) restored.remember(writer, frame, seq);
    restored.isCopy('C.0.1', 4); // B, the least recently met, goes
    expect([...restored.writers()].map(([writer]) => writer)).toEqual(['A.0', 'C.0']);
  });

  it('leaves alone frames without a Sluice msg id, and the same frame read again at its own sequence', () => {
    const seen = new SeenFrames();
    for (const id of [undefined, '', 'no-dots', 'A.0.x', 'A.0.-1', '.5']) expect(seen.isCopy(id, 1)).toBe(false);
    expect(seen.isCopy('A.0.1', 5)).toBe(false);
    expect(seen.isCopy('A.0.1', 5)).toBe(false);
    expect(seen.skipped).toBe(0);
  });

  it('remembers at most maxWriters writers, forgetting the least recently met', () => {
    const seen = new SeenFrames(2);
    seen.isCopy('A.0.1', 1);
    seen.isCopy('B.0.1', 2);
    seen.isCopy('A.0.2', 3); // A met again: B is now the oldest
    seen.isCopy('C.0.1', 4); // B forgotten
    expect(seen.isCopy('A.0.2', 5)).toBe(true);
    expect(seen.isCopy('B.0.1', 6)).toBe(false);
  });
});
