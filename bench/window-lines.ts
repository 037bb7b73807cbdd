/**
 * `npm run bench:window-lines`: the cost of writing fired windows as line protocol into the
 * sink's buffer, point objects (encodePoint(windowPoint(w))) against WindowLines, on the
 * fleet's keys (10 000 devices × 5 metrics × 2 windows, 11 fields a point), with a flush
 * (a fresh buffer) every 5 000 points. CPU is the process's, the garbage collector's
 * threads included.
 */
import { windowPoint } from '../processors/points.js';
import { encodePoint, type EncodedPoint } from '../processors/sink/index.js';
import { WindowLines } from '../processors/window-lines.js';
import type { FiredWindow } from '../processors/windowing/fired-window.js';

const DEVICES = Array.from({ length: 10_000 }, (_, i) => `fleet-${String(i).padStart(5, '0')}`);
const METRICS = ['temp', 'hum', 'press', 'vib', 'volt'];
const WINDOWS = ['telemetry_10s', 'telemetry_1m'];
const ROUNDS = 10;

/** Every key's window of one round, with values of full precision, as a fleet's sums and means are. */
function* round(r: number): Generator<FiredWindow> {
  let x = r * 7919 + 1;
  const next = (): number => (x = (x * 16807) % 2147483647) / 21474836.47;
  for (const window of WINDOWS) {
    for (const device of DEVICES) {
      for (const metric of METRICS) {
        const v = next();
        yield {
          window, device, metric, deviceTags: '', readingTags: '', start: 1_700_000_000_000 + r * 10_000, end: 1_700_000_000_000 + (r + 1) * 10_000,
          result: { count: 50, sum: v * 50, min: v - next() / 30, max: v + next() / 30, mean: v, first: v - 1.3, last: v + 0.9, stddev: next() / 70, p50: v + 0.01, p90: v + 2, p99: v + 2.6 },
        };
      }
    }
  }
}

function run(label: string, encode: (w: FiredWindow) => EncodedPoint): void {
  let buffer = new Map<string, { value: string }>();
  let points = 0;
  const cpu = process.cpuUsage();
  const started = performance.now();
  for (let r = 0; r < ROUNDS; r++) {
    for (const w of round(r)) {
      const { line, key } = encode(w);
      buffer.set(key, { value: line });
      points++;
      if (buffer.size >= 5000) buffer = new Map();
    }
  }
  const wall = performance.now() - started;
  const used = process.cpuUsage(cpu);
  console.log(`${label}: ${points} points, ${((wall * 1e6) / points).toFixed(0)} ns a point, ${(((used.user + used.system) * 1e3) / points).toFixed(0)} ns of CPU a point`);
}

for (let i = 0; i < 3; i++) {
  run('point objects (encodePoint(windowPoint(w)))', (w) => encodePoint(windowPoint(w)));
  const lines = new WindowLines();
  run('WindowLines', (w) => lines.encode(w));
}
