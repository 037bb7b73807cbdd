import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterAll, afterEach, describe, expect, it, vi } from 'vitest';
import { FileLog, type Log } from '../../log/index.js';
import { ReadingBatch } from '../../proto/index.js';
import { keyGroupOf } from '../../routing/index.js';
import { readLoggedMessages } from '../../test/harness/log-contents.js';
import { deadLettersConfigSchema, ingestConfigSchema } from '../config.js';
import { DeadLetterRecorder } from '../dead-letters.js';
import { decodeLimitsSchema, jobMessageCount, type DecodeJob, type DecodeResult } from '../decode/index.js';
import { decodeJob } from '../decode/decode.worker.js';
import { createGatewayMetrics } from '../metrics.js';
import { IngestPipeline, type DecodeService } from './ingest-pipeline.js';

const LIMITS = decodeLimitsSchema.parse({ threads: 1 });
const PARTITIONS = 4;
const DEVICES = ['dev-a', 'dev-b', 'dev-c', 'dev-d', 'dev-e'];
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

/** A decode pool that decodes for real but completes its jobs in whatever order the fast-check scheduler picks. */
class ReorderingPool implements DecodeService {
  private running = 0;
  private waiters: (() => void)[] = [];

  constructor(
    private readonly s: fc.Scheduler,
    private readonly capacity: number,
  ) {}

  get saturated(): boolean {
    return this.running >= this.capacity;
  }

  decode(job: DecodeJob): Promise<DecodeResult> {
    this.running++;
    const result = decodeJob(job, LIMITS);
    return this.s.schedule(Promise.resolve(result)).finally(() => {
      this.running--;
      for (const w of this.waiters.splice(0)) w();
    });
  }

  whenNotSaturated(): Promise<void> {
    return this.saturated ? new Promise((resolve) => this.waiters.push(resolve)) : Promise.resolve();
  }
}

/** A decode pool that decodes for real and completes each job when the test says so. */
class HeldPool implements DecodeService {
  readonly jobs: { messages: number; complete: () => void }[] = [];
  private readonly arrived: (() => void)[] = [];
  saturated = false;

  decode(job: DecodeJob): Promise<DecodeResult> {
    const result = decodeJob(job, LIMITS);
    return new Promise((resolve) => {
      this.jobs.push({ messages: jobMessageCount(job), complete: () => resolve(result) });
      for (const w of this.arrived.splice(0)) w();
    });
  }

  whenNotSaturated(): Promise<void> {
    return Promise.resolve();
  }

  /** Resolves once `n` jobs have been submitted. */
  async jobCount(n: number): Promise<void> {
    while (this.jobs.length < n) await new Promise<void>((resolve) => this.arrived.push(resolve));
  }
}

/** A log whose appends become durable (resolve) only when the test says so, in order. */
class HeldLog {
  private readonly holds: (() => void)[] = [];
  private readonly arrived: (() => void)[] = [];
  appends = 0;

  constructor(readonly inner: FileLog) {}

  asLog(): Log {
    return new Proxy(this.inner, {
      get: (target, key, receiver) => (key === 'append' ? (p: number, payload: Uint8Array) => this.append(p, payload) : Reflect.get(target, key, receiver)),
    });
  }

  /** Makes the oldest `n` held appends durable. */
  release(n: number): void {
    for (const hold of this.holds.splice(0, n)) hold();
  }

  /** Resolves once `n` appends have been issued. */
  async appendCount(n: number): Promise<void> {
    while (this.appends < n) await new Promise<void>((resolve) => this.arrived.push(resolve));
  }

  private append(partition: number, payload: Uint8Array): Promise<number> {
    this.appends++;
    for (const w of this.arrived.splice(0)) w();
    const written = this.inner.append(partition, payload);
    return new Promise((resolve, reject) => this.holds.push(() => void written.then(resolve, reject)));
  }
}

async function pipelineOn(
  pool: DecodeService,
  wrap: (log: FileLog) => Log = (log) => log,
  // An hour: a cut that waited for the timer would never come within the test. No minimum interval unless a test sets one.
  config: Record<string, unknown> = { batchMaxDelay: '1h', batchMinInterval: 0 },
): Promise<{ pipeline: IngestPipeline; log: FileLog; close(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'sluice-ingest-cut-'));
  dirs.push(dir);
  const log = await FileLog.open({ dir: join(dir, 'log'), partitions: PARTITIONS, fsync: 'batch' });
  const deadLetters = await DeadLetterRecorder.open(dir, deadLettersConfigSchema.parse({}));
  const pipeline = new IngestPipeline({
    log: wrap(log),
    pool,
    deadLetters,
    metrics: createGatewayMetrics(new Registry()),
    config: ingestConfigSchema.parse(config),
    maxMetricsPerDevice: 100,
    maxSeriesPerDevice: 100,
    logger: pino({ level: 'silent' }),
  });
  return {
    pipeline,
    log,
    close: async () => {
      await pipeline.close();
      await log.close();
      await deadLetters.close();
    },
  };
}

