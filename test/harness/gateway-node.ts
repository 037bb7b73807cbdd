import { join } from 'node:path';
import { Registry } from 'prom-client';
import { loadConfig } from '../../cli/config-loader.js';
import type { SluiceConfig } from '../../cli/config-schema.js';
import { createLogger } from '../../core/index.js';
import { startGateway, type Gateway } from '../../gateway/index.js';
import { FileLog, type Log } from '../../log/index.js';
import { tempDir } from './temp-dir.js';

export interface TestGateway {
  config: SluiceConfig;
  gateway: Gateway;
  log: Log;
  registry: Registry;
  url: string;
  port: number;
  dataDir: string;
  /** The current value of a counter or gauge (summed over the given labels). */
  metric(name: string, labels?: Record<string, string>): Promise<number>;
  /** Stops the gateway and closes the log; keeps the data dir. */
  stop(): Promise<void>;
  /** Stops and removes the data dir. */
  destroy(): Promise<void>;
}

export interface TestGatewayOptions {
  /** Config overrides as dotted path → text, as the --set flag takes them. */
  set?: Record<string, string>;
  /** Reuse a data dir (restart tests). */
  dataDir?: string;
  /** Wrap the real FileLog, e.g. in a GatedLog. */
  wrapLog?: (log: Log) => Log;
}

/** Starts a real gateway on a free port over a real FileLog in a temp dir. */
export async function startTestGateway(options: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = options.dataDir ? undefined : await tempDir();
  const dataDir = options.dataDir ?? dir!.path;
  const config = await loadConfig({
    env: {},
    overrides: {
      dataDir,
      'mqtt.port': '0',
      'mqtt.host': '127.0.0.1',
      'http.port': '0',
      'auth.registry': join(dataDir, 'devices.json'),
      'decode.threads': '1',
      ...options.set,
    },
  });
  const fileLog = await FileLog.open({ dir: join(dataDir, 'log'), partitions: config.partitions, ...config.log });
  const log = options.wrapLog ? options.wrapLog(fileLog) : fileLog;
  const registry = new Registry();
  const logger = createLogger('test', process.env.SLUICE_LOG_LEVEL ?? 'error');
  const gateway = await startGateway(config, { log, registry, logger, dataDir, partitions: config.partitions });
  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return;
    stopped = true;
    await gateway.close();
    await log.close();
  };
  return {
    config,
    gateway,
    log,
    registry,
    url: `mqtt://127.0.0.1:${gateway.ports.tcp ?? 0}`,
    port: gateway.ports.tcp ?? 0,
    dataDir,
    async metric(name, labels = {}) {
      const m = registry.getSingleMetric(name);
      if (!m) throw new Error(`no metric ${name}`);
      const { values } = await m.get();
      return values
        .filter((v) => Object.entries(labels).every(([k, want]) => (v.labels as Record<string, unknown>)[k] === want))
        .reduce((sum, v) => sum + v.value, 0);
    },
    stop,
    async destroy() {
      await stop();
      await dir?.remove();
    },
  };
}
