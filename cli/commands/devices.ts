import type { Command } from 'commander';
import { DeviceUnknownError, UsageError } from '../../core/index.js';
import { DeviceRegistry } from '../../gateway/index.js';
import { configFromFlags, withConfigFlags, type ConfigFlags } from './common.js';

function parseTags(pairs: string[] = []): Record<string, string> {
  const tags: Record<string, string> = {};
  for (const pair of pairs) {
    const eq = pair.indexOf('=');
    if (eq <= 0) throw new UsageError(`--tag: got "${pair}"; write key=value, e.g. --tag site=oslo`);
    tags[pair.slice(0, eq)] = pair.slice(eq + 1);
  }
  return tags;
}

/** `sluice devices add|list|remove`: the device registry file (auth.registry). */
export function registerDevicesCommand(program: Command): void {
  const devices = program.command('devices').description('manage the device registry used by auth.mode=registry (a running gateway applies changes at once)');

  withConfigFlags(devices.command('add <id>').description('register a device and print its secret (shown once)'))
    .option('-t, --tag <key=value...>', 'static tags written with every point of this device, e.g. --tag site=oslo')
    .option('--role <role>', 'device (publishes its own telemetry) or service (reads all telemetry)', 'device')
    .action(async (id: string, flags: ConfigFlags & { tag?: string[]; role: string }) => {
      if (flags.role !== 'device' && flags.role !== 'service') throw new UsageError(`--role: got "${flags.role}"; use device or service`);
      const config = await configFromFlags(flags);
      const registry = await DeviceRegistry.load(config.auth.registry);
      const secret = await registry.add(id, { role: flags.role, tags: parseTags(flags.tag) });
      await registry.save();
      process.stderr.write(`added ${flags.role} ${id} to ${registry.path}; its secret is printed once, below (MQTT username = client id = ${id}, password = secret)\n`);
      process.stdout.write(`${secret}\n`);
    });

  withConfigFlags(devices.command('rotate <id>').description('give a device a new secret (printed once), keeping its role and tags; the old one stops working'))
    .action(async (id: string, flags: ConfigFlags) => {
      const config = await configFromFlags(flags);
      const registry = await DeviceRegistry.load(config.auth.registry);
      const secret = await registry.rotate(id);
      await registry.save();
      process.stderr.write(`new secret for ${id} in ${registry.path}, printed once below; a running gateway disconnects ${id} and refuses the old secret\n`);
      process.stdout.write(`${secret}\n`);
    });

  withConfigFlags(devices.command('list').description('list registered devices (never their secrets)'))
    .option('--json', 'one JSON object per line')
    .action(async (flags: ConfigFlags & { json?: boolean }) => {
      const config = await configFromFlags(flags);
      const registry = await DeviceRegistry.load(config.auth.registry);
      for (const d of registry.list()) {
        process.stdout.write(flags.json ? `${JSON.stringify({ id: d.id, role: d.role, tags: d.tags })}\n` : `${d.id}\t${d.role}\t${d.tagString}\n`);
      }
    });

  withConfigFlags(devices.command('remove <id>').description('remove a device; a running gateway disconnects it and refuses it from then on'))
    .action(async (id: string, flags: ConfigFlags) => {
      const config = await configFromFlags(flags);
      const registry = await DeviceRegistry.load(config.auth.registry);
      if (!registry.remove(id)) throw new DeviceUnknownError(`devices remove: no device "${id}" in ${registry.path}; see sluice devices list`);
      await registry.save();
      process.stderr.write(`removed ${id} from ${registry.path}\n`);
    });
}
