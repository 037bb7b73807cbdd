import type { Command } from 'commander';
import { ConfigError } from '../../core/index.js';
import { exitCode, fail, formatResult, pass, skipped, type CheckResult } from '../config-check/check.js';
import { checkFiles } from '../config-check/file-checks.js';
import { checkInflux } from '../config-check/influx-check.js';
import { checkNats } from '../config-check/nats-check.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './common.js';

/**
 * `sluice config check`, like `telegraf --test` or `mosquitto -t`: loads the config as
 * `sluice start` would, checks the files it names and reaches InfluxDB (and NATS, in distributed mode) with its
 * credentials, one line per check. Exit 0 when every check passes, 2 when the config or a
 * file it names is wrong (what `sluice start` would refuse), 1 when only an external
 * service failed (what `sluice start` would wait for, not ready).
 */
export function registerConfigCommand(program: Command): void {
  const config = program.command('config').description('work with the configuration');
  withConfigFlags(config.command('check').description('validate the config, the ACL, registry and TLS files, and reach InfluxDB with the configured credentials; exit 0 all pass, 2 config or file errors, 1 InfluxDB/NATS failures'))
    .action(async (flags: ConfigFlags) => {
      const results: CheckResult[] = [];
      const print = (r: CheckResult) => {
        results.push(r);
        process.stdout.write(`${formatResult(r)}\n`);
      };
      const source = flags.config === undefined ? 'config (no --config: defaults, SLUICE_* and flags)' : `config ${flags.config}`;
      let loaded;
      try {
        loaded = await configFromFlags(flags);
      } catch (err) {
        if (!(err instanceof ConfigError)) throw err;
        print(fail('local', source, `${err.message} [${err.code}]`));
        process.exit(2);
      }
      print(pass('local', source, 'valid'));
      for (const r of await checkFiles(loaded)) print(r);
      for (const r of await checkInflux(loaded.influx)) print(r);
      if (loaded.log.kind === 'jetstream') for (const r of await checkNats(loaded.nats!)) print(r);
      else print(skipped('external', 'NATS', 'not used (log.kind is file)'));
      process.exit(exitCode(results));
    });
}
