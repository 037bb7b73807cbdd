import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Log, LogRecord } from '../../log/index.js';
import { ColumnarBatchBuilder, compressBatch } from '../../proto/index.js';
import { decodeCheckpoint, encodeCheckpoint, type PartitionCheckpoint } from '../checkpoint/checkpoint-file.js';
import { parseRules, type Rule } from '../rules/index.js';
import type { SinkPoint } from '../sink/index.js';
import type { WindowSpec } from '../windowing/window-spec.js';
import { PartitionTask } from './partition-task.js';
import { TaskStateWriter, unpackTaskState } from './task-state.js';

/** The log of one partition, in memory. */
class MemoryLog implements Log {
  readonly partitions = 1;
  readonly records: Uint8Array[] = [];
  append(_p: number, payload: Uint8Array): Promise<number> {
    this.records.push(payload);
    return Promise.resolve(this.records.length - 1);
  }
  read(_p: number, from: number, max = 100): Promise<LogRecord[]> {
    return Promise.resolve(this.records.slice(from, from + max).map((payload, i) => ({ offset: from + i, payload })));
  }
  trim(): Promise<void> {
    return Promise.resolve();
  }
  startOffset(): Promise<number> {
    return Promise.resolve(0);
  }
  pending(_p: number, from: number): Promise<number> {
    return Promise.resolve(Math.max(0, this.records.length - from));
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

const TIME = { maxOutOfOrderness: 2_000, idleTimeout: 1e12, allowedLateness: 4_000, maxBackfill: 1e15 };
const WINDOWS: WindowSpec[] = [{ name: 'w5s', type: 'tumbling', size: 5_000 }];
const T0 = 1_700_000_000_000;

const RULES_YAML = `
rules:
  - name: hot
    severity: critical
    description: hot for two windows
    threshold: { metric: t, aggregate: mean, op: ">", value: 5, for: 2, clear: { op: "<", value: 0 } }
  - name: rising
    severity: warning
    rate: { metric: t, aggregate: mean, over: 5s, op: ">", value: 1 }
  - name: quiet
    severity: info
    absence: { for: 8s }
  - name: spike-then-humid
    severity: warning
    sequence:
      first: { metric: t, aggregate: max, op: ">=", value: 15 }
      then: { metric: h, aggregate: mean, op: ">", value: 5 }
      within: 10s
`;
const RULES: Rule[] = parseRules(RULES_YAML, { windows: WINDOWS });

/** Readings as (device, metric, time offset from T0 in ms, value), one log record per inner list, each device numbering its messages. */
function logOf(records: [device: string, metric: string, dt: number, value: number][][]): MemoryLog {
  const log = new MemoryLog();
  const seq = new Map<string, number>();
  for (const readings of records) {
    const b = new ColumnarBatchBuilder(0, T0);
    for (const [device, metric, dt, value] of readings) {
      const s = (seq.get(device) ?? 0) + 1;
      seq.set(device, s);
      b.beginMessage(b.intern(device), b.intern(''), s);
      b.addNumeric(b.intern(metric), b.intern(''), T0 + dt, value);
    }
    void log.append(0, compressBatch(b.encode()));
  }
  return log;
}

const alerts = (points: SinkPoint[]): string[] => points.filter((p) => p.measurement === 'alerts').map((p) => `${p.tags.rule} ${p.tags.device} ${p.tags.state} ${p.timeMs - T0}`);

async function runAll(task: PartitionTask): Promise<void> {
  await task.startFresh();
  while (await task.step(1));
}

describe('PartitionTask rules', () => {
  it('writes an alerts point when a threshold has held for its windows, and another when it clears', async () => {
    // Device m: means 10, 12 (fires at the end of the 2nd window, 10 s), 3 (holds: not < 0), −4 (resolves at 20 s); then time moves on.
    const log = logOf([[['m', 't', 1_000, 10]], [['m', 't', 6_000, 12]], [['m', 't', 11_000, 3]], [['m', 't', 16_000, -4]], [['m', 't', 30_000, 0]]]);
    const out: SinkPoint[] = [];
    const seen: string[] = [];
    await runAll(new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, rules: RULES.filter((r) => r.name === 'hot'), emit: (p) => out.push(p), onAlert: (t) => seen.push(t.id) }));
    expect(alerts(out)).toEqual(['hot m firing 10000', 'hot m resolved 20000']);
    const firing = out.find((p) => p.measurement === 'alerts' && p.tags.state === 'firing')!;
    expect(firing).toMatchObject({ tags: { rule: 'hot', device: 'm', severity: 'critical', state: 'firing' }, fields: { value: 12, threshold: 5, description: 'hot for two windows' } });
    expect(seen).toHaveLength(2);
    expect(firing.fields.id).toBe(seen[0]);
  });

  it('fires an absence rule for a device gone quiet, judged on the partition watermark the other devices move', async () => {
    const log = logOf([[['q', 't', 0, 1], ['o', 't', 0, 1]], ...Array.from({ length: 12 }, (_, i): [string, string, number, number][] => [['o', 't', (i + 1) * 1_000, 1]]), [['q', 't', 14_000, 1]]]);
    const out: SinkPoint[] = [];
    await runAll(new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, rules: RULES.filter((r) => r.name === 'quiet'), emit: (p) => out.push(p) }));
    // q silent from 0: due at 8 s, noticed once the watermark (o's 10 s − 2 s out-of-orderness) reaches it; back at 14 s.
    expect(alerts(out)).toEqual(['quiet q firing 8000', 'quiet q resolved 14000']);
  });

  it('resolves the firing alerts of a rule removed at run time, and a rule added fires on windows closing after', async () => {
    const log = logOf([[['m', 't', 1_000, 10]], [['m', 't', 6_000, 12]], [['m', 't', 11_000, 9]], [['m', 't', 16_000, 9]], [['m', 't', 21_000, 9]]]);
    const out: SinkPoint[] = [];
    const task = new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, rules: RULES.filter((r) => r.name === 'hot'), emit: (p) => out.push(p) });
    await task.startFresh();
    for (let i = 0; i < 4; i++) await task.step(1); // m's clock at 16 − 2 s: the window ending at 10 s closed, hot fires
    expect(alerts(out)).toEqual(['hot m firing 10000']);
    const hotter = parseRules(RULES_YAML.replace('value: 5, for: 2', 'value: 5, for: 1').replace('name: hot', 'name: hot2'), { windows: WINDOWS }).filter((r) => r.name === 'hot2');
    task.replaceRules(hotter);
    // Resolved at the partition watermark (16 s − 2 s), then hot2 fires on the first window that closes after the change (15 s).
    while (await task.step(1));
    expect(alerts(out)).toEqual(['hot m firing 10000', 'hot m resolved 14000', 'hot2 m firing 15000']);
    expect(task.ruleState.firing).toBe(1);
  });

  it('restores a checkpoint written before rules existed (no rules part): the rules start without state', async () => {
    const log = logOf([[['m', 't', 1_000, 10]], [['m', 't', 6_000, 12]], [['m', 't', 11_000, 12]], [['m', 't', 16_000, 12]]]);
    const t = new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, emit: () => undefined });
    await t.startFresh();
    await t.step(1);
    const c = await t.snapshot(1);
    const parts = unpackTaskState(c.state);
    expect(parts.has('rules')).toBe(true);
    const old = new TaskStateWriter(c.state.byteLength);
    for (const [name, bytes] of parts) if (name !== 'rules') await old.part(name, (w) => w.bytes(bytes));
    const out: SinkPoint[] = [];
    const r = new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, rules: RULES.filter((x) => x.name === 'hot'), emit: (p) => out.push(p) });
    r.restore([{ ...c, state: old.finish() }]);
    while (await r.step(1));
    expect(alerts(out)).toEqual(['hot m firing 10000']);
  });

  it('restoring full + delta checkpoints at random points and replaying writes exactly the alert points of an uninterrupted run', async () => {
    let withAlerts = 0;
    const reading = fc.tuple(fc.constantFrom('a', 'b', 'c'), fc.constantFrom('t', 'h'), fc.integer({ min: -3_000, max: 800 }), fc.integer({ min: -5, max: 20 }));
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(reading, { minLength: 0, maxLength: 4 }), { minLength: 6, maxLength: 40 }),
        fc.array(fc.constantFrom('none', 'checkpoint', 'checkpoint', 'crash'), { minLength: 40, maxLength: 40 }),
        fc.integer({ min: 1, max: 4 }),
        async (records, plan, fullEvery) => {
          // Record i happens around i seconds; quiet stretches (empty records) let absence fire.
          const log = logOf(records.map((rs, i) => rs.map(([d, m, dt, v]) => [d, m, i * 1_000 + dt, v] as [string, string, number, number])));
          const make = (emit: (p: SinkPoint) => void): PartitionTask => new PartitionTask({ partition: 0, log, windows: WINDOWS, time: TIME, raw: false, rules: RULES, emit });
          const expected: SinkPoint[] = [];
          const before: number[] = [];
          const straight = make((p) => expected.push(p));
          await straight.startFresh();
          do before.push(expected.length);
          while (await straight.step(1));
          if (alerts(expected).length > 0) withAlerts++;

          let out: SinkPoint[] = [];
          let t = make((p) => out.push(p));
          await t.startFresh();
          let from = 0;
          let id = 1;
          const saved = new Map<number, PartitionCheckpoint>();
          let newest: PartitionCheckpoint | undefined;
          const done = new Set<number>();
          while (t.offset < log.records.length) {
            const at = t.offset;
            const action = done.has(at) ? 'none' : plan[at]!;
            done.add(at);
            if (action === 'checkpoint') {
              newest = await decodeCheckpoint(await encodeCheckpoint(await t.snapshot(id++, { fullEvery })), 'test');
              saved.set(newest.id, newest);
            } else if (action === 'crash' && newest !== undefined) {
              expect(out).toEqual(expected.slice(before[from], before[at]));
              t = make((p) => out.push(p));
              const chain = [newest];
              while (chain[0]!.kind === 'delta') chain.unshift(saved.get(chain[0]!.base)!);
              t.restore(chain);
              from = t.offset;
              out = [];
              continue;
            }
            await t.step(1);
          }
          expect(out).toEqual(expected.slice(before[from]));
        },
      ),
      { numRuns: 150 },
    );
    expect(withAlerts).toBeGreaterThan(40); // the property is about alerts: many runs (about half) must have some
  });
});
