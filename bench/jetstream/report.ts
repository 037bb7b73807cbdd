/** The bench's outputs: the JSON file in bench/results/ and the Markdown tables printed at the end. */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { MachineInfo } from '../ramp/machine.js';
import type { JetStreamBenchOptions } from './options.js';
import type { SetupResult } from './run-setup.js';
import type { StepResult } from './step.js';

export const JETSTREAM_BENCH_REPORT_VERSION = 1;

/** What `npm run bench:jetstream` writes as JSON. */
export interface JetStreamBenchReport {
  version: typeof JETSTREAM_BENCH_REPORT_VERSION;
  startedAt: string;
  finishedAt: string;
  machine: MachineInfo;
  options: JetStreamBenchOptions;
  setups: SetupResult[];
}

const fmt = (n: number): string => Math.round(n).toLocaleString('en');

/** Writes `<dir>/jetstream-<start time>.json`; returns its path. */
export async function writeJetStreamReport(report: JetStreamBenchReport, dir: string): Promise<string> {
  await mkdir(resolve(dir), { recursive: true });
  const file = join(resolve(dir), `jetstream-${report.startedAt.replace(/[:.]/g, '-')}.json`);
  await writeFile(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/** Peak RSS in MiB as "sluice + nats = total" (each process's own peak; the total is the peak of the sum). */
function rss(s: StepResult): string {
  let sluice = 0;
  let nats = 0;
  for (const [name, mib] of Object.entries(s.peakRssMiB)) {
    if (name.startsWith('nats ')) nats += mib;
    else sluice += mib;
  }
  return nats === 0 ? `${sluice}` : `${sluice} + ${nats} = ${s.peakRssMiBTotal}`;
}

/** The summary table (one row per set-up, at its sustained step) and the table of every step. */
export function jetStreamMarkdown(report: JetStreamBenchReport): string {
  const o = report.options;
  const lines = [
    `100-reading Series (--batch 100 --shape series --metrics 1), QoS 1, ${o.devices} devices, steps of ${o.stepMs / 1000} s at ${o.rates.map(fmt).join(' / ')} readings/s offered; ${report.machine.cpus} × ${report.machine.cpuModel}, ${report.machine.node}.`,
    'Sustained: the highest step with every publish acknowledged, ≥ 95 % of the offered rate, PUBACK p99 < 100 ms and the processors caught up within 2.5 s; "≥" when every step passed. CPU: all sluice and nats-server processes, utime+stime from /proc, spawn of the simulator to the processors caught up; idle: the same processes over 3 s with no load. RSS: peak, sluice + nats-server.',
    '',
    '| set-up | readings/s sustained | verify | PUBACK p50 / p99 ms | CPU s per M readings | CPU cores (idle) | RSS MiB |',
    '| --- | --: | --- | --: | --: | --: | --: |',
  ];
  for (const r of report.setups) {
    const s = r.sustained ?? r.steps[0];
    if (!s) {
      lines.push(`| ${r.name} | — | — | — | — | — | — |`);
      continue;
    }
    const rate = r.sustained ? `${r.lowerBound ? '≥ ' : ''}${fmt(s.achievedReadingsPerSecond)}` : `none (step 1: ${fmt(s.achievedReadingsPerSecond)})`;
    const verify = r.verify?.verify ? `${r.verify.verify.exact ? 'exact' : 'NOT exact'} at ${fmt(r.verify.offeredReadingsPerSecond)}/s` : 'did not run';
    lines.push(`| ${r.name} | ${rate} | ${verify} | ${s.pubackMs.p50} / ${s.pubackMs.p99} | ${s.cpuSecondsPerMillionReadings} | ${s.cpuCores} (${r.idleCpuCores ?? '—'}) | ${rss(s)} |`);
  }
  lines.push('', '| set-up | step | offered | achieved | PUBACK p50 / p99 / max ms | catch-up ms | CPU s per M | CPU s by process | simulator CPU s | RSS MiB | verdict |', '| --- | --- | --: | --: | --: | --: | --: | --- | --: | --: | --- |');
  for (const r of report.setups) {
    for (const s of [...r.steps, ...(r.verify ? [r.verify] : [])]) {
      const byProcess = Object.entries(s.cpuSeconds).map(([name, cpu]) => `${name} ${cpu}`).join(', ');
      const verdict = s.pass ? (s.verify ? 'pass, verify exact' : 'pass') : s.failures.join('; ');
      lines.push(`| ${r.name} | ${s.kind} ${s.step} | ${fmt(s.offeredReadingsPerSecond)} | ${fmt(s.achievedReadingsPerSecond)} | ${s.pubackMs.p50} / ${s.pubackMs.p99} / ${s.pubackMs.max} | ${s.catchUpMs ?? '—'} | ${s.cpuSecondsPerMillionReadings} | ${byProcess} | ${s.simulatorCpuSeconds} | ${rss(s)} | ${verdict} |`);
    }
  }
  for (const r of report.setups) if (r.error !== undefined) lines.push('', `${r.name} failed: ${r.error.split('\n')[0]}`);
  return lines.join('\n');
}
