import { keyGroupOf } from '../../routing/index.js';
import type { PlannedMessage } from '../fleet-plan.js';

/** How much event time the episodes cover, ms. */
export const EPISODES_LENGTH_MS = 400_000;
/** The episodes end at least this long before they are sent, so no reading is near the gateway's clock. */
const END_MARGIN_MS = 10_000;
/** One message a second per device, each reading stamped half a second into its second (clear of window edges). */
const SECOND = 1000;

/** A device of the episodes: its id, what it is for, and the metrics it reports (PlannedMessage.metric indexes them). */
export interface EpisodeDevice {
  id: string;
  role: 'machine' | 'pump' | 'meter' | 'neighbour' | 'coldroom';
  metrics: string[];
}

/** A level for seconds [from, to) of the episode, or a function of the second. */
type Profile = (second: number) => number | undefined;

/** ±0.2 around a level, period 5 s: a whole window averages exactly the level. */
const wiggle = (i: number): number => ((i % 5) - 2) * 0.1;
const round2 = (v: number): number => Math.round(v * 100) / 100;

/**
 * The anomalies `sluice simulate --anomalies` injects (issue 16, item 6): a few devices
 * whose readings make each kind of rule in rules.example.yaml fire and resolve once, as
 * a pure function of the run tag (ids) and the base time. They cover EPISODES_LENGTH_MS of
 * event time that ends before the run starts (backfilled, like a device sending its
 * history: well within time.maxBackfill), so the default 10 s run is enough; second i of
 * the episode is base + i s. With 10 s windows from the base (aligned to a minute):
 *
 * - machine-<tag> (temperature, overheating: mean > 80 for 3 windows, clear < 75): hot
 *   windows 0–1, no readings in window 2 (breaks the run), hot 3–4, normal 5; hot 6–8
 *   fires at base + 90 s; 78 °C in windows 9–10 (between the limits: still firing);
 *   70 °C in window 11 resolves at base + 120 s.
 * - pump-<tag> (pressure, pressure-drop: rate of the mean over 1 m < −0.5/s): 100 kPa,
 *   falling 1.5 kPa/s over seconds 120–149 to 55: fires at base + 150 s (−0.64/s), resolves
 *   at base + 200 s (−0.36/s); it climbs back from second 240.
 * - meter-<tag> (voltage, silent: no reading for 2 m): one reading a second, silent over
 *   seconds 150–329: fires dated its last reading + 2 m (base + 269.5 s), resolved by the
 *   reading at base + 330.5 s. Absence is judged on the partition's watermark, so
 *   meter-<tag>-n<k> (humidity, one reading a second throughout) is a device of the same
 *   partition (key group) that keeps its event time moving; the sender waits for every
 *   PUBACK between 10 s slices, so its readings are in the log before the meter returns.
 * - coldroom-<tag> (door, temperature; door-open-then-warm: door max ≥ 1 then mean > 8
 *   within 5 m): warm window 3 without a door (no alert), door opened at second 312
 *   (window 31), windows 33–35 at 9.5 °C: fires at base + 340 s, resolves at base + 370 s.
 *
 * Every device ends at base + 400 s, and falls silent then: silent fires for each at its
 * last reading + 2 m, within runs longer than about 2 minutes. Every 13th message is sent
 * twice with the same seq (the processors count it once); no reading is out of order.
 */
export class AnomalyPlan {
  readonly devices: EpisodeDevice[];
  /** Event time of second 0, ms: a whole minute, EPISODES_LENGTH_MS + at least 10 s before `nowMs`. */
  readonly baseMs: number;
  readonly seqBase: number;

  constructor(runTag: string, partitions: number, nowMs: number) {
    this.baseMs = Math.floor((nowMs - END_MARGIN_MS - EPISODES_LENGTH_MS) / 60_000) * 60_000;
    this.seqBase = Math.floor(nowMs / 1000) * 1_000_000;
    const meter = `meter-${runTag}`;
    this.devices = [
      { id: `machine-${runTag}`, role: 'machine', metrics: ['temperature'] },
      { id: `pump-${runTag}`, role: 'pump', metrics: ['pressure'] },
      { id: meter, role: 'meter', metrics: ['voltage'] },
      { id: neighbourOf(meter, partitions), role: 'neighbour', metrics: ['humidity'] },
      { id: `coldroom-${runTag}`, role: 'coldroom', metrics: ['temperature', 'door'] },
    ];
  }

  /** Every message of every device, in event-time order (device order within a second); k counts each device's messages. */
  messages(): PlannedMessage[] {
    const out: PlannedMessage[] = [];
    const sent = new Array<number>(this.devices.length).fill(0);
    for (let i = 0; i < EPISODES_LENGTH_MS / SECOND; i++) {
      this.devices.forEach((dev, d) => {
        const values = dev.metrics.map((_, m) => PROFILES[dev.role][m]!(i));
        const present = values.flatMap((v, m) => (v === undefined ? [] : [[m, round2(v)] as const]));
        if (present.length === 0) return;
        const k = sent[d]!++;
        const t = this.baseMs + i * SECOND + SECOND / 2;
        out.push({
          device: d,
          k,
          seq: this.seqBase + k + 1,
          metric: Uint8Array.from(present.map(([m]) => m)),
          time: new Float64Array(present.length).fill(t),
          value: Float64Array.from(present.map(([, v]) => v)),
          duplicate: k % 13 === 12,
          malformed: undefined,
        });
      });
    }
    return out;
  }
}

const between = (i: number, from: number, to: number): boolean => i >= from && i < to;

/** Per role, per metric (in EpisodeDevice.metrics order): the value at second i, or undefined for no reading. */
const PROFILES: Record<EpisodeDevice['role'], Profile[]> = {
  machine: [
    (i) => {
      if (between(i, 20, 30)) return undefined;
      if (between(i, 0, 50)) return 84 + wiggle(i);
      if (between(i, 60, 90)) return 85 + wiggle(i);
      if (between(i, 90, 110)) return 78 + wiggle(i);
      if (between(i, 110, 120)) return 70 + wiggle(i);
      return 60 + wiggle(i);
    },
  ],
  pump: [
    (i) => {
      if (between(i, 120, 150)) return 100 - 1.5 * (i - 119);
      if (between(i, 150, 240)) return 55;
      if (between(i, 240, 300)) return 55 + 0.75 * (i - 239);
      return 100;
    },
  ],
  meter: [(i) => (between(i, 150, 330) ? undefined : 230 + wiggle(i))],
  neighbour: [(i) => 40 + wiggle(i)],
  coldroom: [
    (i) => (between(i, 30, 40) ? 9 : between(i, 330, 360) ? 9.5 : 4) + wiggle(i),
    (i) => (i === 312 ? 1 : 0),
  ],
};

/** The first id `<id>-n<k>` in the same key group (log partition) as `id`. */
export function neighbourOf(id: string, partitions: number): string {
  const group = keyGroupOf(id, partitions);
  for (let k = 1; ; k++) if (keyGroupOf(`${id}-n${k}`, partitions) === group) return `${id}-n${k}`;
}
