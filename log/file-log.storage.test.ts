import { join } from 'node:path';
import { Registry } from 'prom-client';
import { describe, expect, it, onTestFinished } from 'vitest';
import { StorageHealth } from '../core/index.js';
import { canMount, mountSmallDisk } from '../test/harness/small-disk.js';
import { FileLog } from './index.js';

/** A health that says when an episode of `component` starts or ends. */
function watchedHealth(): { health: StorageHealth; next: (component: string, failing: boolean) => Promise<void>; registry: Registry } {
  const waiters: { component: string; failing: boolean; resolve: () => void }[] = [];
  const registry = new Registry();
  const health = new StorageHealth({
    registry,
    onChange: (component, errno) => {
      for (const w of waiters.filter((w) => w.component === component && w.failing === (errno !== undefined))) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve();
      }
    },
  });
  const next = (component: string, failing: boolean): Promise<void> => {
    if (health.isFailing(component) === failing) return Promise.resolve();
    return new Promise((resolve) => waiters.push({ component, failing, resolve }));
  };
  return { health, next, registry };
}

/** Failed writes of the log counted so far. */
async function logFailures(registry: Registry): Promise<number> {
  const metric = await registry.getSingleMetric('sluice_storage_errors_total')!.get();
  return metric.values.filter((v) => v.labels.component === 'log').reduce((n, v) => n + v.value, 0);
}

const record = (i: number, bytes = 1000): Uint8Array => new Uint8Array(bytes).fill(i % 251);

async function smallDisk(sizeMb: number) {
  const disk = await mountSmallDisk(sizeMb);
  onTestFinished(() => disk.remove());
  return disk;
}

describe.skipIf(!canMount)('FileLog on storage that refuses writes (tmpfs, root only)', () => {
  it('keeps appends the full disk refuses pending, in order, and makes them durable once space returns', { timeout: 30_000 }, async () => {
    const disk = await smallDisk(2);
    const { health, next, registry } = watchedHealth();
    const dir = join(disk.path, 'log');
    const log = await FileLog.open({ dir, partitions: 2, health });
    await log.append(0, record(0));
    await disk.fill();
    let settled = 0;
    const appends = Array.from({ length: 40 }, (_, i) => log.append(i % 2, record(i + 1)).finally(() => settled++));
    await next('log', true);
    expect(health.problem).toMatch(/^storage refuses writes: log ENOSPC since /);
    // Retried with backoff (the first retry within ~50 ms), none resolved: nothing is acknowledged before it is durable.
    while ((await logFailures(registry)) < 3) await new Promise((resolve) => setTimeout(resolve, 10));
    expect(settled).toBe(0);
    await disk.free();
    const offsets = await Promise.all(appends);
    await next('log', false);
    // Partition 0 already held offset 0.
    expect(offsets).toEqual(Array.from({ length: 40 }, (_, i) => (i % 2 === 0 ? 1 + i / 2 : (i - 1) / 2)));
    await log.close();

    const reopened = await FileLog.open({ dir, partitions: 2 });
    const read = await reopened.read(1, 0, 100);
    expect(read.map((r) => r.payload[0])).toEqual(Array.from({ length: 20 }, (_, k) => (2 * k + 2) % 251));
    await reopened.close();
  });

  it('undoes a segment roll made by a round the disk refused', { timeout: 30_000 }, async () => {
    const disk = await smallDisk(2);
    const { health, next } = watchedHealth();
    const dir = join(disk.path, 'log');
    // Segments of ~16 KiB: a round of 40 KiB rolls twice.
    const log = await FileLog.open({ dir, partitions: 1, health, segmentBytes: 16 * 1024 });
    await log.append(0, record(0, 4000));
    await disk.fill();
    const appends = Array.from({ length: 10 }, (_, i) => log.append(0, record(i + 1, 4000)));
    await next('log', true);
    await disk.free();
    expect(await Promise.all(appends)).toEqual(Array.from({ length: 10 }, (_, i) => i + 1));
    await log.close();
    const reopened = await FileLog.open({ dir, partitions: 1, segmentBytes: 16 * 1024 });
    expect(reopened.recovery).toEqual([]);
    const read = await reopened.read(0, 0, 100);
    expect(read.map((r) => [r.offset, r.payload.length, r.payload[0]])).toEqual(Array.from({ length: 11 }, (_, i) => [i, 4000, i]));
    await reopened.close();
  });

  it('on close while the disk is full, rejects the pending appends (never acknowledged) and reopens cleanly', { timeout: 30_000 }, async () => {
    const disk = await smallDisk(2);
    const { health, next } = watchedHealth();
    const dir = join(disk.path, 'log');
    const log = await FileLog.open({ dir, partitions: 1, health });
    await log.append(0, record(0));
    await disk.fill();
    // Bigger than the slack in the segment's last page, which a full tmpfs still lets it fill.
    const pending = log.append(0, record(1, 8000)).then(
      () => 'acknowledged',
      (err: unknown) => err,
    );
    await next('log', true);
    await log.close();
    expect(await pending).toMatchObject({ code: 'SLUICE_STORAGE_UNAVAILABLE', canRetry: true });
    await disk.free();
    const reopened = await FileLog.open({ dir, partitions: 1 });
    expect((await reopened.read(0, 0, 10)).map((r) => r.offset)).toEqual([0]);
    await reopened.close();
  });

  it('refuses to open on a read-only filesystem with EROFS (the start waits on it) and opens after a remount read-write', { timeout: 30_000 }, async () => {
    const disk = await smallDisk(2);
    const { health } = watchedHealth();
    const dir = join(disk.path, 'log');
    await (await FileLog.open({ dir, partitions: 1 })).close();
    await disk.readOnly();
    await expect(FileLog.open({ dir, partitions: 1, health })).rejects.toMatchObject({ code: 'EROFS' });
    await disk.readWrite();
    const log = await FileLog.open({ dir, partitions: 1, health });
    expect(await log.append(0, record(1))).toBe(0);
    await log.close();
    expect(health.problem).toBeUndefined();
  });
});
