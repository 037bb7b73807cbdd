/** InfluxSink's buffering rules, with a scripted writer (the real-influxd tests are in test/influx-sink.test.ts). */
import { describe, expect, it } from 'vitest';
import { InfluxSink } from './influx-sink.js';
import type { SinkPoint, SinkPointId } from './point.js';

const point = (device: string, timeMs: number, v = 1): SinkPoint => ({ measurement: 'w', tags: { device }, fields: { v }, timeMs });
const id = (device: string, timeMs: number): SinkPointId => ({ measurement: 'w', tags: { device }, timeMs });
/** How a scripted call shows a delete: `-` and the point's series and time. */
const shown = (p: SinkPointId) => `-w,device=${p.tags.device} ${p.timeMs}`;

/** A writer whose every write() and delete() waits for the test to settle it; a delete's lines are shown(). */
function scriptedWriter() {
  const calls: { lines: string[]; resolve: () => void; reject: (err: Error) => void }[] = [];
  let notify: () => void = () => {};
  const call = (lines: string[]) => new Promise<void>((resolve, reject) => {
    calls.push({ lines, resolve, reject });
    notify();
  });
  return {
    calls,
    write: (lines: readonly string[]) => call([...lines]),
    delete: (ids: readonly SinkPointId[]) => call(ids.map(shown)),
    /** Resolves once `n` writes have been made. */
    until: (n: number) => new Promise<void>((resolve) => {
      notify = () => calls.length >= n && resolve();
      notify();
    }),
  };
}
const okWriter = () => ({
  batches: [] as string[][],
  write(lines: readonly string[]) {
    this.batches.push([...lines]);
    return Promise.resolve();
  },
  delete(ids: readonly SinkPointId[]) {
    this.batches.push(ids.map(shown));
    return Promise.resolve();
  },
});

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

  it('deletes after the writes of the same flush, drops a buffered write of the deleted point, and keeps the delete', async () => {
    const writer = okWriter();
    const sink = new InfluxSink({ writer, batchSize: 100, flushInterval: 1000 });
    sink.add(point('a', 1));
    sink.add(point('a', 2));
    sink.delete(id('a', 2)); // merged away before its first write: nothing to write, still one to delete (a crash may have written it)
    sink.add(point('a', 3));
    sink.delete(id('b', 9));
    expect(sink.size).toBe(4);
    await sink.flush();
    expect(writer.batches).toEqual([['w,device=a v=1 1', 'w,device=a v=1 3'], ['-w,device=a 2', '-w,device=b 9']]);
    expect(sink.size).toBe(0);
  });

  it('a write after a delete of the same point replaces the delete (it rewrites every field)', async () => {
    const writer = okWriter();
    const sink = new InfluxSink({ writer, batchSize: 100, flushInterval: 1000 });
    sink.delete(id('a', 1));
    sink.add(point('a', 1, 5));
    await sink.flush();
    expect(writer.batches).toEqual([['w,device=a v=5 1']]);
  });

  it('orders a delete after the write of its point that is in flight, in the next flush', async () => {
    const writer = scriptedWriter();
    const sink = new InfluxSink({ writer, batchSize: 100, flushInterval: 1000 });
    sink.add(point('a', 2));
    const first = sink.flush();
    await writer.until(1);
    sink.add(point('a', 1, 3)); // the merged session, written at its new start
    sink.delete(id('a', 2)); // the point being written right now
    const second = sink.flush();
    await Promise.resolve();
    expect(writer.calls).toHaveLength(1);
    writer.calls[0]!.resolve();
    await first;
    await writer.until(2);
    expect(writer.calls[1]!.lines).toEqual(['w,device=a v=3 1']);
    writer.calls[1]!.resolve();
    await writer.until(3);
    expect(writer.calls[2]!.lines).toEqual(['-w,device=a 2']);
    writer.calls[2]!.resolve();
    await second;
    expect(sink.size).toBe(0);
  });

  it('does not put back a failed write of a point deleted meanwhile, and runs no delete of a flush whose writes failed', async () => {
    const writer = scriptedWriter();
    const sink = new InfluxSink({ writer, batchSize: 100, flushInterval: 1000 });
    sink.add(point('a', 2));
    sink.delete(id('b', 7));
    const failed = sink.flush();
    await writer.until(1);
    sink.delete(id('a', 2));
    writer.calls[0]!.reject(new Error('influx down'));
    await expect(failed).rejects.toThrow('influx down');
    expect(writer.calls).toHaveLength(1); // b's delete did not run: it waits with the rest
    expect(sink.size).toBe(2);
    const retried = sink.flush();
    await writer.until(2);
    expect(writer.calls[1]!.lines).toEqual(['-w,device=a 2', '-w,device=b 7']);
    writer.calls[1]!.resolve();
    await retried;
    expect(sink.size).toBe(0);
  });

  it('keeps failed deletes for the next flush, unless the point was written again meanwhile', async () => {
    const writer = scriptedWriter();
    const sink = new InfluxSink({ writer, batchSize: 100, flushInterval: 1000 });
    sink.delete(id('a', 1));
    sink.delete(id('b', 1));
    const failed = sink.flush();
    await writer.until(1);
    sink.add(point('b', 1, 4));
    writer.calls[0]!.reject(new Error('503'));
    await expect(failed).rejects.toThrow('503');
    const retried = sink.flush();
    await writer.until(2);
    expect(writer.calls[1]!.lines).toEqual(['w,device=b v=4 1']);
    writer.calls[1]!.resolve();
    await writer.until(3);
    expect(writer.calls[2]!.lines).toEqual(['-w,device=a 1']);
    writer.calls[2]!.resolve();
    await retried;
  });

  it('refuses a delete it cannot name, buffering nothing', () => {
    const sink = new InfluxSink({ writer: okWriter(), batchSize: 100, flushInterval: 1000 });
    expect(() => sink.delete({ measurement: 'w', tags: { device: 'a\\' }, timeMs: 1 })).toThrow(/backslash at its end/);
    expect(() => sink.delete({ measurement: 'w', tags: {}, timeMs: 1.5 })).toThrow(/not an integer/);
    expect(sink.size).toBe(0);
  });
});

