import { crc32c } from '@node-rs/crc32';
import snappyjs from 'snappyjs';
import { describe, expect, it } from 'vitest';
import { CHECKPOINT_HEADER_BYTES, decodeCheckpoint, encodeCheckpoint, type PartitionCheckpoint } from './checkpoint-file.js';

const CHUNK = 1 << 20;

/** 2.5 MiB of state: two full chunks and a part one, compressible like window state. */
const state = new Uint8Array(2.5 * CHUNK).map((_, i) => (i % 64 < 40 ? i % 7 : (i * 7919) % 251));
const checkpoint: PartitionCheckpoint = { partition: 3, id: 7, kind: 'full', base: 0, offset: 1234, watermark: 1_700_000_000_000, state, createdAtMs: 1_700_000_100_000 };

/** A format 2 file as the version before native snappy wrote it: every chunk compressed by snappyjs. */
function encodedBySnappyjs(c: PartitionCheckpoint): Buffer {
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < c.state.byteLength; at += CHUNK) chunks.push(snappyjs.compress(c.state.subarray(at, at + CHUNK)));
  const out = Buffer.alloc(CHECKPOINT_HEADER_BYTES + chunks.reduce((n, ch) => n + 4 + ch.byteLength, 0));
  out.writeUInt32LE(0x4b434c53, 0);
  out.writeUInt16LE(2, 4);
  out.writeUInt32LE(c.partition, 8);
  [c.id, c.base, c.offset, c.watermark, c.createdAtMs, c.state.byteLength].forEach((v, i) => out.writeDoubleLE(v, 16 + 8 * i));
  let at = CHECKPOINT_HEADER_BYTES;
  for (const ch of chunks) {
    at = out.writeUInt32LE(ch.byteLength, at);
    out.set(ch, at);
    at += ch.byteLength;
  }
  out.writeUInt32LE(crc32c(out.subarray(16), crc32c(out.subarray(0, 12))), 12);
  return out;
}

/** The state as the version before native snappy read it: each chunk uncompressed by snappyjs. */
function stateBySnappyjs(file: Buffer): Buffer {
  const parts: Uint8Array[] = [];
  for (let at = CHECKPOINT_HEADER_BYTES; at < file.length; ) {
    const n = file.readUInt32LE(at);
    parts.push(snappyjs.uncompress(new Uint8Array(file.subarray(at + 4, at + 4 + n))));
    at += 4 + n;
  }
  return Buffer.concat(parts);
}

describe('checkpoint files across the snappyjs → native snappy change', () => {
  it('reads a checkpoint whose chunks snappyjs wrote', async () => {
    const back = await decodeCheckpoint(encodedBySnappyjs(checkpoint), 'old.ckpt');
    expect({ ...back, state: undefined }).toEqual({ ...checkpoint, state: undefined });
    expect(Buffer.compare(back.state, state)).toBe(0);
  });

  it('writes chunks that snappyjs reads', async () => {
    const file = await encodeCheckpoint(checkpoint);
    expect(Buffer.compare(stateBySnappyjs(file), state)).toBe(0);
    expect(file.readDoubleLE(56)).toBe(state.byteLength);
  });

  it('reports a damaged chunk as SLUICE_CHECKPOINT_CORRUPT', async () => {
    const file = await encodeCheckpoint(checkpoint);
    file.writeUInt32LE(file.readUInt32LE(CHECKPOINT_HEADER_BYTES) - 10, CHECKPOINT_HEADER_BYTES); // the first chunk is cut short
    file.writeUInt32LE(crc32c(file.subarray(16), crc32c(file.subarray(0, 12))), 12); // past the CRC: only the chunk is wrong
    await expect(decodeCheckpoint(file, 'cut.ckpt')).rejects.toMatchObject({ code: 'SLUICE_CHECKPOINT_CORRUPT' });
  });
});
