import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { SluiceError } from '../../core/index.js';
import { ReferenceModel } from '../../simulator/expected/index.js';
import { progressWriter, runSimulation, simulationOptionsSchema, summaryText } from '../../simulator/index.js';
import { loadConfig } from '../config-loader.js';
import { SERVER_NODE_FLAGS } from '../node-flags.js';
import { verifyAfterRun } from '../commands/simulate-verify.js';
import { ensureInfluxd } from './influxd-install.js';
import { freePort, LocalInfluxd } from './local-influxd.js';

export interface DemoOptions {
  /** Where the demo keeps InfluxDB's data, Sluice's data dir, config and log. */
  dir: string;
  /** How long the simulator sends. */
  durationMs: number;
  devices: number;
  rate: number;
  /** Stop everything after verifying instead of waiting for Ctrl-C. */
  exit: boolean;
}

const CLI = fileURLToPath(new URL('../main.js', import.meta.url));
const say = (line: string): void => void process.stdout.write(`${line}\n`);

/**
 * `npm run demo`: a local InfluxDB under <dir>/influxdb, `sluice start` with its data
 * under <dir>/data, a simulated fleet with disorder, duplicates, broken payloads and
 * churn, then verify; prints where to point Grafana and keeps running until Ctrl-C,
 * which stops everything it started. Resolves with the exit code.
 */
export async function runDemo(o: DemoOptions): Promise<number> {
  const dir = resolve(o.dir);
  const started: { name: string; stop(): Promise<void> }[] = [];
  let stopping: Promise<void> | undefined;
  const stopAll = (): Promise<void> =>
    (stopping ??= (async () => {
      for (const s of started.reverse()) await s.stop().catch(() => undefined);
    })());
  const onSignal = (): void => {
    process.stdout.write('\nstopping the demo …\n');
    void stopAll().then(() => process.exit(130));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const bin = ensureInfluxd(say);
    await mkdir(dir, { recursive: true });
    const influxd = await LocalInfluxd.start(bin, join(dir, 'influxdb'), await freePort(8086));
    started.push({ name: 'influxd', stop: () => influxd.signal('SIGTERM') });
    say(`InfluxDB      ${influxd.url} (data in ${join(dir, 'influxdb')})`);

    // A fresh Sluice data dir each run; InfluxDB keeps earlier runs' points.
    await rm(join(dir, 'data'), { recursive: true, force: true });
    const fleetKey = await demoFleetKey(dir);
    const mqttPort = await freePort(1883);
    const httpPort = await freePort(9464);
    const configFile = join(dir, 'sluice.yaml');
    await writeFile(
      configFile,
      stringify({
        dataDir: join(dir, 'data'),
        mqtt: { host: '127.0.0.1', port: mqttPort },
        http: { host: '127.0.0.1', port: httpPort },
        auth: { mode: 'token', fleetKey },
        influx: { url: influxd.url, database: 'sluice', flushInterval: '500ms' },
        // Short timers so the last windows close soon after the fleet stops.
        time: { maxOutOfOrderness: '5s', idleTimeout: '5s', allowedLateness: '30s' },
        checkpoint: { interval: '2s' },
      }),
    );
    const sluice = await startSluice(configFile, join(dir, 'sluice.log'));
    started.push({ name: 'sluice', stop: () => sluice.stop() });
    say(`Sluice        mqtt://127.0.0.1:${mqttPort} (token auth), metrics http://127.0.0.1:${httpPort}/metrics, log ${join(dir, 'sluice.log')}`);

    const config = await loadConfig({ file: configFile, env: {} });
    const options = simulationOptionsSchema.parse({
      url: `mqtt://127.0.0.1:${mqttPort}`,
      fleetKey,
      devices: o.devices,
      rate: o.rate,
      batch: 10,
      shape: 'series',
      duration: o.durationMs,
      seed: Date.now() % 1_000_000,
      disorder: 0.1,
      maxDelay: '2s',
      duplicates: 0.05,
      malformed: 0.01,
      churn: 30,
    });
    say(`simulating   ${options.devices} devices, ${options.rate} readings/s for ${options.duration / 1000} s: 10 % disordered, 5 % duplicated, 1 % broken, 30 reconnects/min`);
    const progress = progressWriter(process.stderr);
    const report = await runSimulation(options, { expected: new ReferenceModel(config.windows, { devicePrefix: options.devicePrefix, time: config.time }), progress: progress.update });
    progress.done();
    say(summaryText(report));
    await writeFile(join(dir, 'report.json'), JSON.stringify(report));
    const exact = await verifyAfterRun(report, config);
    say('');
    say('Grafana: add an InfluxDB data source with query language InfluxQL,');
    say(`  URL ${influxd.url}, database "sluice" (no user, no password); the measurement is telemetry_10s.`);
    say('  grafana/README.md shows how to run Grafana with the provisioned Sluice dashboards.');
    say(`Publish your own readings: see README.md ("Try it by hand"); the fleet key is in ${configFile}.`);
    if (o.exit) return exact ? 0 : 1;
    say('');
    say('Sluice and InfluxDB keep running. Press Ctrl-C to stop them.');
    await new Promise<never>(() => undefined); // until a signal
    return 0;
  } finally {
    await stopAll();
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

/** The demo's fleet key, kept across runs so devices a user configured keep working. */
async function demoFleetKey(dir: string): Promise<string> {
  const file = join(dir, 'fleet-key');
  const existing = await readFile(file, 'utf8').catch(() => '');
  if (existing.trim().length >= 16) return existing.trim();
  const key = randomBytes(16).toString('hex');
  await writeFile(file, `${key}\n`, { mode: 0o600 });
  return key;
}

/** Starts `sluice start --config FILE` with its output in `logFile`; resolves once it is ready. */
async function startSluice(configFile: string, logFile: string): Promise<{ child: ChildProcess; stop(): Promise<void> }> {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, CLI, 'start', '--config', configFile], { stdio: ['ignore', 'pipe', 'pipe'] });
  const log = createWriteStream(logFile);
  child.stderr!.pipe(log);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  await new Promise<void>((ready, fail) => {
    createInterface({ input: child.stdout! }).on('line', (line) => {
      log.write(`${line}\n`);
      if (line.includes('sluice ready')) ready();
    });
    void exited.then((code) => fail(new SluiceError('SLUICE_DEMO_START_FAILED', `sluice start exited with ${code} before it was ready; see ${logFile}`)));
  });
  return {
    child,
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
      log.end();
    },
  };
}