describe('InfluxSink with owners and a write gate (distributed mode)', () => {
  it('sends nothing while the gate is closed, and everything once it opens', async () => {
    const writer = okWriter();
    let open = false;
    let opened!: () => void;
    const gate = { isOpen: () => open, whenOpen: () => new Promise<void>((resolve) => (opened = resolve)) };
    const sink = new InfluxSink({ writer, batchSize: 10, flushInterval: 1000, gate });
    sink.add(point('a', 1), 0);
    const flushed = sink.flush();
    await new Promise((resolve) => setImmediate(resolve));
    expect(writer.batches).toEqual([]);
    open = true;
    opened();
    await flushed;
    expect(writer.batches).toEqual([['w,device=a v=1 1']]);
  });

  it('discard(owner) drops that owner\'s buffered writes and deletes only', async () => {
    const writer = okWriter();
    const sink = new InfluxSink({ writer, batchSize: 10, flushInterval: 1000 });
    sink.add(point('a', 1), 0);
    sink.add(point('b', 1), 1);
    sink.delete(id('a', 2), 0);
    sink.delete(id('b', 2), 1);
    sink.discard(0);
    await sink.flush();
    expect(writer.batches).toEqual([['w,device=b v=1 1'], ['-w,device=b 2']]);
  });

  it('does not put back a failed write of an owner discarded while it was in flight', async () => {
    const writer = scriptedWriter();
    const sink = new InfluxSink({ writer, batchSize: 10, flushInterval: 1000 });
    sink.add(point('a', 1), 0);
    sink.add(point('b', 1), 1);
    const first = sink.flush();
    await writer.until(1);
    sink.discard(0);
    writer.calls[0]!.reject(new Error('InfluxDB down'));
    await expect(first).rejects.toThrow('InfluxDB down');
    const second = sink.flush();
    await writer.until(2);
    expect(writer.calls[1]!.lines).toEqual(['w,device=b v=1 1']);
    writer.calls[1]!.resolve();
    await second;
    // readmit: the owner's output is taken again
    sink.readmit(0);
    sink.add(point('a', 5), 0);
    const third = sink.flush();
    await writer.until(3);
    expect(writer.calls[2]!.lines).toEqual(['w,device=a v=1 5']);
    writer.calls[2]!.resolve();
    await third;
  });
});

describe('InfluxSink with retention policies per output (route)', () => {
  /** A writer that records each request's retention policy; writes to `failing` fail once each. */
  function rpWriter(failing?: string) {
    const requests: { rp: string | undefined; lines: string[] }[] = [];
    let failed = false;
    return {
      requests,
      write(lines: readonly string[], rp?: string) {
        requests.push({ rp, lines: [...lines] });
        if (failing !== undefined && rp === failing && !failed) {
          failed = true;
          return Promise.reject(new Error(`503 on ${rp}`));
        }
        return Promise.resolve();
      },
      delete(ids: readonly SinkPointId[], rp?: string) {
        requests.push({ rp, lines: ids.map((p) => `-${p.measurement},device=${p.tags.device} ${p.timeMs}`) });
        return Promise.resolve();
      },
    };
  }
  const at = (measurement: string, device: string, timeMs: number): SinkPoint => ({ measurement, tags: { device }, fields: { v: 1 }, timeMs });
  const route = (m: string) => (m === 'readings' ? 'short' : m === 'win' ? 'long' : undefined);

  it('sends each policy its own requests of up to batchSize points, in the order added', async () => {
    const writer = rpWriter();
    const sink = new InfluxSink({ writer, batchSize: 2, flushInterval: 1000, route });
    sink.add(at('readings', 'a', 1));
    sink.add(at('win', 'a', 1));
    sink.add(at('readings', 'a', 2));
    sink.add(at('alerts', 'a', 1));
    sink.add(at('readings', 'a', 3));
    sink.delete({ measurement: 'win', tags: { device: 'b' }, timeMs: 5 });
    await sink.flush();
    expect(writer.requests).toEqual([
      { rp: 'short', lines: ['readings,device=a v=1 1', 'readings,device=a v=1 2'] },
      { rp: 'long', lines: ['win,device=a v=1 1'] },
      { rp: undefined, lines: ['alerts,device=a v=1 1'] },
      { rp: 'short', lines: ['readings,device=a v=1 3'] },
      { rp: 'long', lines: ['-win,device=b 5'] },
    ]);
    expect(sink.size).toBe(0);
  });

  it('keeps only the failed policy\'s batch and writes it again, to the same policy', async () => {
    const writer = rpWriter('long');
    const sink = new InfluxSink({ writer, batchSize: 10, flushInterval: 1000, route });
    sink.add(at('readings', 'a', 1));
    sink.add(at('win', 'a', 1));
    sink.add(at('win', 'b', 1));
    await expect(sink.flush()).rejects.toThrow('503 on long');
    expect(sink.size).toBe(2);
    writer.requests.length = 0;
    await sink.flush();
    expect(writer.requests).toEqual([{ rp: 'long', lines: ['win,device=a v=1 1', 'win,device=b v=1 1'] }]);
  });
});
