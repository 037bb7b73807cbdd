import type { Command } from 'commander';
import { formatClusterReport } from '../cluster-status/format-report.js';
import { readClusterReport } from '../cluster-status/cluster-report.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './common.js';

/** `sluice cluster status [--json]`: the members, the owner of each partition and its lag, read from NATS (distributed mode). */
export function registerClusterCommand(program: Command): void {
  const cluster = program.command('cluster').description('distributed mode (log.kind jetstream): the processors sharing the partitions');
  withConfigFlags(cluster.command('status').description('print the members (heartbeat age, partitions owned) and per partition its owner, lease age, checkpoint offset and lag'))
    .option('--json', 'print the same as one JSON object')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const report = await readClusterReport(await configFromFlags(flags));
      process.stdout.write(flags.json ? `${JSON.stringify(report, null, 2)}\n` : formatClusterReport(report));
    });
}
