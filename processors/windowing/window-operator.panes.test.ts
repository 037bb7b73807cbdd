import { describe, expect, it } from 'vitest';
import { MSG_FLAG_DROPPED, type ColumnarBatch } from '../../proto/index.js';
import { SeqDeduplicator } from '../dedup.js';
import { ByteWriter } from '../state/bytes.js';
import { DeviceClocks } from '../time/device-clocks.js';
import { PartitionWatermark } from '../time/watermark.js';
import { paneLength } from './assigners.js';
import { makeBatch, prng, type TestMessage } from './testing/batches.js';
import { WindowOperator, type FiredWindow, type LateReading } from './window-operator.js';
import { Panes, SeriesState, WindowState } from './window-state.js';
import type { WindowSpec } from './window-spec.js';

/**
 * Sliding windows in panes against the per-window path (`panes: false`, the code main ran
 * before panes): the same random stream through both, with per-device event time as a
 * partition task runs it (dedup, a pre-pass of device watermarks per message, idle
 * devices), must fire and re-fire the same windows in the same order with the same late
 * readings, counts, min, max, first, last and quantiles (sketch bins) bit for bit, and
 * sum, mean and stddev within 1e-12 of the values' scale (sluice verify allows 1e-9).
 * Both go through a checkpoint (full, or full + delta) and a restore at a random batch.
 */
const TIME = { maxOutOfOrderness: 5_000, idleTimeout: 20_000, allowedLateness: 30_000 };
const T0 = 1_700_000_000_000;
const SPECS: WindowSpec[] = [
  { name: 'sl60by10', type: 'sliding', size: 60_000, slide: 10_000 }, // the fleet's: 6 panes of 10 s
  { name: 'sl25by10', type: 'sliding', size: 25_000, slide: 10_000 }, // slide does not divide size: 5 s panes
  { name: 'sl30by20', type: 'sliding', size: 30_000, slide: 20_000 }, // 10 s panes, windows of 3 sharing 1 or 2
  { name: 'sl10by3', type: 'sliding', size: 10_000, slide: 3_000 }, // 1 s panes
];
const EXACT = ['count', 'min', 'max', 'first', 'last', 'p50', 'p90', 'p99'] as const;
const ROUNDED = ['sum', 'mean', 'stddev'] as const;

type Step = { kind: 'batch'; batch: ColumnarBatch; now: number } | { kind: 'idle'; now: number };

/**
 * A partition's stream: 6 devices, about a message a second each, 3 metrics (one with
 * reading tags) in Series-like runs, readings up to 8 s out of order, 5 % 20–100 s late
 * (within and beyond allowedLateness for each window size), equal timestamps, a few
 * fractional ones, resends of earlier messages (dropped by dedup) and gateway-dropped
 * ones; values mostly near 20, some spread over orders of magnitude, some 0 and negative;
 * one device goes quiet for a while (its windows fire on the idle timeout) and comes back
 * with its backlog (re-fires); now and then a device sends a straggler, then a reading
 * 21 s ahead of its clock, then the straggler's twin, in one batch (a window closed between
 * two messages of the batch: the pane path must freeze it); idle steps in between.
 */
