import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { bucketQuantile, histogramBuckets, metricSum, nextRate, roundRate, targets, type BenchReport, type ScenarioResult, type VerifyStepResult } from '../bench/ramp/index.js';
import { findMosquitto, type LoadReport } from '../bench/load/index.js';
import { startInfluxd } from './harness/influxdb.js';
import { SLUICE_BIN } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/**
 * Throws unless `xml` is well-formed: one root element, every tag closed in order,
 * attribute values quoted, no bare `<` or `&` in text. Enough for the SVG we write.
 */
function assertWellFormedXml(xml: string): string[] {
  const token = /<\?xml[^?]*\?>|<!--[\s\S]*?-->|<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+\s*=\s*"[^"<]*")*)\s*(\/?)>|[^<]+/y;
  const stack: string[] = [];
  const elements: string[] = [];
  let roots = 0;
  while (token.lastIndex < xml.length) {
    const at = token.lastIndex;
    const m = token.exec(xml);
    if (!m) throw new Error(`not well-formed at ${at}: ${xml.slice(at, at + 60)}`);
    const [text, closing, name, attrs, selfClosing] = m;
    if (name === undefined) {
      if (!text.startsWith('<') && /&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(text)) throw new Error(`bare & in text at ${at}`);
      if (!text.startsWith('<') && stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root at ${at}`);
      continue;
    }
    if (/&(?!(amp|lt|gt|quot|apos|#\d+);)/.test(attrs ?? '')) throw new Error(`bare & in an attribute at ${at}`);
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}> at ${at}`);
      continue;
    }
    if (stack.length === 0) roots++;
    elements.push(name!);
    if (!selfClosing) stack.push(name!);
  }
  if (stack.length > 0) throw new Error(`unclosed <${stack.join('>, <')}>`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return elements;
}

