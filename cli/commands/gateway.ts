import type { Command } from 'commander';
import { parsePartitionSet } from '../../routing/index.js';
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
    program
      .command('processor')
      .description('run the processors alone: windows, checkpoints, InfluxDB (with log.kind: jetstream, over the partitions of --partitions)')
      .option('--partitions <set>', 'the partitions this processor processes, e.g. 0-31 or 0-7,16 (same as --set processors.partitions=…; default all)'),
  ).action(async (flags: ConfigFlags & { partitions?: string }) => {
    const config = await configFromFlags({ ...flags, set: [...(flags.set ?? []), ...(flags.partitions === undefined ? [] : [`processors.partitions=${flags.partitions}`])] });
    // Checked here too, so a partition that does not exist is a usage error before anything starts.
    if (config.processors.partitions !== undefined) parsePartitionSet(config.processors.partitions, config.partitions, flags.partitions === undefined ? 'processors.partitions' : '--partitions');
    stopOnSignals(await runNode(config, { gateway: false, processors: true }));
  });

  withConfigFlags(
    program.command('gateway').description('run the MQTT gateway alone: devices in, batches appended to the log (with log.kind: jetstream, several gateways share one stream)'),
  ).action(async (flags: ConfigFlags) => {
    stopOnSignals(await runNode(await configFromFlags(flags), { gateway: true, processors: false }));
  });
}
