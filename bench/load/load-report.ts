/** The load mode's report: medians over rounds, the issue's ratios, and the files it writes. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { machineInfo, type MachineInfo } from '../ramp/index.js';
import { LOAD_BROKERS, type LoadBroker, type LoadOptions, type LoadRun, type LoadScenario } from './run-load.js';

/** One broker under one scenario: the median of its rounds. */
export interface LoadMedian {
  broker: LoadBroker;
  scenario: LoadScenario;
  rounds: number;
  msgsPerSecond: number;
  readingsPerSecond: number;
  brokerCpuSecondsPerMillionMessages: number;
  brokerCpuSecondsPerMillionReadings: number;
  mainThreadCpuSecondsPerMillionMessages: number;
  loadCpuSecondsPerMillionMessages: number;
  /** sluice-start with a local influxd: its CPU per million messages. */
  influxdCpuSecondsPerMillionMessages?: number;
  /** Cores the whole machine kept busy (every process). */
  machineBusyCores: number;
  /** sluice-start: medians of the processors' lag (log records) as the rounds began and ended. */
  processorLagRecords?: { start: number; end: number };
  brokerRssMiB: number;
  pubackP50Ms: number;
  pubackP99Ms: number;
  /** Medians of the rounds' PUBACKs past 20 ms, of the bursts they came in, and of the time between bursts (see LateBursts). */
  lateMedian: number;
  lateBurstsMedian: number;
  lateBurstGapMs?: number;
  /** Sluice: median of the rounds' log-append and in-process PUBACK p99 (their histogram buckets' upper bounds). */
  gatewayAppendP99Ms?: number;
  gatewayPubackP99Ms?: number;
  /** Paced runs: publishes shed in all rounds (due while the window and backlog were full). */
  shed?: number;
  /** Paced runs: median of the rounds' p99 of the generator's own lateness (LoadRun.generatorLagMs). */
  generatorLagP99Ms?: number;
  /** sluice-start: rounds verified exact, of rounds run. */
  exactRounds?: number;
}

/** A ratio the issue names, from the medians (null when a side did not run). */
export interface LoadRatio {
  scenario: LoadScenario;
  what: string;
  ratio: number | null;
  /** The bars it is measured against, e.g. [1.0, 1.5]. */
  bars: number[];
}

export interface LoadReport {
  kind: 'load';
  startedAt: string;
  machine: MachineInfo;
  options: Omit<LoadOptions, 'sluice'>;
  runs: LoadRun[];
  medians: LoadMedian[];
  ratios: LoadRatio[];
}

