import { randomUUID } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, nanos } from '@nats-io/transport-node';
import { Registry } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { JetStreamLog, RECORDS_PER_FRAME, registerJetStreamLogMetrics, type JetStreamLogOptions } from '../log/index.js';
import type { SinkPoint } from '../processors/sink/index.js';
import { PartitionTask } from '../processors/task/partition-task.js';
import { ColumnarBatchBuilder, compressBatch } from '../proto/index.js';
import { startNatsCluster, startNatsServer, type TestNats } from './harness/nats-server.js';
import { CONTRACT_PARTITIONS, describeLogContract, type LogFixture } from './log-contract.js';

const text = (s: string): Uint8Array => new TextEncoder().encode(s);
const str = (b: Uint8Array): string => new TextDecoder().decode(b);

/** Unique stream and subjects per test, so tests share a server without seeing each other. */
function uniqueNames(): { stream: string; subjectPrefix: string } {
  const id = randomUUID().replaceAll('-', '').slice(0, 12);
  return { stream: `T_${id}`, subjectPrefix: `t.${id}` };
}

/** A fixture for the contract: a fresh stream on `nats`, deleted by destroy(). */
function fixtureOn(nats: () => TestNats, replicas: 1 | 3): () => Promise<LogFixture> {
  return async () => {
    const options: JetStreamLogOptions = { servers: nats().servers, replicas, partitions: CONTRACT_PARTITIONS, ...uniqueNames() };
    return {
      open: () => JetStreamLog.open(options),
      destroy: () => deleteStream(nats(), options.stream!),
    };
  };
}

async function deleteStream(nats: TestNats, stream: string): Promise<void> {
  const nc = await connect({ servers: nats.servers });
  try {
    await (await jetstreamManager(nc)).streams.delete(stream).catch(() => undefined);
  } finally {
    await nc.close();
  }
}

let single: TestNats;
let cluster: TestNats;
beforeAll(async () => {
  single = await startNatsServer();
  cluster = await startNatsCluster();
}, 90_000);
afterAll(async () => {
  await Promise.allSettled([single?.destroy(), cluster?.destroy()]);
});

describeLogContract('JetStreamLog, single node, R1', fixtureOn(() => single, 1));
describeLogContract('JetStreamLog, 3-node cluster, R3', fixtureOn(() => cluster, 3));

