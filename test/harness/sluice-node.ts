import { join } from 'node:path';
import { loadConfig } from '../../cli/config-loader.js';
import type { SluiceConfig } from '../../cli/config-schema.js';
import { runNode, type NodeRoles, type RunningNode } from '../../cli/run-node.js';

/** The config a test node uses: free ports on 127.0.0.1, anonymous devices, the given data dir and InfluxDB. */
export function testNodeConfig(dataDir: string, influxUrl: string, set: Record<string, string> = {}): Promise<SluiceConfig> {
  return loadConfig({
    env: {},
    overrides: {
      dataDir,
      'mqtt.host': '127.0.0.1',
      'mqtt.port': '0',
      'http.host': '127.0.0.1',
      'http.port': '0',
      'auth.mode': 'anonymous',
      'auth.registry': join(dataDir, 'devices.json'),
      'decode.threads': '1',
      'limits.messagesPerSecond': '0',
      'limits.readingsPerSecond': '0',
      'limits.bytesPerSecond': '0',
      'influx.url': influxUrl,
      'influx.database': 'sluice',
      ...set,
    },
  });
}

/** Starts gateway and processors in this process, as `sluice start` does. */
export async function startTestNode(config: SluiceConfig, roles?: NodeRoles): Promise<RunningNode & { url: string }> {
  const node = await runNode(config, roles);
  return { ...node, url: `mqtt://127.0.0.1:${node.ports.mqtt}` };
}