function stream(seed: number, batches: number): Step[] {
  const rnd = prng(seed);
  const seq = new Map<string, number>();
  const maxTime = new Map<string, number>();
  const sent: TestMessage[] = [];
  const steps: Step[] = [];
  const away = { from: 40 + Math.floor(rnd() * 40), to: 0 };
  away.to = away.from + 25 + Math.floor(rnd() * 30);
  for (let b = 0; b < batches; b++) {
    const now = T0 + b * 1_000;
    const messages: TestMessage[] = [];
    for (let d = 0; d < 6; d++) {
      const device = `dev-${d}`;
      if (d === 5 && b >= away.from && b < away.to) continue; // quiet: buffers nothing, comes back later with old readings
      if (rnd() < 0.2) continue;
      if (rnd() < 0.05 && sent.length > 0) {
        messages.push(sent[Math.floor(rnd() * sent.length)]!); // a resend: dedup drops it
        continue;
      }
      const s = (seq.get(device) ?? 0) + 1;
      seq.set(device, s);
      const readings: TestMessage['readings'] = [];
      const backlog = d === 5 && b === away.to;
      for (const metric of ['temp', 'hum', 'volt']) {
        const tags = metric === 'hum' && rnd() < 0.3 ? 'probe=2' : '';
        const n = backlog ? 40 : 1 + Math.floor(rnd() * 10);
        let t = backlog ? now - (away.to - away.from) * 1_000 : now - Math.floor(rnd() * 8_000);
        for (let i = 0; i < n; i++) {
          let time = t;
          if (!backlog && rnd() < 0.05) time -= 20_000 + Math.floor(rnd() * 80_000);
          if (rnd() < 0.03) time += 0.25;
          readings.push([metric, time, value(rnd), tags]);
          if (rnd() < 0.15) readings.push([metric, time, value(rnd), tags]); // the same time twice: first/last ties
          t += backlog ? 700 : Math.floor(rnd() * 300);
        }
      }
      const message: TestMessage = { device, seq: s, readings, deviceTags: d === 3 ? 'site=oslo' : '', dropped: rnd() < 0.02 };
      messages.push(message);
      sent.push(message);
      if (!message.dropped) for (const r of readings) maxTime.set(device, Math.max(maxTime.get(device) ?? -Infinity, r[1]));
      if (rnd() < 0.015 && maxTime.has(device)) {
        // A straggler, a jump and the straggler's twin in one batch: the first updates an old window
        // (re-fire or first fire due), the jump moves the device's watermark past that window's
        // cleanup, and the twin lands in the same pane for the younger windows only.
        const c = maxTime.get(device)! - TIME.maxOutOfOrderness;
        const t = c - TIME.allowedLateness - 2_000 + Math.floor(rnd() * 20_000);
        const burst: TestMessage['readings'][] = [[['temp', t, value(rnd)]], [['temp', maxTime.get(device)! + 21_000, value(rnd)]], [['temp', t + Math.floor(rnd() * 3), value(rnd)]]];
        for (const r of burst) {
          const n = (seq.get(device) ?? 0) + 1;
          seq.set(device, n);
          messages.push({ device, seq: n, readings: r, deviceTags: d === 3 ? 'site=oslo' : '' });
        }
        maxTime.set(device, maxTime.get(device)! + 21_000);
      }
    }
    steps.push({ kind: 'batch', batch: makeBatch(messages, { encode: b % 2 === 0 }), now });
    if (rnd() < 0.1) steps.push({ kind: 'idle', now: now + 500 + Math.floor(rnd() * 25_000) });
  }
  return steps;
}

function value(rnd: () => number): number {
  const r = rnd();
  if (r < 0.04) return 0;
  if (r < 0.1) return -Math.round(rnd() * 5000) / 100;
  if (r < 0.15) return Math.exp(rnd() * 40 - 20); // many bins
  return 18 + Math.round(rnd() * 400) / 100;
}

/** What a PartitionTask does around its operators, for one operator. */
class Harness {
  dedup = new SeqDeduplicator();
  clocks = new DeviceClocks(TIME);
  watermark = new PartitionWatermark(TIME, T0);
  op: WindowOperator;
  private deviceWatermarks = new Float64Array(64);

  constructor(
    private readonly spec: WindowSpec,
    private readonly panes: boolean,
  ) {
    this.op = new WindowOperator(spec, TIME, this.clocks, { panes });
  }

  step(s: Step): (FiredWindow | LateReading)[] {
    if (s.kind === 'idle') {
      this.clocks.markIdle(s.now);
      const moved = this.clocks.takeMoved();
      return this.fire(this.watermark.advanceIfIdle(s.now), moved);
    }
    const batch = s.batch;
    const accepted = this.dedup.acceptBatch(batch);
    if (this.deviceWatermarks.length < accepted.length) this.deviceWatermarks = new Float64Array(accepted.length * 2);
    let maxTime = -Infinity;
    for (let m = 0; m < accepted.length; m++) {
      if (accepted[m] !== 1 || (batch.msgFlags[m]! & MSG_FLAG_DROPPED) !== 0) continue;
      let msgMax = -Infinity;
      for (let r = m === 0 ? 0 : batch.numEnd[m - 1]!; r < batch.numEnd[m]!; r++) msgMax = Math.max(msgMax, batch.time[r]!);
      const clock = this.clocks.get(batch.strings[batch.msgDevice[m]!]!);
      this.deviceWatermarks[m] = this.clocks.watermark(clock);
      this.clocks.observe(clock, msgMax, s.now);
      maxTime = Math.max(maxTime, msgMax);
    }
    this.op.processBatch(batch, (m) => accepted[m] === 1, this.deviceWatermarks);
    return this.fire(this.watermark.observe(maxTime, s.now), this.clocks.takeMoved());
  }

  private fire(wm: number, moved: ReturnType<DeviceClocks['takeMoved']>): (FiredWindow | LateReading)[] {
    this.op.wake(moved);
    return [...this.op.onWatermark(wm), ...this.op.drainLate()];
  }

