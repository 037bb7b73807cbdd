import type { Command } from 'commander';
import { UsageError } from '../../core/index.js';
import { loadConfig } from '../config-loader.js';
import type { SluiceConfig } from '../config-schema.js';

/** Options every command that reads the config shares. */
export interface ConfigFlags {
  config?: string;
  set?: string[];
  dataDir?: string;
  mqttPort?: string;
  httpPort?: string;
}

/** Adds --config, --set and the common named flags to a command. */
export function withConfigFlags(cmd: Command): Command {
  return cmd
    .option('-c, --config <file>', 'YAML config file (env SLUICE_* and flags override it)')
    .option('--set <path=value...>', 'set any config key, e.g. --set mqtt.maxPacketBytes=65536')
    .option('--data-dir <dir>', 'same as --set dataDir=<dir>')
    .option('--mqtt-port <port>', 'same as --set mqtt.port=<port>')
    .option('--http-port <port>', 'same as --set http.port=<port>');
}

/** Loads the config from the file, the environment and the flags (flags win). */
export function configFromFlags(flags: ConfigFlags): Promise<SluiceConfig> {
  const overrides: Record<string, string> = {};
  for (const pair of flags.set ?? []) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--set: got "${pair}"; write path=value, e.g. --set mqtt.port=1883`);
    overrides[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  if (flags.dataDir) overrides.dataDir = flags.dataDir;
  if (flags.mqttPort) overrides['mqtt.port'] = flags.mqttPort;
  if (flags.httpPort) overrides['http.port'] = flags.httpPort;
  return loadConfig({ file: flags.config, overrides });
}
