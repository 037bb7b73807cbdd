import type { SimulationReport } from '../report.js';
import { formatVerifyResult } from './format.js';
import type { VerifyInfluxConfig } from './influx-source.js';
import type { VerifyResult } from './types.js';
import { verifyReport, verifyReportUntilExact, type UntilExactOptions, type VerifyOptions } from './verify.js';

/**
 * verify as the CLI runs it: the result and the text it prints (which ends with
 * "verify: exact (N points)" or "verify: NOT exact: …"). With `waitMs`, verifies again
 * every `intervalMs` until exact or that long has passed (for `simulate --verify`, while
 * the last windows are still being written); `attempt` hears each non-exact result.
 */
export async function runVerify(
  report: SimulationReport,
  influx: VerifyInfluxConfig,
  options: VerifyOptions & { waitMs?: number } & Pick<UntilExactOptions, 'intervalMs' | 'attempt'> = {},
): Promise<{ result: VerifyResult; text: string }> {
  const result = options.waitMs === undefined ? await verifyReport(report, influx, options) : await verifyReportUntilExact(report, influx, { ...options, timeoutMs: options.waitMs });
  return { result, text: formatVerifyResult(result) };
}
