import type { Command } from 'commander';
import { runNode, stopOnSignals } from '../run-node.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './common.js';

/** `sluice start` and `sluice gateway`. */
export function registerGatewayCommands(program: Command): void {
  withConfigFlags(
    program.command('start').description('run the gateway and the processors in one process on the embedded FileLog'),
  ).action(async (flags: ConfigFlags) => {
    stopOnSignals(await runNode(await configFromFlags(flags), { gateway: true, processors: true }));
  });

  withConfigFlags(
    program.command('processor').description('run the processors alone on the embedded log: windows, checkpoints, InfluxDB'),
  ).action(async (flags: ConfigFlags) => {
    stopOnSignals(await runNode(await configFromFlags(flags), { gateway: false, processors: true }));
  });

  withConfigFlags(
    program.command('gateway').description('run the MQTT gateway alone: devices in, batches appended to the log'),
  ).action(async (flags: ConfigFlags) => {
    stopOnSignals(await runNode(await configFromFlags(flags), { gateway: true, processors: false }));
  });
}
