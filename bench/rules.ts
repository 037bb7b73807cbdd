/**
 * `npm run bench:rules`: what alert rules cost the processors per reading. One processor
 * thread's PartitionTask on 10k devices × 5 metrics (narrow values, 10 readings a series a
 * second, 40 s of event time: every key's 10 s windows fire 3 times), with 0, 10 and 100
 * rules in force (nine in ten thresholds on the window aggregates, one in ten absence
 * rules, which see every run of readings; none fires, so the cost is the evaluation, not
 * alert points). Rounds interleave the rule counts; prints medians of CPU s per million
 * readings. BENCH_ROUNDS (3) sets the rounds.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FileLog } from '../log/index.js';
import { parseRules, type Rule } from '../processors/rules/index.js';
import { PartitionTask } from '../processors/task/partition-task.js';
import { timeConfigSchema, windowsConfigSchema } from '../processors/windowing/window-spec.js';
import { fill, METRICS } from './fill-log.js';

const time = timeConfigSchema.parse({});
const windows = windowsConfigSchema.parse(undefined);
const AGGREGATES = ['mean', 'max', 'p99', 'min', 'count'];

/** `n` rules that are evaluated on every window (or run of readings) and never fire on 20 ± 2. */
function rules(n: number): Rule[] {
  const lines = ['rules:'];
  for (let i = 0; i < n; i++) {
    const metric = METRICS[i % METRICS.length]!;
    if (i % 10 === 9) lines.push(`  - { name: quiet-${i}, severity: info, absence: { metric: ${metric}, for: 1h } }`);
    else lines.push(`  - { name: high-${i}, severity: warning, threshold: { metric: ${metric}, aggregate: ${AGGREGATES[i % AGGREGATES.length]}, op: ">", value: ${1000 + i}, for: 2 } }`);
  }
  return n === 0 ? [] : parseRules(lines.join('\n'), { windows });
}

const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function run(): Promise<void> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-bench-rules-'));
  try {
    const log = await FileLog.open({ dir: join(dir, 'log'), partitions: 1, fsync: 'never' });
    const readings = await fill(log, 10_000, 500, 10, 40, 0, 'narrow');
    const counts = [0, 10, 100];
    const cpu = new Map<number, number[]>(counts.map((n) => [n, []]));
    const rounds = Number(process.env.BENCH_ROUNDS ?? 3);
    for (let round = 0; round < rounds; round++) {
      for (const n of round % 2 === 0 ? counts : [...counts].reverse()) {
        let alerts = 0;
        const task = new PartitionTask({ partition: 0, log, windows, time, raw: false, rules: rules(n), emit: (p) => void (p.measurement === 'alerts' && alerts++) });
        await task.startFresh();
        const cpu0 = process.cpuUsage();
        while (await task.step(64));
        const used = process.cpuUsage(cpu0);
        if (alerts > 0) throw new Error(`${alerts} alerts fired; the bench's rules must not fire`);
        cpu.get(n)!.push(((used.user + used.system) / 1e6 / readings) * 1e6);
      }
    }
    const base = median(cpu.get(0)!);
    for (const n of counts) {
      const m = median(cpu.get(n)!);
      console.log(`${String(n).padStart(3)} rules: ${m.toFixed(3)} CPU s per million readings (${n === 0 ? 'baseline' : `+${(((m - base) / base) * 100).toFixed(1)} %, +${((m - base) * 1000).toFixed(1)} ns a reading`}), ${readings.toLocaleString('en')} readings, ${rounds} rounds`);
    }
    await log.close();
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

await run();
