import type { SimulationReport } from '../../simulator/index.js';
import { runVerify } from '../../simulator/verify/index.js';
import type { SluiceConfig } from '../config-schema.js';

/**
 * How long after the last send the last windows may take to reach InfluxDB: the idle
 * timeout that lets a quiet partition's watermark move, the out-of-orderness it lags by,
 * the longest window, a checkpoint and two sink flushes, and a margin for a loaded machine.
 */
export function windowsSettleMs(config: SluiceConfig): number {
  const longest = Math.max(0, ...config.windows.map((w) => (w.type === 'session' ? w.gap : w.size)));
  return config.time.idleTimeout + config.time.maxOutOfOrderness + longest + config.checkpoint.interval + 2 * config.influx.flushInterval + 30_000;
}

/** `simulate --verify` and the demo: waits for the windows to close, verifies, prints the outcome; true when exact. */
export async function verifyAfterRun(report: SimulationReport, config: SluiceConfig, out: NodeJS.WritableStream = process.stdout): Promise<boolean> {
  const waitMs = windowsSettleMs(config);
  out.write(`verify: waiting for the last windows to close and reach InfluxDB (${config.influx.url}), up to ${Math.round(waitMs / 1000)} s without a change …\n`);
  const { result, text } = await runVerify(report, config.influx, { waitMs, intervalMs: 2000 });
  out.write(`${text}\n`);
  return result.exact;
}
