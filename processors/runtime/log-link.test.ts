import { MessageChannel } from 'node:worker_threads';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LogOffsetError } from '../../core/index.js';
import { FileLog } from '../../log/index.js';
import { tempDir } from '../../test/harness/temp-dir.js';
import type { WorkerMessage } from './log-link-protocol.js';
import { LogServer } from './log-server.js';
import { RemoteLog } from './remote-log.js';

// The link runs between threads in production; a MessageChannel in one thread exercises
// the same messages, transfers and shared memory.
describe('LogServer and RemoteLog', () => {
  let dir: Awaited<ReturnType<typeof tempDir>>;
  let log: FileLog;
  let server: LogServer;
  let remote: RemoteLog;
  let channel: MessageChannel;

  beforeEach(async () => {
    dir = await tempDir('sluice-log-link-');
    log = await FileLog.open({ dir: dir.path, partitions: 3, fsync: 'never' });
    server = new LogServer(log);
    await server.open();
    channel = new MessageChannel();
    remote = new RemoteLog(server.memory, channel.port2);
    channel.port1.on('message', (m: WorkerMessage) => {
      if (m.kind === 'log') void server.serve(m.request, channel.port1);
    });
    channel.port2.on('message', (m: WorkerMessage) => {
      if (m.kind === 'log-response') remote.onResponse(m.response);
    });
  });

  afterEach(async () => {
    channel.port1.close();
    await log.close();
    await dir.remove();
  });

  it('publishes end offsets once appends are durable and wakes a waiting reader', async () => {
    expect(await remote.pending(1, 0)).toBe(0);
    const mark = remote.mark();
    const woken = remote.appendedSince(mark, 60_000);
    await server.log.append(1, Buffer.from('a'));
    await server.log.append(1, Buffer.from('b'));
    await woken; // resolves on the append, not after the minute
    expect([await remote.pending(1, 0), await remote.pending(1, 1), await remote.pending(1, 5)]).toEqual([2, 1, 0]);
    expect(await remote.pending(0, 0)).toBe(0);
    expect(remote.mark()).toBeGreaterThan(mark);
  });

  it('does not miss records appended between taking a mark and waiting', async () => {
    const mark = remote.mark();
    await server.log.append(0, Buffer.from('x'));
    await remote.appendedSince(mark, 60_000);
    expect(await remote.pending(0, 0)).toBe(1);
  });

  it('once partitions are assigned, wakes only the reader whose partition got records', async () => {
    server.assign([0, 1, 1]);
    const slot0 = new RemoteLog(server.memory, channel.port2, 0);
    const slot1 = new RemoteLog(server.memory, channel.port2, 1);
    const [mark0, mark1] = [slot0.mark(), slot1.mark()];
    await server.log.append(2, Buffer.from('for slot 1'));
    await server.log.append(1, Buffer.from('for slot 1 too'));
    // Appends resolve before the notify (queued once per commit round): the owner's wait resolves on it.
    await slot1.appendedSince(mark1, 60_000);
    expect(slot1.mark()).toBeGreaterThan(mark1);
    expect(slot0.mark()).toBe(mark0);
    await server.log.append(0, Buffer.from('for slot 0'));
    await slot0.appendedSince(mark0, 60_000);
    expect(slot0.mark()).toBeGreaterThan(mark0);
    // Both see every partition's end offset, whichever slot was woken.
    expect([await slot0.pending(2, 0), await slot1.pending(0, 0)]).toEqual([1, 1]);
  });

  it('reads records back with their offsets and bytes, several per message', async () => {
    for (let i = 0; i < 5; i++) await server.log.append(2, Buffer.from(`record-${i}`));
    const records = await remote.read(2, 1, 3);
    expect(records.map((r) => r.offset)).toEqual([1, 2, 3]);
    expect(records.map((r) => Buffer.from(r.payload).toString())).toEqual(['record-1', 'record-2', 'record-3']);
    expect(await remote.read(2, 5, 3)).toEqual([]);
  });

  it('answers a read at the end from shared memory, and still refuses one past it', async () => {
    await server.log.append(1, Buffer.from('a'));
    const sent = { count: 0 };
    const counting = new RemoteLog(server.memory, { postMessage: () => void sent.count++ });
    expect(await counting.read(1, 1, 10)).toEqual([]);
    expect(sent.count).toBe(0);
    await expect(remote.read(1, 2, 10)).rejects.toBeInstanceOf(LogOffsetError);
  });

  it('reads the newest durable records from shared memory, without a message', async () => {
    for (let i = 0; i < 3; i++) await server.log.append(2, Buffer.from(`new-${i}`));
    const sent = { count: 0 };
    const counting = new RemoteLog(server.memory, { postMessage: () => void sent.count++ });
    expect((await counting.read(2, 1, 10)).map((r) => `${r.offset}:${Buffer.from(r.payload).toString()}`)).toEqual(['1:new-1', '2:new-2']);
    expect((await counting.readMany([{ partition: 2, from: 0, max: 2 }]))[0]!.map((r) => r.offset)).toEqual([0, 1]);
    expect(sent.count).toBe(0);
  });

  it('reads several partitions in one round trip, each as its own read would, and answers reads at the end or in the ring itself', async () => {
    // Appended before this server existed: in the log, not in its ring, so they must be asked for.
    for (let i = 0; i < 3; i++) await log.append(0, Buffer.from(`zero-${i}`));
    for (let i = 0; i < 5; i++) await log.append(2, Buffer.from(`two-${i}`));
    const fresh = new LogServer(log);
    await fresh.open();
    await fresh.log.append(2, Buffer.from('two-5')); // in the ring
    const linked = (sent: WorkerMessage[]): RemoteLog => {
      const reader: RemoteLog = new RemoteLog(fresh.memory, {
        postMessage: (m: WorkerMessage) => {
          sent.push(m);
          if (m.kind === 'log') void fresh.serve(m.request, { postMessage: (r: WorkerMessage) => r.kind === 'log-response' && reader.onResponse(r.response) });
        },
      });
      return reader;
    };
    const reads = [
      { partition: 2, from: 1, max: 3 },
      { partition: 1, from: 0, max: 10 }, // empty partition: at its end
      { partition: 0, from: 0, max: 10 },
      { partition: 2, from: 5, max: 10 }, // in the ring
      { partition: 2, from: 6, max: 10 }, // at the end
    ];
    const sent: WorkerMessage[] = [];
    const reader = linked(sent);
    const many = await reader.readMany(reads);
    expect(sent).toHaveLength(1);
    expect(sent[0]).toMatchObject({ kind: 'log', request: { kind: 'read-many', reads: [reads[0], reads[2]] } });
    const one = await Promise.all(reads.map((r) => linked([]).read(r.partition, r.from, r.max)));
    const text = (rs: { offset: number; payload: Uint8Array }[][]) => rs.map((r) => r.map((x) => `${x.offset}:${Buffer.from(x.payload).toString()}`));
    expect(text(many)).toEqual(text(one));
    expect(text(many)).toEqual([['1:two-1', '2:two-2', '3:two-3'], [], ['0:zero-0', '1:zero-1', '2:zero-2'], ['5:two-5'], []]);
    expect(await reader.readMany([{ partition: 1, from: 0, max: 1 }, { partition: 2, from: 5, max: 1 }])).toHaveLength(2);
    expect(sent).toHaveLength(1);
  });

  it('fails a read-many whose read is below the start with the log error code', async () => {
    for (let i = 0; i < 4; i++) await server.log.append(0, Buffer.from(`r${i}`));
    await server.log.append(1, Buffer.from('one'));
    await remote.trim(0, 2);
    await expect(remote.readMany([{ partition: 1, from: 0, max: 5 }, { partition: 0, from: 1, max: 5 }])).rejects.toBeInstanceOf(LogOffsetError);
  });

  it('trims through the link, publishes the new start, and refuses reads below it with the log error code', async () => {
    for (let i = 0; i < 4; i++) await server.log.append(0, Buffer.from(`r${i}`));
    await remote.trim(0, 2);
    expect(await remote.startOffset(0)).toBe(2);
    expect(await log.startOffset(0)).toBe(2);
    expect(await remote.pending(0, 0)).toBe(2); // from the trim point
    // The same class as on the log's own thread, not just its code.
    await expect(remote.read(0, 1, 10)).rejects.toBeInstanceOf(LogOffsetError);
    await expect(remote.read(0, 1, 10)).rejects.toMatchObject({ code: 'SLUICE_LOG_OFFSET' });
    expect((await remote.read(0, 2, 10)).map((r) => r.offset)).toEqual([2, 3]);
  });

  it('cannot append: processors only read', async () => {
    await expect(remote.append()).rejects.toMatchObject({ code: 'SLUICE_LOG_READ_ONLY' });
  });
});