  /** The state around the operator, full (the operator's snapshots are the caller's). */
  checkpoint(): { dedup: Uint8Array; clocks: Uint8Array; watermark: Uint8Array } {
    const w = new ByteWriter();
    const slices = this.clocks.writeSnapshot(w);
    while (!slices.next().done);
    return { dedup: this.dedup.snapshot(), clocks: w.finish(), watermark: this.watermark.snapshot() };
  }

  restore(c: { op: Uint8Array[]; dedup: Uint8Array; clocks: Uint8Array; watermark: Uint8Array }, now: number): void {
    this.dedup = SeqDeduplicator.restore(c.dedup);
    this.clocks = DeviceClocks.restore(TIME, c.clocks, [], now);
    this.watermark = PartitionWatermark.restore(TIME, c.watermark, now);
    const [full, ...deltas] = c.op;
    this.op = WindowOperator.restore(this.spec, TIME, full, deltas, this.clocks, { panes: this.panes });
  }
}

/** Compares two outputs; returns the largest relative difference of sum, mean and stddev (to the values' scale). */
function compare(got: (FiredWindow | LateReading)[], want: (FiredWindow | LateReading)[], where: string): number {
  const strip = (o: FiredWindow | LateReading): unknown => ('result' in o ? { ...o, result: Object.fromEntries(EXACT.map((f) => [f, o.result[f]])) } : o);
  expect(got.map(strip), where).toEqual(want.map(strip));
  let worst = 0;
  got.forEach((g, i) => {
    const w = want[i]!;
    if (!('result' in g) || !('result' in w)) return;
    const scale = Math.max(Math.abs(w.result.min), Math.abs(w.result.max), Number.MIN_VALUE);
    for (const f of ROUNDED) {
      const diff = Math.abs(g.result[f] - w.result[f]) / Math.max(Math.abs(w.result[f]), scale);
      expect(diff, `${where}: ${f} of ${g.device}/${g.metric} [${g.start}, ${g.end}): ${g.result[f]} vs ${w.result[f]}`).toBeLessThanOrEqual(1e-12);
      worst = Math.max(worst, diff);
    }
  });
  return worst;
}

describe('WindowOperator: sliding windows in panes against the per-window path', () => {
  it('pane lengths are gcd(size, slide)', () => {
    expect(SPECS.map((s) => (s.type === 'sliding' ? paneLength(s.size, s.slide) : 0))).toEqual([10_000, 5_000, 10_000, 1_000]);
  });

  for (const spec of SPECS) {
    it(`${spec.name}: the same fires, re-fires and late readings, through a checkpoint and restore at a random point`, () => {
      let worst = 0;
      let fired = 0;
      let refired = 0;
      let late = 0;
      let frozen = 0;
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const rnd = prng(seed * 7919);
        const steps = stream(seed, 160);
        const cut = 20 + Math.floor(rnd() * (steps.length - 40));
        const deltaAfter = rnd() < 0.5 ? 0 : 1 + Math.floor(rnd() * 10); // a delta checkpoint this many steps after the full one
        const panes = new Harness(spec, true);
        const reference = new Harness(spec, false);
        let full: { panes: Uint8Array; reference: Uint8Array } | undefined;
        steps.forEach((step, i) => {
          if (i === cut) full = { panes: panes.op.snapshot(), reference: reference.op.snapshot() };
          if (i === cut + deltaAfter) {
            // Restore from the full snapshot taken at the cut and, deltaAfter steps later, a delta (dedup, clocks and watermark: full, now).
            const deltas = deltaAfter === 0 ? [] : [panes.op.snapshotDelta(), reference.op.snapshotDelta()];
            const c = panes.checkpoint();
            const r = reference.checkpoint();
            panes.restore({ ...c, op: [full!.panes, ...deltas.slice(0, 1)] }, step.now);
            reference.restore({ ...r, op: [full!.reference, ...deltas.slice(1)] }, step.now);
          }
          const before = panes.op.stats.refired;
          worst = Math.max(worst, compare(panes.step(step), reference.step(step), `seed ${seed}, step ${i} (cut at ${cut}, delta after ${deltaAfter})`));
          refired += panes.op.stats.refired - before;
        });
        worst = Math.max(worst, compare(panes.op.onWatermark(Infinity), reference.op.onWatermark(Infinity), `seed ${seed}, end`));
        expect(panes.op.stats).toEqual(reference.op.stats);
        fired += panes.op.stats.fired;
        late += panes.op.stats.late;
        frozen += panes.op.frozenWindows;
      }
      // The stream exercises what it claims to.
      expect(fired).toBeGreaterThan(500);
      expect(refired).toBeGreaterThan(20);
      expect(late).toBeGreaterThan(20);
      expect(frozen).toBeGreaterThan(0); // windows closed by a message of the batch that still had to be emitted
      expect(worst).toBeLessThan(1e-12);
    });
  }
});

