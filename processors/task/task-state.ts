import { StateCorruptError } from '../errors.js';

/**
 * A partition task's state as one buffer: the named parts its owners serialised
 * (dedup, watermark, one per window operator), each [u16 name length][name][u32 length][bytes].
 */
export function packTaskState(parts: [string, Uint8Array][]): Uint8Array {
  const names = parts.map(([name]) => Buffer.from(name, 'utf8'));
  const size = parts.reduce((n, [, bytes], i) => n + 6 + names[i]!.length + bytes.byteLength, 4);
  const out = Buffer.alloc(size);
  let at = out.writeUInt32LE(parts.length, 0);
  parts.forEach(([, bytes], i) => {
    at = out.writeUInt16LE(names[i]!.length, at);
    at += names[i]!.copy(out, at);
    at = out.writeUInt32LE(bytes.byteLength, at);
    out.set(bytes, at);
    at += bytes.byteLength;
  });
  return out;
}

/** The named parts of a packed task state. */
export function unpackTaskState(state: Uint8Array): Map<string, Uint8Array> {
  const buf = Buffer.from(state.buffer, state.byteOffset, state.byteLength);
  const parts = new Map<string, Uint8Array>();
  try {
    const count = buf.readUInt32LE(0);
    let at = 4;
    for (let i = 0; i < count; i++) {
      const nameLength = buf.readUInt16LE(at);
      const name = buf.toString('utf8', at + 2, at + 2 + nameLength);
      at += 2 + nameLength;
      const length = buf.readUInt32LE(at);
      at += 4;
      if (at + length > buf.length) throw new RangeError(`part ${name} runs past the end`);
      parts.set(name, buf.subarray(at, at + length));
      at += length;
    }
  } catch (err) {
    throw new StateCorruptError(`task state is corrupt: ${(err as Error).message}`);
  }
  return parts;
}
