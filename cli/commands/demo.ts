import type { Command } from 'commander';
import { parseDuration } from '../../core/index.js';
import { runDemo } from '../demo/demo.js';

/** `sluice demo` (npm run demo): local InfluxDB + sluice start + simulated fleet + verify. */
export function registerDemoCommand(program: Command): void {
  program
    .command('demo')
    .description('run a local InfluxDB and Sluice, drive a simulated fleet at them, verify the results, and keep running until Ctrl-C')
    .option('--dir <dir>', 'where the demo keeps its data', '.sluice')
    .option('--duration <d>', 'how long the simulated fleet sends', '60s')
    .option('--devices <n>', 'simulated devices', '200')
    .option('--rate <n>', 'readings per second, whole fleet', '2000')
    .option('--exit', 'stop everything after verifying (exit code 0 only when exact)')
    .action(async (flags: { dir: string; duration: string; devices: string; rate: string; exit?: boolean }) => {
      process.exitCode = await runDemo({ dir: flags.dir, durationMs: parseDuration(flags.duration), devices: Number(flags.devices), rate: Number(flags.rate), exit: flags.exit === true });
    });
}
