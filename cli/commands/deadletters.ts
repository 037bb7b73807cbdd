import type { Command } from 'commander';
import { readDeadLetters } from '../../gateway/index.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './common.js';

/** `sluice deadletters [--tail N]`: prints the newest rejected payloads. */
export function registerDeadLettersCommand(program: Command): void {
  withConfigFlags(program.command('deadletters').description('print the newest rejected payloads (device, reason, mapping, size, first bytes)'))
    .option('-n, --tail <count>', 'how many to print', '20')
    .option('--json', 'one JSON object per line')
    .action(async (flags: ConfigFlags & { tail: string; json?: boolean }) => {
      const config = await configFromFlags(flags);
      const letters = await readDeadLetters(config.dataDir, Number(flags.tail));
      if (letters.length === 0) {
        process.stdout.write(`no dead letters under ${config.dataDir}\n`);
        return;
      }
      for (const l of letters) {
        process.stdout.write(
          flags.json
            ? `${JSON.stringify(l)}\n`
            : `${l.time}  ${l.device}  ${l.reason}${l.mapping ? `  mapping ${l.mapping}` : ''}  ${l.size} B  ${l.head}${l.detail ? `  (${l.detail})` : ''}\n`,
        );
      }
    });
}