describe('sluice bench', () => {
  it('ramps bare aedes and the gateway in tiny steps and writes the JSON, Markdown and SVG report', async () => {
    const dir = await tempDir('sluice-bench-test-');
    cleanups.push(dir.remove);
    const out = join(dir.path, 'results');
    const { stdout, stderr } = await run(process.execPath, [SLUICE_BIN, 'bench', '--step-duration', '1s', '--max-steps', '2', '--scenario', 'single', '--devices', '20', '--start-rate', '500', '--out', out], {
      cwd: dir.path,
      timeout: 80_000,
    });
    expect(stderr).toMatch(/single bare-aedes step 1: offered 500/);
    expect(stderr).toMatch(/single sluice step 1: offered 500/);
    expect(stdout).toMatch(/single: QoS 1 single-reading: highest sustained rate ≥ 0\.8 × bare aedes/);

    const files = (await readdir(out)).sort();
    expect(files).toHaveLength(3);
    const stamp = files[0]!.replace(/\.json$/, '');
    expect(files).toEqual([`${stamp}.json`, `${stamp}.md`, `${stamp}.svg`]);

    // JSON: machine, the ramps with their step rows and every figure named in the issue.
    const report = JSON.parse(await readFile(join(out, `${stamp}.json`), 'utf8')) as BenchReport;
    expect(report.version).toBe(1);
    expect(report.machine).toMatchObject({ cpus: expect.any(Number), cpuModel: expect.any(String), ramGiB: expect.any(Number), node: process.version });
    expect(report.options).toMatchObject({ scenarios: ['single'], stepDuration: 1000, maxSteps: 2, startRate: 500, devices: 20 });
    expect(report.scenarios.map((s) => s.name)).toEqual(['single']);
    const runs = report.scenarios[0]!.runs;
    expect(runs.map((r) => r.broker)).toEqual(['bare-aedes', 'sluice']);
    for (const r of runs) {
      expect(r.steps.length).toBeGreaterThanOrEqual(1);
      expect(r.steps.length).toBeLessThanOrEqual(2);
      expect(r.steps[0]!.offeredReadingsPerSecond).toBe(500);
      for (const s of r.steps) {
        expect(s.error).toBeUndefined();
        expect(s).toMatchObject({
          achievedReadingsPerSecond: expect.any(Number),
          achievedMessagesPerSecond: expect.any(Number),
          latencyMs: { p50: expect.any(Number), p99: expect.any(Number), max: expect.any(Number) },
          brokerCpuSecondsPerMillionReadings: expect.any(Number),
          simulatorCpuSecondsPerMillionReadings: expect.any(Number),
          pass: expect.any(Boolean),
        });
        expect(s.sent.messages).toBeGreaterThan(0);
        expect(s.achievedReadingsPerSecond).toBeGreaterThan(0);
        expect(s.brokerRssMiB).toBeGreaterThan(0);
        expect(s.pass).toBe(s.failures.length === 0);
      }
    }
    // The gateway's steps also count what reached its log.
    for (const s of runs[1]!.steps) expect(s).toMatchObject({ loggedReadings: expect.any(Number), logAppendP99Ms: expect.any(Number) });
    expect(report.targets).toEqual([expect.objectContaining({ scenario: 'single', threshold: 0.8 })]);

    // Markdown: the machine, the targets, a table row per step and the chart link.
    const md = await readFile(join(out, `${stamp}.md`), 'utf8');
    expect(md).toContain(`- machine: ${report.machine.cpus} × `);
    expect(md).toContain('## Targets');
    expect(md).toContain('### bare-aedes');
    expect(md).toContain('### sluice');
    expect(md).toContain('| step | offered readings/s | achieved readings/s | achieved msgs/s | p50 ms | p99 ms | max ms | log append p99 ms | broker CPU s / M readings | simulator CPU s / M readings |');
    expect(md.match(/^\| 1 \| 500 \| /gm)).toHaveLength(2);
    expect(md).toContain(`](${stamp}.svg)`);

    // SVG: well-formed, with a throughput and a p99 series per broker and a point per step.
    const svg = await readFile(join(out, `${stamp}.svg`), 'utf8');
    const elements = assertWellFormedXml(svg);
    expect(elements[0]).toBe('svg');
    for (const r of runs) {
      for (const series of ['throughput', 'p99']) {
        const group = new RegExp(`<g id="single-${r.broker}-${series}"[^>]*>([\\s\\S]*?)</g>`).exec(svg);
        expect(group, `${r.broker} ${series}`).not.toBeNull();
        expect(group![1]!.match(series === 'throughput' ? /<circle /g : /<rect /g)).toHaveLength(r.steps.length);
      }
    }
    expect(svg).toContain('offered load (readings/s');
    expect(svg).toContain('PUBACK p99 (ms');
  }, 90_000);

  // --verify-rate: the verify step alone. Through a ramp it would wait on a step passing
  // its p99 bound, which a loaded CI machine cannot promise; the verdict is what matters.
  it('with --influx-url, a verify step drives the gateway and processors and checks InfluxDB exact against the reference model', async () => {
    const influx = await startInfluxd();
    cleanups.push(influx.destroy);
    const dir = await tempDir('sluice-bench-test-');
    cleanups.push(dir.remove);
    const out = join(dir.path, 'results');
    const args = ['bench', '--scenario', 'series', '--influx-url', influx.url, '--verify-rate', '5000', '--step-duration', '2s', '--devices', '10', '--out', out];
    const { stdout, stderr } = await run(process.execPath, [SLUICE_BIN, ...args], { cwd: dir.path, timeout: 75_000 });
    expect(stderr).toMatch(/series verify step: offered 5k .*verify exact/);
    expect(stdout).toMatch(/series: 100-reading Series batches: .*verify exact/);

    const json = (await readdir(out)).find((f) => f.endsWith('.json'))!;
    const report = JSON.parse(await readFile(join(out, json), 'utf8')) as BenchReport;
    const series = report.scenarios[0]!;
    const v = series.verify!;
    expect(v).toMatchObject({ rateFrom: 'verify-rate', offeredReadingsPerSecond: 5_000, exact: true, windows: ['telemetry_10s'] });
    expect(v.error).toBeUndefined();
    expect(v.achievedReadingsPerSecond).toBeGreaterThan(0);
    expect(v.readings).toBe(v.step.sent.readings);
    expect(v.points.expected).toBeGreaterThan(0);
    expect(v.points).toEqual({ expected: v.points.expected, found: v.points.expected, missing: 0, extra: 0, mismatched: 0 });
    // A fresh database per run, and the verify step's own devices.
    expect(v.source).toMatch(/database sluice_bench_\d{8}T\d{9}Z$/);
    expect(v.devicePrefix).toMatch(/^bench-series-verify-/);
    const stored = await influx.query(`SELECT count("count") FROM "telemetry_10s" WHERE "device" =~ /^${v.devicePrefix}/`, v.source.split(' ').pop());
    expect(stored[0]?.count).toBe(v.points.expected);
    // 5k readings/s is far below the target: not met, with the verify figures in the note.
    expect(report.targets).toEqual([expect.objectContaining({ scenario: 'series', measured: v.achievedReadingsPerSecond, met: false, note: expect.stringMatching(/verify exact/) })]);

    const md = await readFile(join(out, json.replace(/\.json$/, '.md')), 'utf8');
    expect(md).toContain('### verify step');
    expect(md).toMatch(new RegExp(`\\| 5,000 \\| [\\d,]+ \\| [\\d,]+ \\| ${v.points.expected.toLocaleString('en')} \\| ${v.points.expected.toLocaleString('en')} \\| 0 \\| 0 \\| 0 \\| yes \\|`));
  }, 90_000);

  it('refuses --verify-rate without --influx-url', async () => {
    const err = await run(process.execPath, [SLUICE_BIN, 'bench', '--scenario', 'series', '--verify-rate', '1000']).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/bench --verify-rate: needs --influx-url/);
  });

  it('refuses a bad flag with its name and value', async () => {
    const err = await run(process.execPath, [SLUICE_BIN, 'bench', '--scenario', 'triple']).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/bench --scenario: .*"triple".*SLUICE_CONFIG_INVALID/);
  });

  it('refuses --node-args with a bare word, which node would run instead of Sluice', async () => {
    const err = await run(process.execPath, [SLUICE_BIN, 'bench', '--mode', 'load', '--node-args', '--trace-gc ./evil.js']).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/bench --node-args: "\.\/evil\.js" is not a node flag/);
  });
  it('--mode load runs every broker in closed-loop rounds and verifies sluice start end to end: InfluxDB counts every PUBACKed reading', async () => {
    const influx = await startInfluxd();
    cleanups.push(influx.destroy);
    const dir = await tempDir('sluice-bench-test-');
    cleanups.push(dir.remove);
    const out = join(dir.path, 'results');
    // --node-args reaches every sluice process: a preloaded hook notes each one's command (main thread only).
    const hook = join(dir.path, 'hook.cjs');
    const started = join(dir.path, 'started.txt');
    await writeFile(hook, `if (require('node:worker_threads').isMainThread) require('node:fs').appendFileSync(${JSON.stringify(started)}, process.argv[2] + '\\n');\n`);
    const args = ['bench', '--mode', 'load', '--scenario', 'both', '--rounds', '1', '--duration', '1s', '--warmup', '1500ms', '--connections', '4', '--inflight', '4', '--influx-url', influx.url, '--out', out, '--set', 'checkpoint.interval=3s', '--node-args', `--require=${hook}`];
    const { stdout, stderr } = await run(process.execPath, [SLUICE_BIN, ...args], { cwd: dir.path, timeout: 100_000 });
    const brokers = findMosquitto() === undefined ? ['bare-aedes', 'sluice-gateway', 'sluice-start'] : ['bare-aedes', 'mosquitto', 'sluice-gateway', 'sluice-start'];
    const file = (await readdir(out)).find((f) => f.startsWith('load-') && f.endsWith('.json'))!;
    const report = JSON.parse(await readFile(join(out, file), 'utf8')) as LoadReport;
    expect(report.runs.map((r) => `${r.scenario} ${r.broker}`).sort()).toEqual(['single', 'series'].flatMap((s) => brokers.map((b) => `${s} ${b}`)).sort());
    for (const r of report.runs) {
      expect(r.msgsPerSecond, `${r.scenario} ${r.broker}`).toBeGreaterThan(0);
      // Both rates are rounded from the same count: they differ by rounding only.
      expect(Math.abs(r.readingsPerSecond - r.msgsPerSecond * (r.scenario === 'single' ? 1 : 100))).toBeLessThanOrEqual(50);
      expect(r.brokerCpuSecondsPerMillionMessages).toBeGreaterThan(0);
      // The main thread is part of the process (its /proc ticks are 10 ms: that much slack over the 1 s round).
      expect(r.mainThreadCpuSecondsPerMillionMessages, `${r.scenario} ${r.broker}`).toBeGreaterThan(0);
      expect(r.mainThreadCpuSecondsPerMillionMessages).toBeLessThanOrEqual(r.brokerCpuSecondsPerMillionMessages + (0.02 / r.msgsPerSecond) * 1e6);
      // Late PUBACKs are counted from the same measured window as the histogram: some when its max is past the bar, none
      // when it is below (the histogram's max is its bucket's, 3 significant digits: ±0.1 ms is left out).
      expect(r.late.lateMs).toBe(20);
      if (Math.abs(r.pubackMs.max - 20) > 0.1) expect(r.late.late > 0, `${r.scenario} ${r.broker}: max ${r.pubackMs.max} ms, late ${r.late.late}`).toBe(r.pubackMs.max > 20);
      expect(r.late.bursts).toBeLessThanOrEqual(r.late.late);
      expect(r.late.largestBurst).toBeLessThanOrEqual(r.late.late);
      expect(r.warmupLate.lateMs).toBe(20);
      expect(r.warmupMs).toBeGreaterThanOrEqual(1490); // libuv's timers run on a millisecond clock
      // sluice start's warm-up waits for its processors' first checkpoints, 3 s after they start (the process was ready
      // and the connections open less than a second after that); the other brokers' ends after 1.5 s and a scrape.
      if (r.broker === 'sluice-start') expect(r.warmupMs, r.scenario).toBeGreaterThan(2000);
      // The influxd sluice start wrote to listens on loopback: the bench found it and read its CPU.
      if (r.broker === 'sluice-start') expect(r.influxdCpuSecondsPerMillionMessages, r.scenario).toBeGreaterThanOrEqual(0);
      else expect(r.influxdCpuSecondsPerMillionMessages).toBeUndefined();
      // Whether its processors kept up: their lag in log records as the round began and ended.
      if (r.broker === 'sluice-start') expect(r.processorLagRecords).toEqual({ start: expect.any(Number), end: expect.any(Number) });
      else expect(r.processorLagRecords).toBeUndefined();
      expect(r.machineBusyCores).toBeGreaterThan(0);
    }
    // Each sluice start round wrote to a database of its own, dropped once it was verified.
    const shown = (await (await fetch(`${influx.url}/query?q=${encodeURIComponent('SHOW DATABASES')}`)).json()) as { results: { series?: { values: string[][] }[] }[] };
    expect((shown.results[0]!.series?.[0]?.values ?? []).flat().filter((d) => d.startsWith('sluice_load_'))).toEqual([]);
    // Every reading sent was PUBACKed (the clients drain before closing), and InfluxDB's window counts add up to exactly that.
    const verified = report.runs.filter((r) => r.broker === 'sluice-start');
    expect(verified).toHaveLength(2);
    for (const r of verified) {
      expect(r.verify!.expectedReadings).toBeGreaterThan(0);
      expect(r.verify).toEqual({ expectedReadings: r.verify!.expectedReadings, foundReadings: r.verify!.expectedReadings, exact: true });
    }
    expect(stderr).toMatch(/load single round 1 sluice-start: .*PUBACK p99 [\d.]+ ms \((none later than 20 ms|[\d,]+ later than 20 ms in [\d,]+ bursts?.*)\).*; verify exact/);
    expect(stdout).toMatch(/\| single \| sluice-start \| [\d,]+ \| .* \| exact in 1 of 1 rounds \|/);
    expect(stdout).toMatch(/- single: sluice-start \/ bare-aedes msgs\/s = \*\*[\d.]+\*\* \(bars: ≥ 0.6×: (met|not met)\)/);
    // One sluice gateway and one sluice start per scenario; the reference brokers are not Sluice's to flag.
    expect((await readFile(started, 'utf8')).trim().split('\n').sort()).toEqual(['gateway', 'gateway', 'start', 'start']);
  }, 120_000);
});

