import { writeFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { ConfigError } from '../../core/index.js';
import { enrolFleet, FleetPlan, progressWriter, runSimulation, secretsFileOf, simulationOptionsSchema, summaryText, type SimulationOptionsInput } from '../../simulator/index.js';
import { ReferenceModel } from '../../simulator/expected/index.js';
import { AlertingModel, AlertReference, readReferenceRules, type RefRule } from '../../simulator/alerts/index.js';
import { AnomalyPlan, sendEpisodes } from '../../simulator/anomalies/index.js';
import type { ExpectedModel } from '../../simulator/index.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './common.js';
import { verifyAfterRun } from './simulate-verify.js';

interface SimulateFlags extends ConfigFlags {
  url?: string;
  devices?: string;
  rate?: string;
  batch?: string;
  shape?: string;
  qos?: string;
  duration?: string;
  seed?: string;
  disorder?: string;
  maxDelay?: string;
  duplicates?: string;
  malformed?: string;
  churn?: string;
  offline?: string;
  fleetKey?: string;
  devicePrefix?: string;
  metrics?: string;
  inflight?: string;
  startTime?: string;
  report?: string;
  registry?: string;
  enrolOnly?: boolean;
  verify?: boolean;
  anomalies?: boolean;
  progress: boolean;
}

const num = (v: string | undefined): number | undefined => (v === undefined ? undefined : Number(v));

/** `sluice simulate`: drives a simulated fleet at the gateway, reports, and optionally verifies InfluxDB. */
export function registerSimulateCommand(program: Command): void {
  withConfigFlags(
    program
      .command('simulate')
      .description('run a simulated device fleet against the gateway; report sent/acked/refused, PUBACK latency and the expected window aggregates')
      .option('--url <url>', 'gateway MQTT URL, or several separated by commas: devices are spread over them and move to the next after a dropped connection (default: mqtt://127.0.0.1:<mqtt.port from the config>)')
      .option('--devices <n>', 'simulated devices (connections)', '100')
      .option('--rate <n>', 'readings per second, whole fleet', '1000')
      .option('--batch <n>', 'readings per message', '10')
      .option('--shape <shape>', 'payload form: rows | series | json', 'series')
      .option('--qos <0|1>', 'MQTT QoS', '1')
      .option('--duration <d>', 'how long to send, e.g. 60s', '10s')
      .option('--seed <n>', 'seed: the same seed sends the same readings', '1')
      .option('--disorder <share>', 'share of readings stamped up to --max-delay early (out of order)', '0')
      .option('--max-delay <d>', 'largest delay of a disordered reading', '2s')
      .option('--duplicates <share>', 'share of messages sent twice with the same seq', '0')
      .option('--malformed <share>', 'share of messages replaced by a broken payload', '0')
      .option('--churn <n>', 'connections dropped and re-opened per minute', '0')
      .option('--offline <share[,duration]>', 'share of devices offline from a quarter into the run for duration (default 60s), sending their buffered readings on return', '0')
      .option('--fleet-key <key>', 'token auth: passwords are HMAC(fleet key, device id) (default: auth.fleetKey from the config)')
      .option('--registry <file>', 'registry auth: enrol the simulated devices in this registry file (secrets kept beside it) and connect with their secrets (default: auth.registry when auth.mode is registry)')
      .option('--enrol-only', 'with registry auth: enrol the devices, then exit (start or restart the gateway afterwards: it reads the registry at start)')
      .option('--device-prefix <p>', 'device ids are this prefix plus a number', 'sim-')
      .option('--metrics <n>', 'metrics per device', '3')
      .option('--inflight <n>', 'QoS 1 publishes in flight per device (1–65535)', '4')
      .option('--start-time <ms>', 'event time of the first reading, ms since the epoch (default: now)')
      .option('--report <file>', 'write the report, with the expected aggregates, as JSON')
      .option('--verify', 'after sending, wait for the windows to close and compare InfluxDB with the expected aggregates (and, with --anomalies, the expected alerts)')
      .option(
        '--anomalies',
        'first send known episodes (an overheating machine-*, a pressure drop, a 3-minute silence, a cold-room door then warm) backfilled over 400 s of event time ending shortly before the run, and expect the alert transitions the rules.file of the config gives (see rules.example.yaml)',
      )
      .option('--no-progress', 'no live progress line'),
  ).action(async (flags: SimulateFlags) => {
    const config = await configFromFlags(flags);
    const input: SimulationOptionsInput = {
      url: flags.url ?? `mqtt://127.0.0.1:${config.mqtt.port}`,
      devices: num(flags.devices),
      rate: num(flags.rate),
      batch: num(flags.batch),
      shape: flags.shape as SimulationOptionsInput['shape'],
      qos: num(flags.qos) as 0 | 1,
      duration: flags.duration,
      seed: num(flags.seed),
      disorder: num(flags.disorder),
      maxDelay: flags.maxDelay,
      duplicates: num(flags.duplicates),
      malformed: num(flags.malformed),
      churn: num(flags.churn),
      offlineShare: num(flags.offline?.split(',')[0]),
      ...(flags.offline?.includes(',') ? { offlineDuration: flags.offline.split(',')[1] } : {}),
      fleetKey: flags.fleetKey ?? (config.auth.mode === 'token' ? config.auth.fleetKey : undefined),
      devicePrefix: flags.devicePrefix,
      metrics: num(flags.metrics),
      inflight: num(flags.inflight),
      startTime: num(flags.startTime),
      maxBackfill: config.time.maxBackfill,
    };
    const parsed = simulationOptionsSchema.safeParse(input);
    if (!parsed.success) {
      const issue = parsed.error.issues[0]!;
      const key = String(issue.path[0] ?? '');
      throw new ConfigError(`simulate --${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}: ${issue.message} (got ${JSON.stringify((input as Record<string, unknown>)[key])})`);
    }
    const options = parsed.data;
    // --anomalies: the episode devices (ids unique to this run) and the rules their alerts are expected for.
    const runTag = Date.now().toString(36);
    const episodeIds = flags.anomalies ? new AnomalyPlan(runTag, config.partitions, Date.now()).devices.map((d) => d.id) : [];
    let rules: RefRule[] = [];
    if (flags.anomalies && config.rules.file !== undefined) rules = await readReferenceRules(config.rules.file, config.windows);
    else if (flags.anomalies) process.stderr.write('anomalies: the config has no rules.file, so no alert is expected (try rules: { file: rules.example.yaml })\n');
    for (const rule of rules) {
      if (rule.kind === 'absence' && options.offlineShare > 0 && options.offlineDuration + 10_000 >= rule.forMs) {
        throw new ConfigError(`simulate --anomalies --offline: rule ${rule.name} fires after ${rule.forMs / 1000} s of silence, and an offline device's backlog (${options.offlineDuration / 1000} s) would fire and resolve it in an order the reference does not model: use an offline duration below ${(rule.forMs - 10_000) / 1000} s`);
      }
    }
    const registryFile = flags.registry ?? (config.auth.mode === 'registry' && options.fleetKey === undefined ? config.auth.registry : undefined);
    let passwords: Map<string, string> | undefined;
    if (registryFile !== undefined) {
      const ids = [...Array.from({ length: options.devices }, (_, d) => new FleetPlan(options, 0).deviceId(d)), ...episodeIds];
      const { passwords: known, enrolled } = await enrolFleet(registryFile, ids);
      passwords = known;
      if (enrolled > 0) process.stdout.write(`enrolled ${enrolled} simulated devices in ${registryFile} (secrets in ${secretsFileOf(registryFile)}); a running gateway needs a restart to read them\n`);
      if (flags.enrolOnly) return;
    } else if (flags.enrolOnly) {
      throw new ConfigError('simulate --enrol-only needs a registry: pass --registry FILE or use a config with auth.mode: registry');
    }
    const progress = flags.progress ? progressWriter(process.stderr) : undefined;
    const password = passwords === undefined ? undefined : (id: string): string | undefined => passwords.get(id);
    const windowsModel = new ReferenceModel(config.windows, { devicePrefix: options.devicePrefix, time: config.time, devices: episodeIds });
    const expected: ExpectedModel = flags.anomalies
      ? new AlertingModel(windowsModel, new AlertReference(rules, { maxOutOfOrderness: config.time.maxOutOfOrderness, quantileRelativeAccuracy: 0.01 }), options.shape, episodeIds)
      : windowsModel;
    const report = await runSimulation(options, {
      expected,
      progress: progress?.update,
      password,
      beforeSending: flags.anomalies
        ? async () => {
            const sent = await sendEpisodes(new AnomalyPlan(runTag, config.partitions, Date.now()), options, expected, password);
            process.stderr.write(`anomalies: ${sent.messages} episode messages (${sent.readings} readings, ${sent.duplicates} sent twice) from ${episodeIds.join(', ')}\n`);
          }
        : undefined,
    });
    progress?.done();
    process.stdout.write(`${summaryText(report)}\n`);
    if (flags.report) {
      await writeFile(flags.report, JSON.stringify(report));
      process.stdout.write(`  report      ${flags.report}\n`);
    }
    if (report.acknowledged < report.sent.messages + report.sent.duplicates && options.qos === 1) {
      process.stdout.write(`simulate: ${report.sent.messages + report.sent.duplicates - report.acknowledged} publishes were never acknowledged\n`);
      process.exitCode = 1;
    }
    if (flags.verify) process.exitCode = (await verifyAfterRun(report, config)) ? process.exitCode : 1;
  });
}
