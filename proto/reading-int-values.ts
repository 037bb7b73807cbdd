import protobuf from 'protobufjs/minimal.js';

/**
 * `Reading.int_value` read exactly. The generated code decodes 64-bit fields to numbers
 * (protobuf-numbers.ts disables Long, so no object per field on the hot path), which
 * rounds an int_value past 2^53. The decoder calls this only for a payload with such a
 * value: it walks the bytes again and reads each reading's int_value as a bigint.
 */

const READINGS = 2; // ReadingBatch.readings
const INT_VALUE = 4; // Reading.int_value (sint64)
const WIRE_VARINT = 0;
const WIRE_LENGTH_DELIMITED = 2;

/**
 * Each reading's int_value in an encoded ReadingBatch, in the order of `readings`, as
 * bigint (undefined for a reading without one). For bytes ReadingBatch.decode accepted:
 * fields are skipped as the generated decoder skips them, and the last int_value of a
 * reading wins, as it does there.
 */
export function readingIntValues(bytes: Uint8Array): (bigint | undefined)[] {
  const out: (bigint | undefined)[] = [];
  const r = protobuf.Reader.create(bytes);
  while (r.pos < r.len) {
    const tag = r.uint32();
    if (tag >>> 3 !== READINGS || (tag & 7) !== WIRE_LENGTH_DELIMITED) {
      r.skipType(tag & 7);
      continue;
    }
    const end = r.uint32() + r.pos;
    let value: bigint | undefined;
    while (r.pos < end) {
      const field = r.uint32();
      if (field >>> 3 === INT_VALUE && (field & 7) === WIRE_VARINT) value = readSint64(r);
      else r.skipType(field & 7);
    }
    out.push(value);
  }
  return out;
}

/** A zig-zag varint as int64, exactly; like protobufjs, bits past the 64th are dropped. */
function readSint64(r: protobuf.Reader): bigint {
  let u = 0n;
  for (let shift = 0n; ; shift += 7n) {
    if (r.pos >= r.len) throw new RangeError(`varint runs past the end (${r.len} bytes)`);
    const byte = r.buf[r.pos++]!;
    u |= BigInt(byte & 0x7f) << shift;
    if (byte < 0x80) break;
  }
  u = BigInt.asUintN(64, u);
  return (u >> 1n) ^ -(u & 1n);
}
