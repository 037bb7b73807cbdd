/** The influxd harness itself: isolated instances, restarts on the same data, cleanup. */
import { access } from 'node:fs/promises';
import { describe, expect, it } from 'vitest';
import { startInfluxd, type TestInfluxd } from './harness/influxdb.js';

async function write(influx: TestInfluxd, db: string, body: string): Promise<void> {
  const res = await fetch(`${influx.url}/write?db=${db}&precision=ms`, { method: 'POST', body });
  expect(res.status).toBe(204);
}

describe('startInfluxd', () => {
  it('runs two isolated instances at once, and keeps data across stop/start and kill/start', async () => {
    const [a, b] = await Promise.all([startInfluxd(), startInfluxd()]);
    try {
      expect(a.port).not.toBe(b.port);
      expect(a.dataDir).not.toBe(b.dataDir);
      await a.query('CREATE DATABASE h');
      await b.query('CREATE DATABASE h');
      await write(a, 'h', 'm,host=a v=1i 1000');
      expect(await b.query('SELECT * FROM m', 'h')).toEqual([]);

      await a.stop();
      expect(await fetch(`${a.url}/ping`).then(() => 'up', () => 'down')).toBe('down');
      await a.start();
      await write(a, 'h', 'm,host=a v=2i 2000');
      // SIGKILL: no clean shutdown, so the second point comes back from the WAL.
      await a.kill();
      await a.start();
      expect(await a.query('SELECT * FROM m', 'h')).toEqual([
        { time: 1000, host: 'a', v: 1 },
        { time: 2000, host: 'a', v: 2 },
      ]);
      await expect(a.query('SELECT * FROM nope WHERE', 'h')).rejects.toThrow(/InfluxQL .* failed/);
    } finally {
      await Promise.all([a.destroy(), b.destroy()]);
    }
    await expect(access(a.dataDir)).rejects.toThrow();
  });
});