describe('JetStreamLog', () => {
  it('packs concurrent appends of a partition into frames', async () => {
    const log = await JetStreamLog.open({ servers: single.servers, partitions: 2, ...uniqueNames() });
    try {
      const offsets = await Promise.all(Array.from({ length: 500 }, (_, i) => log.append(0, text(`f${i}`))));
      const frames = new Set(offsets.map((o) => Math.floor(o / RECORDS_PER_FRAME)));
      expect(frames.size).toBeLessThan(50);
      expect(log.stats.published).toBe(frames.size);
    } finally {
      await log.close();
    }
  });

  it('refuses an existing stream with another replica count, and another partition count', async () => {
    const names = uniqueNames();
    const log = await JetStreamLog.open({ servers: single.servers, partitions: 4, ...names });
    await log.close();
    await expect(JetStreamLog.open({ servers: single.servers, partitions: 4, replicas: 3, ...names })).rejects.toMatchObject({
      code: 'SLUICE_CONFIG_INVALID',
      message: expect.stringMatching(/exists with 1 replicas \(got 3\)/),
    });
    await expect(JetStreamLog.open({ servers: single.servers, partitions: 8, ...names })).rejects.toMatchObject({
      code: 'SLUICE_CONFIG_INVALID',
      message: expect.stringMatching(/created with 4 partitions \(got 8\)/),
    });
    await expect(JetStreamLog.open({ servers: [], partitions: 4 })).rejects.toMatchObject({ code: 'SLUICE_CONFIG_INVALID', message: /servers/ });
  });

  it('reads a frame stored twice (retried after the duplicate window) once', async () => {
    // A publish stored whose ack was lost, retried only after the stream's duplicate window
    // (NATS unreachable that long), is stored again under the same msg id. Made here by
    // narrowing the window and publishing the stored frame again as the retry would.
    const names = uniqueNames();
    const log = await JetStreamLog.open({ servers: single.servers, partitions: 2, ...names });
    const registry = new Registry();
    registerJetStreamLogMetrics(registry, log);
    const nc = await connect({ servers: single.servers });
    try {
      await Promise.all([log.append(0, text('a')), log.append(0, text('b'))]);
      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage(names.stream, { last_by_subj: `${names.subjectPrefix}.0` });
      const msgID = stored!.header.get('Nats-Msg-Id');
      expect(msgID).toMatch(/^[\w-]+\.0\.\d+$/);
      const info = await jsm.streams.info(names.stream);
      await jsm.streams.update(names.stream, { ...info.config, duplicate_window: nanos(100) });
      // The server answers `duplicate` until the window has passed: the retry that is finally stored.
      const js = jsm.jetstream();
      while ((await js.publish(stored!.subject, stored!.data, { msgID })).duplicate) await new Promise((resolve) => setTimeout(resolve, 50));
      await log.append(0, text('c'));
      const read = async (from: number) => (await log.read(0, from)).map((r) => str(r.payload));
      expect(await read(0)).toEqual(['a', 'b', 'c']);
      expect(log.framesStoredTwice).toBe(1);
      expect(await metricValue(registry, 'sluice_log_frames_stored_twice_total')).toBe(1);
      // Read again from the start (a restore within this process): the copy is still skipped.
      expect(await read(0)).toEqual(['a', 'b', 'c']);
      expect(await metricValue(registry, 'sluice_log_frames_stored_twice_total')).toBe(2);
      expect(await metricValue(registry, 'sluice_log_frames_published_total')).toBe(2);
      // The stream does hold both copies.
      expect((await jsm.streams.info(names.stream)).state.messages).toBe(3);
    } finally {
      await nc.close();
      await log.close();
      await deleteStream(single, names.stream);
    }
  });

  it('a processor restored from a checkpoint taken between the two copies of a frame skips the second: readings without a seq count once', async () => {
    const names = uniqueNames();
    const gateway = await JetStreamLog.open({ servers: single.servers, partitions: 1, ...names });
    const nc = await connect({ servers: single.servers });
    const T0 = 1_700_000_000_000;
    // Seq 0 (a mapped topic without a sequence): nothing but the frame can tell its copy.
    const record = (value: number, time: number): Uint8Array => {
      const b = new ColumnarBatchBuilder(0, time);
      b.beginMessage(b.intern('dev'), b.intern(''), 0);
      b.addNumeric(b.intern('t'), b.intern(''), time, value);
      return compressBatch(b.encode());
    };
    const task = (log: JetStreamLog, points: SinkPoint[]): PartitionTask =>
      new PartitionTask({
        partition: 0,
        log,
        windows: [{ name: 'w10s', type: 'tumbling', size: 10_000 }],
        time: { maxOutOfOrderness: 1_000, idleTimeout: 1e12, allowedLateness: 0, maxBackfill: 1e15 },
        raw: false,
        emit: (p) => points.push(p),
      });
    let processor: JetStreamLog | undefined;
    let other: JetStreamLog | undefined;
    try {
      await gateway.append(0, record(1, T0 + 1000));
      // Another gateway's frame after it: a checkpoint past that one starts a reader beyond the first copy.
      other = await JetStreamLog.open({ servers: single.servers, partitions: 1, ...names });
      await other.append(0, record(10, T0 + 1500));
      // The first owner reads both and checkpoints past them.
      const first = task(gateway, []);
      await first.startFresh();
      while (await first.step(8));
      const checkpoint = await first.snapshot(1);
      // Its ack lost, the frame is retried after the duplicate window: stored again.
      const jsm = await jetstreamManager(nc);
      const stored = await jsm.streams.getMessage(names.stream, { seq: 1 });
      const info = await jsm.streams.info(names.stream);
      await jsm.streams.update(names.stream, { ...info.config, duplicate_window: nanos(100) });
      const js = jsm.jetstream();
      while ((await js.publish(stored!.subject, stored!.data, { msgID: stored!.header.get('Nats-Msg-Id') })).duplicate) await new Promise((resolve) => setTimeout(resolve, 50));
      await gateway.append(0, record(2, T0 + 2000));
      await gateway.append(0, record(3, T0 + 60_000)); // the device's clock passes the window: it fires
      // Another process restores that checkpoint: its reader never met the first copy.
      processor = await JetStreamLog.open({ servers: single.servers, partitions: 1, ...names });
      const points: SinkPoint[] = [];
      const second = task(processor, points);
      second.restore([checkpoint]);
      while (await second.step(8));
      expect(processor.framesStoredTwice).toBe(0);
      expect(second.stats.copiesSkipped).toBe(1);
      const window = points.find((p) => p.measurement === 'w10s' && p.timeMs === T0);
      expect(window?.fields).toMatchObject({ count: { int: 3 }, sum: 13 });
    } finally {
      await nc.close();
      await processor?.close();
      await other?.close();
      await gateway.close();
      await deleteStream(single, names.stream);
    }
  });

  it('keeps appends pending while the server is down and stores each once when it is back', async () => {
    const log = await JetStreamLog.open({ servers: single.servers, partitions: 2, publishTimeoutMs: 500, ...uniqueNames() });
    const registry = new Registry();
    registerJetStreamLogMetrics(registry, log);
    try {
      const before = await log.append(0, text('before'));
      await single.stop(0);
      let settled = 0;
      const appends = Array.from({ length: 50 }, (_, i) => log.append(i % 2, text(`during${i}`)).finally(() => settled++));
      // The server is gone: nothing can settle until it is back; wait for a retry to prove it was tried.
      await waitFor(() => log.stats.retries > 0, 'a failed publish attempt');
      expect(settled).toBe(0);
      await single.start(0);
      const offsets = await Promise.all(appends);
      const p0 = (await log.read(0, before)).map((r) => str(r.payload));
      const p1 = (await log.read(1, 0)).map((r) => str(r.payload));
      expect(p0).toEqual(['before', ...Array.from({ length: 25 }, (_, i) => `during${2 * i}`)]);
      expect(p1).toEqual(Array.from({ length: 25 }, (_, i) => `during${2 * i + 1}`));
      expect(offsets.filter((_, i) => i % 2 === 0)).toEqual((await log.read(0, before + 1)).map((r) => r.offset));
      // What an operator sees of the outage: the retries, and a publish that waited for the server.
      expect(await metricValue(registry, 'sluice_log_publish_retries_total')).toBe(log.stats.retries);
      expect(log.stats.retries).toBeGreaterThan(0);
      expect(await metricValue(registry, 'sluice_log_publish_longest_seconds')).toBe(log.stats.longestMs / 1000);
      expect(log.stats.longestMs).toBeGreaterThan(0);
    } finally {
      if (!single.nodes[0]!.running) await single.start(0);
      await log.close();
    }
  });

  it('loses and duplicates nothing when the stream leader is killed under concurrent appends', async () => {
    const names = uniqueNames();
    const log = await JetStreamLog.open({ servers: cluster.servers, partitions: 4, replicas: 3, publishTimeoutMs: 1000, ...names });
    const nc = await connect({ servers: cluster.servers });
    let killed = -1;
    try {
      const leader = (await (await jetstreamManager(nc)).streams.info(names.stream)).cluster!.leader!;
      killed = cluster.nodes.findIndex((n) => n.name === leader);
      const resolved = new Map<string, number>();
      let slowest = 0;
      let stop = false;
      // Four writers, one per partition, each with up to 20 appends in flight.
      const writer = async (p: number): Promise<void> => {
        let i = 0;
        const inflight = new Set<Promise<void>>();
        while (!stop) {
          const id = `p${p}-${i++}`;
          const started = Date.now();
          const done = log.append(p, text(id)).then((offset) => {
            slowest = Math.max(slowest, Date.now() - started);
            resolved.set(id, offset);
          });
          inflight.add(done);
          void done.finally(() => inflight.delete(done));
          if (inflight.size >= 20) await Promise.race(inflight);
        }
        await Promise.all(inflight);
      };
      const writers = [0, 1, 2, 3].map(writer);
      await waitFor(() => resolved.size >= 2000, '2000 appends before the kill');
      await cluster.kill(killed);
      const atKill = resolved.size;
      await waitFor(() => resolved.size >= atKill + 2000, '2000 appends after the kill', 60_000);
      stop = true;
      await Promise.all(writers);
      console.log(`leader ${leader} killed: ${resolved.size} appends, longest append ${slowest} ms, publish retries ${log.stats.retries}, de-duplicated ${log.stats.duplicates}`);

      const seen = new Map<string, number>();
      for (let p = 0; p < 4; p++) {
        let from = 0;
        for (;;) {
          const batch = await log.read(p, from, 5000);
          if (batch.length === 0) break;
          for (const r of batch) {
            const id = str(r.payload);
            expect(seen.has(id), `${id} stored twice`).toBe(false);
            seen.set(id, r.offset);
          }
          from = batch[batch.length - 1]!.offset + 1;
        }
      }
      for (const [id, offset] of resolved) expect(seen.get(id), `${id} acked at ${offset}`).toBe(offset);
      expect(seen.size).toBe(resolved.size);
    } finally {
      await log.close();
      await nc.close();
      if (killed >= 0 && !cluster.nodes[killed]!.running) await cluster.start(killed);
    }
  }, 120_000);
});

/** One unlabelled metric's value as a scrape would read it. */
async function metricValue(registry: Registry, name: string): Promise<number> {
  return (await registry.getSingleMetric(name)!.get()).values[0]!.value;
}

/** Resolves once `condition` holds, checked every 10 ms (the log has no event for "a retry happened"). */
async function waitFor(condition: () => boolean, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}
