import type { Command } from 'commander';
import { ConfigError } from '../../core/index.js';
import { DEFAULT_MAX_LISTED, readReportFile, runVerify } from '../../simulator/verify/index.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './common.js';

interface VerifyFlags extends ConfigFlags {
  report: string;
  json?: boolean;
  maxListed: string;
}

/**
 * `sluice verify --report FILE`: compares a simulate report's expected window points (and alerts) with
 * InfluxDB (the `influx` config section). Exit code 0 only when exact, 1 when not, 2 when
 * the report or InfluxDB cannot be read (main.ts, from the SluiceError).
 */
export function registerVerifyCommand(program: Command): void {
  withConfigFlags(
    program
      .command('verify')
      .description('compare the window points (and, for a --anomalies run, the alert transitions) a `sluice simulate --report` run expects with what InfluxDB holds; exit 0 only when exact')
      .requiredOption('--report <file>', 'the report `sluice simulate --report FILE` wrote')
      .option('--json', 'print the result as JSON instead of a table')
      .option('--max-listed <n>', 'how many missing, mismatched and extra points to list', String(DEFAULT_MAX_LISTED)),
  ).action(async (flags: VerifyFlags) => {
    const maxListed = Number(flags.maxListed);
    if (!Number.isSafeInteger(maxListed) || maxListed < 0) throw new ConfigError(`verify --max-listed: expected a whole number ≥ 0, got "${flags.maxListed}"`);
    const report = await readReportFile(flags.report);
    const config = await configFromFlags(flags);
    const { result, text } = await runVerify(report, config.influx, { maxListed });
    process.stdout.write(flags.json ? `${JSON.stringify(result, null, 2)}\n` : text);
    process.exitCode = result.exact ? 0 : 1;
  });
}
