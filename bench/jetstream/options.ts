/**
 * The bench's knobs, from the environment (the other `npm run bench:*` scripts take
 * theirs the same way). The defaults keep a run of all three set-ups near 5 minutes.
 */
import { SETUP_NAMES, type SetupName } from './setups.js';

/** What one run of the bench offers. */
export interface JetStreamBenchOptions {
  /** Offered readings/s of the ramp's steps, ascending; the ramp stops at the first step that fails. */
  rates: number[];
  stepMs: number;
  /** A discarded run at the first rate before the ramp: fresh processes (JIT, worker threads, stream creation) should not decide step 1. */
  warmUpMs: number;
  /** Simulated devices (MQTT connections). */
  devices: number;
  setups: SetupName[];
}

const list = (v: string | undefined): string[] | undefined => v?.split(',').map((s) => s.trim()).filter((s) => s !== '');

/** Reads BENCH_RATES ("100000,200000,400000"), BENCH_STEP_SECONDS (10), BENCH_WARMUP_SECONDS (3), BENCH_DEVICES (200) and BENCH_SETUPS (all three). */
export function benchOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): JetStreamBenchOptions {
  const rates = (list(env.BENCH_RATES) ?? ['100000', '200000', '400000']).map(Number);
  if (rates.some((r) => !Number.isInteger(r) || r < 100)) throw new Error(`BENCH_RATES: expected whole readings/s ≥ 100, comma-separated (got ${env.BENCH_RATES})`);
  const setups = (list(env.BENCH_SETUPS) ?? [...SETUP_NAMES]) as SetupName[];
  const unknown = setups.filter((s) => !SETUP_NAMES.includes(s));
  if (unknown.length > 0) throw new Error(`BENCH_SETUPS: unknown ${unknown.join(', ')}; expected some of ${SETUP_NAMES.join(', ')}`);
  const seconds = (name: string, fallback: number): number => {
    const n = Number(env[name] ?? fallback);
    if (!(n > 0)) throw new Error(`${name}: expected seconds > 0 (got ${env[name]})`);
    return n * 1000;
  };
  const devices = Number(env.BENCH_DEVICES ?? 200);
  if (!Number.isInteger(devices) || devices < 1) throw new Error(`BENCH_DEVICES: expected a whole number ≥ 1 (got ${env.BENCH_DEVICES})`);
  return { rates: [...rates].sort((a, b) => a - b), stepMs: seconds('BENCH_STEP_SECONDS', 10), warmUpMs: seconds('BENCH_WARMUP_SECONDS', 3), devices, setups };
}
