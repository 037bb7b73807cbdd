/**
 * The native `snappy` addon is used through its async API only, because its sync API
 * never frees its buffers on glibc Linux (Brooooooklyn/snappy#323: RSS grew ~570 MB every
 * 4 000 round trips of 64 KB). This soak does 20 000 round trips of a 64 KB log record
 * through proto/snappy-block.ts (64 KB is past ASYNC_FROM_BYTES: the native path) and
 * fails if RSS grows by more than GROWTH_MB: the leaking sync API passes that within
 * ~2 000 round trips.
 */
import { expect, it } from 'vitest';
import { ASYNC_FROM_BYTES, ColumnarBatchBuilder, compressBlocks, uncompressBlocks } from '../proto/index.js';

const ROUND_TRIPS = 20_000;
const WARM_UP = 2_000;
/** Blocks per batched call, as the decode worker makes them (2 native calls in flight). */
const FAN_OUT = 16;
/** RSS may grow this much after the warm-up (heap and allocator slack), and no more. */
const GROWTH_MB = 250;

/** An encoded ColumnarBatch of about 64 KB: a large log record (140 devices × 3 metrics × 10 readings in batch version 3's runs). */
function record(): Uint8Array {
  const b = new ColumnarBatchBuilder(0, 1_700_000_000_000);
  for (let d = 0; d < 140; d++) {
    b.beginMessage(b.intern(`device-${d}`), 0, d + 1);
    for (const metric of ['temperature', 'humidity', 'pressure']) {
      const m = b.intern(metric);
      for (let r = 0; r < 10; r++) b.addNumeric(m, 0, 1_700_000_000_000 + r * 1000, Math.sin(d + r) * 20);
    }
  }
  return b.encode();
}

const rssMb = (): number => process.memoryUsage.rss() / 2 ** 20;

it(`keeps RSS flat over ${ROUND_TRIPS.toLocaleString('en')} async round trips of a 64 KB record through native snappy`, { timeout: 120_000 }, async () => {
  const bytes = record();
  expect(bytes.byteLength).toBeGreaterThanOrEqual(Math.max(ASYNC_FROM_BYTES, 60_000));
  expect(bytes.byteLength).toBeLessThan(70_000);
  const inputs = Array.from({ length: FAN_OUT }, () => bytes);
  let baseline = 0;
  let peak = 0;
  for (let done = 0; done < WARM_UP + ROUND_TRIPS; done += FAN_OUT) {
    const back = await uncompressBlocks(await compressBlocks(inputs), bytes.byteLength);
    expect(back[FAN_OUT - 1]!.byteLength).toBe(bytes.byteLength);
    if (done + FAN_OUT >= WARM_UP && baseline === 0) baseline = rssMb();
    peak = Math.max(peak, rssMb());
  }
  expect(peak - baseline, `RSS ${baseline.toFixed(0)} MB after the warm-up, peak ${peak.toFixed(0)} MB`).toBeLessThan(GROWTH_MB);
});
