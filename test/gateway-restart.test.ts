import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { FileLog } from '../log/index.js';
import { connectDevice, encodeBatch } from './harness/devices.js';
import { readLoggedMessages } from './harness/log-contents.js';
import { spawnSluice } from './harness/sluice-process.js';
import { tempDir } from './harness/temp-dir.js';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0)) await c();
});

const args = (dataDir: string): string[] => ['gateway', '--data-dir', dataDir, '--mqtt-port', '0', '--http-port', '0', '--set', 'auth.mode=anonymous', '--set', 'mqtt.host=127.0.0.1', '--set', 'http.host=127.0.0.1'];

describe('gateway restart on the same dataDir', () => {
  it('keeps every acknowledged publish across a kill -9 and a restart', async () => {
    const dir = await tempDir();
    cleanups.push(dir.remove);
    const first = spawnSluice(args(dir.path), { SLUICE_LOG_LEVEL: 'info' });
    const { mqtt } = await first.ready;
    const devices = await Promise.all([0, 1, 2, 3].map((i) => connectDevice(`mqtt://127.0.0.1:${mqtt}`, `crash-${i}`, undefined, { username: undefined })));
    const acked = new Set<string>();
    const sent = { count: 0 };
    // Four devices publish QoS 1 as fast as PUBACKs come back; the process is killed mid-stream.
    const loops = devices.map(async (device, i) => {
      for (let seq = 1; ; seq++) {
        sent.count++;
        try {
          await device.publishAsync(`devices/crash-${i}/telemetry`, encodeBatch({ seq, readings: [{ metric: 'm', timeUnixMs: Date.now(), doubleValue: seq }] }), { qos: 1 });
        } catch {
          return;
        }
        acked.add(`crash-${i}/${seq}`);
        if (!device.connected) return;
      }
    });
    while (acked.size < 2000) await new Promise((resolve) => setImmediate(resolve));
    first.child.kill('SIGKILL');
    await first.exited;
    for (const d of devices) d.end(true);
    await Promise.all(loops);
    const ackedAtKill = new Set(acked);

    const second = spawnSluice(args(dir.path));
    const ports = await second.ready;
    const after = await connectDevice(`mqtt://127.0.0.1:${ports.mqtt}`, 'crash-0', undefined, { username: undefined });
    await after.publishAsync('devices/crash-0/telemetry', encodeBatch({ seq: 1_000_000, readings: [{ metric: 'm', timeUnixMs: Date.now(), doubleValue: 1 }] }), { qos: 1 });
    await after.endAsync();
    second.child.kill('SIGTERM');
    expect(await second.exited).toBe(0);

    const log = await FileLog.open({ dir: join(dir.path, 'log'), partitions: 64 });
    const logged = new Set((await readLoggedMessages(log)).map((m) => `${m.device}/${m.seq}`));
    await log.close();
    const missing = [...ackedAtKill].filter((k) => !logged.has(k));
    expect(missing).toEqual([]);
    expect(logged.has('crash-0/1000000')).toBe(true);
    expect(ackedAtKill.size).toBeGreaterThanOrEqual(2000);
  });
});