/**
 * A tumbling window whose size is a sliding window's pane shares the sliding operator's
 * panes (WindowOperator.sharePanesOf) instead of adding each reading again. Against the
 * same two operators not sharing, on the stream above, through a checkpoint and restore:
 * every fire, re-fire and late reading of both must be identical, bit for bit (a shared
 * pane holds the tumbling window's readings in their order, and a window that stops
 * sharing gets an exact copy).
 */
class PairHarness {
  dedup = new SeqDeduplicator();
  clocks = new DeviceClocks(TIME);
  watermark = new PartitionWatermark(TIME, T0);
  ops: WindowOperator[];
  private deviceWatermarks = new Float64Array(64);

  constructor(
    private readonly specs: WindowSpec[],
    private readonly share: boolean,
  ) {
    this.ops = specs.map((spec) => new WindowOperator(spec, TIME, this.clocks));
    this.link();
  }

  private link(): void {
    if (this.share) expect(this.ops[0]!.sharePanesOf(this.ops[1]!)).toBe(true);
  }

  step(s: Step): (FiredWindow | LateReading)[] {
    if (s.kind === 'idle') {
      this.clocks.markIdle(s.now);
      const moved = this.clocks.takeMoved();
      return this.fire(this.watermark.advanceIfIdle(s.now), moved);
    }
    const batch = s.batch;
    const accepted = this.dedup.acceptBatch(batch);
    if (this.deviceWatermarks.length < accepted.length) this.deviceWatermarks = new Float64Array(accepted.length * 2);
    let maxTime = -Infinity;
    for (let m = 0; m < accepted.length; m++) {
      if (accepted[m] !== 1 || (batch.msgFlags[m]! & MSG_FLAG_DROPPED) !== 0) continue;
      let msgMax = -Infinity;
      for (let r = m === 0 ? 0 : batch.numEnd[m - 1]!; r < batch.numEnd[m]!; r++) msgMax = Math.max(msgMax, batch.time[r]!);
      const clock = this.clocks.get(batch.strings[batch.msgDevice[m]!]!);
      this.deviceWatermarks[m] = this.clocks.watermark(clock);
      this.clocks.observe(clock, msgMax, s.now);
      maxTime = Math.max(maxTime, msgMax);
    }
    // The pane owner first, as PartitionTask orders them.
    for (const op of [this.ops[1]!, this.ops[0]!]) op.processBatch(batch, (m) => accepted[m] === 1, this.deviceWatermarks);
    return this.fire(this.watermark.observe(maxTime, s.now), this.clocks.takeMoved());
  }

  fire(wm: number, moved: ReturnType<DeviceClocks['takeMoved']>): (FiredWindow | LateReading)[] {
    return this.ops.flatMap((op) => {
      op.wake(moved);
      return [...op.onWatermark(wm), ...op.drainLate()];
    });
  }

  checkpoint(delta: boolean): { ops: Uint8Array[]; dedup: Uint8Array; clocks: Uint8Array; watermark: Uint8Array } {
    const w = new ByteWriter();
    const slices = this.clocks.writeSnapshot(w);
    while (!slices.next().done);
    return { ops: this.ops.map((op) => (delta ? op.snapshotDelta() : op.snapshot())), dedup: this.dedup.snapshot(), clocks: w.finish(), watermark: this.watermark.snapshot() };
  }

  restore(full: Uint8Array[], deltas: Uint8Array[][], c: { dedup: Uint8Array; clocks: Uint8Array; watermark: Uint8Array }, now: number): void {
    this.dedup = SeqDeduplicator.restore(c.dedup);
    this.clocks = DeviceClocks.restore(TIME, c.clocks, [], now);
    this.watermark = PartitionWatermark.restore(TIME, c.watermark, now);
    this.ops = this.specs.map((spec, i) => WindowOperator.restore(spec, TIME, full[i], deltas.map((d) => d[i]!), this.clocks));
    this.link();
  }
}