/** Medians per broker × scenario, and the ratios of issue 15 (single: sluice start vs mosquitto and bare aedes). */
export function loadReport(options: LoadOptions, runs: LoadRun[], startedAt: Date): LoadReport {
  const medians: LoadMedian[] = [];
  for (const scenario of options.scenarios) {
    for (const broker of LOAD_BROKERS) {
      const of = runs.filter((r) => r.broker === broker && r.scenario === scenario);
      if (of.length === 0) continue;
      const m = (pick: (r: LoadRun) => number): number => round3(median(of.map(pick)));
      medians.push({
        broker,
        scenario,
        rounds: of.length,
        msgsPerSecond: m((r) => r.msgsPerSecond),
        readingsPerSecond: m((r) => r.readingsPerSecond),
        brokerCpuSecondsPerMillionMessages: m((r) => r.brokerCpuSecondsPerMillionMessages),
        brokerCpuSecondsPerMillionReadings: m((r) => r.brokerCpuSecondsPerMillionReadings),
        mainThreadCpuSecondsPerMillionMessages: m((r) => r.mainThreadCpuSecondsPerMillionMessages),
        loadCpuSecondsPerMillionMessages: m((r) => r.loadCpuSecondsPerMillionMessages),
        ...(of.some((r) => r.influxdCpuSecondsPerMillionMessages !== undefined) ? { influxdCpuSecondsPerMillionMessages: m((r) => r.influxdCpuSecondsPerMillionMessages ?? NaN) } : {}),
        machineBusyCores: m((r) => r.machineBusyCores),
        ...(of.some((r) => r.processorLagRecords !== undefined) ? { processorLagRecords: { start: m((r) => r.processorLagRecords?.start ?? NaN), end: m((r) => r.processorLagRecords?.end ?? NaN) } } : {}),
        brokerRssMiB: m((r) => r.brokerRssMiB),
        pubackP50Ms: m((r) => r.pubackMs.p50),
        pubackP99Ms: m((r) => r.pubackMs.p99),
        lateMedian: m((r) => r.late.late),
        lateBurstsMedian: m((r) => r.late.bursts),
        ...burstGap(of),
        ...gatewayMedians(of),
        ...(options.rateMsgsPerSecond === undefined ? {} : { shed: of.reduce((n, r) => n + (r.offered?.shed ?? 0), 0), generatorLagP99Ms: m((r) => r.generatorLagMs?.p99 ?? NaN) }),
        ...(broker === 'sluice-start' ? { exactRounds: of.filter((r) => r.verify?.exact).length } : {}),
      });
    }
  }
  const rate = (broker: LoadBroker, scenario: LoadScenario): number | undefined => medians.find((x) => x.broker === broker && x.scenario === scenario)?.msgsPerSecond;
  const ratio = (scenario: LoadScenario, a: LoadBroker, b: LoadBroker, bars: number[]): LoadRatio => {
    const x = rate(a, scenario);
    const y = rate(b, scenario);
    return { scenario, what: `${a} / ${b} msgs/s`, ratio: x === undefined || y === undefined ? null : Math.round((x / y) * 100) / 100, bars };
  };
  const ratios: LoadRatio[] = [];
  // Paced, every broker that keeps up sends the same rate: the ratios would say nothing.
  const scenarios = options.rateMsgsPerSecond === undefined ? options.scenarios : [];
  for (const scenario of scenarios) {
    ratios.push(ratio(scenario, 'sluice-start', 'mosquitto', scenario === 'single' ? [1.0, 1.5] : []));
    ratios.push(ratio(scenario, 'sluice-start', 'bare-aedes', scenario === 'single' ? [0.6] : []));
    ratios.push(ratio(scenario, 'sluice-gateway', 'mosquitto', []));
    ratios.push(ratio(scenario, 'sluice-gateway', 'bare-aedes', []));
  }
  const { sluice: _sluice, ...shown } = options;
  return { kind: 'load', startedAt: startedAt.toISOString(), machine: machineInfo(), options: shown, runs, medians, ratios: ratios.filter((r) => r.ratio !== null) };
}

