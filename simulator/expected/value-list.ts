/**
 * The readings a window holds until it is final, in float64 chunks taken from a pool and
 * given back when the window is final: millions of short-lived values then cost no
 * garbage collection and no copying as a list grows. The pool keeps what it was given,
 * so its size is the peak of values held at once. Chunks grow 32, 256, then 2048
 * values, so a list of n values wastes at most ~2048 or 8× n slots.
 */
const CLASSES = [32, 256, 2048] as const;

/** New chunks are cut from slabs of this many values (1 MB): one typed-array allocation per slab, not per chunk. */
const SLAB = 131_072;

export class ChunkPool {
  private readonly free: Float64Array[][] = CLASSES.map(() => []);
  private slab = new Float64Array(0);
  private slabUsed = 0;

  take(sizeClass: number): Float64Array {
    const reused = this.free[sizeClass]!.pop();
    if (reused !== undefined) return reused;
    const size = CLASSES[sizeClass]!;
    if (this.slabUsed + size > this.slab.length) {
      this.slab = new Float64Array(SLAB);
      this.slabUsed = 0;
    }
    this.slabUsed += size;
    return this.slab.subarray(this.slabUsed - size, this.slabUsed);
  }

  give(chunk: Float64Array): void {
    const c = chunk.length === CLASSES[0] ? 0 : chunk.length === CLASSES[1] ? 1 : 2;
    this.free[c]!.push(chunk);
  }
}

export class ValueList {
  private readonly chunks: Float64Array[] = [];
  /** The chunk being filled and how many of its slots are used. */
  private current: Float64Array | undefined;
  private used = 0;
  length = 0;

  constructor(private readonly pool: ChunkPool) {}

  push(v: number): void {
    let c = this.current;
    if (c === undefined || this.used === c.length) {
      c = this.current = this.pool.take(Math.min(this.chunks.length, CLASSES.length - 1));
      this.chunks.push(c);
      this.used = 0;
    }
    c[this.used++] = v;
    this.length++;
  }

  /** Appends every value of `other` (which stays as it is). */
  pushAll(other: ValueList): void {
    other.forEachChunk((chunk, n) => {
      for (let i = 0; i < n; i++) this.push(chunk[i]!);
    });
  }

  /** Copies the values into `target` from `offset`. */
  copyTo(target: Float64Array, offset: number): void {
    let at = offset;
    this.forEachChunk((chunk, n) => {
      target.set(n === chunk.length ? chunk : chunk.subarray(0, n), at);
      at += n;
    });
  }

  /** Gives the chunks back to the pool; the list is empty afterwards. */
  release(): void {
    for (const c of this.chunks) this.pool.give(c);
    this.chunks.length = 0;
    this.current = undefined;
    this.used = 0;
    this.length = 0;
  }

  private forEachChunk(f: (chunk: Float64Array, n: number) => void): void {
    const last = this.chunks.length - 1;
    for (let i = 0; i <= last; i++) f(this.chunks[i]!, i === last ? this.used : this.chunks[i]!.length);
  }
}

/** A reusable Float64Array of at least the asked length. */
export class Scratch {
  private buffer = new Float64Array(256);

  /** A view of `n` values, valid until the next call. */
  take(n: number): Float64Array {
    if (this.buffer.length < n) this.buffer = new Float64Array(Math.max(n, 2 * this.buffer.length));
    return this.buffer.subarray(0, n);
  }
}
