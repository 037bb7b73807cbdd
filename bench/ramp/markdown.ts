import { shortNumber } from './chart.js';
import { PASS_CRITERIA, PROCESSOR_CHECKPOINT_INTERVAL, PROCESSOR_COUNTER_RESOLUTION_MS, VERIFY_GATEWAY_SETTINGS } from './options.js';
import { NOISY_CORES, type RampResult } from './ramp.js';
import type { BenchReport } from './run-bench.js';
import { catchUpLimitMs, type StepResult } from './step.js';
import type { VerifyStepResult } from './verify-step.js';

const fmt = (n: number): string => Math.round(n).toLocaleString('en');
const ms = (n: number): string => (n < 10 ? n.toFixed(2) : n.toFixed(1));
const seconds = (msValue: number): string => `${Number((msValue / 1000).toFixed(1))} s`;

const STOPPED: Record<RampResult['stopped'], string> = {
  resolved: 'resolved: the highest passing and lowest failing rates are within the resolution',
  'max-steps': 'the step limit was reached',
  'broker-exited': 'the broker process exited',
  'no-passing-rate': 'no offered rate passed',
};

/** How a step passes, in words, for the report. */
export function criteriaText(report: Pick<BenchReport, 'options'>): string[] {
  return [
    `- no loss: every publish sent is acknowledged, and (gateway) every reading sent is counted in \`sluice_gateway_readings_total\` (appended to the durable log);`,
    `- PUBACK p99 < ${PASS_CRITERIA.p99Ms} ms (publish → PUBACK, HDR histogram in the simulator);`,
    `- achieved ≥ ${PASS_CRITERIA.minAchievedShare * 100} % of offered (acknowledged readings over send start → last PUBACK);`,
    `- with processors (\`--influx-url\`), bounded lag: after the step's last PUBACK the processors have read every message the gateway accepted (\`sluice_processor_messages_total\` reaches \`sluice_gateway_messages_total\`) within ${PASS_CRITERIA.maxCatchUpShare * 100} % of the step's duration plus ${PROCESSOR_COUNTER_RESOLUTION_MS / 1000} s (${(catchUpLimitMs(report.options.stepDuration) / 1000).toFixed(1)} s here): they were at most about that much traffic behind. The processors add to their counter at each checkpoint, so the bench runs them with \`checkpoint.interval\` ${PROCESSOR_CHECKPOINT_INTERVAL}${report.options.influxUrl ? '' : ' (not applicable to this run: gateway only)'}.`,
  ];
}

function stepRow(s: StepResult): string {
  const p = s.processors;
  const backlog = p ? `${p.catchUpMs === null ? 'not caught up' : `${(p.catchUpMs / 1000).toFixed(1)} s`} (counter: ${fmt(p.backlogMessages)} msgs unread at the last PUBACK)` : '–';
  const result = (s.pass ? 'pass' : `fail: ${s.failures.join('; ')}`) + (s.simulatorSaturated ? ' (simulator at a full core)' : '');
  return `| ${s.step}${s.repeatOf === undefined ? '' : ` (repeats ${s.repeatOf})`} | ${fmt(s.offeredReadingsPerSecond)} | ${fmt(s.achievedReadingsPerSecond)} | ${fmt(s.achievedMessagesPerSecond)} | ${ms(s.latencyMs.p50)} | ${ms(s.latencyMs.p99)} | ${ms(s.latencyMs.max)} | ${s.logAppendP99Ms === undefined ? '–' : s.logAppendP99Ms === null ? '> 1000' : `≤ ${s.logAppendP99Ms}`} | ${s.brokerCpuSecondsPerMillionReadings} | ${s.simulatorCpuSecondsPerMillionReadings} | ${s.brokerCpuCores} / ${s.simulatorCpuCores} / ${s.otherCpuCores ?? '?'} | ${s.brokerRssMiB} | ${backlog} | ${result} |`;
}

const STEP_HEADER = [
  '| step | offered readings/s | achieved readings/s | achieved msgs/s | p50 ms | p99 ms | max ms | log append p99 ms | broker CPU s / M readings | simulator CPU s / M readings | cores: broker / simulator / other | broker RSS MiB | processors caught up after | result |',
  '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | --- |',
];

/** The verify step: its step row, and what verify found in InfluxDB. */
function verifySection(v: VerifyStepResult): string[] {
  const p = v.points;
  const lines = [
    '### verify step',
    '',
    `One more step on the gateway ${v.rateFrom === 'ramp' ? "at the ramp's highest passing offered rate" : 'at `--verify-rate`'}, ${fmt(v.offeredReadingsPerSecond)} readings/s, with the simulator's reference model of the gateway's windows (${v.windows.map((w) => `\`${w}\``).join(', ')}; devices \`${v.devicePrefix}…\`); then \`sluice verify\` compared ${v.source || 'InfluxDB'} with the expected window aggregates, again every 2 s until exact or ${seconds(v.waitMs)} had passed.`,
    '',
    ...STEP_HEADER,
    stepRow(v.step),
    '',
    '| offered readings/s | achieved readings/s | readings | points expected | found | missing | extra | mismatched | exact | verdict after |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: |',
    `| ${fmt(v.offeredReadingsPerSecond)} | ${fmt(v.achievedReadingsPerSecond)} | ${fmt(v.readings)} | ${fmt(p.expected)} | ${fmt(p.found)} | ${fmt(p.missing)} | ${fmt(p.extra)} | ${fmt(p.mismatched)} | ${v.exact ? 'yes' : 'no'} | ${seconds(v.verifyMs)} |`,
    '',
  ];
  if (v.error !== undefined) lines.push(`Verify did not finish: ${v.error}`, '');
  if (v.text && !v.exact) lines.push('```', ...v.text.split('\n').slice(0, 40), '```', '');
  return lines;
}

