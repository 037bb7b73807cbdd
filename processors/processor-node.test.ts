import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { createLogger, LogCorruptError, LogUnavailableError } from '../core/index.js';
import { FileLog, type Log } from '../log/index.js';
import { ColumnarBatchBuilder, compressBatch } from '../proto/index.js';
import { tempDir } from '../test/harness/temp-dir.js';
import { CheckpointCoordinator, LocalCheckpointStore, type CheckpointBarrier, type CheckpointOutcome } from './checkpoint/index.js';
import { processorConfigSchema, type ProcessorConfig } from './config.js';
import { ProcessorStoppedError } from './errors.js';
import { ProcessorNode, TRICKLE_RECORDS, TRICKLE_TURN_INTERVAL_MS, waitAfterTurn } from './processor-node.js';
import type { WriteGate } from './sink/index.js';
import { startCaptureServer, type CaptureServer } from './sink/testing/capture-server.js';

const T0 = 1_700_000_000_000; // a multiple of 10 s: window starts are T0 + k · 10 s

/** Record i of a device: one message, seq i + 1, one reading of value i at T0 + i s (or at `time`). */
function record(device: string, i: number, time = T0 + i * 1_000): Uint8Array {
  const b = new ColumnarBatchBuilder(0, time);
  b.beginMessage(b.intern(device), b.intern(''), i + 1);
  b.addNumeric(b.intern('t'), b.intern(''), time, i);
  return compressBatch(b.encode());
}

/**
 * A reading of another device an hour ahead: it moves the partition's progress (how far
 * the operators look for due windows) past every window of the test device, so those fire
 * at the idle timeout instead of after their length in processing time. Event time is per
 * device, so it makes none of the test device's readings late.
 */
const ahead = (): Uint8Array => record('ahead', 0, T0 + 3_600_000);

