import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { benchChartSvg } from './chart.js';
import { benchMarkdown } from './markdown.js';
import type { BenchReport } from './run-bench.js';

/** Writes `<dir>/<timestamp>.json`, `.md` and `.svg` (the timestamp is the run's start); returns their paths. */
export async function writeBenchReport(report: BenchReport, dir: string): Promise<{ json: string; markdown: string; svg: string }> {
  const out = resolve(dir);
  await mkdir(out, { recursive: true });
  const stamp = report.startedAt.replace(/[:.]/g, '-');
  const files = { json: join(out, `${stamp}.json`), markdown: join(out, `${stamp}.md`), svg: join(out, `${stamp}.svg`) };
  await writeFile(files.json, `${JSON.stringify(report, null, 2)}\n`);
  await writeFile(files.svg, benchChartSvg(report));
  await writeFile(files.markdown, benchMarkdown(report, `${stamp}.svg`));
  return files;
}
