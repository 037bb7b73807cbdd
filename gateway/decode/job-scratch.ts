/**
 * decodeJob's per-message working arrays, kept from job to job, and its result's typed
 * arrays carved from one buffer. A new typed array past 64 bytes costs 0.7–2 µs here
 * whatever its size (an ArrayBuffer of its own), and a job made thirteen of them: ~10 %
 * of a 400-message single-reading job, decoded on the gateway thread.
 */
export class JobScratch {
  status = new Uint8Array(0);
  readings = new Uint32Array(0);
  msgPartitionIndex = new Uint32Array(0);
  /** Where each accepted message's metric ids and series hashes lie in decode order, and how many. */
  metricsAt = new Uint32Array(0);
  metricsCount = new Uint32Array(0);
  seriesAt = new Uint32Array(0);
  seriesCount = new Uint32Array(0);
  /** Job string index → builder string index, valid for the partition in internedIn (−1: none). */
  internedAs = new Uint32Array(0);
  internedIn = new Int32Array(0);

  /** Room for a job of `messages` messages and `strings` strings, with no string interned yet. */
  prepare(messages: number, strings: number): void {
    if (messages > this.status.length) {
      const size = Math.max(messages, this.status.length * 2);
      this.status = new Uint8Array(size);
      this.readings = new Uint32Array(size);
      this.msgPartitionIndex = new Uint32Array(size);
      this.metricsAt = new Uint32Array(size);
      this.metricsCount = new Uint32Array(size);
      this.seriesAt = new Uint32Array(size);
      this.seriesCount = new Uint32Array(size);
    }
    if (strings > this.internedAs.length) {
      const size = Math.max(strings, this.internedAs.length * 2);
      this.internedAs = new Uint32Array(size);
      this.internedIn = new Int32Array(size);
    }
    this.internedIn.fill(-1, 0, strings);
  }

  /** Drops arrays grown past `keep` entries (one huge job must not pin its arrays for the life of the thread). */
  shrink(keep: number): void {
    if (this.status.length > keep) this.release();
    if (this.internedAs.length > keep) {
      this.internedAs = new Uint32Array(0);
      this.internedIn = new Int32Array(0);
    }
  }

  private release(): void {
    this.status = new Uint8Array(0);
    this.readings = new Uint32Array(0);
    this.msgPartitionIndex = new Uint32Array(0);
    this.metricsAt = new Uint32Array(0);
    this.metricsCount = new Uint32Array(0);
    this.seriesAt = new Uint32Array(0);
    this.seriesCount = new Uint32Array(0);
  }
}

/** A DecodeResult's typed arrays for `n` messages, `metrics` metric ids, `series` series hashes and `partitions` partitions, as views of one new buffer. */
export function resultArrays(n: number, metrics: number, series: number, partitions: number) {
  const words = 4 * n + metrics + series + partitions;
  const buffer = new ArrayBuffer(4 * words + n);
  let at = 0;
  const u32 = (length: number): Uint32Array<ArrayBuffer> => {
    const view = new Uint32Array(buffer, at * 4, length);
    at += length;
    return view;
  };
  return {
    readings: u32(n),
    msgPartitionIndex: u32(n),
    msgMetricsEnd: u32(n),
    msgSeriesEnd: u32(n),
    msgMetrics: u32(metrics),
    msgSeries: u32(series),
    partitions: u32(partitions),
    status: new Uint8Array(buffer, 4 * words, n),
  };
}
