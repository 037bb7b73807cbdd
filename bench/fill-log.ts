/** Log records for the processor benchmarks: devices × 5 metrics, in one partition. */
import type { FileLog } from '../log/index.js';
import { ColumnarBatchBuilder, compressBatch } from '../proto/index.js';

export const METRICS = ['temperature', 'humidity', 'pressure', 'vibration', 'voltage'];
/** Event time of the first reading: one fixed window start, so later rounds land in the same windows. */
const START = Math.floor(Date.now() / 10_000) * 10_000 - 3_600_000;

/**
 * How the values spread: `wide` is sin of small integers (uniform over [−1, 1], a window's
 * sketch spans ~150 bins per sign: the sketches' worst case), `narrow` 20 ± 2 (a few bins,
 * as a steady sensor's).
 */
export type ValueShape = 'wide' | 'narrow';

/**
 * Appends records of `devicesPerBatch` devices × 5 metrics × `readingsPerSeries` readings
 * each (10 ms apart), for `rounds` rounds from `firstRound`, each round `roundMs` of event
 * time after the one before (1 s: ten rounds stay in one 10 s window; 10 s: every round
 * opens new windows and closes old ones).
 */
export async function fill(log: FileLog, devices: number, devicesPerBatch: number, readingsPerSeries: number, rounds: number, firstRound = 0, shape: ValueShape = 'wide', roundMs = 1000): Promise<number> {
  const scale = shape === 'wide' ? 1 : 2;
  const base = shape === 'wide' ? 0 : 20;
  const start = START;
  let total = 0;
  for (let round = firstRound; round < firstRound + rounds; round++) {
    const seq = round + 1;
    for (let first = 0; first < devices; first += devicesPerBatch) {
      const b = new ColumnarBatchBuilder(0, start);
      for (let d = first; d < Math.min(devices, first + devicesPerBatch); d++) {
        b.beginMessage(b.intern(`device-${d}`), 0, seq);
        for (const metric of METRICS) {
          const m = b.intern(metric);
          for (let r = 0; r < readingsPerSeries; r++) b.addNumeric(m, 0, start + round * roundMs + r * 10, base + scale * Math.sin(d + r + round));
        }
        total += METRICS.length * readingsPerSeries;
      }
      await log.append(0, compressBatch(b.encode()));
    }
  }
  return total;
}
