import { Counter, Gauge, type Registry } from 'prom-client';
import type { PublisherStats } from './frame-publisher.js';

/** What the metrics read at scrape time: a JetStreamLog has both. */
export interface JetStreamLogCounters {
  readonly stats: Readonly<PublisherStats>;
  readonly framesStoredTwice: number;
}

/**
 * The JetStream log's Prometheus metrics, read from the log's own counters at scrape
 * time: an operator sees a stream that makes gateways retry (no leader, a slow or lost
 * server) before devices feel it as PUBACK latency.
 */
export function registerJetStreamLogMetrics(registry: Registry, log: JetStreamLogCounters): void {
  const registers = [registry];
  const counter = (name: string, help: string, read: () => number): void => {
    new Counter({
      name,
      help,
      registers,
      collect() {
        this.reset();
        this.inc(read());
      },
    });
  };
  counter('sluice_log_frames_published_total', 'Frames this process appended to the stream and the stream acknowledged', () => log.stats.published);
  counter(
    'sluice_log_publish_retries_total',
    'Frame publishes that failed (timeout, no stream leader, connection lost) and were sent again under the same msg id',
    () => log.stats.retries,
  );
  counter(
    'sluice_log_publish_duplicates_total',
    'Retried publishes the stream had already stored (within its duplicate window) and acknowledged without storing again',
    () => log.stats.duplicates,
  );
  counter(
    'sluice_log_frames_stored_twice_total',
    "Second copies of a frame (a retry stored after the stream's duplicate window) that this process's reads skipped",
    () => log.framesStoredTwice,
  );
  new Gauge({
    name: 'sluice_log_publish_longest_seconds',
    help: 'The longest a frame has taken from its first publish attempt to its acknowledgement since this process started',
    registers,
    collect() {
      this.set(log.stats.longestMs / 1000);
    },
  });
}
