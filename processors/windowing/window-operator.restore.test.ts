import { describe, expect, it } from 'vitest';
import type { ColumnarBatch } from '../../proto/index.js';
import { makeBatch, type TestMessage } from './testing/batches.js';
import { WindowOperator, type FiredWindow, type LateReading } from './window-operator.js';

/**
 * The recovery e2e pattern at operator level: 6 devices sending 10 readings 100 ms apart
 * per round, tumbling 5 s, lateness 30 s, watermark = max time − 1 s, snapshots every 3
 * rounds (the last 3 kept), restore from the SECOND newest and replay. Churning devices
 * and metrics drive the KeyIndex past its string-table compaction threshold, and
 * watermark jumps (idle advancement) purge whole keys before snapshots.
 */
const TIME = { allowedLateness: 30_000 };
const SPEC = { name: 'level_5s', type: 'tumbling' as const, size: 5_000 };
const T0 = 1_700_000_000_000;

function rounds(n: number, churn: number): ColumnarBatch[] {
  const out: ColumnarBatch[] = [];
  for (let i = 0; i < n; i++) {
    const msgs: TestMessage[] = [];
    for (let d = 0; d < 6; d++) msgs.push({ device: `dev-${d}`, seq: i + 1, readings: Array.from({ length: 10 }, (_, j): [string, number, number] => ['level', T0 + (i * 10 + j) * 100, d + i + j]) });
    for (let c = 0; c < churn; c++) msgs.push({ device: `churn-${i}-${c}`, deviceTags: c % 2 ? 'site=x' : '', seq: 1, readings: [[`m-${i}`, T0 + i * 1000, c, c % 3 ? '' : 'probe=2']] });
    out.push(makeBatch(msgs, { encode: i % 2 === 0 }));
  }
  return out;
}

type Out = FiredWindow | LateReading;

function step(op: WindowOperator, b: ColumnarBatch, i: number, out: Out[]): void {
  op.processBatch(b, () => true);
  let max = -Infinity;
  for (const t of b.time) max = Math.max(max, t);
  const idle = i % 50 > 40 ? 45_000 : 0; // a quiet spell: the watermark runs ahead and purges keys
  for (const o of [...op.onWatermark(max - 1_000 + idle), ...op.drainLate()]) {
    for (const k of ['window', 'device', 'metric', 'deviceTags', 'readingTags'] as const) expect(typeof o[k], `${k} of ${JSON.stringify(o)}`).toBe('string');
    out.push(o);
  }
}

describe('WindowOperator restore from an older snapshot, then replay', () => {
  for (const churn of [0, 40]) {
    it(`gives the uninterrupted output (churn ${churn})`, () => {
      const batches = rounds(400, churn);
      const straight: Out[] = [];
      const op = new WindowOperator(SPEC, TIME);
      const kept: { at: number; bytes: Uint8Array; emitted: number }[] = [];
      let restores = 0;
      batches.forEach((b, i) => {
        if (i % 3 === 0) {
          kept.push({ at: i, bytes: op.snapshot(), emitted: straight.length });
          if (kept.length > 3) kept.shift();
        }
        step(op, b, i, straight);
        if (i % 25 === 24 && kept.length >= 2) {
          const from = kept[kept.length - 2]!; // the newest is "corrupt"
          const restored = WindowOperator.restore(SPEC, TIME, from.bytes);
          const replay: Out[] = [];
          for (let k = from.at; k <= i; k++) step(restored, batches[k]!, k, replay);
          expect(replay).toEqual(straight.slice(from.emitted));
          restores++;
        }
      });
      expect(restores).toBe(16);
      expect(straight.some((o) => 'time' in o)).toBe(true); // late readings happened
    });
  }
});
