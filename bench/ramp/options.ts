import { z } from 'zod';
import { duration } from '../../core/index.js';
import type { Shape } from '../../simulator/index.js';

/** The workloads `sluice bench` ramps, as the issue names them. */
export const SCENARIO_NAMES = ['single', 'series'] as const;
export type ScenarioName = (typeof SCENARIO_NAMES)[number];

/** What the simulated fleet sends in a scenario. */
export interface Scenario {
  name: ScenarioName;
  title: string;
  /** Readings per message. */
  batch: number;
  shape: Shape;
  /** Metrics per device (1 for `series`: one 100-value Series per message). */
  metrics: number;
  /** First offered rate, readings/s, unless --start-rate is given. */
  defaultStartRate: number;
  /** Also ramp a bare aedes broker, the reference the target is relative to. */
  compareBare: boolean;
}

export const SCENARIOS: Record<ScenarioName, Scenario> = {
  single: { name: 'single', title: 'QoS 1, one reading per message', batch: 1, shape: 'rows', metrics: 3, defaultStartRate: 5_000, compareBare: true },
  series: { name: 'series', title: 'QoS 1, 100-reading Series batches', batch: 100, shape: 'series', metrics: 1, defaultStartRate: 200_000, compareBare: false },
};

/** When a step counts as sustained. */
export const PASS_CRITERIA = {
  /** Every publish sent is acknowledged (and, for the gateway, every reading sent is in the log). */
  loss: 0,
  /** Publish → PUBACK p99 below this. */
  p99Ms: 100,
  /** Achieved readings/s (acknowledged, over send start → last PUBACK) at least this share of offered. */
  minAchievedShare: 0.95,
  /**
   * With processors: after the step's last PUBACK, they have read every message the
   * gateway accepted within this share of the step's duration (plus the resolution of
   * their message counter, PROCESSOR_COUNTER_RESOLUTION_MS): at the end of a 30 s step
   * they were at most ~1.5 s of traffic behind.
   */
  maxCatchUpShare: 0.05,
} as const;

/**
 * The processors add to their read-message counter (sluice_processor_messages_total)
 * only at a checkpoint, after the sink's flush to InfluxDB, so the bench runs them with
 * `checkpoint.interval` 1 s and allows 2 s more to catch up (one interval and a flush).
 */
export const PROCESSOR_CHECKPOINT_INTERVAL = '1s';
export const PROCESSOR_COUNTER_RESOLUTION_MS = 2000;

/**
 * With --influx-url, what the bench sets on the gateway (after the user's --config and
 * --set) so the verify step's last windows reach InfluxDB soon after it ends: a quiet
 * partition's watermark moves after 2 s instead of 30 s, and the sink flushes every 500 ms.
 */
export const VERIFY_GATEWAY_SETTINGS = ['time.idleTimeout=2s', 'influx.flushInterval=500ms'] as const;

/** The issue's targets, reported (not asserted). */
export const TARGETS = {
  /** QoS 1 single-reading: highest sustained rate at least this × bare aedes's in the same run. */
  singleVsBare: 0.8,
  /** 100-reading Series: readings/s end to end. */
  seriesReadingsPerSecond: 2_000_000,
} as const;

/** `sluice bench` options, validated; durations accept `30s`-style strings. */
export const benchOptionsSchema = z
  .object({
    /** Default both. */
    scenarios: z.array(z.enum(SCENARIO_NAMES)).min(1).default([...SCENARIO_NAMES]),
    /** Default 30s. How long the simulator sends in each step. */
    stepDuration: duration('30s'),
    /** Default 12. Steps per ramp (each scenario, and bare aedes, ramps on its own). */
    maxSteps: z.number().int().min(1).max(100).default(12),
    /** No default: the scenario's own (single 5,000, series 200,000 readings/s). */
    startRate: z.number().positive().optional(),
    /** Default 1.5. Offered rate × this after each passing step, until the first failure; then bisection. */
    growth: z.number().gt(1).max(10).default(1.5),
    /** Default 1.1. The ramp stops once the lowest failing rate is within this factor of the highest passing one. */
    resolution: z.number().gt(1).default(1.1),
    /** Default 1000. Simulated devices (connections). */
    devices: z.number().int().min(1).max(100_000).default(1000),
    /** Default 4. QoS 1 publishes in flight per device. */
    inflight: z.number().int().min(1).max(1000).default(4),
    /** Default bench/results. Where the .json, .md and .svg go. */
    out: z.string().min(1).default('bench/results'),
    /** No default. When set, `sluice start` runs processors writing to this InfluxDB; else `sluice gateway` alone. */
    influxUrl: z.url({ protocol: /^https?$/ }).optional(),
    /** Default 2s (at most half a step). Pause between steps; with processors, then also until they have read every message (up to 60 s). */
    settle: duration('2s'),
    /**
     * No default. With --influx-url and the series scenario alone: skip the ramp and run
     * only the verify step, at this offered rate (readings/s).
     */
    verifyRate: z.number().positive().optional(),
  })
  .strict()
  .superRefine((o, ctx) => {
    if (o.verifyRate === undefined) return;
    if (o.influxUrl === undefined) ctx.addIssue({ code: 'custom', path: ['verifyRate'], message: 'needs --influx-url: the verify step compares what the processors wrote to InfluxDB' });
    else if (o.scenarios.length !== 1 || o.scenarios[0] !== 'series') ctx.addIssue({ code: 'custom', path: ['verifyRate'], message: 'needs --scenario series: only the series ramp has a verify step' });
  });

export type BenchOptionsInput = z.input<typeof benchOptionsSchema>;
export type BenchOptions = z.infer<typeof benchOptionsSchema>;
