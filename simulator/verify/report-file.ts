import { readFile } from 'node:fs/promises';
import type { SimulationReport } from '../report.js';
import { ReportInvalidError } from './errors.js';
import { checkReport } from './verify.js';

/** Reads and checks a `sluice simulate --report` file; ReportInvalidError says what is wrong and what to do. */
export async function readReportFile(path: string): Promise<SimulationReport> {
  let text: string;
  try {
    text = await readFile(path, 'utf8');
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const fix = code === 'ENOENT' ? `: write one with \`sluice simulate --report ${path}\`` : '';
    throw new ReportInvalidError(`cannot read the report ${path} (${code ?? (err as Error).message})${fix}`, { cause: err });
  }
  let report: unknown;
  try {
    report = JSON.parse(text);
  } catch (err) {
    throw new ReportInvalidError(`the report ${path} is not JSON (${(err as Error).message}): pass the file \`sluice simulate --report\` wrote`, { cause: err });
  }
  try {
    checkReport(report);
  } catch (err) {
    if (err instanceof ReportInvalidError) throw new ReportInvalidError(`${path}: ${err.message}`, { cause: err });
    throw err;
  }
  return report;
}
