/** InfluxSink's buffering rules, with a scripted writer (the real-influxd tests are in test/influx-sink.test.ts). */
import { describe, expect, it } from 'vitest';
import { InfluxSink } from './influx-sink.js';
import type { SinkPoint } from './point.js';

const point = (device: string, timeMs: number, v = 1): SinkPoint => ({ measurement: 'w', tags: { device }, fields: { v }, timeMs });

/** A writer whose every write() waits for the test to settle it. */
function scriptedWriter() {
  const calls: { lines: string[]; resolve: () => void; reject: (err: Error) => void }[] = [];
  let notify: () => void = () => {};
  return {
    calls,
    write: (lines: readonly string[]) => new Promise<void>((resolve, reject) => {
      calls.push({ lines: [...lines], resolve, reject });
      notify();
    }),
    /** Resolves once `n` writes have been made. */
    until: (n: number) => new Promise<void>((resolve) => {
      notify = () => calls.length >= n && resolve();
      notify();
    }),
  };
}
const okWriter = () => ({ batches: [] as string[][], write(lines: readonly string[]) { this.batches.push([...lines]); return Promise.resolve(); } });

describe('InfluxSink', () => {
  it('flushes everything buffered in batches of batchSize, in the order added', async () => {
    const writer = okWriter();
    const sink = new InfluxSink({ writer, batchSize: 5, flushInterval: 1000 });
    for (let i = 0; i < 12; i++) sink.add(point('d', i));
    await sink.flush();
    expect(writer.batches.map((b) => b.length)).toEqual([5, 5, 2]);
    expect(writer.batches.flat()).toEqual(Array.from({ length: 12 }, (_, i) => `w,device=d v=1 ${i}`));
    expect(sink.size).toBe(0);
  });

  it('keeps one line per series and time: the last one added', async () => {
    const writer = okWriter();
    const sink = new InfluxSink({ writer, batchSize: 100, flushInterval: 1000 });
    sink.add(point('a', 1, 1));
    sink.add(point('b', 1, 1));
    sink.add(point('a', 1, 2));
    expect(sink.size).toBe(2);
    await sink.flush();
    expect(writer.batches).toEqual([['w,device=b v=1 1', 'w,device=a v=2 1']]);
  });

  it('keeps the points of a failed flush, but never over a newer version added meanwhile', async () => {
    const writer = scriptedWriter();
    const sink = new InfluxSink({ writer, batchSize: 100, flushInterval: 1000 });
    sink.add(point('a', 1, 1));
    sink.add(point('b', 1, 1));
    const failed = sink.flush();
    await writer.until(1);
    sink.add(point('a', 1, 2));
    expect(sink.size).toBe(3);
    writer.calls[0]!.reject(new Error('influx down'));
    await expect(failed).rejects.toThrow('influx down');
    expect(sink.size).toBe(2);
    const retried = sink.flush();
    await writer.until(2);
    expect(writer.calls[1]!.lines).toEqual(['w,device=a v=2 1', 'w,device=b v=1 1']);
    writer.calls[1]!.resolve();
    await retried;
    expect(sink.size).toBe(0);
  });

  it('runs flushes one after another: a flush waits for the one in flight', async () => {
    const writer = scriptedWriter();
    const sink = new InfluxSink({ writer, batchSize: 100, flushInterval: 1000 });
    sink.add(point('a', 1));
    const first = sink.flush();
    await writer.until(1);
    sink.add(point('a', 1, 2));
    let secondDone = false;
    const second = sink.flush().then(() => (secondDone = true));
    await Promise.resolve();
    expect(writer.calls).toHaveLength(1);
    writer.calls[0]!.resolve();
    await first;
    await writer.until(2);
    expect(secondDone).toBe(false);
    writer.calls[1]!.resolve();
    await second;
  });

  it('reports saturation past maxBufferedPoints, counting points in flight, until they are durable', async () => {
    const writer = scriptedWriter();
    const sink = new InfluxSink({ writer, batchSize: 2, flushInterval: 1000, maxBufferedPoints: 3 });
    sink.add(point('a', 1));
    sink.add(point('a', 2));
    expect(sink.saturated).toBe(false);
    sink.add(point('a', 3));
    expect(sink.saturated).toBe(true);
    const flushed = sink.flush();
    await writer.until(2);
    expect(sink.saturated).toBe(true);
    writer.calls.forEach((call) => call.resolve());
    await flushed;
    expect(sink.saturated).toBe(false);
  });

  it('flushes in the background on its interval and when a batch is full, and retries a failed background flush', async () => {
    const writer = scriptedWriter();
    const errors: unknown[] = [];
    const sink = new InfluxSink({ writer, batchSize: 3, flushInterval: 10, onError: (err) => errors.push(err) });
    sink.start();
    sink.add(point('a', 1));
    await writer.until(1);
    writer.calls[0]!.reject(new Error('503'));
    await writer.until(2);
    expect(errors).toEqual([new Error('503')]);
    expect(writer.calls[1]!.lines).toEqual(['w,device=a v=1 1']);
    writer.calls[1]!.resolve();
    await sink.close();
    expect(sink.size).toBe(0);

    const bySize = scriptedWriter();
    const big = new InfluxSink({ writer: bySize, batchSize: 3, flushInterval: 60_000 });
    big.start();
    for (let i = 0; i < 3; i++) big.add(point('b', i));
    await bySize.until(1);
    expect(bySize.calls[0]!.lines).toHaveLength(3);
    bySize.calls[0]!.resolve();
    await big.close();
  });
});
