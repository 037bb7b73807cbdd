import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { SocketReadGate } from './socket-read-gate.js';

/** A stream read the way aedes reads a connection: a read of all it holds on each 'readable'. */
function connection(gate: SocketReadGate, onRead: (chunk: Buffer) => void = () => {}): PassThrough {
  const stream = new PassThrough();
  gate.watch(stream);
  stream.on('readable', () => {
    const chunk = stream.read() as Buffer | null;
    if (chunk) onRead(chunk);
  });
  return stream;
}

describe('SocketReadGate', () => {
  it('passes reads through while open', async () => {
    const gate = new SocketReadGate();
    const got: string[] = [];
    const stream = connection(gate, (c) => got.push(c.toString()));
    stream.write('a');
    await new Promise((resolve) => stream.once('readable', resolve));
    expect(got).toEqual(['a']);
    expect(gate.waitingCount).toBe(0);
  });

  it('refuses reads while closed and resumes the waiting connections, oldest first, when opened', async () => {
    const counts: number[] = [];
    const gate = new SocketReadGate({ set: (n) => counts.push(n) });
    const got: string[] = [];
    const first = connection(gate, (c) => got.push(`first ${c.toString()}`));
    const second = connection(gate, (c) => got.push(`second ${c.toString()}`));
    gate.close();
    second.write('2');
    await new Promise((resolve) => setImmediate(resolve));
    first.write('1');
    await new Promise((resolve) => setImmediate(resolve));
    expect(got).toEqual([]);
    expect(gate.waitingCount).toBe(2);
    expect(first.readableLength + second.readableLength).toBe(2); // still buffered, not read
    gate.open();
    expect(got).toEqual(['second 2', 'first 1']); // in the order their reads were refused
    expect(gate.waitingCount).toBe(0);
    expect(counts).toEqual([1, 2, 0]);
  });

  it('stops resuming as soon as a resumed read closes the gate again', async () => {
    const gate = new SocketReadGate();
    const got: string[] = [];
    // Reading the first connection fills the pipeline, as a held publish does.
    const first = connection(gate, (c) => {
      got.push(c.toString());
      gate.close();
    });
    const second = connection(gate, (c) => got.push(c.toString()));
    gate.close();
    first.write('1');
    second.write('2');
    await new Promise((resolve) => setImmediate(resolve));
    gate.open();
    expect(got).toEqual(['1']);
    expect(gate.shut).toBe(true);
    expect(gate.waitingCount).toBe(1);
    gate.open();
    expect(got).toEqual(['1', '2']);
  });

  it('forgets a waiting connection once it closes', async () => {
    const counts: number[] = [];
    const gate = new SocketReadGate({ set: (n) => counts.push(n) });
    const stream = connection(gate);
    gate.close();
    stream.write('x');
    await new Promise((resolve) => setImmediate(resolve));
    expect(gate.waitingCount).toBe(1);
    stream.destroy();
    await new Promise((resolve) => stream.once('close', resolve));
    expect(gate.waitingCount).toBe(0);
    expect(counts.at(-1)).toBe(0);
  });
});
