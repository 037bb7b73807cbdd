import { StateCorruptError } from '../errors.js';

/**
 * A growable little-endian byte buffer for snapshots. One writer serves a whole
 * operator snapshot, so a million accumulators cost one buffer, not a million.
 */
export class ByteWriter {
  private buf: Buffer;
  private view: DataView;
  private at = 0;

  constructor(capacity = 1024) {
    this.buf = Buffer.allocUnsafe(capacity);
    this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.byteLength);
  }

  /** Bytes written so far. */
  get length(): number {
    return this.at;
  }

  private ensure(n: number): void {
    if (this.at + n <= this.buf.byteLength) return;
    let size = this.buf.byteLength * 2;
    while (size < this.at + n) size *= 2;
    const next = Buffer.allocUnsafe(size);
    this.buf.copy(next, 0, 0, this.at);
    this.buf = next;
    this.view = new DataView(next.buffer, next.byteOffset, next.byteLength);
  }

  /** Writes one byte. */
  u8(v: number): void {
    this.ensure(1);
    this.buf[this.at++] = v;
  }

  /** Writes an unsigned 16-bit integer. */
  u16(v: number): void {
    this.ensure(2);
    this.view.setUint16(this.at, v, true);
    this.at += 2;
  }

  /** Overwrites an unsigned 32-bit integer written earlier at `at` (a length known only later). */
  patchU32(at: number, v: number): void {
    if (at < 0 || at + 4 > this.at) throw new RangeError(`patch at ${at} of ${this.at} bytes`);
    this.view.setUint32(at, v, true);
  }

  /** Writes an unsigned 32-bit integer. */
  u32(v: number): void {
    this.ensure(4);
    this.view.setUint32(this.at, v, true);
    this.at += 4;
  }

  /** Writes a float64 (exact for every number, including ±Infinity and NaN). */
  f64(v: number): void {
    this.ensure(8);
    this.view.setFloat64(this.at, v, true);
    this.at += 8;
  }

  /** Writes a protobuf-style unsigned varint (0 ≤ v ≤ 2^53 − 1). */
  varint(v: number): void {
    this.ensure(8);
    while (v >= 0x80) {
      this.buf[this.at++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.at++] = v;
  }

  /** Writes a zigzag-encoded signed 32-bit varint (protobuf sint32). */
  sint32(v: number): void {
    this.varint(((v << 1) ^ (v >> 31)) >>> 0);
  }

  /** Writes raw bytes. */
  bytes(b: Uint8Array): void {
    this.ensure(b.byteLength);
    this.buf.set(b, this.at);
    this.at += b.byteLength;
  }

  /** Copies bytes [from, to) of what `r` reads (a window kept as snapshot bytes since a restore), without a view or a decode. */
  copyFrom(r: ByteReader, from: number, to: number): void {
    const n = to - from;
    this.ensure(n);
    r.copyTo(this.buf, this.at, from, to);
    this.at += n;
  }

  /** Writes a UTF-8 string with a varint byte length in front. */
  string(s: string): void {
    const n = Buffer.byteLength(s, 'utf8');
    this.varint(n);
    this.ensure(n);
    this.at += this.buf.write(s, this.at, 'utf8');
  }

  /**
   * The written bytes. Small outputs are copied (a small writer's buffer comes from
   * Node's shared Buffer pool); large ones are a view over the writer's own buffer, since
   * copying a 400 MB snapshot costs as much again in fresh pages (at most 2× kept alive).
   */
  finish(): Uint8Array {
    return this.at < 65_536 ? new Uint8Array(this.buf.subarray(0, this.at)) : this.buf.subarray(0, this.at);
  }
}

/** Byte length of `v` as an unsigned varint. */
export function varintLength(v: number): number {
  let n = 1;
  while (v >= 0x80) {
    v = Math.floor(v / 0x80);
    n++;
  }
  return n;
}

/** Reads what ByteWriter wrote; every read is bounds-checked and throws StateCorruptError. */
export class ByteReader {
  private readonly view: DataView;
  /** The same bytes as a Buffer, made once: a Buffer per string read was most of a restore's garbage. */
  private readonly buf: Buffer;
  at = 0;

  constructor(
    readonly bytes: Uint8Array,
    private readonly what = 'state',
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    this.buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** True when every byte has been read. */
  get done(): boolean {
    return this.at === this.bytes.byteLength;
  }

  /** Throws StateCorruptError naming what was being read. */
  fail(message: string): never {
    throw new StateCorruptError(`${this.what} is corrupt at byte ${this.at}: ${message}`);
  }

  private need(n: number): void {
    if (this.at + n > this.bytes.byteLength) this.fail(`needs ${n} more bytes, has ${this.bytes.byteLength - this.at}`);
  }

  /** Reads one byte. */
  u8(): number {
    this.need(1);
    return this.bytes[this.at++]!;
  }

  /** Reads an unsigned 32-bit integer. */
  u32(): number {
    this.need(4);
    const v = this.view.getUint32(this.at, true);
    this.at += 4;
    return v;
  }

  /** Reads a float64. */
  f64(): number {
    this.need(8);
    const v = this.view.getFloat64(this.at, true);
    this.at += 8;
    return v;
  }

  /** Reads an unsigned varint of at most 53 bits. */
  varint(): number {
    let v = 0;
    let scale = 1;
    for (let i = 0; i < 8; i++) {
      const b = this.u8();
      v += (b & 0x7f) * scale;
      if (b < 0x80) return v;
      scale *= 0x80;
    }
    return this.fail('varint longer than 8 bytes');
  }

  /** Reads a zigzag-encoded sint32. */
  sint32(): number {
    const z = this.varint();
    if (z > 0xffffffff) this.fail('sint32 out of range');
    return (z >>> 1) ^ -(z & 1);
  }

  /** Returns the next n bytes as a view (no copy). */
  bytesView(n: number): Uint8Array {
    this.need(n);
    const out = this.bytes.subarray(this.at, this.at + n);
    this.at += n;
    return out;
  }

  /** Skips n bytes (bounds-checked). */
  skip(n: number): void {
    this.need(n);
    this.at += n;
  }

  /** Copies bytes [from, to) into `target` at `targetAt` (ByteWriter.copyFrom). */
  copyTo(target: Buffer, targetAt: number, from: number, to: number): void {
    if (from < 0 || to > this.bytes.byteLength || from > to) throw new RangeError(`copy of [${from}, ${to}) from ${this.bytes.byteLength} bytes`);
    if (to - from <= 64) {
      // a native call costs more than a short loop
      const src = this.bytes;
      for (let i = from; i < to; i++) target[targetAt++] = src[i]!;
    } else {
      this.buf.copy(target, targetAt, from, to);
    }
  }

  /** Reads a varint-length-prefixed UTF-8 string. */
  string(): string {
    const n = this.varint();
    this.need(n);
    const s = this.buf.toString('utf8', this.at, this.at + n);
    this.at += n;
    return s;
  }

  /** Throws unless every byte was consumed (trailing garbage means a corrupt or mismatched snapshot). */
  end(): void {
    if (!this.done) this.fail(`${this.bytes.byteLength - this.at} trailing bytes`);
  }
}