describe('bench series target', () => {
  const step = { pass: true, failures: [] } as unknown as VerifyStepResult['step'];
  const verify = (over: Partial<VerifyStepResult>): VerifyStepResult => ({
    rateFrom: 'ramp',
    offeredReadingsPerSecond: 2_100_000,
    achievedReadingsPerSecond: 2_050_000,
    step,
    devicePrefix: 'bench-series-verify-x-',
    source: 'InfluxDB http://127.0.0.1:8086, database sluice_bench_x',
    windows: ['telemetry_10s'],
    readings: 61_500_000,
    points: { expected: 4000, found: 4000, missing: 0, extra: 0, mismatched: 0 },
    exact: true,
    verifyMs: 14_000,
    waitMs: 45_000,
    text: 'verify: exact (4,000 points)',
    ...over,
  });
  const series = (v?: VerifyStepResult, best = 2_050_000): ScenarioResult => ({
    name: 'series',
    title: 'series',
    readingsPerMessage: 100,
    shape: 'series',
    metricsPerDevice: 1,
    runs: [{ broker: 'sluice', command: 'sluice start', steps: [], stopped: 'resolved', lowestFailingRate: 2_500_000, best: { achievedReadingsPerSecond: best } as VerifyStepResult['step'] }],
    verify: v,
  });
  const influxUrl = 'http://127.0.0.1:8086';

  it('is met only at ≥ 2 M readings/s with verify exact', () => {
    expect(targets([series(verify({}))], { influxUrl })[0]).toMatchObject({ measured: 2_050_000, met: true });
    expect(targets([series(verify({ exact: false, points: { expected: 4000, found: 4000, missing: 0, extra: 0, mismatched: 3 } }))], { influxUrl })[0]).toMatchObject({ met: false, note: expect.stringMatching(/verify NOT exact: .*3 mismatched/) });
    expect(targets([series(verify({ achievedReadingsPerSecond: 1_900_000 }))], { influxUrl })[0]).toMatchObject({ measured: 1_900_000, met: false });
    expect(targets([series(verify({ step: { pass: false, failures: ['PUBACK p99 120 ms ≥ 100 ms'] } as unknown as VerifyStepResult['step'] }))], { influxUrl })[0]).toMatchObject({ met: false });
  });

  it('says "not verified (run with --influx-url)" without InfluxDB, and never calls the target met', () => {
    const t = targets([series(undefined)], {})[0]!;
    expect(t).toMatchObject({ measured: 2_050_000, met: null, note: expect.stringContaining('not verified (run with --influx-url)') });
    expect(targets([series(undefined, 500_000)], {})[0]).toMatchObject({ met: false });
  });
});

