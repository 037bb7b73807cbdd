/**
 * The bench's outputs: min / p50 / p90 / max per measure over the runs, the Markdown
 * table printed at the end with the anchors, and the JSON in bench/results/.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MachineInfo } from '../ramp/machine.js';
import type { FailoverBenchOptions } from './options.js';
import type { JoinRun, KillRun } from './runs.js';

export const FAILOVER_BENCH_REPORT_VERSION = 1;

/** Figures from elsewhere the issue compares with; reported, not measured by this bench. */
export const ANCHORS = [
  'Kafka Streams: a consumer-group rebalance stalls the group for 45 s and more with default settings (reported figure, not measured here).',
  'Flink: a lost TaskManager restarts the job from a savepoint, minutes later (reported figure, not measured here).',
];

/** One measure over the runs, in ms. */
export interface Summary {
  measure: string;
  runs: number;
  min: number;
  p50: number;
  p90: number;
  max: number;
}

/** What `npm run bench:failover` writes as JSON. */
export interface FailoverBenchReport {
  version: typeof FAILOVER_BENCH_REPORT_VERSION;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  /** 1-minute load average at the start and the end: the cores are shared, and the figures move with what else runs. */
  loadAverage: { start: number; end: number };
  options: FailoverBenchOptions;
  kills: KillRun[];
  joins: JoinRun[];
  summary: Summary[];
  anchors: string[];
  /** Mean duration of one read of the lease holders (readClusterStatus: 64 KV gets) over the bench. */
  meanHoldersReadMs: number;
  /** Set when the bench stopped early; the runs before it are still reported. */
  error?: string;
}

/** Nearest-rank percentile of ascending `sorted` (p in 0..100). */
function percentile(sorted: readonly number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

/** Min / p50 / p90 / max of `values` (NaN runs left out); undefined when none. */
export function summarize(measure: string, values: readonly number[]): Summary | undefined {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return undefined;
  return { measure, runs: sorted.length, min: sorted[0]!, p50: percentile(sorted, 50), p90: percentile(sorted, 90), max: sorted.at(-1)! };
}

/** The summaries of every measure the runs have. */
export function summaries(kills: readonly KillRun[], joins: readonly JoinRun[]): Summary[] {
  return [
    summarize('kill -9 → every partition held by a live member', kills.map((r) => r.ownedMs)),
    summarize('kill -9 → processors\' lag back to its level', kills.map((r) => r.lagMs)),
    summarize('4th processor spawned → it holds its 16 partitions', joins.map((r) => r.shareMs)),
    summarize('4th processor spawned → lag back to its level', joins.map((r) => r.lagMs)),
    summarize('(context) 4th processor spawned → ready (process start, part of the above)', joins.map((r) => r.readyMs)),
    summarize('(context) replacement spawned → balanced over 3', kills.map((r) => r.replacementBalancedMs)),
    summarize('(context) SIGTERM of the 4th → balanced over 3', joins.map((r) => r.leaveBalancedMs)),
  ].filter((s): s is Summary => s !== undefined);
}

const sec = (ms: number): string => (ms / 1000).toFixed(2);

/** The table of measures (seconds), the set-up in one line, and the anchors. */
export function failoverMarkdown(report: FailoverBenchReport): string {
  const o = report.options;
  const grace = o.handoffGrace ?? 'influx.timeout (10 s, the default)';
  const lines = [
    `3-node nats-server cluster (stream R3), 2 gateways, ${o.processors} processors sharing 64 partitions by lease (cluster defaults: heartbeat 1 s, lease 6 s; handoffGrace ${grace}), InfluxDB; \`sluice simulate\` ${o.devices} devices, ${o.rate} readings/s (10 a message, QoS 1) over both gateways throughout. ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.node}; everything, the simulator included, on the same cores (1-min load average ${report.loadAverage.start} at the start, ${report.loadAverage.end} at the end).`,
    `Holders read with readClusterStatus every ${o.pollMs} ms (one read took ${report.meanHoldersReadMs} ms on average); lag = sum of sluice_processor_lag_records over the live processors, every ${o.lagPollMs} ms; "back to its level": every partition reported and the sum ≤ the highest sum of the ${o.baselineMs / 1000} s before the run (at least ${o.lagFloor} records), for ${o.settleMs / 1000} s.`,
    '',
    '| measure | runs | min s | p50 s | p90 s | max s |',
    '| --- | --: | --: | --: | --: | --: |',
    ...report.summary.map((s) => `| ${s.measure} | ${s.runs} | ${sec(s.min)} | ${sec(s.p50)} | ${sec(s.p90)} | ${sec(s.max)} |`),
    '',
    'For context (from the issue):',
    ...report.anchors.map((a) => `- ${a}`),
  ];
  if (report.error !== undefined) lines.push('', `The bench stopped early: ${report.error.split('\n')[0]}`);
  return lines.join('\n');
}

/** Writes `<dir>/failover-<start time>.json`; returns its path. */
export async function writeFailoverReport(report: FailoverBenchReport, dir: string): Promise<string> {
  await mkdir(resolve(dir), { recursive: true });
  const file = join(resolve(dir), `failover-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}
