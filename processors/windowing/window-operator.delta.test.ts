import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { ColumnarBatch } from '../../proto/index.js';
import { StateCorruptError } from '../errors.js';
import { makeBatch, type TestMessage } from './testing/batches.js';
import { WindowOperator, type FiredWindow, type LateReading } from './window-operator.js';
import type { WindowSpec } from './window-spec.js';

const TIME = { allowedLateness: 4_000 };
const SPECS: WindowSpec[] = [
  { name: 'tumbling', type: 'tumbling', size: 5_000 },
  { name: 'sliding', type: 'sliding', size: 6_000, slide: 2_000 },
  { name: 'session', type: 'session', gap: 1_500 },
];
const all = (): boolean => true;

/** One batch of the generated stream and the watermark step after it. */
interface Step {
  messages: TestMessage[];
  /** How far the watermark moves after the batch (a big one purges whole keys). */
  advance: number;
}

const readingArb = fc.tuple(fc.constantFrom('t', 'h', 'p'), fc.integer({ min: -12_000, max: 2_000 }), fc.integer({ min: -50, max: 50 }), fc.constantFrom('', '', 'probe=2'));
const messageArb = fc.record({ device: fc.constantFrom('a', 'b', 'c', 'd', 'e'), deviceTags: fc.constantFrom('', '', 'site=x'), readings: fc.array(readingArb, { minLength: 1, maxLength: 4 }) });
const stepArb = fc.record({ messages: fc.array(messageArb, { maxLength: 4 }), advance: fc.oneof(fc.integer({ min: 0, max: 1_500 }), fc.constant(20_000)) });

/** Turns generated steps into batches: reading times are offsets from a clock that moves 1 s a batch. */
function batches(steps: Step[]): { batch: ColumnarBatch; wm: number }[] {
  let wm = 0;
  return steps.map((step, i) => {
    const now = i * 1_000 + 20_000;
    wm = Math.max(wm, now - 3_000) + step.advance;
    const messages = step.messages.map((m) => ({ ...m, readings: m.readings.map(([metric, dt, v, tags]): TestMessage['readings'][number] => [metric, now + dt, v, tags]) }));
    return { batch: makeBatch(messages, { encode: i % 2 === 0 }), wm };
  });
}

type Out = FiredWindow | LateReading;

function step(op: WindowOperator, b: { batch: ColumnarBatch; wm: number }): Out[] {
  op.processBatch(b.batch, all);
  return [...op.onWatermark(b.wm), ...op.drainLate()];
}

/** What a checkpoint plan says before batch i: nothing, a full snapshot, a delta, or a crash (restore from the last chain and replay). */
type Action = 'none' | 'full' | 'delta' | 'crash';
const actionArb = fc.constantFrom<Action>('none', 'none', 'full', 'delta', 'delta', 'delta', 'crash');

