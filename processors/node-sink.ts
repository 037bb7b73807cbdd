import type { Logger } from '../core/index.js';
import type { ProcessorConfig } from './config.js';
import type { ProcessorMetrics } from './metrics.js';
import { WindowLines } from './window-lines.js';
import type { FiredWindow } from './windowing/fired-window.js';
import { InfluxSink, InfluxWriter, retentionRoute, type SinkPoint, type SinkPointId, type WriteGate } from './sink/index.js';

/** A ProcessorNode's InfluxDB output: the writer, the sink in front of it, and what the tasks call. */
export interface NodeSink {
  writer: InfluxWriter;
  sink: InfluxSink;
  /** Where a task's points go (`owner`: its partition, for InfluxSink.discard). */
  emit: (point: SinkPoint, owner?: number) => void;
  /** Where a task's fired windows go: as emit(windowPoint(w)), encoded straight to line protocol. */
  emitWindow: (w: FiredWindow, owner?: number) => void;
  /** Where a task's deletes of superseded session points go, in the same ordered stream as the points. */
  emitDelete: (point: SinkPointId, owner?: number) => void;
}

/**
 * Builds one node's sink, wired to its metrics and log. `onSinkRefusal` is told, as one
 * line, why InfluxDB refuses the writes when that starts (credentials, a missing GRANT or
 * database), and undefined when it takes them again.
 */
export function createNodeSink(config: ProcessorConfig, metrics: ProcessorMetrics, logger: Logger, onSinkRefusal?: (problem: string | undefined) => void, gate?: WriteGate): NodeSink {
  const writer = new InfluxWriter(config.influx, {
    onBadPoint: (line, message, count = 1) => {
      metrics.badPoints.inc(count);
      logger.warn({ line: line.slice(0, 200), message, count }, 'InfluxDB refused a point; it is dropped');
    },
    onRetry: (err, attempt, delayMs) => {
      metrics.sinkRetries.inc();
      if (attempt === 1 || attempt % 10 === 0) logger.warn({ err: err.message, attempt, delayMs }, 'InfluxDB write failed; retrying');
    },
    onDeleted: (count) => metrics.supersededDeleted.inc(count),
    onRequest: (seconds) => metrics.sinkWriteSeconds.observe(seconds),
    onRequestStart: () => metrics.sinkLastRequestStart.set(Date.now() / 1000),
    onBadDelete: (what, message) => {
      metrics.supersededDeleteErrors.inc();
      logger.warn({ what: what.slice(0, 200), message }, 'InfluxDB refused to delete a superseded session point; it stays');
    },
    // Waiting on an operator, like an outage: the points stay, checkpoints wait, the log keeps the data.
    onRefusal: (err) => {
      metrics.sinkRefused.set(err === undefined ? 0 : 1);
      onSinkRefusal?.(err === undefined ? undefined : `InfluxDB refuses writes: ${err.message} [${err.code}]`);
    },
    gate,
  });
  const sink = new InfluxSink({
    writer, batchSize: config.influx.batchSize, maxBufferedPoints: config.influx.maxBufferedPoints, flushInterval: config.influx.flushInterval, gate, onGateClosed: () => metrics.sinkGateWaits.inc(),
    route: retentionRoute(config.influx),
  });
  // Counted once per run of emits (a task step), not per point: a prom-client inc() costs
  // more than the point's buffering. The microtask runs before anything else can read it.
  let uncounted = 0;
  const count = (): void => {
    metrics.points.inc(uncounted);
    uncounted = 0;
  };
  const emit = (point: SinkPoint, owner?: number): void => {
    if (uncounted++ === 0) queueMicrotask(count);
    try {
      sink.add(point, owner);
    } catch (err) {
      // One unwritable point must not stop the partition: count it, say which, go on.
      metrics.badPoints.inc();
      logger.error({ err: (err as Error).message, point }, 'point cannot be written to InfluxDB; dropped');
    }
  };
  const lines = new WindowLines();
  const emitWindow = (w: FiredWindow, owner?: number): void => {
    if (uncounted++ === 0) queueMicrotask(count);
    try {
      sink.addEncoded(lines.encode(w), w.window, owner);
    } catch (err) {
      metrics.badPoints.inc();
      logger.error({ err: (err as Error).message, window: w.window, device: w.device, metric: w.metric, start: w.start }, 'point cannot be written to InfluxDB; dropped');
    }
  };
  const emitDelete = (point: SinkPointId, owner?: number): void => {
    try {
      sink.delete(point, owner);
    } catch (err) {
      metrics.supersededDeleteErrors.inc();
      logger.error({ err: (err as Error).message, point }, 'superseded point cannot be deleted from InfluxDB; it stays');
    }
  };
  return { writer, sink, emit, emitWindow, emitDelete };
}
