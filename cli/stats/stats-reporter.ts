import { z } from 'zod';
import { duration, type Logger } from '../../core/index.js';
import { InfluxWriter, toLineProtocol, type InfluxConfig, type MetricsJson } from '../../processors/index.js';
import { statsPoints, type HistogramMemory } from './stats-points.js';

/** `stats.*`: the self-monitoring measurement `sluice_stats`. */
export const statsConfigSchema = z
  .object({
    /** Write `sluice_stats` to InfluxDB (the same figures stay on /metrics either way). */
    enabled: z.boolean().default(true),
    /** How often. */
    interval: duration('5s'),
    /** Tag `node` of this process's points; default `<hostname>/<command>` (start, gateway or processor), so processes on one host stay apart. */
    node: z.string().min(1).optional(),
  })
  .strict();
export type StatsConfig = z.infer<typeof statsConfigSchema>;

export interface StatsReporterOptions {
  config: StatsConfig;
  influx: InfluxConfig;
  /** Tag `node`: which process wrote the point. */
  node: string;
  /** This process's metrics, workers included. */
  collect: () => Promise<MetricsJson>;
  logger: Logger;
}

/**
 * Writes `sluice_stats` every `stats.interval`, so Grafana's pipeline-health dashboard
 * needs only the InfluxDB datasource. Best effort: a report InfluxDB does not take is
 * dropped (the next one carries the cumulative counters anyway), never retried or
 * buffered, and never holds up the pipeline.
 */
export class StatsReporter {
  private readonly writer: InfluxWriter;
  private readonly memory: HistogramMemory = new Map();
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  private failing = false;
  private databaseReady: boolean;
  /** influx.retentionPolicies.stats; undefined: influx.retentionPolicy, as every other write. */
  private readonly rp: string | undefined;

  constructor(private readonly o: StatsReporterOptions) {
    this.writer = new InfluxWriter(
      { ...o.influx, maxRetries: 0 },
      { onBadPoint: (line, message) => o.logger.warn({ line: line.slice(0, 200), message }, 'InfluxDB refused a sluice_stats point') },
    );
    this.databaseReady = o.influx.version !== 1;
    this.rp = o.influx.retentionPolicies?.stats;
  }

  /** Starts reporting. */
  start(): void {
    if (!this.o.config.enabled) return;
    this.timer = setInterval(() => void this.report(), this.o.config.interval);
    this.timer.unref();
  }

  /** Writes one report now; resolves when InfluxDB took it or it was dropped. */
  async report(): Promise<void> {
    if (this.busy) return; // InfluxDB is slow: skip rather than pile up
    this.busy = true;
    try {
      if (!this.databaseReady) {
        // The policies too: `sluice gateway` runs no processor that would create them.
        if ((await this.writer.ensureDatabase()).state !== 'missing') await this.writer.ensureRetentionPolicies();
        this.databaseReady = true;
      }
      const points = statsPoints(await this.o.collect(), this.memory, this.o.node, Date.now());
      await this.writer.write(points.map(toLineProtocol), this.rp);
      if (this.failing) this.o.logger.info('sluice_stats: InfluxDB takes reports again');
      this.failing = false;
    } catch (err) {
      if (!this.failing && !this.writer.closed) this.o.logger.warn({ err: (err as Error).message }, 'sluice_stats: report dropped; InfluxDB did not take it (retrying next interval)');
      this.failing = true;
    } finally {
      this.busy = false;
    }
  }

  /** Stops reporting. */
  stop(): void {
    clearInterval(this.timer);
    this.writer.close();
  }
}
