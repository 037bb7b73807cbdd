/**
 * Raw snappy block compression on the calling thread, in place of snappyjs's compressor.
 * The same algorithm as Google's snappy (and snappyjs): 64 KiB fragments, a hash table of
 * 4-byte sequences, literals and copies with 1- or 2-byte offsets. What differs is how the
 * bytes are read: 4 at a time through a DataView (unaligned little-endian loads) where
 * snappyjs assembles each from 4 byte reads, and a match is extended 4 bytes per compare
 * (the first differing byte found from the XOR's lowest set bit) where snappyjs compares
 * byte by byte. Log records are 12× compressible under the fleet load, so extending
 * matches is most of the work: on that load's records this runs at ~2 GB/s where
 * snappyjs ran at ~480 MB/s (same machine, at once), and compressing records was a
 * third of the decode worker's CPU. Any snappy reader reads the output (tests check it
 * against native snappy, snappyjs and proto/snappy-uncompress.ts).
 * Format: https://github.com/google/snappy/blob/main/format_description.txt
 */

const FRAGMENT_BYTES = 1 << 16;
const MAX_HASH_BITS = 14;
/** No match is looked for in a fragment's last bytes: every 4-byte load stays inside it. */
const INPUT_MARGIN = 15;
/** Below this many bytes a literal is copied by a loop; from it by TypedArray#set (a memmove). */
const SET_FROM = 32;

/** Offsets into the current fragment (≤ 65 535), by hash; one per thread, zeroed per fragment. */
const table = new Uint16Array(1 << MAX_HASH_BITS);

/** The most bytes a block of `length` uncompressed bytes can take (snappy's MaxCompressedLength). */
export function maxCompressedLength(length: number): number {
  return 32 + length + Math.floor(length / 6);
}

/** Worst-case output kept between calls, up to this size: a new ArrayBuffer costs ~2 µs here whatever its size, as much as compressing 300 bytes. */
const KEEP_SCRATCH_BYTES = 2 << 20;
let scratch = new Uint8Array(0);

/** Snappy-compresses `input` into a new array of the block's exact length (with an ArrayBuffer of its own: it may be transferred). */
export function snappyCompress(input: Uint8Array): Uint8Array {
  const max = maxCompressedLength(input.length);
  if (max > KEEP_SCRATCH_BYTES) {
    const output = new Uint8Array(max);
    return output.slice(0, snappyCompressInto(input, output));
  }
  if (max > scratch.length) scratch = new Uint8Array(Math.min(KEEP_SCRATCH_BYTES, Math.max(max, scratch.length * 2)));
  return scratch.slice(0, snappyCompressInto(input, scratch));
}

/** Snappy-compresses `input` into `output` (at least maxCompressedLength(input.length) long); returns the block's length. */
export function snappyCompressInto(input: Uint8Array, output: Uint8Array): number {
  const length = input.length;
  let op = 0;
  let rest = length;
  do {
    const low = rest & 0x7f;
    rest >>>= 7;
    output[op++] = rest > 0 ? low | 0x80 : low;
  } while (rest > 0);
  const view = new DataView(input.buffer, input.byteOffset, input.byteLength);
  for (let at = 0; at < length; at += FRAGMENT_BYTES) op = compressFragment(input, view, at, Math.min(length - at, FRAGMENT_BYTES), output, op);
  return op;
}

function hashOf(word: number, shift: number): number {
  return Math.imul(word, 0x1e35a7bd) >>> shift;
}

function compressFragment(input: Uint8Array, view: DataView, base: number, size: number, output: Uint8Array, op: number): number {
  let bits = 1;
  while (1 << bits <= size && bits <= MAX_HASH_BITS) bits++;
  bits--;
  const shift = 32 - bits;
  table.fill(0, 0, 1 << bits);
  const end = base + size;
  let nextEmit = base;
  if (size >= INPUT_MARGIN) {
    const limit = end - INPUT_MARGIN;
    let ip = base + 1;
    let nextHash = hashOf(view.getUint32(ip, true), shift);
    fragment: for (;;) {
      // Look for a 4-byte match, probing less often the longer none is found (snappy's
      // heuristic: incompressible data is skipped at up to 1 byte in 32 probes).
      let skip = 32;
      let nextIp = ip;
      let candidate: number;
      do {
        ip = nextIp;
        const hash = nextHash;
        nextIp = ip + (skip++ >>> 5);
        if (nextIp > limit) break fragment;
        nextHash = hashOf(view.getUint32(nextIp, true), shift);
        candidate = base + table[hash]!;
        table[hash] = ip - base;
      } while (view.getUint32(ip, true) !== view.getUint32(candidate, true));
      op = emitLiteral(input, nextEmit, ip - nextEmit, output, op);
      // Emit copies for as long as the byte after one match starts another.
      for (;;) {
        const start = ip;
        let at = ip + 4;
        let from = candidate + 4;
        let diff = 0;
        while (at + 4 <= end && (diff = view.getUint32(at, true) ^ view.getUint32(from, true)) === 0) {
          at += 4;
          from += 4;
        }
        if (diff !== 0) at += (31 - Math.clz32(diff & -diff)) >>> 3;
        else
          while (at < end && input[at] === input[from]) {
            at++;
            from++;
          }
        ip = at;
        op = emitCopy(output, op, start - candidate, ip - start);
        nextEmit = ip;
        if (ip >= limit) break fragment;
        table[hashOf(view.getUint32(ip - 1, true), shift)] = ip - 1 - base;
        const hash = hashOf(view.getUint32(ip, true), shift);
        candidate = base + table[hash]!;
        table[hash] = ip - base;
        if (view.getUint32(ip, true) !== view.getUint32(candidate, true)) break;
      }
      ip++;
      nextHash = hashOf(view.getUint32(ip, true), shift);
    }
  }
  if (nextEmit < end) op = emitLiteral(input, nextEmit, end - nextEmit, output, op);
  return op;
}

function emitLiteral(input: Uint8Array, from: number, length: number, output: Uint8Array, op: number): number {
  const n = length - 1;
  if (n < 60) output[op++] = n << 2;
  else if (n < 256) {
    output[op++] = 60 << 2;
    output[op++] = n;
  } else {
    // A fragment is at most 64 KiB, so a literal's length fits 2 bytes.
    output[op++] = 61 << 2;
    output[op++] = n & 0xff;
    output[op++] = n >>> 8;
  }
  if (length < SET_FROM) for (let i = 0; i < length; i++) output[op + i] = input[from + i]!;
  else output.set(input.subarray(from, from + length), op);
  return op + length;
}

/** A copy of `length` ≥ 4 bytes from `offset` (1..65 535) back, in pieces of at most 64 bytes. */
function emitCopy(output: Uint8Array, op: number, offset: number, length: number): number {
  while (length >= 68) {
    op = emitCopyUpTo64(output, op, offset, 64);
    length -= 64;
  }
  // Leaves at least 4 for the last piece, the shortest a copy can be.
  if (length > 64) {
    op = emitCopyUpTo64(output, op, offset, 60);
    length -= 60;
  }
  return emitCopyUpTo64(output, op, offset, length);
}

function emitCopyUpTo64(output: Uint8Array, op: number, offset: number, length: number): number {
  if (length < 12 && offset < 2048) {
    output[op] = 1 + ((length - 4) << 2) + ((offset >>> 8) << 5);
    output[op + 1] = offset & 0xff;
    return op + 2;
  }
  output[op] = 2 + ((length - 1) << 2);
  output[op + 1] = offset & 0xff;
  output[op + 2] = offset >>> 8;
  return op + 3;
}