/** The report as a Markdown table of medians and the ratios with their bars. */
export function loadMarkdown(report: LoadReport): string {
  const o = report.options;
  const paced = o.rateMsgsPerSecond !== undefined;
  const lines = [
    `# sluice bench --mode load, ${report.startedAt}`,
    '',
    `${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.ramGiB} GiB, Node ${report.machine.node}; QoS 1, ${o.connections} connections × ${o.inflight} in flight${o.rateMsgsPerSecond === undefined ? '' : `, paced at ${o.rateMsgsPerSecond.toLocaleString('en-US')} msgs/s offered (latency from when each publish was due)`}, ${o.rounds} rounds × ${o.durationMs / 1000} s after ${o.warmupMs / 1000} s warm-up${report.runs.some((r) => r.broker === 'sluice-start') ? " (`sluice start`'s also until each processor thread's first checkpoint, which runs code V8 has not compiled yet)" : ''}; medians. The load generator shares the cores.`,
    '',
    `| scenario | broker | msgs/s | readings/s | broker CPU s per M msgs | … of it its main thread | load CPU s per M msgs | influxd CPU s per M msgs | machine busy cores | processor lag records, start → end | PUBACK p50 / p99 ms | PUBACKs > 20 ms: publishes / bursts / ms between | sluice's own p99 ms: log append / PUBACK | RSS MiB | verify |${paced ? ' shed | generator late p99 ms |' : ''}`,
    `| --- | --- | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --: | --- |${paced ? ' --: | --: |' : ''}`,
    ...report.medians.map(
      (m) =>
        `| ${m.scenario} | ${m.broker} | ${m.msgsPerSecond.toLocaleString('en-US')} | ${m.readingsPerSecond.toLocaleString('en-US')} | ${m.brokerCpuSecondsPerMillionMessages} | ${m.mainThreadCpuSecondsPerMillionMessages} | ${m.loadCpuSecondsPerMillionMessages} | ${m.influxdCpuSecondsPerMillionMessages ?? '–'} | ${m.machineBusyCores} | ${m.processorLagRecords === undefined ? '–' : `${m.processorLagRecords.start} → ${m.processorLagRecords.end}`} | ${m.pubackP50Ms.toFixed(1)} / ${m.pubackP99Ms.toFixed(1)} | ${m.lateMedian.toLocaleString('en-US')} / ${m.lateBurstsMedian} / ${m.lateBurstGapMs ?? '–'} | ${gatewayCell(m)} | ${m.brokerRssMiB} | ${m.exactRounds === undefined ? '' : `exact in ${m.exactRounds} of ${m.rounds} rounds`} |${m.shed === undefined ? '' : ` ${m.shed} | ${m.generatorLagP99Ms?.toFixed(1) ?? '–'} |`}`,
    ),
    '',
    ...report.ratios.map((r) => `- ${r.scenario}: ${r.what} = **${r.ratio}**${r.bars.length ? ` (bars: ${r.bars.map((b) => `≥ ${b}×: ${r.ratio! >= b ? 'met' : 'not met'}`).join(', ')})` : ''}`),
    '',
  ];
  return lines.join('\n');
}

/** Writes <dir>/load-<time>.json and .md; returns their paths. */
export async function writeLoadReport(report: LoadReport, dir: string): Promise<{ json: string; markdown: string }> {
  await mkdir(dir, { recursive: true });
  const base = join(dir, `load-${report.startedAt.replace(/[:.]/g, '-')}`);
  const files = { json: `${base}.json`, markdown: `${base}.md` };
  await writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(files.markdown, loadMarkdown(report));
  return files;
}

/** The sluice rounds' own p99s (medians over the rounds that have them); nothing for the other brokers. */
function gatewayMedians(of: LoadRun[]): Pick<LoadMedian, 'gatewayAppendP99Ms' | 'gatewayPubackP99Ms'> {
  const append = of.flatMap((r) => (r.gatewayP99Ms?.append === undefined ? [] : [r.gatewayP99Ms.append]));
  const puback = of.flatMap((r) => (r.gatewayP99Ms?.puback === undefined ? [] : [r.gatewayP99Ms.puback]));
  return { ...(append.length ? { gatewayAppendP99Ms: median(append) } : {}), ...(puback.length ? { gatewayPubackP99Ms: median(puback) } : {}) };
}

/** The median time between late bursts over the rounds that had two or more. */
function burstGap(of: LoadRun[]): Pick<LoadMedian, 'lateBurstGapMs'> {
  const gaps = of.flatMap((r) => (r.late.medianGapMs === null ? [] : [r.late.medianGapMs]));
  return gaps.length ? { lateBurstGapMs: median(gaps) } : {};
}

/** '≤ 5 / ≤ 25': the histograms' bucket bounds, so upper bounds; empty for brokers without them. */
function gatewayCell(m: LoadMedian): string {
  const bound = (ms: number | undefined): string => (ms === undefined ? '–' : Number.isFinite(ms) ? `≤ ${ms}` : 'over the top bucket');
  return m.gatewayAppendP99Ms === undefined && m.gatewayPubackP99Ms === undefined ? '' : `${bound(m.gatewayAppendP99Ms)} / ${bound(m.gatewayPubackP99Ms)}`;
}

const round3 = (n: number): number => Math.round(n * 1000) / 1000;

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}