describe('WindowOperator: a tumbling window sharing a sliding window\'s panes', () => {
  const PAIRS: WindowSpec[][] = [
    [
      { name: 'tu10', type: 'tumbling', size: 10_000 },
      { name: 'sl60by10', type: 'sliding', size: 60_000, slide: 10_000 }, // the fleet's
    ],
    [
      { name: 'tu5', type: 'tumbling', size: 5_000 },
      { name: 'sl25by10', type: 'sliding', size: 25_000, slide: 10_000 }, // 5 s panes
    ],
  ];

  it('shares only a tumbling window of the pane length, with one sliding window', () => {
    const op = (spec: WindowSpec): WindowOperator => new WindowOperator(spec, TIME);
    expect(op(PAIRS[0]![0]!).sharePanesOf(op({ name: 'sl60by20', type: 'sliding', size: 60_000, slide: 20_000 }))).toBe(false);
    expect(op(PAIRS[0]![1]!).sharePanesOf(op(PAIRS[0]![0]!))).toBe(false);
    expect(op(PAIRS[0]![0]!).sharePanesOf(new WindowOperator(PAIRS[0]![1]!, TIME, undefined, { panes: false }))).toBe(false);
    const owner = op(PAIRS[0]![1]!);
    expect(op(PAIRS[0]![0]!).sharePanesOf(owner)).toBe(true);
    expect(op({ name: 'other10', type: 'tumbling', size: 10_000 }).sharePanesOf(owner)).toBe(false);
  });

  it('a pane dropped while a tumbling window still shares it becomes that window\'s own', () => {
    const s = new SeriesState(0, 'd', 'temp', '', '');
    const panes = new Panes();
    const pane = panes.at(T0, 1);
    pane.add(T0, 21.5);
    const win = new WindowState(s, T0, T0 + 10_000);
    win.share(pane);
    expect(win.sharesPane).toBe(true);
    panes.dropBefore(T0 + 1);
    expect(win.sharesPane).toBe(false);
    expect(win.acc).toBe(pane); // not released: its readings stay
    expect(win.acc.result().count).toBe(1);
    win.acc.add(T0 + 1, 22.5); // and it takes readings itself again
    expect(win.acc.result().mean).toBe(22);
  });

  for (const specs of PAIRS) {
    it(`${specs[0]!.name} with ${specs[1]!.name}: the same output as without sharing, through a checkpoint and restore`, () => {
      const totals = { shared: 0, copied: 0, fired: 0, late: 0, lateForTumblingOnly: 0 };
      for (const seed of [1, 2, 3, 4, 5, 6]) {
        const rnd = prng(seed * 104_729);
        const steps = stream(seed, 160);
        const cut = 20 + Math.floor(rnd() * (steps.length - 40));
        const deltaAfter = rnd() < 0.5 ? 0 : 1 + Math.floor(rnd() * 10);
        const shared = new PairHarness(specs, true);
        const reference = new PairHarness(specs, false);
        let full: { shared: ReturnType<PairHarness['checkpoint']>; reference: ReturnType<PairHarness['checkpoint']> } | undefined;
        const count = (): void => {
          totals.shared += shared.ops[0]!.paneSharing.shared;
          totals.copied += shared.ops[0]!.paneSharing.copied;
        };
        steps.forEach((step, i) => {
          if (i === cut) full = { shared: shared.checkpoint(false), reference: reference.checkpoint(false) };
          if (i === cut + deltaAfter) {
            const deltas = deltaAfter === 0 ? undefined : { shared: shared.checkpoint(true), reference: reference.checkpoint(true) };
            count(); // a restore starts the counts again
            shared.restore(full!.shared.ops, deltas ? [deltas.shared.ops] : [], deltas?.shared ?? full!.shared, step.now);
            reference.restore(full!.reference.ops, deltas ? [deltas.reference.ops] : [], deltas?.reference ?? full!.reference, step.now);
          }
          const got = shared.step(step);
          expect(got, `seed ${seed}, step ${i} (cut at ${cut}, delta after ${deltaAfter})`).toEqual(reference.step(step));
        });
        expect(shared.fire(Infinity, []), `seed ${seed}, end`).toEqual(reference.fire(Infinity, []));
        shared.ops.forEach((op, i) => expect(op.stats).toEqual(reference.ops[i]!.stats));
        count();
        totals.fired += shared.ops[0]!.stats.fired;
        totals.late += shared.ops[0]!.stats.late;
        totals.lateForTumblingOnly += shared.ops[0]!.stats.late - shared.ops[1]!.stats.late;
      }
      // The streams exercise what the test claims: windows share panes, some stop sharing (a
      // reading the pane takes but the tumbling window does not), and they fire and refuse late readings.
      expect(totals.shared).toBeGreaterThan(500);
      expect(totals.copied).toBeGreaterThan(5);
      expect(totals.fired).toBeGreaterThan(500);
      expect(totals.lateForTumblingOnly).toBeGreaterThan(20);
    });
  }
});
