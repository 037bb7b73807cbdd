/** `npm run demo` (sluice demo): the whole story on real influxd and a real `sluice start`, and Ctrl-C stopping everything. */
import { execFile, spawn } from 'node:child_process';
import { connect } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { promisify } from 'node:util';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { SLUICE_BIN } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
let dir: Awaited<ReturnType<typeof tempDir>>;
beforeAll(async () => {
  dir = await tempDir('sluice-demo-');
});
afterAll(async () => {
  await dir?.remove();
});

const refused = (url: string): Promise<boolean> =>
  new Promise((resolve) => {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    socket.once('connect', () => {
      socket.destroy();
      resolve(false);
    });
    socket.once('error', () => resolve(true));
  });

it('runs InfluxDB, Sluice and a simulated fleet, verifies exact, and stops everything with --exit', async () => {
  const { stdout } = await run(process.execPath, [SLUICE_BIN, 'demo', '--dir', join(dir.path, 'a'), '--duration', '4s', '--devices', '30', '--rate', '600', '--exit']);
  expect(stdout).toMatch(/^verify: exact \(\d+ points\)$/m);
  expect(stdout).toMatch(/Grafana: add an InfluxDB data source/);
  // Both servers it started are gone.
  const influxUrl = /^InfluxDB\s+(http:\/\/\S+)/m.exec(stdout)![1]!;
  const mqttUrl = /^Sluice\s+(mqtt:\/\/\S+)/m.exec(stdout)![1]!;
  expect(await refused(influxUrl)).toBe(true);
  expect(await refused(mqttUrl.replace('mqtt:', 'http:'))).toBe(true);
});

it('keeps running after verifying until Ctrl-C, which stops InfluxDB and Sluice', async () => {
  const demo = spawn(process.execPath, [SLUICE_BIN, 'demo', '--dir', join(dir.path, 'b'), '--duration', '2s', '--devices', '10', '--rate', '200'], { stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: string[] = [];
  const exited = new Promise<number | null>((resolve) => demo.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    createInterface({ input: demo.stdout! }).on('line', (line) => {
      lines.push(line);
      if (line.includes('Press Ctrl-C')) resolve();
    });
    void exited.then((code) => reject(new Error(`demo exited with ${code}:\n${lines.join('\n')}`)));
  });
  const influxUrl = /^InfluxDB\s+(http:\/\/\S+)/m.exec(lines.join('\n'))![1]!;
  const mqttUrl = /^Sluice\s+(mqtt:\/\/\S+)/m.exec(lines.join('\n'))![1]!;
  expect(await refused(influxUrl)).toBe(false);
  demo.kill('SIGINT');
  expect(await exited).toBe(130);
  expect(await refused(influxUrl)).toBe(true);
  expect(await refused(mqttUrl.replace('mqtt:', 'http:'))).toBe(true);
});