describe('bench ramp policy', () => {
  const o = { growth: 1.5, resolution: 1.1 };
  it('grows while steps pass, halves while none has, then bisects until within the resolution', () => {
    expect(nextRate(10_000, 10_000, undefined, o)).toBe(15_000);
    expect(nextRate(10_000, undefined, 10_000, o)).toBe(5_000);
    expect(nextRate(22_500, 15_000, 22_500, o)).toBe(18_400);
    expect(nextRate(16_000, 15_000, 16_000, o)).toBeUndefined();
    expect(nextRate(1, undefined, 1, o)).toBeUndefined();
  });

  it('rounds rates to three significant digits', () => {
    expect(roundRate(123_456)).toBe(123_000);
    expect(roundRate(7.4)).toBe(7);
    expect(roundRate(1_687_500)).toBe(1_690_000);
  });

  it('sums a metric over its label sets in Prometheus text', () => {
    const text = ['# HELP x', 'sluice_processor_lag_records{partition="0"} 3', 'sluice_processor_lag_records{partition="1"} 4', 'sluice_processor_lag_records_other 100', 'sluice_process_cpu_seconds_total 1.5'].join('\n');
    expect(metricSum(text, 'sluice_processor_lag_records')).toBe(7);
    expect(metricSum(text, 'sluice_process_cpu_seconds_total')).toBe(1.5);
    expect(metricSum(text, 'absent')).toBeUndefined();
  });

  it('reads a histogram quantile between two samples as its bucket bound', () => {
    const sample = (a: number, b: number, inf: number): string =>
      [`h_bucket{le="0.001"} ${a}`, `h_bucket{le="0.01"} ${b}`, `h_bucket{le="+Inf"} ${inf}`, `h_sum 1`, `h_count ${inf}`].join('\n');
    const before = histogramBuckets(sample(10, 10, 10), 'h');
    expect(before).toEqual([[0.001, 10], [0.01, 10], [Infinity, 10]]);
    expect(bucketQuantile(before, histogramBuckets(sample(110, 110, 110), 'h'), 0.99)).toBe(0.001);
    expect(bucketQuantile(before, histogramBuckets(sample(60, 110, 110), 'h'), 0.99)).toBe(0.01);
    expect(bucketQuantile(before, histogramBuckets(sample(60, 100, 110), 'h'), 0.99)).toBe(Infinity);
    expect(bucketQuantile(before, before, 0.99)).toBeUndefined();
  });
});