function publish(pipeline: IngestPipeline, device: string, seq: number): Promise<void> {
  return new Promise((resolve, reject) => pipeline.submit(device, keyGroupOf(device, PARTITIONS), '', 'protobuf', payload(seq, false), 1, (err) => (err ? reject(err) : resolve())));
}

function payload(seq: number, json: boolean): Uint8Array {
  if (json) return new TextEncoder().encode(JSON.stringify({ seq, readings: [{ metric: 'm', value: seq }] }));
  return ReadingBatch.encode({ seq, readings: [{ metric: 'm', doubleValue: seq }] }).finish();
}

describe('IngestPipeline', () => {
  it('appends each device\'s messages in arrival order whatever order decode jobs complete in', async () => {
    const publish = fc.record({ device: fc.integer({ min: 0, max: DEVICES.length - 1 }), json: fc.boolean(), qos: fc.constantFrom(0, 1) });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), fc.array(publish, { minLength: 1, maxLength: 120 }), fc.integer({ min: 1, max: 7 }), fc.integer({ min: 1, max: 4 }), async (s, publishes, batchMaxMessages, capacity) => {
        const dir = await mkdtemp(join(tmpdir(), 'sluice-ingest-order-'));
        dirs.push(dir);
        const log = await FileLog.open({ dir: join(dir, 'log'), partitions: PARTITIONS, fsync: 'never' });
        const deadLetters = await DeadLetterRecorder.open(dir, deadLettersConfigSchema.parse({}));
        const pipeline = new IngestPipeline({
          log,
          pool: new ReorderingPool(s, capacity),
          deadLetters,
          metrics: createGatewayMetrics(new Registry()),
          config: ingestConfigSchema.parse({ batchMaxMessages, batchMaxDelay: '1h' }),
          maxMetricsPerDevice: 100,
          maxSeriesPerDevice: 100,
          logger: pino({ level: 'silent' }),
        });
        const nextSeq = DEVICES.map(() => 1);
        const sent = new Map<string, number[]>(DEVICES.map((d) => [d, []]));
        const acks: Promise<void>[] = [];
        for (const p of publishes) {
          const device = DEVICES[p.device]!;
          const seq = nextSeq[p.device]!++;
          sent.get(device)!.push(seq);
          acks.push(new Promise((resolve, reject) => pipeline.submit(device, keyGroupOf(device, PARTITIONS), '', p.json ? 'json' : 'protobuf', payload(seq, p.json), p.qos, (err) => (err ? reject(err) : resolve()))));
        }
        await s.waitFor(pipeline.close());
        await Promise.all(acks);
        const logged = await readLoggedMessages(log);
        await log.close();
        await deadLetters.close();
        for (const device of DEVICES) expect(logged.filter((m) => m.device === device).map((m) => m.seq), device).toEqual(sent.get(device));
      }),
      { numRuns: 60 },
    );
  });

  it('cuts at once when no batch is on its way, without waiting out batchMaxDelay', async () => {
    const { pipeline, log, close } = await pipelineOn(new InlinePool());
    await publish(pipeline, 'dev-a', 1);
    expect((await readLoggedMessages(log)).map((m) => m.seq)).toEqual([1]);
    await close();
  });

  it('cuts what arrived while a batch was on its way as one batch when that batch is released', async () => {
    const pool = new HeldPool();
    const { pipeline, log, close } = await pipelineOn(pool);
    const first = publish(pipeline, 'dev-a', 1);
    await pool.jobCount(1);
    const later = [publish(pipeline, 'dev-a', 2), publish(pipeline, 'dev-b', 1), publish(pipeline, 'dev-a', 3)];
    await new Promise((resolve) => setImmediate(resolve)); // a turn ends: no cut, the first batch is unreleased
    expect(pool.jobs.length).toBe(1);
    pool.jobs[0]!.complete();
    await first;
    await pool.jobCount(2);
    expect(pool.jobs.map((j) => j.messages)).toEqual([1, 3]);
    pool.jobs[1]!.complete();
    await Promise.all(later);
    expect((await readLoggedMessages(log)).filter((m) => m.device === 'dev-a').map((m) => m.seq)).toEqual([1, 2, 3]);
    await close();
  });

  it('decodes and appends the next batch while the previous one is being written, and releases them in order', async () => {
    const pool = new HeldPool();
    let held: HeldLog | undefined;
    const { pipeline, log, close } = await pipelineOn(pool, (inner) => (held = new HeldLog(inner)).asLog());
    const acked: string[] = [];
    const send = (device: string, seq: number): Promise<void> => publish(pipeline, device, seq).then(() => void acked.push(`${device}:${seq}`));
    const first = send('dev-a', 1);
    await pool.jobCount(1);
    pool.jobs[0]!.complete();
    await held!.appendCount(1); // the first batch is on its way to the disk, not durable
    const second = [send('dev-a', 2), send('dev-b', 1)];
    await pool.jobCount(2); // cut without waiting for the first batch's release
    expect(pool.jobs[1]!.messages).toBe(2);
    pool.jobs[1]!.complete();
    await held!.appendCount(3); // dev-a and dev-b: two partitions
    held!.release(3);
    await Promise.all([first, ...second]);
    expect(acked).toEqual(['dev-a:1', 'dev-a:2', 'dev-b:1']);
    expect((await readLoggedMessages(log)).filter((m) => m.device === 'dev-a').map((m) => m.seq)).toEqual([1, 2]);
    await close();
  });

  describe('batchMinInterval', () => {
    afterEach(() => {
      vi.useRealTimers();
    });
    /** Lets the turn end (and the next): setImmediate stays real under the fake timers here. */
    const turns = async (): Promise<void> => {
      for (let i = 0; i < 3; i++) await new Promise((resolve) => setImmediate(resolve));
    };

    it('cuts a small batch no sooner than the interval after the last cut, then what arrived meanwhile as one', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
      const pool = new HeldPool();
      const { pipeline, log, close } = await pipelineOn(pool, undefined, { batchMaxDelay: '1h', batchMinInterval: '50ms' });
      const first = publish(pipeline, 'dev-a', 1);
      await pool.jobCount(1); // the first batch: the last cut is long past
      pool.jobs[0]!.complete();
      await first;
      const later = [publish(pipeline, 'dev-a', 2), publish(pipeline, 'dev-b', 1)];
      await turns();
      vi.advanceTimersByTime(49);
      await turns();
      expect(pool.jobs.length).toBe(1); // the pipeline is idle; only the interval holds them
      vi.advanceTimersByTime(1);
      await pool.jobCount(2);
      expect(pool.jobs[1]!.messages).toBe(2);
      pool.jobs[1]!.complete();
      await Promise.all(later);
      vi.advanceTimersByTime(50); // the interval has passed since the second cut: the next publish is cut at the end of its turn
      const last = publish(pipeline, 'dev-a', 3);
      await pool.jobCount(3);
      pool.jobs[2]!.complete();
      await last;
      expect((await readLoggedMessages(log)).filter((m) => m.device === 'dev-a').map((m) => m.seq)).toEqual([1, 2, 3]);
      await close();
    });

    it('cuts a batch of 64 messages at once, and a smaller one at batchMaxDelay, whatever the interval', async () => {
      vi.useFakeTimers({ toFake: ['setTimeout', 'clearTimeout', 'performance'] });
      const pool = new HeldPool();
      const { pipeline, close } = await pipelineOn(pool, undefined, { batchMaxDelay: '50ms', batchMinInterval: '1h' });
      const acks = [publish(pipeline, 'dev-a', 1)];
      await pool.jobCount(1);
      pool.jobs[0]!.complete();
      await acks[0];
      for (let seq = 2; seq <= 65; seq++) acks.push(publish(pipeline, 'dev-a', seq));
      await pool.jobCount(2); // no timer advanced
      expect(pool.jobs[1]!.messages).toBe(64);
      pool.jobs[1]!.complete();
      await Promise.all(acks);
      acks.push(publish(pipeline, 'dev-b', 1));
      await turns();
      vi.advanceTimersByTime(49);
      await turns();
      expect(pool.jobs.length).toBe(2);
      vi.advanceTimersByTime(1);
      await pool.jobCount(3);
      expect(pool.jobs[2]!.messages).toBe(1);
      pool.jobs[2]!.complete();
      await Promise.all(acks);
      await close();
    });
  });

  it('holds a publish that would fit behind one held past maxInflightBytes: each device\'s order, in the log and in the acknowledgements, stays', async () => {
    const pool = new HeldPool();
    const { pipeline, log, close } = await pipelineOn(pool, undefined, { batchMaxDelay: '1h', batchMinInterval: 0, maxInflightBytes: 400 });
    const acked: number[] = [];
    const send = (seq: number, bytes: Uint8Array): Promise<void> =>
      new Promise<void>((resolve, reject) => pipeline.submit('dev-a', keyGroupOf('dev-a', PARTITIONS), '', 'protobuf', bytes, 1, (err) => (err ? reject(err) : resolve()))).then(() => void acked.push(seq));
    const large = ReadingBatch.encode({ seq: 2, readings: Array.from({ length: 40 }, (_, i) => ({ metric: 'm', doubleValue: i + 0.5 })) }).finish();
    expect(large.byteLength).toBeGreaterThan(400);
    const first = send(1, payload(1, false));
    await pool.jobCount(1); // in flight: the next large publish does not fit beside it
    const rest = [send(2, large), send(3, payload(3, false))];
    await new Promise((resolve) => setImmediate(resolve));
    expect(pool.jobs).toHaveLength(1); // the small one waits behind the large one, not beside the first
    pool.jobs[0]!.complete();
    await first;
    const all = Promise.all(rest);
    let settled = false;
    void all.then(() => (settled = true));
    for (let n = 2; !settled; n++) {
      await Promise.race([pool.jobCount(n), all]);
      pool.jobs[n - 1]?.complete();
    }
    expect(acked).toEqual([1, 2, 3]);
    expect((await readLoggedMessages(log)).map((m) => m.seq)).toEqual([1, 2, 3]);
    await close();
  });

  it('cuts no third batch while two are unreleased: what arrives waits for a release', async () => {
    const pool = new HeldPool();
    let held: HeldLog | undefined;
    const { pipeline, close } = await pipelineOn(pool, (inner) => (held = new HeldLog(inner)).asLog());
    const acks = [publish(pipeline, 'dev-a', 1)];
    await pool.jobCount(1);
    pool.jobs[0]!.complete();
    await held!.appendCount(1);
    acks.push(publish(pipeline, 'dev-a', 2));
    await pool.jobCount(2);
    pool.jobs[1]!.complete();
    await held!.appendCount(2); // two batches unreleased, both written
    acks.push(publish(pipeline, 'dev-a', 3), publish(pipeline, 'dev-a', 4));
    await new Promise((resolve) => setImmediate(resolve)); // a turn ends: no cut
    await new Promise((resolve) => setImmediate(resolve));
    expect(pool.jobs.length).toBe(2);
    held!.release(1);
    await acks[0];
    await pool.jobCount(3);
    expect(pool.jobs[2]!.messages).toBe(2);
    pool.jobs[2]!.complete();
    await held!.appendCount(3);
    held!.release(2);
    await Promise.all(acks);
    await close();
  });
});

