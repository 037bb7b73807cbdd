import { WriteStream } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { tempDir } from '../test/harness/temp-dir.js';
import { DeadLetterRecorder, readDeadLetters } from './dead-letters.js';

describe('DeadLetterRecorder', () => {
  it('records device, reason, size and the first 64 bytes in hex', async () => {
    const dir = await tempDir();
    const recorder = await DeadLetterRecorder.open(dir.path, { maxFileBytes: 1 << 20, maxFiles: 2 });
    recorder.record('dev-1', 'decode_error', Buffer.alloc(100, 0xab), 'index out of range');
    await recorder.close();
    const [letter] = await readDeadLetters(dir.path);
    expect(letter).toMatchObject({ device: 'dev-1', reason: 'decode_error', size: 100, head: 'ab'.repeat(64), detail: 'index out of range' });
    await dir.remove();
  });

  it('stays bounded: rotates at maxFileBytes and keeps maxFiles old files', async () => {
    const dir = await tempDir();
    const recorder = await DeadLetterRecorder.open(dir.path, { maxFileBytes: 2000, maxFiles: 2 });
    for (let i = 0; i < 200; i++) recorder.record(`dev-${i}`, 'json_invalid', Buffer.from(`payload ${i}`));
    await recorder.close();
    const files = (await readdir(join(dir.path, 'deadletters'))).sort();
    expect(files).toEqual(['deadletters.jsonl', 'deadletters.jsonl.1', 'deadletters.jsonl.2']);
    const tail = await readDeadLetters(dir.path, 5);
    expect(tail.map((l) => l.device)).toEqual(['dev-195', 'dev-196', 'dev-197', 'dev-198', 'dev-199']);
    const all = await readDeadLetters(dir.path, 1000);
    expect(all.length).toBeLessThan(200);
    expect(all.map((l) => Number(l.device.slice(4)))).toEqual([...all.map((l) => Number(l.device.slice(4)))].sort((a, b) => a - b));
    await dir.remove();
  });

  it('writes letters that come one an event-loop turn together, in order, and all of them by close', async () => {
    const dir = await tempDir();
    const recorder = await DeadLetterRecorder.open(dir.path, { maxFileBytes: 1 << 20, maxFiles: 2 });
    const writes = vi.spyOn(WriteStream.prototype, 'write');
    for (let i = 0; i < 200; i++) {
      recorder.record(`dev-${i}`, 'tag_invalid', Buffer.from(`payload ${i}`));
      await new Promise((resolve) => setImmediate(resolve));
    }
    await recorder.close();
    expect(writes.mock.calls.length).toBeLessThan(10);
    writes.mockRestore();
    const all = await readDeadLetters(dir.path, 1000);
    expect(all.map((l) => l.device)).toEqual(Array.from({ length: 200 }, (_, i) => `dev-${i}`));
    await dir.remove();
  });
});
