/**
 * Raw snappy block decompression into a caller's buffer, in place of snappyjs's
 * `uncompressToBuffer`, for two reasons. It refuses a block that ends early on an element
 * boundary (snappyjs returns success with the rest of the output left as it was: a
 * truncated record read as zeros) or that writes past the length it declared (snappyjs
 * drops those bytes silently). And it copies long literals and non-overlapping copies with
 * TypedArray#set / #copyWithin (a memmove) instead of a byte loop: uncompressing log records
 * is a sixth of a processor thread's time under the fleet load.
 * Format: https://github.com/google/snappy/blob/main/format_description.txt
 */

/** At or above this many bytes a copy is a memmove; below it a loop is cheaper than the call. */
const MEMMOVE_FROM = 16;

/**
 * The length a block declares (its leading varint) and where its elements start, or
 * undefined when the varint is malformed or longer than 32 bits.
 */
export function readUncompressedLength(block: Uint8Array): { length: number; at: number } | undefined {
  let length = 0;
  for (let i = 0; i < 5 && i < block.length; i++) {
    const c = block[i]!;
    length += (c & 0x7f) * 2 ** (7 * i);
    if (c < 0x80) return length > 0xffffffff ? undefined : { length, at: i + 1 };
  }
  return undefined;
}

/**
 * Uncompresses the elements of `block` from `at` into `out`, which must be exactly the
 * declared length; says whether the block was well formed and filled `out` exactly.
 */
export function uncompressInto(block: Uint8Array, at: number, out: Uint8Array): boolean {
  const end = block.length;
  const outEnd = out.length;
  let pos = at;
  let outPos = 0;
  while (pos < end) {
    const c = block[pos++]!;
    const type = c & 3;
    if (type === 0) {
      let len = (c >>> 2) + 1;
      if (len > 60) {
        const extra = len - 60;
        if (pos + extra > end) return false;
        len = block[pos]!;
        if (extra > 1) len += block[pos + 1]! << 8;
        if (extra > 2) len += block[pos + 2]! << 16;
        if (extra > 3) len += block[pos + 3]! * 16777216;
        len += 1;
        pos += extra;
      }
      if (pos + len > end || outPos + len > outEnd) return false;
      if (len >= MEMMOVE_FROM) out.set(block.subarray(pos, pos + len), outPos);
      else for (let i = 0; i < len; i++) out[outPos + i] = block[pos + i]!;
      pos += len;
      outPos += len;
      continue;
    }
    let len: number;
    let offset: number;
    if (type === 1) {
      if (pos >= end) return false;
      len = ((c >>> 2) & 7) + 4;
      offset = ((c >>> 5) << 8) | block[pos++]!;
    } else if (type === 2) {
      if (pos + 2 > end) return false;
      len = (c >>> 2) + 1;
      offset = block[pos]! | (block[pos + 1]! << 8);
      pos += 2;
    } else {
      if (pos + 4 > end) return false;
      len = (c >>> 2) + 1;
      offset = (block[pos]! | (block[pos + 1]! << 8) | (block[pos + 2]! << 16)) + block[pos + 3]! * 16777216;
      pos += 4;
    }
    if (offset === 0 || offset > outPos || outPos + len > outEnd) return false;
    const from = outPos - offset;
    // An overlapping copy (offset < len) repeats a pattern byte by byte: a memmove would not.
    if (len >= MEMMOVE_FROM && offset >= len) out.copyWithin(outPos, from, from + len);
    else for (let i = 0; i < len; i++) out[outPos + i] = out[from + i]!;
    outPos += len;
  }
  return outPos === outEnd;
}
