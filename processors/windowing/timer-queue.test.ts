import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TimerQueue } from './timer-queue.js';

describe('TimerQueue', () => {
  it('pops in time order under any interleaving of pushes and pops', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.integer({ min: -50, max: 50 }), fc.constant(null)), { maxLength: 200 }), (ops) => {
        const q = new TimerQueue<number>();
        const model: number[] = [];
        for (const op of ops) {
          if (op === null) {
            if (model.length === 0) continue;
            model.sort((a, b) => a - b);
            expect(q.peekTime()).toBe(model[0]);
            expect(q.pop()).toBe(model.shift());
          } else {
            q.push(op, op);
            model.push(op);
          }
          expect(q.size).toBe(model.length);
        }
      }),
    );
  });

  it('peeks Infinity when empty', () => {
    const q = new TimerQueue<string>();
    expect(q.peekTime()).toBe(Infinity);
    q.push(1, 'a');
    q.clear();
    expect(q.size).toBe(0);
  });
});
