import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { StateCorruptError } from '../errors.js';
import { ByteReader, ByteWriter } from '../state/bytes.js';
import type { FiredWindow } from '../windowing/fired-window.js';
import { prng } from '../windowing/testing/batches.js';
import { RuleEvaluator } from './rule-evaluator.js';
import type { AlertTransition, Rule } from './rule.js';
import { result, rules, states, win } from './testing/fixtures.js';

const RULES = `
  - name: hot
    severity: critical
    threshold: { metric: temp, aggregate: mean, op: '>', value: 80, for: 2, clear: { op: '<', value: 75 } }
  - name: hot-top
    severity: warning
    devices: { tags: { site: a }, readingTags: { zone: top } }
    threshold: { metric: temp, aggregate: max, op: '>', value: 85, for: 30s }
  - name: drop
    severity: warning
    rate: { metric: pressure, over: 30s, op: '<', value: -0.5 }
  - name: silent
    severity: warning
    absence: { for: 1m }
  - name: no-door
    severity: info
    devices: { ids: ['d1*'] }
    absence: { metric: door, for: 2m }
  - name: door-warm
    severity: warning
    sequence:
      first: { metric: door, aggregate: max, op: '>=', value: 1 }
      then: { metric: temp, aggregate: mean, op: '>', value: 80 }
      within: 1m
`;
/** RULES with hot changed, drop removed and a rule added. */
const RULES_2 =
  RULES.replace("value: 80, for: 2, clear: { op: '<', value: 75 }", "value: 82, for: 2, clear: { op: '<', value: 75 }").replace(/ {2}- name: drop\n.*\n.*\n/, '') +
  `
  - name: cold
    severity: info
    threshold: { metric: temp, aggregate: min, op: '<', value: 65, for: 1 }
`;

function snap(ev: RuleEvaluator, kind: 'full' | 'delta'): Uint8Array {
  const w = new ByteWriter(64);
  if (kind === 'full') ev.snapshot(w);
  else ev.snapshotDelta(w);
  return w.finish();
}

function restoreChain(rs: readonly Rule[], chain: readonly Uint8Array[], out: AlertTransition[] = [], resolveAt?: number): { ev: RuleEvaluator; resolved: AlertTransition[] } {
  const ev = new RuleEvaluator(rs, (t) => out.push(t));
  for (const bytes of chain) {
    const r = new ByteReader(bytes, 'rules');
    ev.restore(r);
    r.end();
  }
  return { ev, resolved: ev.takeDroppedAlerts(resolveAt) };
}

type Op =
  | { kind: 'window'; w: FiredWindow }
  | { kind: 'readings'; device: string; deviceTags: string; readingTags: string; metric: string; time: number }
  | { kind: 'advance'; now: number }
  | { kind: 'replace'; second: boolean; at: number };

/** A random but plausible input stream: per series mostly the next window, sometimes a re-fire, an older window or a gap. */
function stream(seed: number, length: number): Op[] {
  const next = prng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(next() * xs.length)]!;
  const devices = Array.from({ length: 30 }, (_, i) => `d${i}`);
  const tagsOf = new Map(devices.map((d, i) => [d, i % 3 === 0 ? 'site=a' : i % 3 === 1 ? 'model=x,site=b' : '']));
  const ends = new Map<string, number>();
  const pressure = new Map<string, number>();
  const ops: Op[] = [];
  let now = 0;
  let second = false;
  for (let i = 0; i < length; i++) {
    const r = next();
    if (r < 0.7) {
      const device = pick(devices);
      const metric = pick(['temp', 'temp', 'pressure', 'door', 'humidity']);
      const readingTags = metric === 'temp' && next() < 0.3 ? 'zone=top' : '';
      const key = `${device}/${metric}/${readingTags}`;
      const last = ends.get(key) ?? 10_000 * Math.floor(next() * 5);
      const step = next();
      const end = step < 0.1 ? last : step < 0.15 ? last - 10_000 : step < 0.25 ? last + 20_000 : last + 10_000;
      ends.set(key, Math.max(last, end));
      let value: number;
      if (metric === 'pressure') value = (pressure.get(device) ?? 100) + (next() - 0.7) * 30;
      else if (metric === 'door') value = next() < 0.3 ? 1 : 0;
      else value = 60 + next() * 40;
      if (metric === 'pressure') pressure.set(device, value);
      if (next() < 0.02) value = NaN;
      const w: FiredWindow = { window: 'w10s', device, metric, deviceTags: tagsOf.get(device)!, readingTags, start: end - 10_000, end, result: result(value) };
      ops.push({ kind: 'window', w });
      if (end > now) now = end;
      ops.push({ kind: 'readings', device, deviceTags: w.deviceTags, readingTags, metric, time: end - 1 - Math.floor(next() * 9_000) });
    } else if (r < 0.97) {
      now += Math.floor(next() * 20_000);
      ops.push({ kind: 'advance', now });
    } else {
      second = !second;
      ops.push({ kind: 'replace', second, at: now });
    }
  }
  return ops;
}

