#!/usr/bin/env -S node --max-semi-space-size=32
// First: mqtt-packet's loggers are made when it loads, and must be made quiet ones.
import './quiet-debug.js';
import { Command, Option } from 'commander';
import { configureLogging, LOG_FORMATS, LOG_LEVELS, parseLogLevel, sluiceVersion, type LogFormat } from '../core/index.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerClusterCommand } from './commands/cluster.js';
import { registerConfigCommand } from './commands/config.js';
import { registerDeadLettersCommand } from './commands/deadletters.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDevicesCommand } from './commands/devices.js';
import { registerGatewayCommands } from './commands/gateway.js';
import { registerRulesCommand } from './commands/rules.js';
import { registerSimulateCommand } from './commands/simulate.js';
import { registerVerifyCommand } from './commands/verify.js';
import { failureOf, usageLine } from './failure.js';

// exitOverride and configureOutput come first: sub-commands copy them when they are created.
// Usage errors are one line and exit 2 like config errors, instead of commander's exit 1 and
// the whole help text.
const program = new Command('sluice')
  .exitOverride()
  .configureOutput({ outputError: (message, write) => write(usageLine(message)) })
  .description('IoT telemetry gateway: authenticated MQTT + Protobuf in, a durable partitioned log, windows out to InfluxDB')
  .version(sluiceVersion(), '-V, --version', 'print the version and exit')
  .addOption(new Option('--log-level <level>', `log level: ${LOG_LEVELS.join(', ')}`).env('SLUICE_LOG_LEVEL').default('info'))
  .addOption(new Option('--log-format <format>', 'json, or pretty for people (default: pretty when stdout is a terminal, else json)').choices(LOG_FORMATS).env('SLUICE_LOG_FORMAT'))
  .hook('preAction', () => {
    const flags = program.opts<{ logLevel: string; logFormat?: LogFormat }>();
    const fromEnv = program.getOptionValueSource('logLevel') === 'env' ? 'SLUICE_LOG_LEVEL' : undefined;
    configureLogging({ level: parseLogLevel(flags.logLevel, fromEnv), format: flags.logFormat ?? (process.stdout.isTTY ? 'pretty' : 'json') });
  });

registerGatewayCommands(program);
registerConfigCommand(program);
registerDevicesCommand(program);
registerRulesCommand(program);
registerDeadLettersCommand(program);
registerSimulateCommand(program);
registerVerifyCommand(program);
registerBenchCommand(program);
registerClusterCommand(program);
registerDemoCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  const { line, exitCode } = failureOf(err);
  process.stderr.write(line);
  process.exit(exitCode);
});
