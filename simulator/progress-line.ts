import type { SimulationProgress } from './simulation.js';
import type { SimulationReport } from './report.js';

const fmt = (n: number): string => Math.round(n).toLocaleString('en');

/** The live status line: phase, rate, sent, acks, refusals sent on purpose, elapsed. */
export function progressLine(p: SimulationProgress): string {
  return `${p.phase.padEnd(10)} ${(p.elapsedMs / 1000).toFixed(1).padStart(6)} s  ${fmt(p.readingsPerSecond).padStart(10)} readings/s  sent ${fmt(p.sent)}  acked ${fmt(p.acknowledged)}  malformed ${fmt(p.malformed)}  resent ${fmt(p.resent)}  connected ${fmt(p.connected)}`;
}

/**
 * Writes progress to a stream: redrawn in place on a terminal, a plain line every
 * `everyMs` otherwise (CI logs).
 */
export function progressWriter(stream: NodeJS.WriteStream, everyMs = 5000): { update(p: SimulationProgress): void; done(): void } {
  let lastLine = 0;
  return {
    update(p) {
      if (stream.isTTY) stream.write(`\r\x1b[K${progressLine(p)}`);
      else if (p.elapsedMs - lastLine >= everyMs) {
        lastLine = p.elapsedMs;
        stream.write(`${progressLine(p)}\n`);
      }
    },
    done() {
      if (stream.isTTY) stream.write('\n');
    },
  };
}

/** The end-of-run summary, for the terminal. */
export function summaryText(r: SimulationReport): string {
  const rejected = Object.entries(r.rejected)
    .filter(([, n]) => n > 0)
    .map(([reason, n]) => `${reason} ${fmt(n)}`)
    .join(', ');
  return [
    `simulated ${fmt(Number(r.options.devices))} devices for ${(r.durationMs / 1000).toFixed(1)} s (seed ${r.seed})`,
    `  sent        ${fmt(r.sent.messages)} messages, ${fmt(r.sent.readings)} valid readings, ${fmt(r.sent.bytes)} bytes`,
    `  duplicates  ${fmt(r.sent.duplicates)} re-sent with the same seq; ${fmt(r.sent.resent)} re-sent after reconnects`,
    `  malformed   ${fmt(r.sent.malformed)}${rejected ? ` (${rejected})` : ''}`,
    `  acknowledged ${fmt(r.acknowledged)}`,
    `  throughput  ${fmt(r.throughput.readingsPerSecond)} readings/s, ${fmt(r.throughput.messagesPerSecond)} messages/s`,
    `  PUBACK      p50 ${r.latencyMs.p50.toFixed(1)} ms, p90 ${r.latencyMs.p90.toFixed(1)} ms, p99 ${r.latencyMs.p99.toFixed(1)} ms, max ${r.latencyMs.max.toFixed(1)} ms`,
    `  connections peak ${fmt(r.connections.peak)}, reconnects ${fmt(r.connections.reconnects)}, failed ${fmt(r.connections.failed)}`,
    `  expected    ${fmt(r.expected.points.length)} window points from ${fmt(r.expected.readings)} readings`,
  ].join('\n');
}
