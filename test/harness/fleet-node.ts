import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { freePort, startInfluxd, type TestInfluxd } from './influxdb.js';
import { watchNode } from './pipeline-node.js';
import { spawnSluice, type SluiceProcess } from './sluice-process.js';
import { tempDir } from './temp-dir.js';

/** A `sluice start` for a simulated fleet: token auth, its own influxd and temp dir, a config file `sluice simulate --config` can read. */
export interface FleetNode {
  influx: TestInfluxd;
  configFile: string;
  dir: string;
  node: SluiceProcess;
  mqttPort: number;
  httpPort: number;
}

export interface FleetNodeOptions {
  fleetKey: string;
  database: string;
  /** The config's `time` section. */
  time: Record<string, string>;
  checkpointInterval?: string;
  /** Where the test's cleanups go (run in reverse). */
  cleanups: (() => Promise<unknown>)[];
}

/** Starts influxd and `sluice start` (one decode thread, 200 ms sink flushes) with a config file in a temp dir. */
export async function startFleetNode(o: FleetNodeOptions): Promise<FleetNode> {
  const influx = await startInfluxd();
  o.cleanups.push(() => influx.destroy());
  const dir = await tempDir('sluice-fleet-');
  o.cleanups.push(dir.remove);
  const configFile = join(dir.path, 'sluice.yaml');
  const mqttPort = await freePort();
  await writeFile(
    configFile,
    stringify({
      dataDir: join(dir.path, 'data'),
      mqtt: { host: '127.0.0.1', port: mqttPort },
      http: { host: '127.0.0.1', port: await freePort() },
      auth: { mode: 'token', fleetKey: o.fleetKey },
      decode: { threads: 1 },
      influx: { url: influx.url, database: o.database, flushInterval: '200ms' },
      time: o.time,
      checkpoint: { interval: o.checkpointInterval ?? '500ms' },
    }),
  );
  const node = spawnSluice(['start', '--config', configFile]);
  watchNode(() => node, o.cleanups);
  const { http } = await node.ready;
  return { influx, configFile, dir: dir.path, node, mqttPort, httpPort: http };
}
