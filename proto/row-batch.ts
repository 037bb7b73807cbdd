import type protobuf from 'protobufjs/minimal.js';
import { readColumnsOf, readMetric, type SeriesColumns } from './series-batch.js';

/**
 * A ReadingBatch of untagged double readings in row form (what a device that sends one
 * reading a message sends), read as the columns of readSeriesOnlyBatch: each Reading is a
 * Series of one value at delta 0 from its time, which the builder stores exactly as it
 * stores the reading (same columns, same order). The generated decoder made an object per
 * batch, per reading and per readings array: ~10 % of the gateway thread under the
 * single-reading load, where micro-batches are decoded on that thread.
 *
 * Only the plain shape is taken: field 1 (seq) at most once and first, then Readings
 * (field 2), each with metric, time and double_value at most once apiece and a
 * double_value present. Anything else (tags, int, bool or string values, Series, unknown
 * fields, repeats, truncation) returns undefined and the generated decoder reads the
 * payload, so every other form is read as before. Numbers are read by the same Reader
 * methods, so they are equal.
 */
export function readRowOnlyBatch(bytes: Uint8Array): SeriesColumns | undefined {
  return readColumnsOf(bytes, (2 << 3) | 2, readRow, true);
}

function readRow(r: protobuf.Reader, length: number, c: SeriesColumns): boolean {
  const end = r.pos + length;
  if (end > r.len) return false;
  let metric: string | undefined;
  let time: number | undefined;
  let value = 0;
  let hasValue = false;
  const outerLen = r.len;
  r.len = end;
  while (r.pos < end) {
    const tag = r.uint32();
    if (tag === ((1 << 3) | 2) && metric === undefined) {
      metric = readMetric(r);
    } else if (tag === ((2 << 3) | 0) && time === undefined) {
      time = r.int64() as unknown as number;
    } else if (tag === ((3 << 3) | 1) && !hasValue) {
      value = r.double();
      hasValue = true;
    } else {
      return false;
    }
  }
  if (r.pos !== end || !hasValue) return false;
  r.len = outerLen;
  const k = c.nextSeries();
  c.reserveDeltas(1);
  c.reserveValues(1);
  c.deltas[c.deltasUsed] = 0;
  c.deltaAt[k] = c.deltasUsed++;
  c.deltaCount[k] = 1;
  c.values[c.valuesUsed] = value;
  c.valueAt[k] = c.valuesUsed++;
  c.valueCount[k] = 1;
  c.metric[k] = metric ?? '';
  c.start[k] = time ?? 0;
  return true;
}
