import { compress, uncompress } from 'snappy';
import snappyjs from 'snappyjs';
import { SnappyBlockError } from '../core/index.js';
import { readUncompressedLength, uncompressInto } from './snappy-uncompress.js';

/**
 * Raw snappy blocks (the format of log records and checkpoint chunks), by two
 * implementations that write and read the same bytes:
 * - the native `snappy` addon's ASYNC API, off the JS thread (libuv threadpool), for
 *   blocks of ASYNC_FROM_BYTES and more;
 * - snappyjs (pure JS, on the calling thread) below that, and wherever the caller cannot
 *   await (the *Inline functions); uncompressing in JS is our own loop
 *   (proto/snappy-uncompress.ts), which refuses truncated blocks that snappyjs accepts.
 * Never `snappy`'s sync API (eslint forbids it): snappy 7.2–7.4's compressSync and
 * uncompressSync never free their buffers on glibc Linux (RSS grew ~570 MB every 4 000
 * round trips of 64 KB; upstream Brooooooklyn/snappy#323), while the async calls keep RSS
 * flat (test/snappy-rss.soak.test.ts).
 *
 * Why the split, from `npm run bench:snappy` (2 shared cores, real ColumnarBatch records,
 * medians of 5 interleaved rounds, MB/s of uncompressed bytes; snappyjs vs native async
 * one call at a time / two in flight):
 * - ~300 B record: compress 61 vs 7 / 10, uncompress 109 vs 9 / 14. The promise and the
 *   threadpool hop cost far more than the work: snappyjs stays.
 * - ~4 KB: compress 182 vs 103 / 119, uncompress 291 vs 140 / 171: snappyjs stays.
 * - ~16 KB: compress 157 vs 161 / 620, uncompress 241 vs 409 / 422: native from here.
 * - ~64 KB and 1 MiB records, 1 MiB checkpoint chunks: native 1.1–4× the MB/s, at about
 *   half the process CPU, and the calling thread is busy a tenth as long (checkpoint chunk
 *   compress: 254 vs 621 MB/s, 3.9 vs 0.5 main-thread s/GB).
 */

/** From this many uncompressed bytes a block goes to native snappy's async API; below it snappyjs is faster (bench:snappy, above). */
export const ASYNC_FROM_BYTES = 16 * 1024;

/** Snappy-compresses one block: large ones off the JS thread, small ones here. */
export async function compressBlock(bytes: Uint8Array): Promise<Uint8Array> {
  return bytes.byteLength >= ASYNC_FROM_BYTES ? compress(bytes) : snappyjs.compress(bytes);
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

/** snappyjs on the calling thread: for callers that must not await (and tests). */
export function compressBlockInline(bytes: Uint8Array): Uint8Array {
  return snappyjs.compress(bytes);
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
