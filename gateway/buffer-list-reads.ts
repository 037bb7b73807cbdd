import { createRequire } from 'node:module';

/**
 * mqtt-packet's parser keeps a connection's unparsed bytes in a `bl` BufferList and reads
 * them with its readUInt8 / readUInt16BE / readUInt32BE / toString / slice, consuming each
 * packet's bytes from the front as it goes. bl (6.x) allocates for nearly all of it:
 * - each read is `this.slice(…)` and a read of the slice: a new Buffer object per byte
 *   read, ~6 per PUBLISH, and a `[i, offset]` array for each (under the fleet load 162 MB
 *   in 10 s, 31 % of the gateway thread's allocation);
 * - each `consume(n)` that ends inside the first chunk replaces it with a slice of itself:
 *   three new Buffers per PUBLISH (fixed header, remaining length, the rest), 24 % of the
 *   gateway thread's allocation under the fleet load once the PUBACK writes were gone.
 * Allocation is what sets how often the young generation is collected while ~10 000
 * publishes wait to be made durable.
 *
 * So the first chunk is consumed lazily: the list keeps how many of its bytes are already
 * consumed (HEAD), and the reads, `slice` and `consume` work in place where the bytes lie
 * in that chunk (nearly always: the parser consumes from the front). Every other method of
 * the list, and these outside that case, first makes the first chunk really start at HEAD
 * (one slice) and then runs bl's own, so they see the list bl would have. The results are
 * the same by construction; the tests compare them with bl's over random appends and
 * consumes, at every offset and chunk split.
 */
export function readBufferListsInPlace(): void {
  if (patched) return;
  patched = true;
  // Resolve `bl` as mqtt-packet does, so it is the copy mqtt-packet loads.
  const fromPacket = createRequire(createRequire(import.meta.url).resolve('mqtt-packet'));
  const stream = fromPacket('bl') as BufferListClass & { BufferList: BufferListClass };
  // bl copies BufferList's methods onto its stream's prototype (what mqtt-packet makes): patch both.
  const methods = Object.getOwnPropertyNames(stream.BufferList.prototype);
  for (const proto of new Set([stream.prototype, stream.BufferList.prototype])) patch(proto, methods);
}

let patched = false;

/** How many bytes at the start of the list's first chunk are consumed already. */
const HEAD = Symbol('sluice.consumedHead');

interface BufferListLike {
  _bufs: Buffer[];
  length: number;
  [HEAD]: number;
  readUInt8(offset?: number): number;
  readUInt16BE(offset?: number): number;
  readUInt32BE(offset?: number): number;
  toString(encoding?: BufferEncoding, start?: number, end?: number): string;
  slice(start?: number, end?: number): Buffer;
  consume(bytes: number): BufferListLike;
}

interface BufferListClass {
  prototype: BufferListLike;
}

type Method = (this: BufferListLike, ...args: unknown[]) => unknown;

/** The last text the list decoded in place, and its bytes (a copy): a device publishes on the same topic every time. */
const LAST_TEXT = Symbol('sluice.lastText');
interface LastText {
  encoding: BufferEncoding | undefined;
  bytes: Buffer;
  text: string;
}
/** Longer texts are not kept (a topic is short; this bounds the copy per connection). */
const MAX_KEPT_TEXT = 256;

/**
 * `chunk.toString(encoding, from, to)`, answered with the list's last text when the bytes
 * are the same: a PUBLISH's topic is then one string shared by all of a device's publishes
 * instead of a new one each (10 % of the gateway thread's allocation under the fleet load,
 * held until the publish is durable). The same bytes decode to the same text, so the
 * answer is the same.
 */
function textOf(list: BufferListLike & { [LAST_TEXT]?: LastText }, chunk: Buffer, encoding: BufferEncoding | undefined, from: number, to: number): string {
  const last = list[LAST_TEXT];
  const length = to - from;
  if (last !== undefined && last.bytes.length === length && last.encoding === encoding && chunk.compare(last.bytes, 0, length, from, to) === 0) return last.text;
  const text = chunk.toString(encoding, from, to);
  if (length <= MAX_KEPT_TEXT) list[LAST_TEXT] = { encoding, bytes: Buffer.from(chunk.subarray(from, to)), text };
  return text;
}

/** Makes the first chunk start at HEAD, as bl's own methods expect. */
function settle(list: BufferListLike): void {
  const head = list[HEAD];
  if (head === 0) return;
  list._bufs[0] = list._bufs[0]!.subarray(head);
  list[HEAD] = 0;
}

function patch(proto: BufferListLike, methods: string[]): void {
  const own = proto as unknown as Record<string, Method>;
  const original: Record<string, Method> = {};
  for (const name of methods) {
    const method = own[name];
    if (name === 'constructor' || typeof method !== 'function') continue;
    original[name] = method;
    own[name] = function (this: BufferListLike, ...args: unknown[]): unknown {
      settle(this);
      return method.apply(this, args);
    };
  }
  proto[HEAD] = 0;
  const call = <T>(list: BufferListLike, name: string, args: unknown[]): T => {
    settle(list);
    return original[name]!.apply(list, args) as T;
  };

  proto.readUInt8 = function (this: BufferListLike, offset = 0): number {
    const first = this._bufs[0];
    const at = this[HEAD] + offset;
    return first !== undefined && offset >= 0 && at < first.length ? first[at]! : call(this, 'readUInt8', [offset]);
  };
  proto.readUInt16BE = function (this: BufferListLike, offset = 0): number {
    const first = this._bufs[0];
    const at = this[HEAD] + offset;
    return first !== undefined && offset >= 0 && at + 2 <= first.length ? first.readUInt16BE(at) : call(this, 'readUInt16BE', [offset]);
  };
  proto.readUInt32BE = function (this: BufferListLike, offset = 0): number {
    const first = this._bufs[0];
    const at = this[HEAD] + offset;
    return first !== undefined && offset >= 0 && at + 4 <= first.length ? first.readUInt32BE(at) : call(this, 'readUInt32BE', [offset]);
  };
  proto.toString = function (this: BufferListLike, encoding?: BufferEncoding, start?: number, end?: number): string {
    const first = this._bufs[0];
    const head = this[HEAD];
    if (first !== undefined && typeof start === 'number' && typeof end === 'number' && start >= 0 && start <= end && head + end <= first.length) {
      return textOf(this, first, encoding, head + start, head + end);
    }
    return call(this, 'toString', [encoding, start, end]);
  };
  // A slice within the first chunk is a view of it, as bl's is.
  proto.slice = function (this: BufferListLike, start?: number, end?: number): Buffer {
    const first = this._bufs[0];
    const head = this[HEAD];
    if (first !== undefined && typeof start === 'number' && typeof end === 'number' && start >= 0 && start < end && end <= this.length && head + end <= first.length) {
      return first.subarray(head + start, head + end);
    }
    return call(this, 'slice', [start, end]);
  };
  proto.consume = function (this: BufferListLike, bytes: number): BufferListLike {
    const first = this._bufs[0];
    if (first !== undefined && Number.isInteger(bytes) && bytes > 0) {
      const head = this[HEAD] + bytes;
      if (head < first.length) {
        this[HEAD] = head;
        this.length -= bytes;
        return this;
      }
      if (head === first.length) {
        this._bufs.shift();
        this[HEAD] = 0;
        this.length -= bytes;
        return this;
      }
    }
    return call(this, 'consume', [bytes]);
  };
}