describe('IngestPipeline cardinality guard', () => {
  it('knows a series again whatever its hash (hashes at and above 2^31 included): a device re-sending its series stays under maxSeriesPerDevice', async () => {
    // Series hashes are Uint32; the guard keeps them as int32. Looked up one way and stored
    // another, a hash >= 2^31 would be fresh every time and the device refused.
    const hashes: number[] = [];
    const pool: DecodeService = {
      saturated: false,
      decode: (job) => {
        const result = decodeJob(job, LIMITS);
        hashes.push(...result.msgSeries);
        return Promise.resolve(result);
      },
      whenNotSaturated: () => Promise.resolve(),
    };
    const dir = await mkdtemp(join(tmpdir(), 'sluice-ingest-series-'));
    dirs.push(dir);
    const log = await FileLog.open({ dir: join(dir, 'log'), partitions: PARTITIONS, fsync: 'never' });
    const deadLetters = await DeadLetterRecorder.open(dir, deadLettersConfigSchema.parse({}));
    const registry = new Registry();
    const series = 16;
    const pipeline = new IngestPipeline({
      log, pool, deadLetters, metrics: createGatewayMetrics(registry), config: ingestConfigSchema.parse({ batchMaxDelay: '1h' }),
      maxMetricsPerDevice: 100, maxSeriesPerDevice: series, logger: pino({ level: 'silent' }),
    });
    const send = (seq: number, tag: number) =>
      new Promise<void>((resolve, reject) =>
        pipeline.submit('dev-a', keyGroupOf('dev-a', PARTITIONS), '', 'protobuf', ReadingBatch.encode({ seq, readings: [{ metric: 'm', doubleValue: seq, tags: { k: `v${tag}` } }] }).finish(), 1, (err) => (err ? reject(err) : resolve())),
      );
    for (let round = 0; round < 3; round++) for (let tag = 0; tag < series; tag++) await send(round * series + tag + 1, tag);
    expect(hashes.some((h) => h >= 2 ** 31)).toBe(true);
    expect((await registry.getSingleMetric('sluice_gateway_rejected_total')!.get()).values).toEqual([]);
    // One series more is refused: the guard still counts.
    await send(3 * series + 1, series);
    const rejected = (await registry.getSingleMetric('sluice_gateway_rejected_total')!.get()).values;
    expect(rejected.map((v) => [v.labels.reason, v.value])).toEqual([['cardinality_limit', 1]]);
    await pipeline.close();
    await log.close();
    await deadLetters.close();
  });
});

/** A decode pool that decodes at once, on the calling thread. */
class InlinePool implements DecodeService {
  readonly saturated = false;
  decode(job: DecodeJob): Promise<DecodeResult> {
    return Promise.resolve(decodeJob(job, LIMITS));
  }
  whenNotSaturated(): Promise<void> {
    return Promise.resolve();
  }
}
