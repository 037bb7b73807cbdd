import type { Command } from 'commander';
import { UsageError } from '../../core/index.js';
import { checkRulesFile } from '../rules-check/rules-check.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './common.js';

/** `sluice rules check [FILE]`: the alert rules file (rules.file). */
export function registerRulesCommand(program: Command): void {
  const rules = program.command('rules').description('work with the alert rules file (rules.file)');
  withConfigFlags(
    rules
      .command('check [file]')
      .description('validate a rules file against the configured windows and print what each rule watches and which devices it selects; exit 2 with every problem when it is invalid (default file: rules.file)'),
  ).action(async (file: string | undefined, flags: ConfigFlags) => {
    const config = await configFromFlags(flags);
    const path = file ?? config.rules.file;
    if (path === undefined) throw new UsageError('rules check: give a rules file, or set rules.file in the config');
    for (const line of await checkRulesFile(path, config)) process.stdout.write(`${line}\n`);
  });
}
