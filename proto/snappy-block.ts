import { compress, uncompress } from 'snappy';
import { SnappyBlockError } from '../core/index.js';
import { snappyCompress } from './snappy-compress.js';
import { readUncompressedLength, uncompressInto } from './snappy-uncompress.js';

/**
 * Raw snappy blocks (the format of log records and checkpoint chunks), by two
 * implementations that write and read the same bytes:
 * - the native `snappy` addon's ASYNC API, off the JS thread (libuv threadpool), for
 *   blocks of ASYNC_FROM_BYTES and more;
 * - our own JS on the calling thread below that, and wherever the caller cannot await
 *   (the *Inline functions): proto/snappy-compress.ts and proto/snappy-uncompress.ts
 *   (which refuses truncated blocks that snappyjs accepts).
 * Never `snappy`'s sync API (eslint forbids it): snappy 7.2–7.4's compressSync and
 * uncompressSync never free their buffers on glibc Linux (RSS grew ~570 MB every 4 000
 * round trips of 64 KB; upstream Brooooooklyn/snappy#323), while the async calls keep RSS
 * flat (test/snappy-rss.soak.test.ts).
 *
 * Why the split, from `npm run bench:snappy` (2 shared cores, real ColumnarBatch records,
 * medians of 5 interleaved rounds, MB/s of uncompressed bytes; compress, ours vs snappyjs
 * vs native async one call at a time / two in flight, 2026-12-06):
 * - ~300 B record: 92 vs 78 vs 8 / 11. The promise and the threadpool hop cost far more
 *   than the work.
 * - ~4 KB: 400 vs 210 vs 94 / 144.
 * - ~16 KB and ~64 KB records: 939 and 993 vs 267 and 319 vs at most 337 and 877.
 * - 1 MiB blocks: a record 1 261 vs 324 vs 1 342 / 677, a checkpoint chunk 800 vs 307 vs
 *   405 / 1 239; native keeps the calling thread busy a fifth as long (checkpoint chunk:
 *   0.22–0.25 main-thread s/GB against 1.25 for ours), so a checkpoint does not stall the
 *   processors. So from 16 KB, native; the decode worker, whose records are mostly
 *   16–100 KB, compresses in JS all the same (proto/compressed-batch.ts says why).
 * Uncompressing in JS ran at 81–605 MB/s, native at 8–1 334.
 */

/** From this many uncompressed bytes a block goes to native snappy's async API: off the calling thread, where a checkpoint's chunks must go (above). */
export const ASYNC_FROM_BYTES = 16 * 1024;

/** Snappy-compresses one block: large ones off the JS thread, small ones here. */
export async function compressBlock(bytes: Uint8Array): Promise<Uint8Array> {
  return bytes.byteLength >= ASYNC_FROM_BYTES ? compress(bytes) : snappyCompress(bytes);
}

/**
 * Native calls one batched call keeps in flight. The libuv threadpool (4 threads unless
 * UV_THREADPOOL_SIZE says otherwise) is the process's: the log's writes and fsyncs and
 * scrypt run there too, and must not queue behind a job's worth of blocks. Two also keep
 * both cores of a small machine busy.
 */
const IN_FLIGHT = 2;

/** Compresses every block (results in input order) with one promise for the lot, not one per block awaited in turn. */
export function compressBlocks(blocks: readonly Uint8Array[]): Promise<Uint8Array[]> {
  return mapInOrder(blocks, compressBlock);
}

/**
 * Uncompresses one block whose header claims at most `maxLength` bytes (checked before
 * anything is allocated: a corrupt block must not make us allocate its claimed length).
 */
export async function uncompressBlock(block: Uint8Array, maxLength: number): Promise<Uint8Array> {
  const length = uncompressedLength(block);
  if (length > maxLength) throw new SnappyBlockError(`snappy block claims ${length} bytes, more than the ${maxLength} allowed`);
  if (length < ASYNC_FROM_BYTES) return uncompressBlockInline(block, maxLength);
  let out: Buffer;
  try {
    out = (await uncompress(block, { asBuffer: true })) as Buffer;
  } catch (err) {
    throw new SnappyBlockError(`snappy block does not uncompress: ${(err as Error).message}`, { cause: err });
  }
  if (out.byteLength !== length) throw new SnappyBlockError(`snappy block gave ${out.byteLength} bytes, its header says ${length}`);
  return out;
}

/** Uncompresses every block (results in input order) with one promise for the lot. */
export function uncompressBlocks(blocks: readonly Uint8Array[], maxLength: number): Promise<Uint8Array[]> {
  return mapInOrder(blocks, (b) => uncompressBlock(b, maxLength));
}

/** Runs `f` over the blocks with at most IN_FLIGHT calls pending (small blocks finish at once, on this thread); results in input order. */
async function mapInOrder(blocks: readonly Uint8Array[], f: (b: Uint8Array) => Promise<Uint8Array>): Promise<Uint8Array[]> {
  const out = new Array<Uint8Array>(blocks.length);
  let next = 0;
  const lane = async (): Promise<void> => {
    for (let i = next++; i < blocks.length; i = next++) out[i] = await f(blocks[i]!);
  };
  await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, blocks.length) }, lane));
  return out;
}

/** Compresses on the calling thread (proto/snappy-compress.ts): for callers that must not await (and tests). */
export function compressBlockInline(bytes: Uint8Array): Uint8Array {
  return snappyCompress(bytes);
}

/** Uncompresses on the calling thread (proto/snappy-uncompress.ts), refusing a block that claims more than `maxLength` bytes or does not fill them exactly. */
export function uncompressBlockInline(block: Uint8Array, maxLength: number): Uint8Array {
  const header = readUncompressedLength(block);
  if (header === undefined) throw new SnappyBlockError('snappy block has no valid length header');
  if (header.length > maxLength) throw new SnappyBlockError(`snappy block claims ${header.length} bytes, more than the ${maxLength} allowed`);
  const out = Buffer.alloc(header.length);
  if (!uncompressInto(block, header.at, out)) throw new SnappyBlockError(`snappy block does not uncompress to the ${header.length} bytes it claims: truncated or corrupt`);
  return out;
}

/** The uncompressed length a raw snappy block starts with (a little-endian base-128 varint of at most 32 bits). */
export function uncompressedLength(block: Uint8Array): number {
  const header = readUncompressedLength(block);
  if (header === undefined) throw new SnappyBlockError('snappy block has no valid length header');
  return header.length;
}