function best(run: RampResult): string {
  if (!run.best) return `no step passed (${STOPPED[run.stopped]})`;
  const b = run.best;
  const bound = run.lowestFailingRate === undefined ? ', never failed: a lower bound' : `, lowest failing offered rate ${fmt(run.lowestFailingRate)}`;
  return `**${fmt(b.achievedReadingsPerSecond)} readings/s** (${fmt(b.achievedMessagesPerSecond)} msgs/s; step ${b.step}, offered ${fmt(b.offeredReadingsPerSecond)}${bound}), p99 ${ms(b.latencyMs.p99)} ms, ${b.brokerCpuSecondsPerMillionReadings} broker CPU s per million readings, RSS ${b.brokerRssMiB} MiB. Ramp ended: ${STOPPED[run.stopped]}.`;
}

/** The Markdown report; `chartFile` is the SVG's name next to it. */
export function benchMarkdown(report: BenchReport, chartFile: string): string {
  const m = report.machine;
  const o = report.options;
  const lines: string[] = [];
  lines.push(`# sluice bench ${report.startedAt}`, '');
  lines.push(`- machine: ${m.cpus} × ${m.cpuModel}, ${m.ramGiB} GiB RAM, ${m.os}, Node ${m.node}`);
  lines.push(`- run: ${report.startedAt} → ${report.finishedAt}; steps of ${seconds(o.stepDuration)}, at most ${o.maxSteps} per ramp; ${fmt(o.devices)} simulated devices, ${o.inflight} QoS 1 publishes in flight each`);
  lines.push(
    `- gateway: ${o.influxUrl ? `\`sluice start\`, processors writing to ${o.influxUrl} (${VERIFY_GATEWAY_SETTINGS.map((x) => `\`${x}\``).join(', ')}, \`checkpoint.interval=${PROCESSOR_CHECKPOINT_INTERVAL}\`)` : '`sluice gateway` alone (no processors)'}; anonymous auth, no per-device rate limit, a fresh temp data dir per scenario`,
  );
  lines.push(
    `- verify: ${o.influxUrl && !o.scenarios.includes('series') ? 'only the series scenario has a verify step' : o.influxUrl ? `${o.verifyRate === undefined ? 'after the series ramp, a verify step at its highest passing rate' : `no series ramp (\`--verify-rate\`): a warm-up, then only the verify step at ${fmt(o.verifyRate)} readings/s`} with the simulator's reference model, then \`sluice verify\` against InfluxDB (a fresh 1.x database per run)` : 'not verified (run with --influx-url): the steps check acknowledgements and the log, not the window aggregates in InfluxDB'}`,
  );
  lines.push(
    `- ramp: after a warm-up of up to 5 s, from the start rate × ${o.growth} per passing step; after the first failure, the geometric middle of the highest passing and lowest failing rates, until they are within × ${o.resolution}. A step that fails while other processes use ≥ ${NOISY_CORES} cores is run once more at the same rate, which fails only if both do`,
  );
  const noise = report.noise;
  lines.push(
    `- noise: the simulator shares the machine with the broker; other processes used ${noise.otherCpuCoresMean === null ? 'an unknown share' : `${noise.otherCpuCoresMean} cores on average (at most ${noise.otherCpuCoresMax})`} during the steps; highest 1-minute load average ${noise.loadAverageMax}`,
  );
  lines.push('', 'A step passes when:', ...criteriaText(report), '');
  lines.push(`![throughput and PUBACK p99 against offered load](${chartFile})`, '');
  lines.push('## Targets', '', '| scenario | target | measured | met |', '| --- | --- | --- | --- |');
  for (const t of report.targets) {
    const measured = t.measured === null ? 'not measured' : t.scenario === 'single' ? `${t.measured}×` : `${shortNumber(t.measured)} readings/s`;
    lines.push(`| ${t.scenario} | ${t.target} | ${measured} (${t.note}) | ${t.met === null ? 'n/a' : t.met ? 'yes' : 'no'} |`);
  }
  for (const s of report.scenarios) {
    lines.push('', `## ${s.name}: ${s.title}`, '', `${s.readingsPerMessage} reading(s) per message, \`${s.shape}\` payloads, ${s.metricsPerDevice} metric(s) per device.`, '');
    for (const run of s.runs) {
      lines.push(`### ${run.broker} (${run.command})`, '', `Highest sustained: ${best(run)}`, '');
      lines.push(...STEP_HEADER);
      for (const step of run.steps) lines.push(stepRow(step));
      lines.push('');
    }
    if (s.verify) lines.push(...verifySection(s.verify));
    else if (s.verifySkipped !== undefined) lines.push('### verify step', '', `Not run: ${s.verifySkipped}.`, '');
  }
  return `${lines.join('\n')}\n`;
}
