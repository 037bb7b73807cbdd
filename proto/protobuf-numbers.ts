import protobuf from 'protobufjs/minimal.js';

// Without Long, protobufjs decodes 64-bit fields to plain numbers: exact up to 2^53, which
// covers millisecond timestamps and any realistic seq, and avoids an object per field.
// This must run before the generated module loads: it bakes `Long` into its prototype
// defaults at load time, so an absent field would otherwise read as a Long object.
protobuf.util.Long = undefined as unknown as typeof protobuf.util.Long;
protobuf.configure();

// Even without Long, protobufjs reads every 64-bit varint into a new LongBits object and
// converts that: one allocation per Series timestamp. Under the fleet load (10 000 devices,
// 100-reading Series) it was 54 % of the decode worker's allocated bytes (1 GB in 7 s)
// and most of its scavenges. The reads below return the same numbers from two local
// 32-bit halves. Where protobufjs would throw (a varint running past the end, or longer
// than 10 bytes), they leave it to its own read, so errors stay its errors.
type Reader64 = Omit<protobuf.Reader, 'int64' | 'uint64' | 'sint64' | 'sint64s'> & { int64(): number; uint64(): number; sint64(): number; sint64s(array?: number[]): number[]; size(): number };
const proto = protobuf.Reader.prototype as unknown as Reader64;
const library = { int64: proto.int64, uint64: proto.uint64, sint64: proto.sint64, sint64s: proto.sint64s };

/** The halves of the varint readBits() read last (one reader per thread reads at a time). */
let lo = 0;
let hi = 0;

/** Reads a varint's 64 bits into lo/hi as protobufjs's readLongVarint does; false (pos untouched) where that would throw. */
function readBits(r: Reader64): boolean {
  const buf = r.buf;
  let pos = r.pos;
  if (r.len - pos < 10 && !endsBefore(buf, pos, r.len)) return false;
  let b = buf[pos++]!;
  let l = b & 127;
  let h = 0;
  if (b >= 128) {
    let i = 1;
    for (; i < 4; i++) {
      b = buf[pos++]!;
      l = (l | ((b & 127) << (i * 7))) >>> 0;
      if (b < 128) break;
    }
    if (i === 4) {
      b = buf[pos++]!;
      l = (l | ((b & 127) << 28)) >>> 0;
      h = (b & 127) >> 4;
      for (i = 0; b >= 128 && i < 5; i++) {
        b = buf[pos++]!;
        h = (h | ((b & 127) << (i * 7 + 3))) >>> 0;
      }
      if (b >= 128) return false;
    }
  }
  lo = l;
  hi = h;
  r.pos = pos;
  return true;
}

/** Whether a varint's last byte (< 128) comes before `len`: near the end of a field, reading it cannot overrun. */
function endsBefore(buf: Uint8Array, pos: number, len: number): boolean {
  for (; pos < len; pos++) if (buf[pos]! < 128) return true;
  return false;
}

/** lo/hi as LongBits.toNumber(unsigned) gives them. */
function bitsToNumber(unsigned: boolean): number {
  if (!unsigned && hi >>> 31) {
    const l = (~lo + 1) >>> 0;
    let h = ~hi >>> 0;
    if (!l) h = (h + 1) >>> 0;
    return -(l + h * 4294967296);
  }
  return lo + hi * 4294967296;
}

proto.int64 = function int64(this: Reader64): number {
  return readBits(this) ? bitsToNumber(false) : library.int64.call(this);
};

proto.uint64 = function uint64(this: Reader64): number {
  return readBits(this) ? bitsToNumber(true) : library.uint64.call(this);
};

proto.sint64 = function sint64(this: Reader64): number {
  if (!readBits(this)) return library.sint64.call(this);
  // LongBits.zzDecode
  const mask = -(lo & 1);
  lo = (((lo >>> 1) | (hi << 31)) ^ mask) >>> 0;
  hi = ((hi >>> 1) ^ mask) >>> 0;
  return bitsToNumber(false);
};

/**
 * A packed sint64 field (Series.time_delta_ms) into an array sized once, as protobufjs
 * sizes packed doubles: its own read pushed value by value, and the array's regrowth was
 * the decode worker's largest allocation once the LongBits were gone. Each varint has one
 * byte below 128, so counting those counts the values.
 */
proto.sint64s = function sint64s(this: Reader64, array: number[] = []): number[] {
  const start = this.pos;
  const end = this.size() + this.pos;
  const len = this.len;
  if (end > len) {
    this.pos = start;
    return library.sint64s.call(this, array);
  }
  const buf = this.buf;
  let count = 0;
  for (let p = this.pos; p < end; p++) if (buf[p]! < 128) count++;
  let i = array.length;
  array.length = i + count;
  this.len = end;
  while (this.pos < end) array[i++] = this.sint64();
  this.len = len;
  return array;
};
