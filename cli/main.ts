#!/usr/bin/env node
import { Command, Option } from 'commander';
import { SluiceError } from '../core/index.js';
import { registerBenchCommand } from './commands/bench.js';
import { registerConfigCommand } from './commands/config.js';
import { registerDeadLettersCommand } from './commands/deadletters.js';
import { registerDemoCommand } from './commands/demo.js';
import { registerDevicesCommand } from './commands/devices.js';
import { registerGatewayCommands } from './commands/gateway.js';
import { registerSimulateCommand } from './commands/simulate.js';
import { registerVerifyCommand } from './commands/verify.js';

const program = new Command('sluice')
  .description('IoT telemetry gateway: authenticated MQTT + Protobuf in, a durable partitioned log, windows out to InfluxDB')
  .addOption(new Option('--log-level <level>', 'pino log level').env('SLUICE_LOG_LEVEL').default('info'))
  .showHelpAfterError();

registerGatewayCommands(program);
registerConfigCommand(program);
registerDevicesCommand(program);
registerDeadLettersCommand(program);
registerSimulateCommand(program);
registerVerifyCommand(program);
registerBenchCommand(program);
registerDemoCommand(program);

program.parseAsync(process.argv).catch((err: unknown) => {
  if (err instanceof SluiceError) {
    process.stderr.write(`sluice: ${err.message} [${err.code}]\n`);
    process.exit(2);
  }
  process.stderr.write(`sluice: ${(err as Error).stack ?? String(err)}\n`);
  process.exit(1);
});
