import type { MqttClient } from 'mqtt';
import { connectDevice, encodeBatch, publishReliably } from './devices.js';
import type { InfluxRow } from './influxdb.js';

/** One window point as the test expects it. */
export interface ExpectedPoint {
  count: number;
  sum: number;
  min: number;
  max: number;
}

/**
 * A small fleet that publishes deterministic Series batches in lockstep rounds (every
 * device sends batch i before any sends i + 1, so no device falls behind the partition
 * watermark), QoS 1, re-sending a batch whose PUBACK does not come (after a crash, say):
 * the gateway may then see it twice, and the processors must count it once.
 */
export class LockstepFleet {
  readonly clients: MqttClient[] = [];
  rounds = 0;

  constructor(
    readonly ids: string[],
    readonly baseMs: number,
    readonly readingsPerBatch = 10,
    readonly stepMs = 100,
  ) {}

  /** Connects every device (mqtt.js reconnects by itself after a server restart). */
  async connect(url: string): Promise<void> {
    for (const id of this.ids) this.clients.push(await connectDevice(url, id, undefined, { username: undefined, reconnectPeriod: 100, clean: true }));
  }

  /** The value of reading j of batch i of device d. */
  value(d: number, i: number, j: number): number {
    return Math.round(10_000 * Math.sin(d * 7 + i * 0.37 + j)) / 100;
  }

  time(i: number, j: number): number {
    return this.baseMs + (i * this.readingsPerBatch + j) * this.stepMs;
  }

  private payload(d: number, i: number): Buffer {
    const n = this.readingsPerBatch;
    return encodeBatch({
      seq: i + 1,
      series: [{ metric: 'level', startUnixMs: this.time(i, 0), timeDeltaMs: Array.from({ length: n }, (_, j) => j * this.stepMs), values: Array.from({ length: n }, (_, j) => this.value(d, i, j)) }],
    });
  }

  private publishReliably(d: number, i: number): Promise<number> {
    return publishReliably(this.clients[d]!, `devices/${this.ids[d]}/telemetry`, this.payload(d, i), `${this.ids[d]} batch ${i}`);
  }

  /** Publishes rounds `from`..`rounds` − 1, pausing `pauseMs` between rounds; every `duplicateEvery`-th batch is sent twice. */
  async run(rounds: number, pauseMs: number, duplicateEvery = 0, from = 0): Promise<void> {
    for (let i = from; i < rounds; i++) {
      await Promise.all(
        this.ids.map(async (_, d) => {
          await this.publishReliably(d, i);
          if (duplicateEvery > 0 && (i + d) % duplicateEvery === 0) await this.publishReliably(d, i);
        }),
      );
      this.rounds = i + 1;
      if (pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, pauseMs));
    }
  }

  /** Expected (device/metric/windowStart) → aggregates for a tumbling window of `sizeMs`, computed plainly. */
  expected(rounds: number, sizeMs: number, into = new Map<string, ExpectedPoint>()): Map<string, ExpectedPoint> {
    this.ids.forEach((id, d) => {
      for (let i = 0; i < rounds; i++) {
        for (let j = 0; j < this.readingsPerBatch; j++) addExpected(into, `${id}/level/${Math.floor(this.time(i, j) / sizeMs) * sizeMs}`, this.value(d, i, j));
      }
    });
    return into;
  }

  /** Closes every client. */
  async close(): Promise<void> {
    await Promise.all(this.clients.map((c) => c.endAsync(true)));
  }
}

/** Adds one reading to the expected point under `key`. */
export function addExpected(points: Map<string, ExpectedPoint>, key: string, v: number): void {
  const p = points.get(key);
  if (!p) points.set(key, { count: 1, sum: v, min: v, max: v });
  else {
    p.count++;
    p.sum += v;
    p.min = Math.min(p.min, v);
    p.max = Math.max(p.max, v);
  }
}

/** Compares InfluxDB rows with the expected points: missing, extra and mismatched keys. */
export function comparePoints(rows: InfluxRow[], expected: Map<string, ExpectedPoint>): { missing: string[]; extra: string[]; mismatched: string[] } {
  const seen = new Set<string>();
  const extra: string[] = [];
  const mismatched: string[] = [];
  for (const row of rows) {
    const key = `${row.device}/${row.metric}/${row.time}`;
    seen.add(key);
    const want = expected.get(key);
    if (!want) {
      extra.push(key);
      continue;
    }
    const sum = row.sum as number;
    const sumOk = Math.abs(sum - want.sum) <= 1e-9 * Math.max(1, Math.abs(want.sum));
    if (row.count !== want.count || !sumOk || row.min !== want.min || row.max !== want.max) {
      mismatched.push(`${key}: count ${row.count} vs ${want.count}, sum ${sum} vs ${want.sum}, min ${row.min} vs ${want.min}, max ${row.max} vs ${want.max}`);
    }
  }
  const missing = [...expected.keys()].filter((k) => !seen.has(k));
  return { missing, extra, mismatched };
}