describe('ProcessorNode', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let influx: CaptureServer;
  let log: FileLog;
  let store: LocalCheckpointStore;
  let config: ProcessorConfig;
  /** Resolvers of tests waiting for InfluxDB writes. */
  let arrivals: (() => void)[];
  const nodes: ProcessorNode[] = [];

  beforeEach(async () => {
    dir = await tempDir('sluice-node-');
    influx = await startCaptureServer();
    arrivals = [];
    influx.respond = () => {
      for (const wake of arrivals.splice(0)) wake();
      return { status: 204 };
    };
    log = await FileLog.open({ dir: `${dir.path}/log`, partitions: 2, fsync: 'never' });
    store = new LocalCheckpointStore(`${dir.path}/checkpoints`, 3);
    config = processorConfigSchema.parse({
      influx: { url: influx.url, version: 2, bucket: 'b', org: 'o', token: 't', flushInterval: '20ms' },
      windows: [{ name: 'w10s', type: 'tumbling', size: '10s' }],
      time: { maxOutOfOrderness: '1s', idleTimeout: '100ms', allowedLateness: '1h' },
      checkpoint: { interval: '1h', fullEvery: 2 },
      processors: { threads: 1 },
    });
  });

  afterEach(async () => {
    for (const node of nodes.splice(0)) await node.stop({ checkpoint: false, timeoutMs: 1000 });
    await log.close();
    await influx.close();
    await dir.remove();
  });

  /** A node over the shared log and checkpoint store, with its own registry (its metrics). */
  function node(partitions: number[], overrides: { log?: Log; onFatal?: (err: Error) => void; writeGate?: WriteGate } = {}): { node: ProcessorNode; registry: Registry } {
    const registry = new Registry();
    const n = new ProcessorNode(config, {
      log: overrides.log ?? log,
      store,
      registry,
      logger: createLogger('test', 'silent'),
      partitions,
      onFatal: overrides.onFatal ?? ((err) => expect.fail(`unexpected fatal error: ${err.message}`)),
      writeGate: overrides.writeGate,
    });
    nodes.push(n);
    return { node: n, registry };
  }

  /** The last value InfluxDB got for each window point of `device`: [window start − T0, count, sum]. */
  function windows(device: string): [number, number, number][] {
    const last = new Map<number, [number, number, number]>();
    for (const line of influx.captured.flatMap((c) => c.body.split('\n'))) {
      const m = /^w10s,(\S+) (\S+) (\d+)$/.exec(line);
      if (!m || !m[1]!.split(',').includes(`device=${device}`)) continue;
      const time = Number(m[3]) - T0;
      last.set(time, [time, Number(/count=(\d+)i/.exec(m[2]!)![1]), Number(/(?:^|,)sum=([-\d.e]+)/.exec(m[2]!)![1])]);
    }
    return [...last.values()].sort((a, b) => a[0] - b[0]);
  }

  /** Resolves once InfluxDB holds `want` as the windows of `device` (re-checked on every write it gets). */
  async function untilWindows(device: string, want: [number, number, number][]): Promise<void> {
    while (JSON.stringify(windows(device)) !== JSON.stringify(want)) await new Promise<void>((resolve) => arrivals.push(resolve));
  }

  async function counter(registry: Registry, name: string): Promise<number> {
    const metric = await registry.getSingleMetric(name)!.get();
    return metric.values.reduce((n, v) => n + v.value, 0);
  }

  it('revoke checkpoints a partition; assigning it to another node resumes there: no record twice, none lost', async () => {
    for (let i = 0; i < 6; i++) await log.append(0, record('d', i));
    await log.append(0, ahead());
    const a = node([0]);
    await a.node.start();
    // A has read all six: its idle timeout fired window 0 with them.
    await untilWindows('d', [[0, 6, 15]]);
    await a.node.revoke(0);
    expect(a.node.partitions).toEqual([]);
    const chain = await store.restorable(0);
    expect(chain.at(-1)!.offset).toBe(7); // the final checkpoint: after the seventh record
    expect(await counter(a.registry, 'sluice_processor_messages_total')).toBe(7);

    // Nine more records: window 0 gets four more (it was open in A's state), window 10 s five.
    for (let i = 6; i < 15; i++) await log.append(0, record('d', i));
    const b = node([]);
    await b.node.start();
    await b.node.assign(0); // at run time, while B's loop runs
    await untilWindows('d', [
      [0, 10, 45],
      [10_000, 5, 60],
    ]);
    await b.node.revoke(0);
    // B read only the nine after A's checkpoint, and none of them twice.
    expect(await counter(b.registry, 'sluice_processor_messages_total')).toBe(9);
    expect(await counter(b.registry, 'sluice_processor_duplicates_total')).toBe(0);
    expect(await counter(a.registry, 'sluice_processor_duplicates_total')).toBe(0);
    expect((await store.restorable(0)).at(-1)!.offset).toBe(16);
  });

  /**
   * InfluxDB takes nothing until release(); the loop checkpoints only when the test calls
   * barrier() or arm() (the interval, as the test arms it); barrier() resolves once that
   * checkpoint's barrier is taken and its commit has begun.
   * Every barrier and commit the coordinator makes is recorded.
   */
  function holdCheckpoints() {
    let release!: () => void;
    const released = new Promise<void>((resolve) => (release = resolve));
    influx.respond = async () => {
      await released;
      for (const wake of arrivals.splice(0)) wake();
      return { status: 204 };
    };
    const barriers: CheckpointBarrier[] = [];
    const commits: Promise<CheckpointOutcome>[] = [];
    let onBarrier: (() => void) | undefined;
    let armed = false;
    vi.spyOn(CheckpointCoordinator.prototype, 'due').mockImplementation(() => armed && !(armed = false));
    const snapshot = CheckpointCoordinator.prototype.snapshot;
    const commit = CheckpointCoordinator.prototype.commit;
    vi.spyOn(CheckpointCoordinator.prototype, 'snapshot').mockImplementation(async function (this: CheckpointCoordinator, ...args) {
      const taken = await snapshot.apply(this, args);
      barriers.push(taken);
      return taken;
    });
    vi.spyOn(CheckpointCoordinator.prototype, 'commit').mockImplementation(function (this: CheckpointCoordinator, ...args) {
      const done = commit.apply(this, args);
      commits.push(done);
      onBarrier?.();
      return done;
    });
    return {
      barriers,
      commits,
      release,
      /** Lets the loop checkpoint once more. */
      arm(): void {
        armed = true;
      },
      barrier(): Promise<void> {
        const taken = new Promise<void>((resolve) => (onBarrier = resolve));
        armed = true;
        return taken;
      },
    };
  }

  it('goes on processing while a checkpoint waits for InfluxDB to take its points, and commits the barrier\'s offset once it has', async () => {
    for (let i = 0; i < 6; i++) await log.append(0, record('before', i));
    await log.append(0, ahead());
    const held = holdCheckpoints();
    const a = node([0]);
    await a.node.start();
    // The window of 'before' fires (idle timeout); its point waits for InfluxDB, and so will the barrier's commit.
    while ((await counter(a.registry, 'sluice_processor_points_total')) === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await held.barrier();
    expect(held.barriers.map((b) => b.snapshots.map((t) => t.checkpoint.offset))).toEqual([[7]]);
    // Records after the barrier: their window fires and goes to the sink while the commit still waits.
    for (let i = 0; i < 4; i++) await log.append(0, record('after', i));
    while ((await counter(a.registry, 'sluice_processor_points_total')) === 1) await new Promise((resolve) => setTimeout(resolve, 20));
    held.arm();
    // More turns, due or not (the window fires again with the fifth reading): no barrier while one is not committed.
    await log.append(0, record('after', 4));
    while ((await counter(a.registry, 'sluice_processor_points_total')) === 2) await new Promise((resolve) => setTimeout(resolve, 20));
    expect(held.barriers).toHaveLength(1);
    expect(await store.restorable(0)).toEqual([]);
    held.release();
    await held.commits[0];
    // The checkpoint names where the barrier was: after the seventh record, not after what followed.
    expect((await store.restorable(0)).map((c) => [c.id, c.offset])).toEqual([[held.barriers[0]!.id, 7]]);
    await untilWindows('before', [[0, 6, 15]]);
    await untilWindows('after', [[0, 5, 10]]);
    vi.restoreAllMocks();
  });

  it('a lease lost while a commit waits: the commit leaves that partition out, and assigning it again waits for the commit', async () => {
    for (let i = 0; i < 6; i++) await log.append(0, record('lost', i));
    await log.append(0, ahead());
    const held = holdCheckpoints();
    const a = node([0]);
    await a.node.start();
    while ((await counter(a.registry, 'sluice_processor_points_total')) === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await held.barrier(); // its snapshot of partition 0 holds a window whose point waits for InfluxDB
    a.node.discardOutput(0); // the lease is lost: that point is dropped from the sink
    let committed = false;
    void held.commits[0]!.then(() => (committed = true));
    // Assigned back: it must restore from the checkpoint before, so it waits for the commit, which must not write partition 0.
    const restores: boolean[] = [];
    const restorable = store.restorable.bind(store);
    vi.spyOn(store, 'restorable').mockImplementation((p) => (restores.push(committed), restorable(p)));
    const assigning = a.node.assign(0);
    held.release();
    expect((await held.commits[0])!.discarded).toEqual([0]);
    await assigning;
    expect(restores).toEqual([true]);
    expect(await store.restorable(0)).toEqual([]);
    await untilWindows('lost', [[0, 6, 15]]); // written by the partition's new task, from the log
    vi.restoreAllMocks();
  });

  it('revoke at any moment of a busy loop, then assign elsewhere: every message counted once', async () => {
    const n = 300;
    for (let i = 0; i < n; i++) await log.append(1, record('e', i));
    await log.append(1, ahead());
    const a = node([1]);
    await a.node.start();
    await a.node.revoke(1); // while the loop reads: serialised with its turns
    const b = node([]);
    await b.node.start();
    await b.node.assign(1);
    await untilWindows('e', Array.from({ length: 30 }, (_, w): [number, number, number] => [w * 10_000, 10, Array.from({ length: 10 }, (_, k) => w * 10 + k).reduce((x, y) => x + y)]));
    await b.node.revoke(1);
    const [byA, byB] = [await counter(a.registry, 'sluice_processor_messages_total'), await counter(b.registry, 'sluice_processor_messages_total')];
    expect(byA + byB).toBe(n + 1);
    expect(await counter(b.registry, 'sluice_processor_duplicates_total')).toBe(0);
  });

  it('assign and revoke are no-ops when there is nothing to do, and assign is refused once the node stops', async () => {
    const a = node([0]);
    await a.node.start();
    await a.node.assign(0);
    await a.node.revoke(1);
    expect(a.node.partitions).toEqual([0]);
    await a.node.stop();
    await expect(a.node.assign(1)).rejects.toBeInstanceOf(ProcessorStoppedError);
  });

  it('reports a failed loop to its owner instead of exiting', async () => {
    const broken: Log = {
      partitions: 2,
      append: (p, payload) => log.append(p, payload),
      read: () => Promise.reject(new LogCorruptError('record 0: CRC mismatch')),
      trim: (p, upTo) => log.trim(p, upTo),
      startOffset: (p) => log.startOffset(p),
      pending: (p, from) => log.pending(p, from),
      close: () => Promise.resolve(),
    };
    let fatal!: (err: Error) => void;
    const reported = new Promise<Error>((resolve) => (fatal = resolve));
    const a = node([0], { log: broken, onFatal: (err) => fatal(err) });
    await a.node.start();
    expect(await reported).toMatchObject({ code: 'SLUICE_LOG_CORRUPT' });
    await expect(a.node.assign(1)).rejects.toBeInstanceOf(ProcessorStoppedError);
    await a.node.stop(); // no final checkpoint of a failed loop's state
    expect(await store.restorable(0)).toEqual([]);
  });

  it('waits out a log that is unavailable for a while (a NATS election) instead of failing, then processes everything', async () => {
    let failures = 0;
    let recovered!: () => void;
    const back = new Promise<void>((resolve) => (recovered = resolve));
    const flaky: Log = {
      partitions: 2,
      append: (p, payload) => log.append(p, payload),
      // The first 5 reads fail as an unreachable remote log does; then it answers.
      read: (p, from, max) => {
        if (failures < 5) {
          failures++;
          if (failures === 5) recovered();
          return Promise.reject(new LogUnavailableError('NATS: no responders (leader election)'));
        }
        return log.read(p, from, max);
      },
      trim: (p, upTo) => log.trim(p, upTo),
      startOffset: (p) => log.startOffset(p),
      pending: (p, from) => log.pending(p, from),
      close: () => Promise.resolve(),
    };
    for (let i = 0; i < 12; i++) await log.append(0, record('flaky', i));
    const a = node([0], { log: flaky });
    await a.node.start();
    await back;
    // 0..9 s in [0, 10 s); the window fires once the device is idle; the rest stays open.
    await untilWindows('flaky', [[0, 10, 45]]);
    expect(failures).toBe(5);
  });

  it('abandon (lease lost) writes nothing more of the partition, even what was buffered behind a closed gate; its next owner writes it all', async () => {
    for (let i = 0; i < 6; i++) await log.append(0, record('lost', i));
    await log.append(0, ahead());
    let open = false;
    const gate: WriteGate = { isOpen: () => open, whenOpen: () => new Promise((resolve) => setTimeout(resolve, 10)) };
    const a = node([0], { writeGate: gate });
    await a.node.start();
    // The window fires on the idle timeout; its point waits behind the closed gate.
    while ((await counter(a.registry, 'sluice_processor_points_total')) === 0) await new Promise((resolve) => setTimeout(resolve, 20));
    await a.node.abandon(0);
    open = true;
    await a.node.checkpoint(); // a flush: nothing of partition 0 is left to send
    expect(windows('lost')).toEqual([]);
    expect(a.node.partitions).toEqual([]);
    const b = node([0]);
    await b.node.start();
    await untilWindows('lost', [[0, 6, 15]]);
  });

  it('a lost lease (discardOutput) before abandon: no checkpoint commits what was fired and dropped; its next owner writes it', async () => {
    for (let i = 0; i < 6; i++) await log.append(0, record('dropped', i));
    const a = node([0]);
    await a.node.start();
    a.node.discardOutput(0); // the lease is lost; the balancer has not abandoned the partition yet
    await log.append(0, ahead());
    await a.node.checkpoint(); // the loop goes on meanwhile, and so do its checkpoints
    expect(await store.restorable(0)).toEqual([]);
    // Assigned back before any abandon: it restarts from the checkpoint, not from the state that dropped its points.
    await a.node.assign(0);
    await untilWindows('dropped', [[0, 6, 15]]);
  });

  it('a partition taken over after a failure is processed only from its notBefore time on', async () => {
    for (let i = 0; i < 6; i++) await log.append(0, record('late-start', i));
    await log.append(0, ahead());
    const a = node([]);
    await a.node.start();
    const notBefore = Date.now() + 300;
    const notBeforePerf = performance.now() + 300;
    await a.node.assign(0, { notBefore });
    await untilWindows('late-start', [[0, 6, 15]]);
    const first = influx.captured.find((c) => c.body.includes('device=late-start'))!;
    expect(first.at).toBeGreaterThanOrEqual(notBeforePerf - 5);
  });

  it('times each restore, and counts as replayed only the records that were in the log when the partition was restored', async () => {
    for (let i = 0; i < 10; i++) await log.append(0, record('replay', i));
    await log.append(0, ahead());
    const a = node([]);
    await a.node.start();
    const since = performance.now() - 50; // the caller's claim began 50 ms earlier
    await a.node.assign(0, { since });
    await untilWindows('replay', [[0, 10, 45]]);
    // Appended after the catch-up: ordinary work, not replay.
    for (let i = 10; i < 15; i++) await log.append(0, record('replay', i));
    await untilWindows('replay', [
      [0, 10, 45],
      [10_000, 5, 60],
    ]);
    expect(await counter(a.registry, 'sluice_processor_replayed_records_total')).toBe(11);
    const restore = await a.registry.getSingleMetric('sluice_processor_restore_seconds')!.get();
    const value = (suffix: string) => restore.values.find((v) => (v as { metricName?: string }).metricName === `sluice_processor_restore_seconds_${suffix}`)!.value;
    expect(value('count')).toBe(1);
    expect(value('sum')).toBeGreaterThanOrEqual(0.05);
    // Assigned with nothing behind: no replay.
    const b = node([1]);
    await b.node.start();
    expect(await counter(b.registry, 'sluice_processor_replayed_records_total')).toBe(0);
  });

  it('revokes several partitions with one final checkpoint round (a join hands many over at once)', async () => {
    for (let i = 0; i < 4; i++) {
      await log.append(0, record('batch-a', i));
      await log.append(1, record('batch-b', i));
    }
    const a = node([0, 1]);
    await a.node.start();
    await a.node.revoke([0, 1]);
    expect(a.node.partitions).toEqual([]);
    const [c0, c1] = [(await store.restorable(0)).at(-1)!, (await store.restorable(1)).at(-1)!];
    // Both final checkpoints come from the same round.
    expect(c0.id).toBe(c1.id);
  });

  it('starts reads that find a trickle of records TRICKLE_TURN_INTERVAL_MS apart, so a slow trickle is read in few requests', async () => {
    // On a fake clock a turn takes no time, so the gap between reads is the loop's wait
    // exactly; real I/O goes on, and the clock moves a millisecond per real macrotask.
    vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance', 'Date'] });
    try {
      const readsAt: number[] = [];
      const timed: Log = {
        partitions: log.partitions,
        append: (p, payload) => log.append(p, payload),
        read: async (p, from, max) => {
          const at = performance.now();
          const records = await log.read(p, from, max);
          for (let i = 0; i < records.length; i++) readsAt.push(at);
          return records;
        },
        trim: (p, upTo) => log.trim(p, upTo),
        startOffset: (p) => log.startOffset(p),
        pending: (p, from) => log.pending(p, from),
        close: async () => undefined,
      };
      const a = node([0], { log: timed });
      await a.node.start();
      // One record at a time, each appended as soon as the one before was read: at once, a read would follow each append.
      for (let i = 0; i < 5; i++) {
        await log.append(0, record('trickle', i));
        while (readsAt.length <= i) await vi.advanceTimersByTimeAsync(1);
      }
      expect(readsAt).toHaveLength(5);
      for (let i = 1; i < readsAt.length; i++) expect(readsAt[i]! - readsAt[i - 1]!).toBeGreaterThanOrEqual(TRICKLE_TURN_INTERVAL_MS);
    } finally {
      vi.useRealTimers();
    }
  });

  it('waits the trickle interval only after a turn that found a trickle, and not at all with a backlog', () => {
    expect(waitAfterTurn(1, 3, false)).toBe(TRICKLE_TURN_INTERVAL_MS - 3);
    // More than a trickle: the short interval, as a busy thread must not idle while records queue up.
    const busy = waitAfterTurn(TRICKLE_RECORDS, 3, false);
    expect(busy).toBeLessThan(TRICKLE_TURN_INTERVAL_MS - 3);
    expect(waitAfterTurn(TRICKLE_RECORDS, 30, false)).toBe(0);
    expect(waitAfterTurn(1, 3, true)).toBe(0);
    // A trickle turn followed by a long checkpoint: the interval is over.
    expect(waitAfterTurn(1, TRICKLE_TURN_INTERVAL_MS + 5, false)).toBe(0);
  });
});
