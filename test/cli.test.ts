import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterEach, describe, expect, it } from 'vitest';
import { connectDevice } from './harness/devices.js';
import { SLUICE_BIN, spawnSluice } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const run = promisify(execFile);
const cleanups: (() => Promise<unknown>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const sluice = (args: string[], cwd: string) => run(process.execPath, [SLUICE_BIN, ...args], { cwd });

describe('sluice CLI', () => {
  it('devices add prints a secret once (stored hashed), list shows the device, remove deletes it', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const added = await sluice(['devices', 'add', 'cli-dev-1', '--tag', 'site=oslo', '--tag', 'model=x1'], dir.path);
    const secret = added.stdout.trim();
    expect(secret).toMatch(/^[A-Za-z0-9_-]{40,}$/);
    expect(added.stderr).toContain('cli-dev-1');
    const file = await readFile(join(dir.path, 'devices.json'), 'utf8');
    expect(file).not.toContain(secret);
    expect((await sluice(['devices', 'list'], dir.path)).stdout).toBe('cli-dev-1\tdevice\tmodel=x1,site=oslo\n');
    await expect(sluice(['devices', 'add', 'cli-dev-1'], dir.path)).rejects.toMatchObject({ stderr: expect.stringMatching(/cli-dev-1/) });
    await sluice(['devices', 'remove', 'cli-dev-1'], dir.path);
    expect((await sluice(['devices', 'list'], dir.path)).stdout).toBe('');
  });

  it('refuses a bad config value with the key, the value and exit code 2', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const err = await sluice(['gateway', '--set', 'mqtt.maxPacketBytes=tiny'], dir.path).catch((e: { code: number; stderr: string }) => e);
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stderr: string }).stderr).toMatch(/mqtt\.maxPacketBytes: .*got "tiny" from a flag.*SLUICE_CONFIG_INVALID/s);
  });

  it('deadletters prints what the gateway refused', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const mappings = '[{name: plant, topic: "plant/+device"}]';
    const node = spawnSluice(['gateway', '--data-dir', dir.path, '--mqtt-port', '0', '--http-port', '0', '--set', 'auth.mode=anonymous', '--set', 'mqtt.host=127.0.0.1', '--set', 'http.host=127.0.0.1', '--set', `ingest.mappings=${mappings}`]);
    const { mqtt } = await node.ready;
    const device = await connectDevice(`mqtt://127.0.0.1:${mqtt}`, 'cli-bad', undefined, { username: undefined });
    await device.publishAsync('devices/cli-bad/telemetry/json', '{"seq": 1, "readings": [{"metric": "bad name", "value": 1}]}', { qos: 1 });
    await device.publishAsync('plant/cli-bad', '{"samples": [1, 2]}', { qos: 1 });
    await device.endAsync();
    node.child.kill('SIGTERM');
    expect(await node.exited).toBe(0);
    const out = (await sluice(['deadletters', '--data-dir', dir.path, '--tail', '5'], dir.path)).stdout;
    expect(out).toMatch(/cli-bad\s+metric_name_invalid\s+\d+ B\s+7b22/);
    expect(out).toMatch(/cli-bad\s+value_unsupported\s+mapping plant\s+\d+ B\s+7b22.*\(field "samples" is an array/);
  });
});
