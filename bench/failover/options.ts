/**
 * The failover bench's knobs, from the environment (as the other `npm run bench:*`
 * scripts take theirs). The defaults keep a whole run near 8 minutes on 2 shared cores.
 */

/** What one run of the bench does. */
export interface FailoverBenchOptions {
  /** kill -9 runs (each followed by a replacement processor). */
  killRuns: number;
  /** Runs of a 4th processor joining (each followed by its SIGTERM). */
  joinRuns: number;
  /** Processors sharing the partitions between runs. */
  processors: number;
  /** Simulated devices, spread over both gateways. */
  devices: number;
  /** Offered readings/s, whole fleet (10 readings a message). */
  rate: number;
  /** How often the lease holders are read while a run is measured. */
  pollMs: number;
  /** How often the processors' /metrics are read for the lag (their gauges move once a second at most when busy). */
  lagPollMs: number;
  /** How long the lag is sampled before each run: its level is the highest sample. */
  baselineMs: number;
  /**
   * How long the lag must stay at its level to count as recovered. Above the processors'
   * 1 s gauge interval: a partition just taken on reports lag 0 until its first refresh.
   */
  settleMs: number;
  /** Lag (records, summed) below which it is at its level whatever the baseline said: a few records in flight are no backlog. */
  lagFloor: number;
  /** The longest any one wait (holders, lag, balance) may take before the bench fails. */
  timeoutMs: number;
  /** cluster.handoffGrace for the processors; undefined: Sluice's default (influx.timeout, 10 s). */
  handoffGrace?: string;
}

/** Reads BENCH_RUNS (10, both measures), BENCH_KILL_RUNS and BENCH_JOIN_RUNS (each overrides BENCH_RUNS), BENCH_DEVICES (40), BENCH_RATE (2000), BENCH_POLL_MS (50), BENCH_LAG_POLL_MS (200), BENCH_BASELINE_SECONDS (3), BENCH_SETTLE_SECONDS (2), BENCH_LAG_FLOOR (20), BENCH_TIMEOUT_SECONDS (90), BENCH_HANDOFF_GRACE (unset). */
export function failoverOptionsFromEnv(env: NodeJS.ProcessEnv = process.env): FailoverBenchOptions {
  const whole = (name: string, fallback: number, min: number): number => {
    const raw = env[name];
    const n = raw === undefined || raw === '' ? fallback : Number(raw);
    if (!Number.isInteger(n) || n < min) throw new Error(`${name}: expected a whole number ≥ ${min} (got ${raw})`);
    return n;
  };
  const seconds = (name: string, fallback: number): number => {
    const raw = env[name];
    const n = raw === undefined || raw === '' ? fallback : Number(raw);
    if (!(n > 0)) throw new Error(`${name}: expected seconds > 0 (got ${raw})`);
    return Math.round(n * 1000);
  };
  const runs = whole('BENCH_RUNS', 10, 0);
  return {
    killRuns: whole('BENCH_KILL_RUNS', runs, 0),
    joinRuns: whole('BENCH_JOIN_RUNS', runs, 0),
    processors: 3,
    devices: whole('BENCH_DEVICES', 40, 1),
    rate: whole('BENCH_RATE', 2000, 10),
    pollMs: whole('BENCH_POLL_MS', 50, 1),
    lagPollMs: whole('BENCH_LAG_POLL_MS', 200, 1),
    baselineMs: seconds('BENCH_BASELINE_SECONDS', 3),
    settleMs: seconds('BENCH_SETTLE_SECONDS', 2),
    lagFloor: whole('BENCH_LAG_FLOOR', 20, 0),
    timeoutMs: seconds('BENCH_TIMEOUT_SECONDS', 90),
    handoffGrace: env.BENCH_HANDOFF_GRACE || undefined,
  };
}