describe('WindowOperator delta snapshots', () => {
  for (const spec of SPECS) {
    it(`${spec.type}: restoring full + deltas at random points and replaying gives the uninterrupted output`, () => {
      fc.assert(
        fc.property(fc.array(stepArb, { minLength: 5, maxLength: 40 }), fc.array(actionArb, { minLength: 40, maxLength: 40 }), (steps, actions) => {
          const input = batches(steps);
          const straight = new WindowOperator(spec, TIME);
          const expected = input.map((b) => step(straight, b));

          let op = new WindowOperator(spec, TIME);
          let chain: { at: number; bytes: Uint8Array }[] = [];
          const crashed = new Set<number>();
          for (let i = 0; i < input.length; i++) {
            const action = actions[i]!;
            if (action === 'full' || (action === 'delta' && chain.length === 0)) {
              chain = [{ at: i, bytes: op.snapshot() }];
            } else if (action === 'delta') {
              chain.push({ at: i, bytes: op.snapshotDelta() });
            } else if (action === 'crash' && chain.length > 0 && !crashed.has(i)) {
              crashed.add(i);
              const [full, ...deltas] = chain;
              op = WindowOperator.restore(spec, TIME, full!.bytes, deltas.map((d) => d.bytes));
              i = chain[chain.length - 1]!.at - 1; // replay from the newest checkpoint
              continue;
            }
            expect(step(op, input[i]!)).toEqual(expected[i]);
          }
          expect(op.onWatermark(Infinity)).toEqual(straight.onWatermark(Infinity));
          expect(op.stats).toEqual(straight.stats);
        }),
        { numRuns: 150 },
      );
    });
  }

  it('a delta after few changes is small, and a restored operator snapshots to the same bytes', () => {
    const op = new WindowOperator(SPECS[0]!, TIME);
    const devices = Array.from({ length: 200 }, (_, d) => ({ device: `dev-${d}`, readings: [['t', 1_000, d] as [string, number, number], ['h', 1_000, -d] as [string, number, number]] }));
    op.processBatch(makeBatch(devices), all);
    const full = op.snapshot();
    op.processBatch(makeBatch([{ device: 'dev-7', readings: [['t', 2_000, 1]] }]), all);
    const delta = op.snapshotDelta();
    expect(delta.byteLength).toBeLessThan(300);
    expect(delta.byteLength * 20).toBeLessThan(full.byteLength);
    const restored = WindowOperator.restore(SPECS[0]!, TIME, full, [delta]);
    expect(restored.stateSize).toEqual({ keys: 400, windows: 400 });
    expect(restored.snapshot()).toEqual(op.snapshot()); // keys not built since the restore are copied as they were
    expect(restored.onWatermark(5_000).find((w) => w.device === 'dev-7' && w.metric === 't')!.result.count).toBe(2);
  });

  it('purged keys do not come back after a restore from a delta, and re-created ones keep their new place', () => {
    const spec = SPECS[0]!;
    const op = new WindowOperator(spec, { allowedLateness: 0 });
    op.processBatch(makeBatch([{ device: 'a', readings: [['t', 1_000, 1]] }, { device: 'b', readings: [['t', 1_000, 2], ['t', 9_000, 3]] }]), all);
    const full = op.snapshot();
    op.onWatermark(5_000); // a's only window fires and is purged: key a goes; b keeps [5 000, 10 000)
    const delta1 = op.snapshotDelta();
    op.processBatch(makeBatch([{ device: 'a', readings: [['t', 7_000, 4]] }]), all); // a again, now after b
    const delta2 = op.snapshotDelta();

    const afterPurge = WindowOperator.restore(spec, { allowedLateness: 0 }, full, [delta1]);
    expect(afterPurge.stateSize).toEqual({ keys: 1, windows: 1 });
    expect(afterPurge.onWatermark(Infinity).map((w) => [w.device, w.start])).toEqual([['b', 5_000]]);

    const restored = WindowOperator.restore(spec, { allowedLateness: 0 }, full, [delta1, delta2]);
    expect(restored.onWatermark(Infinity).map((w) => [w.device, w.start, w.result.count])).toEqual(op.onWatermark(Infinity).map((w) => [w.device, w.start, w.result.count]));
    expect(restored.stateSize).toEqual(op.stateSize);
  });

  it('refuses a delta that does not apply to the state it is given', () => {
    const spec = SPECS[0]!;
    const op = new WindowOperator(spec, { allowedLateness: 0 });
    op.processBatch(makeBatch([{ device: 'a', readings: [['t', 1_000, 1]] }]), all);
    const full = op.snapshot();
    op.onWatermark(5_000); // a is removed
    const delta = op.snapshotDelta();
    expect(() => WindowOperator.restore(spec, { allowedLateness: 0 }, new WindowOperator(spec, TIME).snapshot(), [delta])).toThrow(/removed key is not in the state/);
    expect(() => WindowOperator.restore(spec, { allowedLateness: 0 }, delta)).toThrow(/a delta snapshot where a full one was expected/);
    expect(() => WindowOperator.restore(spec, { allowedLateness: 0 }, full, [full])).toThrow(StateCorruptError);
    expect(() => WindowOperator.restore(spec, { allowedLateness: 0 }, full, [delta.subarray(0, delta.length - 1)])).toThrow(StateCorruptError);
  });

  it('a window added after the full snapshot is restored from its deltas alone', () => {
    const spec = SPECS[2]!;
    const op = new WindowOperator(spec, TIME);
    op.snapshotDelta(); // what a task does for an operator new since its last full checkpoint
    op.processBatch(makeBatch([{ device: 'a', readings: [['t', 1_000, 1], ['t', 1_800, 2]] }]), all);
    const delta = op.snapshotDelta();
    const restored = WindowOperator.restore(spec, TIME, undefined, [delta]);
    expect(restored.onWatermark(Infinity)).toEqual(op.onWatermark(Infinity));
  });
});