function run(ev: RuleEvaluator, ops: readonly Op[], out: AlertTransition[], first: Rule[], second: Rule[]): void {
  for (const op of ops) {
    if (op.kind === 'window') ev.onWindow(op.w);
    else if (op.kind === 'readings') ev.onReadings(op.device, op.deviceTags, op.readingTags, op.metric, op.time);
    else if (op.kind === 'advance') ev.advance(op.now);
    else out.push(...ev.replaceRules(op.second ? second : first, op.at));
  }
}

describe('RuleEvaluator snapshots', () => {
  it('restores from a full snapshot and its deltas to an evaluator that sends the same transitions as one that never stopped (randomized)', () => {
    const first = rules(RULES);
    const second = rules(RULES_2);
    let checked = 0;
    let withFiring = 0;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 2 ** 31 - 1 }), fc.integer({ min: 1, max: 8 }), fc.integer({ min: 0, max: 1000 }), (seed, checkpoints, cutAt) => {
        const ops = stream(seed, 1500);
        // the one that never stops (it takes snapshots too: they must not change what it sends)
        const straightOut: AlertTransition[] = [];
        const straight = new RuleEvaluator(first, (t) => straightOut.push(t));
        // the one that is checkpointed and dies at the cut
        const dyingOut: AlertTransition[] = [];
        const dying = new RuleEvaluator(first, (t) => dyingOut.push(t));
        const cut = 200 + cutAt;
        const marks = Array.from({ length: checkpoints }, (_, i) => Math.floor((cut * (i + 1)) / checkpoints));
        const chain: Uint8Array[] = [];
        let from = 0;
        let inForce = first;
        for (const mark of marks) {
          const part = ops.slice(from, mark);
          run(dying, part, dyingOut, first, second);
          run(straight, part, straightOut, first, second);
          for (const op of part) if (op.kind === 'replace') inForce = op.second ? second : first;
          chain.push(snap(dying, chain.length === 0 ? 'full' : 'delta'));
          if (chain.length % 3 === 0) snap(straight, 'delta');
          from = mark;
        }
        expect(dyingOut).toEqual(straightOut);
        const beforeCut = straightOut.length;
        const restoredOut: AlertTransition[] = [];
        const { ev: restored, resolved } = restoreChain(inForce, chain, restoredOut);
        expect(resolved).toEqual([]);
        expect(restored.stateSize).toEqual(dying.stateSize);
        expect(restored.stats).toEqual(dying.stats);
        const rest = ops.slice(cut);
        run(restored, rest, restoredOut, first, second);
        run(straight, rest, straightOut, first, second);
        expect(restoredOut).toEqual(straightOut.slice(beforeCut));
        expect(restored.stats).toEqual(straight.stats);
        if (straightOut.length > beforeCut) checked++;
        if (restored.stateSize.firing > 0) withFiring++;
      }),
      { numRuns: 40 },
    );
    // the property was exercised: transitions after the cut, alerts firing across it
    expect(checked).toBeGreaterThan(30);
    expect(withFiring).toBeGreaterThan(30);
  });

  it('round-trips every kind, and a delta holds only the devices that changed', () => {
    const rs = rules(RULES);
    const ev = new RuleEvaluator(rs, () => {});
    ev.onWindow(win('d1', 'temp', 10_000, 90, { deviceTags: 'site=a', readingTags: 'zone=top' }));
    ev.onWindow(win('d2', 'pressure', 10_000, 100));
    ev.onWindow(win('d2', 'pressure', 40_000, 50));
    ev.onWindow(win('d3', 'door', 10_000, 1));
    ev.onReadings('d4', '', '', 'temp', 5_000);
    const full = snap(ev, 'full');
    expect(restoreChain(rs, [full]).ev.stateSize).toEqual({ devices: 4, cells: 6, firing: 1 });
    expect(restoreChain(rs, [snap(ev, 'delta')]).ev.stateSize.devices).toBe(0); // nothing changed since the full one
    ev.onWindow(win('d2', 'pressure', 50_000, 49));
    const delta = snap(ev, 'delta');
    expect(restoreChain(rs, [delta]).ev.stateSize).toEqual({ devices: 1, cells: 1, firing: 1 }); // d2 only
    const { ev: back } = restoreChain(rs, [full, delta]);
    expect(back.stateSize).toEqual(ev.stateSize);
    // what each restored cell remembers shows in what it does next
    const a: AlertTransition[] = [];
    const b: AlertTransition[] = [];
    const twins = [new RuleEvaluator(rs, (t) => a.push(t)), restoreChain(rs, [full, delta], b).ev];
    twins[0]!.restore(new ByteReader(full));
    twins[0]!.restore(new ByteReader(delta));
    for (const e of twins) {
      e.onWindow(win('d1', 'temp', 20_000, 90, { deviceTags: 'site=a', readingTags: 'zone=top' }));
      e.onWindow(win('d1', 'temp', 30_000, 90, { deviceTags: 'site=a', readingTags: 'zone=top' }));
      e.onWindow(win('d2', 'pressure', 80_000, 60)); // vs the restored ring's 49 at 50 s: no longer dropping
      e.onWindow(win('d3', 'temp', 40_000, 90));
      e.advance(1e6);
    }
    expect(states(b)).toEqual(states(a));
    expect(states(a)).toEqual([
      'hot:d1{zone=top} firing@20000',
      'hot-top:d1{zone=top} firing@30000',
      'drop:d2 resolved@80000',
      'door-warm:d3 firing@40000',
      'silent:d4 firing@65000',
    ]);
  });

  it('drops the state of rules changed since the snapshot, resolving their firing alerts, and writes that in the next delta', () => {
    const ev = new RuleEvaluator(rules(RULES), () => {});
    for (const end of [10_000, 20_000]) ev.onWindow(win('d1', 'temp', end, 90));
    ev.onWindow(win('d1', 'pressure', 10_000, 100));
    ev.onWindow(win('d1', 'pressure', 40_000, 0));
    expect(ev.stateSize.firing).toBe(2);
    const full = snap(ev, 'full');
    const changed = rules(RULES_2);
    const { ev: back, resolved } = restoreChain(changed, [full]);
    expect(states(resolved)).toEqual(['drop:d1 resolved@40000', 'hot:d1 resolved@20000']); // dated by their last input
    expect(resolved[1]).toMatchObject({ severity: 'critical', threshold: 75, value: 90 });
    expect(states(restoreChain(changed, [full], [], 55_000).resolved)).toEqual(['drop:d1 resolved@55000', 'hot:d1 resolved@55000']);
    expect(back.stateSize).toEqual({ devices: 1, cells: 1, firing: 0 }); // door-warm's cell (temp is its `then`) is kept
    // the next delta says the device is gone, so the chain no longer resolves it again
    const delta = snap(back, 'delta');
    expect(restoreChain(changed, [full, delta]).resolved).toEqual([]);
  });

  it('throws StateCorruptError on garbage, on every truncation and on a delta that does not apply', () => {
    const rs = rules(RULES);
    const ev = new RuleEvaluator(rs, () => {});
    ev.onWindow(win('d1', 'temp', 10_000, 90));
    ev.onWindow(win('d2', 'pressure', 10_000, 90));
    ev.onWindow(win('d3', 'door', 10_000, 1));
    ev.onReadings('d4', '', '', 'temp', 5_000);
    const full = snap(ev, 'full');
    for (let n = 0; n < full.byteLength; n++) {
      expect(() => restoreChain(rs, [full.subarray(0, n)]), `truncated to ${n} bytes`).toThrow(StateCorruptError);
    }
    expect(() => restoreChain(rs, [Uint8Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9, 10])])).toThrow(/not a rule evaluator snapshot/);
    const trailing = new Uint8Array(full.byteLength + 1);
    trailing.set(full);
    expect(() => restoreChain(rs, [trailing])).toThrow(StateCorruptError);
    // a delta removing a device the state it is applied to does not have
    const other = new RuleEvaluator(rs, () => {});
    other.onWindow(win('zz', 'temp', 10_000, 90));
    const otherFull = snap(other, 'full');
    other.replaceRules([], 0);
    const removes = snap(other, 'delta');
    expect(() => restoreChain(rs, [full, removes])).toThrow(/removed device zz is not in the state/);
    expect(() => restoreChain(rs, [otherFull, removes])).not.toThrow();
    // a bad flag byte: an absence cell ends [lastSeen f64][firing u8][firedAt f64][value f64]
    const one = new RuleEvaluator(rules('  - { name: q, severity: info, absence: { for: 1m } }\n'), () => {});
    one.onReadings('dev', '', '', 't', 1);
    const flipped = Uint8Array.from(snap(one, 'full'));
    flipped[flipped.byteLength - 17] = 7;
    expect(() => restoreChain(one.rules, [flipped])).toThrow(/flag byte 7/);
  });
});
