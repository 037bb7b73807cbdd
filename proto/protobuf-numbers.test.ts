import protobuf from 'protobufjs/minimal.js';
import { describe, expect, it } from 'vitest';
import './protobuf-numbers.js';

type Reader64 = Omit<protobuf.Reader, 'int64' | 'uint64' | 'sint64' | 'sint64s'> & { int64(): number; uint64(): number; sint64(): number; sint64s(array?: number[]): number[] };
const reader = (bytes: number[]): Reader64 => protobuf.Reader.create(Uint8Array.from(bytes)) as unknown as Reader64;

/** A 64-bit value as varint bytes (two's complement, 10 bytes for a negative one). */
function varint(u: bigint): number[] {
  let v = BigInt.asUintN(64, u);
  const out: number[] = [];
  do {
    const low = Number(v & 0x7fn);
    v >>= 7n;
    out.push(v > 0n ? low | 0x80 : low);
  } while (v > 0n);
  return out;
}
const zigzag = (v: bigint): bigint => BigInt.asUintN(64, (v << 1n) ^ (v >> 63n));

/** Values around every varint length and the edges where a double stops being exact. */
function samples(): bigint[] {
  const out = new Set<bigint>([0n, 1n, -1n, 2n ** 63n - 1n, -(2n ** 63n), 2n ** 53n, 2n ** 53n + 1n, -(2n ** 53n) - 1n, 1_700_000_000_000n]);
  for (let bits = 1n; bits < 64n; bits++) for (const d of [-1n, 0n, 1n]) for (const s of [1n, -1n]) out.add(BigInt.asIntN(64, s * (2n ** bits + d)));
  let x = 0x9e3779b97f4a7c15n;
  for (let i = 0; i < 2000; i++) {
    x = BigInt.asUintN(64, x * 6364136223846793005n + 1442695040888963407n);
    out.add(BigInt.asIntN(64, x >> BigInt(i % 64)));
  }
  return [...out];
}

describe('64-bit varint reads (protobuf-numbers)', () => {
  it('reads int64, uint64 and sint64 as the double nearest the exact value, at every length', () => {
    for (const v of samples()) {
      expect(reader(varint(v)).int64()).toBe(Number(BigInt.asIntN(64, v)));
      expect(reader(varint(v)).uint64()).toBe(Number(BigInt.asUintN(64, v)));
      expect(reader(varint(zigzag(v))).sint64()).toBe(Number(v));
    }
  });

  it('reads a packed run to its end, the last values included, and leaves pos after each', () => {
    const values = [0n, 1000n, -1000n, 2n ** 40n, -(2n ** 62n), 7n, 1_700_000_000_000n];
    const bytes = values.flatMap((v) => varint(zigzag(v)));
    const r = reader(bytes);
    const read: number[] = [];
    while (r.pos < r.len) read.push(r.sint64());
    expect(read).toEqual(values.map(Number));
    expect(r.pos).toBe(bytes.length);
  });

  it('takes only the lowest bit of a tenth byte, as protobufjs does', () => {
    expect(reader([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]).uint64()).toBe(Number(2n ** 64n - 1n));
    expect(reader([0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x7e]).uint64()).toBe(0);
  });

  it('throws protobufjs own errors for a varint that runs past the end or past 10 bytes', () => {
    expect(() => reader([0x80, 0x80]).sint64()).toThrow(/index out of range/);
    expect(() => reader([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]).int64()).toThrow(/invalid varint encoding/);
    // A truncated varint right at the end of a longer buffer's field: the field's len bounds it.
    const r = reader([0x01, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80]);
    expect(r.int64()).toBe(1);
    r.len = 3;
    expect(() => r.int64()).toThrow(/index out of range/);
  });

  it('reads a packed sint64 field whole, after what the array held, and stops at its end', () => {
    const values = samples().slice(0, 300);
    const body = values.flatMap((v) => varint(zigzag(v)));
    const r = reader([...varint(BigInt(body.length)), ...body, 0x08, 0x01]);
    const read = r.sint64s([42]);
    expect(read).toEqual([42, ...values.map(Number)]);
    expect(read.length).toBe(values.length + 1);
    expect(r.pos).toBe(r.len - 2);
    expect(r.uint32()).toBe(8); // the next field's tag: len was restored
  });

  it('throws for a packed field longer than the bytes left or ending inside a varint', () => {
    expect(() => reader([5, 0x02, 0x04]).sint64s()).toThrow(/index out of range/);
    expect(() => reader([2, 0x02, 0x80, 0x01]).sint64s()).toThrow(/index out of range/);
  });
});
