import { createRequire } from 'node:module';

/**
 * mqtt-packet's parser keeps a connection's unparsed bytes in a `bl` BufferList and reads
 * them with its readUInt8 / readUInt16BE / readUInt32BE / toString. bl (6.x) implements
 * each of those as `this.slice(…)` and a read of the slice: a new Buffer object per byte
 * read, ~6 per PUBLISH (fixed header, remaining length, topic, packet id), and a `[i,
 * offset]` array for each. Under the fleet load that was 162 MB in 10 s, 31 % of all the
 * gateway thread's allocation (heap sampling), and allocation is what sets how often the
 * young generation is collected with up to ~16 000 publishes in flight.
 *
 * Where the bytes lie in the list's first chunk (the parser consumes from the front, so
 * nearly always) these read that chunk in place; anything else goes to bl's own method.
 * The results are the same by construction and are tested against bl's at every offset
 * and chunk split.
 */
export function readBufferListsInPlace(): void {
  if (patched) return;
  patched = true;
  // Resolve `bl` as mqtt-packet does, so it is the copy mqtt-packet loads.
  const fromPacket = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'));
  const stream = fromPacket('bl') as BufferListClass & { BufferList: BufferListClass };
  // bl copies BufferList's methods onto its stream's prototype (what mqtt-packet makes): patch both.
  for (const proto of new Set([stream.prototype, stream.BufferList.prototype])) patch(proto);
}

let patched = false;

interface BufferListLike {
  _bufs: Buffer[];
  readUInt8(offset?: number): number;
  readUInt16BE(offset?: number): number;
  readUInt32BE(offset?: number): number;
  toString(encoding?: BufferEncoding, start?: number, end?: number): string;
}

interface BufferListClass {
  prototype: BufferListLike;
}

function patch(proto: BufferListLike): void {
  const readUInt8 = proto.readUInt8;
  const readUInt16BE = proto.readUInt16BE;
  const readUInt32BE = proto.readUInt32BE;
  const toString = proto.toString;
  proto.readUInt8 = function (this: BufferListLike, offset = 0): number {
    const first = this._bufs[0];
    return first !== undefined && offset >= 0 && offset < first.length ? first[offset]! : readUInt8.call(this, offset);
  };
  proto.readUInt16BE = function (this: BufferListLike, offset = 0): number {
    const first = this._bufs[0];
    return first !== undefined && offset >= 0 && offset + 2 <= first.length ? first.readUInt16BE(offset) : readUInt16BE.call(this, offset);
  };
  proto.readUInt32BE = function (this: BufferListLike, offset = 0): number {
    const first = this._bufs[0];
    return first !== undefined && offset >= 0 && offset + 4 <= first.length ? first.readUInt32BE(offset) : readUInt32BE.call(this, offset);
  };
  proto.toString = function (this: BufferListLike, encoding?: BufferEncoding, start?: number, end?: number): string {
    const first = this._bufs[0];
    if (first !== undefined && typeof start === 'number' && typeof end === 'number' && start >= 0 && start <= end && end <= first.length) {
      return first.toString(encoding, start, end);
    }
    return toString.call(this, encoding, start, end);
  };
}
