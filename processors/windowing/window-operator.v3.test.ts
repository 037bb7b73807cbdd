import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { makeBatch, type TestMessage } from './testing/batches.js';
import { WindowOperator, type FiredWindow } from './window-operator.js';
import type { WindowSpec } from './window-spec.js';

/**
 * Checkpoints written before panes (snapshot format 3: every sliding window with its own
 * accumulator) still restore. The fixture holds two sliding operators' snapshots as main
 * wrote them (a full one and a delta after it; see testing/fixtures/make-v3-fixture.mjs)
 * and everything main's operator emitted after them. Restored with panes, an operator
 * keeps the old windows' own aggregates (they keep taking their readings) while new
 * windows use panes, and must emit the same: counts, min, max, first, last and quantiles
 * bit for bit, sum, mean and stddev within 1e-12 of the values' scale; also when it takes
 * a checkpoint of its own in between (a delta on the old chain, or a full one that copies
 * keys not used since the restore) and restores from that.
 */
interface Fixture {
  time: { allowedLateness: number };
  fields: (keyof FiredWindow['result'])[];
  batches: TestMessage[][];
  specs: {
    spec: WindowSpec;
    deltaAt: number;
    full: string;
    delta: string;
    after: { batch: number; wm: number | string; fired: (string | number)[][]; late: [string, string, number, number][] }[];
    stats: unknown;
  }[];
}

const fixture = JSON.parse(readFileSync(new URL('./testing/fixtures/v3-sliding.json', import.meta.url), 'utf8')) as Fixture;
const bytes = (b64: string): Uint8Array => new Uint8Array(Buffer.from(b64, 'base64'));
const num = (v: number | string): number => (v === 'Infinity' ? Infinity : v === '-Infinity' ? -Infinity : (v as number));
const EXACT = new Set(['count', 'min', 'max', 'first', 'last', 'p50', 'p90', 'p99']);

/** What the operator emitted, in the fixture's compact form. */
function compact(w: FiredWindow): (string | number)[] {
  return [w.device, w.metric, w.deviceTags, w.readingTags, w.start, w.end, ...fixture.fields.map((f) => w.result[f])];
}

function expectSame(got: (string | number)[][], want: (string | number)[][], where: string, exact: boolean): void {
  const keep = (row: (string | number)[]): unknown[] => row.filter((_, i) => exact || i < 6 || EXACT.has(fixture.fields[i - 6]!));
  expect(got.map(keep), where).toEqual(want.map(keep));
  got.forEach((row, r) => {
    const scale = Math.max(Math.abs(want[r]![8] as number), Math.abs(want[r]![9] as number)); // min, max
    for (const f of ['sum', 'mean', 'stddev'] as const) {
      const i = 6 + fixture.fields.indexOf(f);
      expect(Math.abs((row[i] as number) - (want[r]![i] as number)), `${where}: ${f} of ${row.slice(0, 6).join(' ')}`).toBeLessThanOrEqual(1e-12 * Math.max(scale, Math.abs(want[r]![i] as number)));
    }
  });
}

/** The watermark before batch i, as the fixture's writer moved it. */
function watermarkBefore(i: number): number {
  let wm = -Infinity;
  for (const messages of fixture.batches.slice(0, i)) for (const m of messages) for (const r of m.readings) wm = Math.max(wm, r[1] - 3_000);
  return wm;
}

/** Feeds batches [from, to) of the fixture and compares what comes out with what main's operator emitted. */
function replay(op: WindowOperator, after: Fixture['specs'][number]['after'], from: number, to: number, exact: boolean): void {
  let wm = watermarkBefore(from);
  for (let i = from; i < to; i++) {
    const messages = fixture.batches[i]!;
    op.processBatch(makeBatch(messages), () => true);
    for (const m of messages) for (const r of m.readings) wm = Math.max(wm, r[1] - 3_000);
    const want = after.find((a) => a.batch === i)!;
    expect(num(want.wm)).toBe(wm);
    expectSame(op.onWatermark(wm).map(compact), want.fired, `batch ${i}`, exact);
    expect(op.drainLate().map((l) => [l.device, l.metric, l.time, l.value])).toEqual(want.late);
  }
  if (to === fixture.batches.length) expectSame(op.onWatermark(Infinity).map(compact), after.at(-1)!.fired, 'end', exact);
}

describe('WindowOperator: restoring snapshots written before panes (format 3)', () => {
  for (const s of fixture.specs) {
    const { spec, deltaAt, after } = s;
    const full = bytes(s.full);
    const delta = bytes(s.delta);
    const end = fixture.batches.length;

    it(`${spec.name}: the per-window path restores them and emits exactly what main emitted`, () => {
      const op = WindowOperator.restore(spec, fixture.time, full, [delta], undefined, { panes: false });
      replay(op, after, deltaAt, end, true);
      expect(op.stats).toEqual(s.stats);
    });

    it(`${spec.name}: with panes, the same windows and aggregates`, () => {
      const op = WindowOperator.restore(spec, fixture.time, full, [delta]);
      replay(op, after, deltaAt, end, false);
      expect(op.stats).toEqual(s.stats);
      const snap = op.snapshot();
      expect([snap[4], snap[7]]).toEqual([4, 1]); // written as format 4 with panes
    });

    it(`${spec.name}: with panes, through a delta of its own on the old chain and a restore from the three`, () => {
      const op = WindowOperator.restore(spec, fixture.time, full, [delta]);
      replay(op, after, deltaAt, deltaAt + 3, false);
      const own = op.snapshotDelta();
      const back = WindowOperator.restore(spec, fixture.time, full, [delta, own]);
      replay(back, after, deltaAt + 3, end, false);
      expect(back.stats).toEqual(s.stats);
    });

    it(`${spec.name}: with panes, through a full snapshot of its own taken while some keys are still old bytes`, () => {
      const op = WindowOperator.restore(spec, fixture.time, full, [delta]);
      replay(op, after, deltaAt, deltaAt + 1, false);
      const again = op.snapshot();
      const back = WindowOperator.restore(spec, fixture.time, again);
      expect(back.snapshot()).toEqual(again); // keys not built since are copied as they are, with an empty pane list added
      replay(back, after, deltaAt + 1, end, false);
      expect(back.stats).toEqual(s.stats);
    });
  }

  it('a snapshot with panes does not restore into an operator without them', () => {
    const s = fixture.specs[0]!;
    const op = WindowOperator.restore(s.spec, fixture.time, bytes(s.full), [bytes(s.delta)]);
    replay(op, s.after, s.deltaAt, s.deltaAt + 2, false);
    expect(() => WindowOperator.restore(s.spec, fixture.time, op.snapshot(), [], undefined, { panes: false })).toThrow(/holds panes/);
  });
});
