import { afterAll, expect, it } from 'vitest';
import { runSimulation, simulationOptionsSchema, type ExpectedModel } from '../simulator/index.js';
import type { ExpectedResult } from '../simulator/report.js';
import { freePort } from './harness/influxdb.js';
import { spawnSluice, type SluiceProcess } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const FLEET_KEY = 'ten-thousand-devices-fleet-key';

/** Counts readings only: this test is about connections. */
const countingModel = (): ExpectedModel & { n: number } => ({
  n: 0,
  add() {
    this.n++;
  },
  advance() {},
  result(): ExpectedResult {
    return { windows: [], quantileRelativeAccuracy: 0.01, devicePrefix: 'sim-', eventTimeRange: { from: 0, to: 0 }, readings: this.n, points: [] };
  },
});

let node: SluiceProcess | undefined;
let dir: Awaited<ReturnType<typeof tempDir>> | undefined;
afterAll(async () => {
  node?.child.kill('SIGKILL');
  await node?.exited;
  await dir?.remove();
});

// The gateway runs in its own process: 10 000 sockets on each side would not fit one process's descriptors.
it('connects 10 000 simulated devices at once to a real gateway, which counts them all', async () => {
  dir = await tempDir('sluice-10k-');
  node = spawnSluice([
    'gateway', '--data-dir', dir.path, '--mqtt-port', String(await freePort()), '--http-port', String(await freePort()),
    '--set', 'auth.mode=token', '--set', `auth.fleetKey=${FLEET_KEY}`, '--set', 'mqtt.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', 'decode.threads=1',
  ]);
  const ports = await node.ready;
  const connections = async (): Promise<number> => {
    const text = await (await fetch(`http://127.0.0.1:${ports.http}/metrics`)).text();
    return Number(/^sluice_gateway_connections (\d+)$/m.exec(text)?.[1]);
  };
  let whileConnected = NaN;
  const options = simulationOptionsSchema.parse({ url: `mqtt://127.0.0.1:${ports.mqtt}`, fleetKey: FLEET_KEY, devices: 10_000, rate: 10_000, batch: 1, duration: '2s' });
  const report = await runSimulation(options, { expected: countingModel(), connected: async () => void (whileConnected = await connections()) });
  expect(whileConnected).toBe(10_000);
  expect(report.connections).toMatchObject({ peak: 10_000, failed: 0 });
  expect(report.acknowledged).toBe(report.sent.messages);
  expect(report.sent.messages).toBeGreaterThanOrEqual(10_000);
});
