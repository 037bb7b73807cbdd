import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ColumnarBatchBuilder, MSG_FLAG_DROPPED, MSG_FLAG_RECEIVE_TIME, MSG_FLAG_STATUS } from '../proto/index.js';
import { MAX_SEQ_GAPS, SeqDeduplicator } from './dedup.js';
import { ByteWriter } from './state/bytes.js';
import { StateCorruptError } from './errors.js';

describe('SeqDeduplicator', () => {
  it('accepts each seq once per device', () => {
    const d = new SeqDeduplicator();
    expect([1, 2, 2, 3, 1, 3].map((s) => d.accept('a', s))).toEqual([true, true, false, true, false, false]);
    expect(d.accept('b', 2)).toBe(true); // devices are independent
    expect(d.stats).toEqual({ accepted: 4, duplicates: 3, gapsClosed: 0, unsequenced: 0, restarts: 0 });
  });

  it('accepts reordered batches once, however far behind the newest they are', () => {
    const d = new SeqDeduplicator();
    const order = [10, 7, 9, 8, 12, 11, 8, 11, 7];
    expect(order.map((s) => d.accept('a', s))).toEqual([true, true, true, true, true, true, false, false, false]);
    // A backlog sent newest first: 1,000 seqs behind the high-water mark, each counted once.
    const e = new SeqDeduplicator();
    expect(e.accept('a', 1_000)).toBe(true);
    for (let s = 1; s < 1_000; s++) expect(e.accept('a', s)).toBe(true);
    for (let s = 1; s <= 1_000; s++) expect(e.accept('a', s)).toBe(false);
    expect(e.stats).toEqual({ accepted: 1_000, duplicates: 1_000, gapsClosed: 0, unsequenced: 0, restarts: 0 });
    expect(e.snapshot().byteLength).toBeLessThan(80); // one range again
  });

  it('decides exactly like a set of seen seqs in any order while the gaps stay within the bound', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom('a', 'b'), fc.integer({ min: 0, max: 400 })), { maxLength: 300 }), (events) => {
        const d = new SeqDeduplicator(MAX_SEQ_GAPS);
        const seen = new Set<string>();
        for (const [dev, seq] of events) {
          const fresh = seq === 0 || !seen.has(`${dev}/${seq}`);
          seen.add(`${dev}/${seq}`);
          expect(d.accept(dev, seq)).toBe(fresh);
        }
        expect(d.stats.gapsClosed).toBe(0);
      }),
      { numRuns: 300 },
    );
  });

  it('never accepts a seq twice, whatever the bound', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.array(fc.integer({ min: 1, max: 200 }), { maxLength: 300 }), (maxGaps, seqs) => {
        const d = new SeqDeduplicator(maxGaps);
        const accepted = new Set<number>();
        for (const seq of seqs) {
          if (!d.accept('a', seq)) continue;
          expect(accepted.has(seq)).toBe(false);
          accepted.add(seq);
        }
      }),
    );
  });

  it('past the bound, closes the smallest gap: its seqs count as seen, the larger gaps stay exact', () => {
    const d = new SeqDeduplicator(3);
    // gaps: {2}, {4, 5}, {7, 8, 9}, {11 … 14}: one more than the bound
    for (const s of [1, 3, 6, 10, 15]) expect(d.accept('a', s)).toBe(true);
    expect(d.stats.gapsClosed).toBe(1);
    expect(d.accept('a', 2)).toBe(false);
    expect([4, 5, 7, 8, 9, 11, 12, 13, 14].map((s) => d.accept('a', s))).toEqual(new Array(9).fill(true));
    expect(d.stats).toEqual({ accepted: 14, duplicates: 1, gapsClosed: 1, unsequenced: 0, restarts: 0 });
  });

  it('never deduplicates seq 0', () => {
    const d = new SeqDeduplicator();
    expect([0, 0, 0].map((s) => d.accept('a', s))).toEqual([true, true, true]);
    expect(d.stats.unsequenced).toBe(3);
    expect(d.size).toBe(0);
  });

  it('restores to the same decisions', () => {
    const d = new SeqDeduplicator();
    for (const s of [5, 3, 70, 71, 300]) d.accept('dev-ü', s);
    d.accept('b', 2 ** 53 - 1);
    const r = SeqDeduplicator.restore(d.snapshot());
    expect(r.stats).toEqual(d.stats);
    for (const [dev, s] of [['dev-ü', 5], ['dev-ü', 69], ['dev-ü', 69], ['dev-ü', 3], ['dev-ü', 71], ['dev-ü', 4], ['dev-ü', 299], ['b', 2 ** 53 - 1], ['b', 2 ** 53 - 2]] as const) {
      expect(r.accept(dev, s)).toBe(d.accept(dev, s));
    }
    expect(() => SeqDeduplicator.restore(d.snapshot().subarray(0, 20))).toThrow(StateCorruptError);
  });

  it('converts a version 2 snapshot (64-seq reorder bitmap) to the decisions it stood for', () => {
    const w = new ByteWriter(128);
    w.u32(0x44515053);
    w.u8(2); // version 2
    w.u8(0); // full
    w.u8(64); // its reorder window
    for (const v of [7, 1, 0, 0]) w.f64(v);
    w.varint(1);
    w.string('old');
    w.f64(100); // high-water mark
    w.u32((1 << 0) | (1 << 30)); // seqs 99 and 69 seen
    w.u32(1 << 31); // bit 63: seq 36 seen
    const d = SeqDeduplicator.restore(w.finish());
    expect(d.stats).toEqual({ accepted: 7, duplicates: 1, gapsClosed: 0, unsequenced: 0, restarts: 0 });
    const probes = [100, 99, 69, 36, 35, 1, 98, 70, 37, 101];
    expect(probes.map((s) => d.accept('old', s))).toEqual([false, false, false, false, false, false, true, true, true, true]);
    // and the converted state checkpoints in the current format
    expect(SeqDeduplicator.restore(d.snapshot()).accept('old', 97)).toBe(true);
  });

  it('takes a seen seq whose readings are all newer than any of the device as a restart, and a re-send as a duplicate', () => {
    const d = new SeqDeduplicator();
    for (let seq = 1; seq <= 5; seq++) expect(d.accept('a', seq, seq * 1000, seq * 1000 + 500)).toBe(true);
    expect(d.accept('a', 5, 5000, 5500)).toBe(false); // a re-send: the same times
    expect(d.accept('a', 3, 5400, 6000)).toBe(false); // a reading not newer than the device's latest (5500)
    expect(d.accept('a', 2, 5500, 9000)).toBe(false); // nor is one at it
    // Rebooted without keeping its seq: 1, 2 … again, with new readings.
    expect(d.accept('a', 1, 10_000, 10_500)).toBe(true);
    expect(d.accept('a', 2, 11_000, 11_500)).toBe(true);
    expect(d.accept('a', 1, 10_000, 10_500)).toBe(false); // the re-send of the new seq 1
    expect(d.accept('a', 3, 12_000, 12_000)).toBe(true);
    expect(d.accept('a', 2)).toBe(false); // no times known: never a restart
    // Re-sends from before the restart, coming after it: still known.
    expect(d.accept('a', 5, 5000, 5500)).toBe(false);
    expect(d.accept('a', 4, 4000, 4500)).toBe(false);
    expect(d.accept('a', 4, 12_500, 12_600)).toBe(true); // a seq from before, with new readings: the device's count reached it
    expect(d.accept('a', 5)).toBe(true); // no times of its own (the receive time): the current seqs decide, and 5 is new there
    expect(d.stats).toEqual({ accepted: 10, duplicates: 7, gapsClosed: 0, unsequenced: 0, restarts: 1 });
    // What it knows survives a snapshot.
    const r = SeqDeduplicator.restore(d.snapshot());
    expect([r.accept('a', 5, 5000, 5500), r.accept('a', 2, 11_000, 11_500), r.accept('a', 6, 13_000, 13_000)]).toEqual([false, false, true]);
  });

  it('counts each message of a device that restarts its seqs once, and no re-send from this run or the one before', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 8 }), { minLength: 1, maxLength: 6 }), fc.array(fc.nat(), { maxLength: 60 }), (runs, picks) => {
        const d = new SeqDeduplicator();
        let t = 0;
        let pick = 0;
        const sent: { seq: number; min: number; max: number; run: number }[] = [];
        for (const [run, length] of runs.entries()) {
          for (let seq = 1; seq <= length; seq++) {
            const message = { seq, min: t + 1, max: t + 2, run };
            t += 2;
            expect(d.accept('a', message.seq, message.min, message.max), `run ${run} seq ${seq}`).toBe(true);
            sent.push(message);
            // Now and then a re-send of a message of this run or the one before, as it was.
            const recent = sent.filter((m) => m.run >= run - 1);
            if (pick < picks.length && picks[pick]! % 3 === 0) {
              const again = recent[picks[pick]! % recent.length]!;
              expect(d.accept('a', again.seq, again.min, again.max), `re-send of run ${again.run} seq ${again.seq}`).toBe(false);
            }
            pick++;
          }
        }
        expect(d.stats.accepted).toBe(sent.length);
        expect(d.stats.restarts).toBe(runs.length - 1);
      }),
      { numRuns: 300 },
    );
  });

  it('never takes a message stamped with the receive time as a restart: a re-send of it is stamped anew', () => {
    const b = new ColumnarBatchBuilder(0, 0);
    const dev = b.intern('a');
    const m = b.intern('m');
    const add = (seq: number, time: number, flags = 0): void => {
      b.beginMessage(dev, 0, seq);
      b.addNumeric(m, 0, time, 1);
      if (flags !== 0) b.flagMessage(flags);
    };
    add(1, 1000);
    add(2, 2000, MSG_FLAG_RECEIVE_TIME);
    add(2, 3000, MSG_FLAG_RECEIVE_TIME); // re-sent, stamped later
    add(1, 4000); // newer than all: a restart
    add(1, 4000);
    const maxTimes = new Float64Array(5);
    const d = new SeqDeduplicator();
    expect([...d.acceptBatch(b.build(), maxTimes)]).toEqual([1, 1, 0, 1, 0]);
    expect([...maxTimes]).toEqual([1000, 2000, 3000, 4000, 4000]);
    expect(d.stats.restarts).toBe(1);
  });

  it('keeps each device\'s latest time across snapshots; a version 3 snapshot has none, so no restart until the device sends again', () => {
    const d = new SeqDeduplicator();
    d.accept('a', 1, 100, 200);
    d.accept('b', 1, 100, 200);
    const full = d.snapshot();
    d.accept('b', 2, 300, 400);
    const r = SeqDeduplicator.restore(full, [d.snapshotDelta()]);
    expect(r.accept('a', 1, 150, 250)).toBe(false);
    expect(r.accept('a', 1, 201, 250)).toBe(true);
    expect(r.accept('b', 2, 350, 450)).toBe(false);
    expect(r.accept('b', 1, 401, 450)).toBe(true);

    const w = new ByteWriter(64);
    w.u32(0x44515053);
    w.u8(3); // version 3: ranges, no times
    w.u8(0); // full
    w.u8(32);
    for (const v of [5, 0, 0, 0]) w.f64(v);
    w.varint(1);
    w.string('old');
    w.varint(1); // one range: 1…5
    w.f64(1);
    w.varint(4);
    const old = SeqDeduplicator.restore(w.finish());
    expect(old.accept('old', 3, 1e12, 1e12)).toBe(false); // its latest time is unknown
    expect(old.accept('old', 6, 2000, 2000)).toBe(true);
    expect(old.accept('old', 3, 3000, 3000)).toBe(true); // now known: 2000
  });

  it('counts a device that reboots with its clock an hour behind: every new message under a reused seq once, no re-send of either run', () => {
    const d = new SeqDeduplicator();
    const HOUR = 3_600_000;
    // One message a second: seq k at t0 + k s, its value k (run 1) or 1000 + k (run 2, an hour behind).
    const t0 = 1_700_000_000_000;
    const message = (run: 1 | 2, seq: number, stamped = false) => ({ run, seq, time: t0 + seq * 1000 - (run === 2 ? HOUR : 0), value: run === 1 ? seq : 1000 + seq, stamped });
    const decide = (...messages: ReturnType<typeof message>[]): number[] => {
      const b = new ColumnarBatchBuilder(0, 0);
      const dev = b.intern('a');
      const metric = b.intern('temp');
      for (const m of messages) {
        b.beginMessage(dev, 0, m.seq);
        b.addNumeric(metric, 0, m.time, m.value);
        if (m.stamped) b.flagMessage(MSG_FLAG_RECEIVE_TIME);
      }
      return [...d.acceptBatch(b.build())];
    };
    const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);
    expect(decide(...range(1, 200).map((k) => message(1, k)))).toEqual(range(1, 200).map(() => 1));
    // Rebooted: seqs from 1 again, stamped an hour before its latest reading, with the
    // re-sends of what it had in flight at the reboot (run 1's latest 16) among them.
    const run2 = range(1, 150).map((k) => message(2, k));
    const inFlight = range(185, 200).map((k) => message(1, k));
    expect(decide(...run2.slice(0, 10), ...inFlight, ...run2.slice(10))).toEqual([...run2.slice(0, 10).map(() => 1), ...inFlight.map(() => 0), ...run2.slice(10).map(() => 1)]);
    expect(d.stats.restarts).toBe(1);
    // Re-sends of run 2's first and latest messages, and of run 1's beginning and end: all duplicates.
    expect(decide(message(2, 1), message(2, 2), message(2, 150), message(2, 140), message(1, 1), message(1, 200), message(1, 60))).toEqual([0, 0, 0, 0, 0, 0, 0]);
    // What it knows survives a checkpoint.
    const restored = SeqDeduplicator.restore(d.snapshot());
    const next = message(2, 151);
    const b = new ColumnarBatchBuilder(0, 0);
    b.beginMessage(b.intern('a'), 0, next.seq);
    b.addNumeric(b.intern('temp'), 0, next.time, next.value);
    b.beginMessage(b.intern('a'), 0, 2);
    b.addNumeric(b.intern('temp'), 0, message(2, 2).time, message(2, 2).value);
    b.beginMessage(b.intern('a'), 0, 199);
    b.addNumeric(b.intern('temp'), 0, message(1, 199).time, message(1, 199).value);
    expect([...restored.acceptBatch(b.build())]).toEqual([1, 0, 0]);
    expect(d.stats.accepted).toBe(350);
  });

  it('with fingerprints, counts each message of a device whose runs start over at 1 with its clock anywhere, and no re-send of the messages it keeps', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ length: fc.integer({ min: 1, max: 60 }), clock: fc.integer({ min: -100_000, max: 100_000 }) }), { minLength: 1, maxLength: 5 }),
        fc.array(fc.nat(), { maxLength: 300 }),
        (runs, picks) => {
          const d = new SeqDeduplicator();
          let fingerprint = 0;
          let pick = 0;
          const byRun: { seq: number; time: number; fingerprint: number }[][] = [];
          // Fingerprints kept of a run: its first 4 and latest 16 messages.
          const kept = (run: number) => (run < 0 ? [] : [...byRun[run]!.slice(0, 4), ...byRun[run]!.slice(4).slice(-16)]);
          for (const [run, { length, clock }] of runs.entries()) {
            byRun.push([]);
            for (let seq = 1; seq <= length; seq++) {
              const message = { seq, time: 1_000_000 + clock + seq, fingerprint: ++fingerprint };
              expect(d.accept('a', seq, message.time, message.time, message.fingerprint), `run ${run} seq ${seq}`).toBe(true);
              byRun[run]!.push(message);
              const candidates = [...kept(run), ...kept(run - 1)];
              if (pick < picks.length && picks[pick]! % 3 === 0) {
                const again = candidates[picks[pick]! % candidates.length]!;
                expect(d.accept('a', again.seq, again.time, again.time, again.fingerprint), `re-send of seq ${again.seq}`).toBe(false);
              }
              pick++;
            }
          }
          expect(d.stats.accepted).toBe(byRun.flat().length);
          expect(d.stats.restarts).toBe(runs.length - 1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('counts two processes under one device id (a cloned device: their own seqs, clocks that agree) once each, and no re-send of the latest 16', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 300 }), fc.array(fc.boolean(), { minLength: 1, maxLength: 200 }), fc.array(fc.nat(), { maxLength: 200 }), (startB, order, picks) => {
        const d = new SeqDeduplicator();
        let time = 1_000_000;
        let fingerprint = 0;
        // A counts from 1, B from startB (1: the very same seqs); each message is new readings.
        const next = { a: 1, b: startB };
        const sent: { seq: number; time: number; fingerprint: number }[] = [];
        for (const [i, fromA] of order.entries()) {
          const message = { seq: fromA ? next.a++ : next.b++, time: ++time, fingerprint: ++fingerprint };
          expect(d.accept('twin', message.seq, message.time, message.time, message.fingerprint), `${fromA ? 'A' : 'B'} seq ${message.seq}`).toBe(true);
          sent.push(message);
          // Now and then a re-send (after a takeover, say) of one of the device's latest 16.
          if (i < picks.length && picks[i]! % 3 === 0) {
            const again = sent[sent.length - 1 - (picks[i]! % Math.min(16, sent.length))]!;
            expect(d.accept('twin', again.seq, again.time, again.time, again.fingerprint), `re-send of seq ${again.seq}`).toBe(false);
          }
        }
        expect(d.stats.accepted).toBe(order.length);
      }),
      { numRuns: 300 },
    );
  });

  it('takes a message stamped with the receive time under a reused seq as new when its values differ, and its re-send as a duplicate', () => {
    const d = new SeqDeduplicator();
    const decide = (seq: number, time: number, value: number): number => {
      const b = new ColumnarBatchBuilder(0, 0);
      b.beginMessage(b.intern('a'), 0, seq);
      b.addNumeric(b.intern('m'), 0, time, value);
      b.flagMessage(MSG_FLAG_RECEIVE_TIME);
      return d.acceptBatch(b.build())[0]!;
    };
    expect([decide(1, 5000, 20.5), decide(2, 6000, 20.7), decide(2, 9000, 20.7)]).toEqual([1, 1, 0]);
    // Rebooted, seqs from 1 again: other values, stamped on arrival.
    expect([decide(1, 10_000, 21.1), decide(1, 11_000, 21.1), decide(2, 12_000, 21.4)]).toEqual([1, 0, 1]);
    expect(d.stats.restarts).toBe(1);
  });

  it('restores a version 4 snapshot (no fingerprints): times decide until the device sends again', () => {
    const w = new ByteWriter(64);
    w.u32(0x44515053);
    w.u8(4); // version 4: ranges and times, no fingerprints
    w.u8(0); // full
    w.u8(32);
    for (const v of [5, 0, 0, 0, 0]) w.f64(v);
    w.varint(1);
    w.string('old');
    w.varint(1); // one range: 1…5
    w.f64(1);
    w.varint(4);
    w.f64(5000); // its latest time
    w.u8(0); // no run before
    const old = SeqDeduplicator.restore(w.finish());
    expect(old.accept('old', 3, 4000, 4000, 7)).toBe(false); // no fingerprint kept: its times say re-send
    expect(old.accept('old', 6, 6000, 6000, 8)).toBe(true);
    expect(old.accept('old', 6, 6000, 6000, 9)).toBe(true); // kept now: another fingerprint is new data
    expect(old.accept('old', 6, 6000, 6000, 9)).toBe(false);
  });

  it('decides a whole batch, skipping messages the gateway dropped and status records', () => {
    const b = new ColumnarBatchBuilder(0, 0);
    const dev = b.intern('a');
    for (const seq of [1, 2, 1, 3, 4]) b.beginMessage(dev, 0, seq);
    const batch = b.build();
    batch.msgFlags[3] = MSG_FLAG_DROPPED;
    batch.msgFlags[4] = MSG_FLAG_STATUS;
    const d = new SeqDeduplicator();
    expect([...d.acceptBatch(batch)]).toEqual([1, 1, 0, 0, 0]);
    expect(d.accept('a', 3)).toBe(true); // the dropped message left no trace
    expect(d.accept('a', 4)).toBe(true); // nor the status record
  });

  it('carries only the devices touched since the previous snapshot in a delta, and restores full + deltas to the same decisions', () => {
    const d = new SeqDeduplicator(16);
    for (let i = 0; i < 100; i++) d.accept(`dev-${i}`, 10);
    const full = d.snapshot();
    d.accept('dev-1', 12); // a new high-water mark
    d.accept('dev-2', 9); // a gap below it filled
    d.accept('dev-3', 10); // a duplicate: counted, no state change
    d.accept('new', 1);
    const delta1 = d.snapshotDelta();
    d.accept('dev-1', 11);
    const delta2 = d.snapshotDelta();
    expect(delta1.byteLength).toBeLessThan(200);
    expect(delta2.byteLength).toBeLessThan(100);
    const r = SeqDeduplicator.restore(full, [delta1, delta2]);
    expect(r.stats).toEqual(d.stats);
    expect(r.size).toBe(101);
    for (const [dev, seq] of [['dev-1', 11], ['dev-1', 10], ['dev-1', 12], ['dev-2', 9], ['dev-2', 8], ['new', 1], ['new', 2], ['dev-50', 10], ['dev-50', 11]] as const) {
      expect(r.accept(dev, seq), `${dev} ${seq}`).toBe(d.accept(dev, seq));
    }
    expect(() => SeqDeduplicator.restore(delta1)).toThrow(/a delta where a full snapshot was expected/);
    expect(() => SeqDeduplicator.restore(full, [full])).toThrow(/a full snapshot where a delta was expected/);
    expect(() => SeqDeduplicator.restore(full, [delta1.subarray(0, delta1.length - 2)])).toThrow(StateCorruptError);
  });

  it('restores from full + deltas taken at random points exactly like the live one', () => {
    const eventArb = fc.oneof(
      fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 0, max: 120 }), fc.integer({ min: 0, max: 50 })),
      fc.constantFrom<'full' | 'delta'>('full', 'delta', 'delta'),
    );
    fc.assert(
      fc.property(fc.array(eventArb, { maxLength: 80 }), fc.array(fc.tuple(fc.constantFrom('a', 'b', 'c', 'd'), fc.integer({ min: 0, max: 130 }), fc.integer({ min: 0, max: 60 })), { maxLength: 30 }), (events, probes) => {
        const live = new SeqDeduplicator();
        let full = live.snapshot();
        let deltas: Uint8Array[] = [];
        for (const e of events) {
          if (e === 'full') [full, deltas] = [live.snapshot(), []];
          else if (e === 'delta') deltas.push(live.snapshotDelta());
          else live.accept(e[0], e[1], e[2], e[2], e[2] % 3); // few fingerprints: both the same and other ones are met
        }
        deltas.push(live.snapshotDelta());
        const restored = SeqDeduplicator.restore(full, deltas);
        expect(restored.stats).toEqual(live.stats);
        for (const [dev, seq, t] of probes) expect(restored.accept(dev, seq, t, t, t % 3)).toBe(live.accept(dev, seq, t, t, t % 3));
      }),
      { numRuns: 200 },
    );
  });
});
