import { PASS_CRITERIA } from './options.js';
import type { BenchReport, ScenarioResult } from './run-bench.js';

/**
 * The bench chart, hand-written SVG: one panel per scenario with achieved throughput
 * (left axis, linear, circles) and PUBACK p99 (right axis, log, squares) against offered
 * load (log), one colour per broker; filled circles passed, hollow ones failed. Each series is a
 * `<g id="<scenario>-<broker>-throughput|p99">`.
 */
const WIDTH = 760;
const PANEL_HEIGHT = 340;
const M = { left: 90, right: 80, top: 60, bottom: 66 };
const COLOURS: Record<string, string> = { sluice: '#1f77b4', 'bare-aedes': '#ff7f0e' };

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const px = (n: number): string => n.toFixed(1);

/** 1.2k, 35k, 2M … */
export function shortNumber(n: number): string {
  const units: [number, string][] = [
    [1e9, 'G'],
    [1e6, 'M'],
    [1e3, 'k'],
  ];
  for (const [size, unit] of units) if (Math.abs(n) >= size) return `${Number((n / size).toPrecision(3))}${unit}`;
  return `${Number(n.toPrecision(3))}`;
}

/** Ticks at 1, 2 and 5 × 10^k inside [lo, hi]; `fallback` values when that gives fewer than two. */
function logTicks(lo: number, hi: number, fallback: number[]): number[] {
  const ticks: number[] = [];
  for (let k = Math.floor(Math.log10(lo)); k <= Math.ceil(Math.log10(hi)); k++) for (const m of [1, 2, 5]) if (m * 10 ** k >= lo && m * 10 ** k <= hi) ticks.push(m * 10 ** k);
  return ticks.length >= 2 ? ticks : [...new Set(fallback)].sort((a, b) => a - b);
}

/** A 1-2-5 step giving about five ticks from 0 to max. */
function linearStep(max: number): number {
  const raw = max / 5;
  const k = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].map((m) => m * k).find((s) => s >= raw) ?? 10 * k) || 1;
}

function panel(s: ScenarioResult, y0: number): string {
  const steps = s.runs.flatMap((r) => r.steps);
  const offered = steps.map((p) => p.offeredReadingsPerSecond);
  const xLo = Math.min(...offered) / 1.25;
  const xHi = Math.max(...offered) * 1.25;
  const plotW = WIDTH - M.left - M.right;
  const plotH = PANEL_HEIGHT - M.top - M.bottom;
  const x = (v: number): number => M.left + ((Math.log10(v) - Math.log10(xLo)) / (Math.log10(xHi) - Math.log10(xLo))) * plotW;
  const step = linearStep(Math.max(1, ...offered, ...steps.map((p) => p.achievedReadingsPerSecond)) * 1.05);
  const yMax = Math.ceil((Math.max(1, ...offered, ...steps.map((p) => p.achievedReadingsPerSecond)) * 1.05) / step) * step;
  const yT = (v: number): number => y0 + M.top + plotH - (v / yMax) * plotH;
  const p99s = steps.filter((p) => p.error === undefined && p.latencyMs.p99 > 0).map((p) => p.latencyMs.p99);
  const lLo = 10 ** Math.floor(Math.log10(Math.max(0.01, Math.min(1, ...p99s))));
  const lHi = 10 ** Math.ceil(Math.log10(Math.max(PASS_CRITERIA.p99Ms * 2, ...p99s)));
  const clampL = (v: number): number => Math.min(lHi, Math.max(lLo, v));
  const yL = (v: number): number => y0 + M.top + plotH - ((Math.log10(clampL(v)) - Math.log10(lLo)) / (Math.log10(lHi) - Math.log10(lLo))) * plotH;
  const top = y0 + M.top;
  const bottom = y0 + M.top + plotH;
  const out: string[] = [];
  out.push(`<g id="${s.name}-panel">`);
  out.push(`<text x="${WIDTH / 2}" y="${y0 + 24}" text-anchor="middle" font-size="15" font-weight="bold">${esc(`${s.name}: ${s.title}`)}</text>`);
  // Axes and grid.
  out.push(`<rect x="${M.left}" y="${px(top)}" width="${plotW}" height="${plotH}" fill="none" stroke="#444"/>`);
  out.push(`<clipPath id="${s.name}-clip"><rect x="${M.left}" y="${px(top)}" width="${plotW}" height="${plotH}"/></clipPath>`);
  const clip = `clip-path="url(#${s.name}-clip)"`;
  for (const t of logTicks(xLo, xHi, offered)) {
    out.push(`<line x1="${px(x(t))}" y1="${px(top)}" x2="${px(x(t))}" y2="${px(bottom)}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${px(x(t))}" y="${px(bottom + 16)}" text-anchor="middle" font-size="11">${shortNumber(t)}</text>`);
  }
  for (let t = 0; t <= yMax; t += step) {
    out.push(`<line x1="${M.left}" y1="${px(yT(t))}" x2="${M.left + plotW}" y2="${px(yT(t))}" stroke="#e4e4e4"/>`);
    out.push(`<text x="${M.left - 6}" y="${px(yT(t) + 4)}" text-anchor="end" font-size="11">${shortNumber(t)}</text>`);
  }
  for (let t = lLo; t <= lHi * 1.0001; t *= 10) out.push(`<text x="${M.left + plotW + 6}" y="${px(yL(t) + 4)}" font-size="11">${shortNumber(t)}</text>`);
  out.push(`<text x="${M.left + plotW / 2}" y="${px(bottom + 38)}" text-anchor="middle" font-size="12">offered load (readings/s, log scale)</text>`);
  out.push(`<text transform="translate(22 ${px(top + plotH / 2)}) rotate(-90)" text-anchor="middle" font-size="12">achieved throughput (readings/s) — solid</text>`);
  out.push(`<text transform="translate(${WIDTH - 18} ${px(top + plotH / 2)}) rotate(90)" text-anchor="middle" font-size="12">PUBACK p99 (ms, log scale) — dashed</text>`);
  // achieved = offered, and the p99 limit.
  const ideal = Array.from({ length: 41 }, (_, i) => xLo * (xHi / xLo) ** (i / 40)).filter((v) => v <= yMax);
  out.push(`<polyline id="${s.name}-ideal" ${clip} points="${ideal.map((v) => `${px(x(v))},${px(yT(v))}`).join(' ')}" fill="none" stroke="#999" stroke-dasharray="2 3"/>`);
  out.push(`<line id="${s.name}-p99-limit" x1="${M.left}" y1="${px(yL(PASS_CRITERIA.p99Ms))}" x2="${M.left + plotW}" y2="${px(yL(PASS_CRITERIA.p99Ms))}" stroke="#d62728" stroke-dasharray="6 4"/>`);
  out.push(`<text x="${M.left + plotW - 4}" y="${px(yL(PASS_CRITERIA.p99Ms) - 4)}" text-anchor="end" font-size="10" fill="#d62728">p99 limit ${PASS_CRITERIA.p99Ms} ms</text>`);
  // One throughput and one p99 series per broker.
  s.runs.forEach((run, i) => {
    const colour = COLOURS[run.broker] ?? '#2ca02c';
    const sorted = [...run.steps].sort((a, b) => a.offeredReadingsPerSecond - b.offeredReadingsPerSecond);
    const points = (y: (p: (typeof sorted)[number]) => number): string => sorted.map((p) => `${px(x(p.offeredReadingsPerSecond))},${px(y(p))}`).join(' ');
    const dots = (y: (p: (typeof sorted)[number]) => number): string =>
      sorted.map((p) => `<circle cx="${px(x(p.offeredReadingsPerSecond))}" cy="${px(y(p))}" r="4" stroke="${colour}" stroke-width="1.5" fill="${p.pass ? colour : 'white'}"><title>${esc(stepTitle(run.broker, p))}</title></circle>`).join('');
    const thr = (p: (typeof sorted)[number]): number => yT(p.achievedReadingsPerSecond);
    const lat = (p: (typeof sorted)[number]): number => yL(p.latencyMs.p99);
    out.push(`<g id="${s.name}-${run.broker}-throughput" ${clip}><polyline points="${points(thr)}" fill="none" stroke="${colour}" stroke-width="2"/>${dots(thr)}</g>`);
    const measured = sorted.filter((p) => p.error === undefined);
    const squares = measured.map((p) => `<rect x="${px(x(p.offeredReadingsPerSecond) - 3)}" y="${px(lat(p) - 3)}" width="6" height="6" fill="${colour}"><title>${esc(stepTitle(run.broker, p))}</title></rect>`).join('');
    out.push(`<g id="${s.name}-${run.broker}-p99" ${clip}><polyline points="${measured.map((p) => `${px(x(p.offeredReadingsPerSecond))},${px(lat(p))}`).join(' ')}" fill="none" stroke="${colour}" stroke-width="1.5" stroke-dasharray="5 3"/>${squares}</g>`);
    // Legend.
    const lx = M.left + 8 + i * 190;
    const ly = y0 + 44;
    out.push(`<line x1="${lx}" y1="${ly}" x2="${lx + 22}" y2="${ly}" stroke="${colour}" stroke-width="2"/><text x="${lx + 28}" y="${ly + 4}" font-size="11">${esc(run.broker)}</text>`);
  });
  out.push(`<text x="${M.left + plotW / 2}" y="${px(bottom + 56)}" text-anchor="middle" font-size="10" fill="#555">circles: throughput (filled passed, hollow failed) · squares: p99 · dotted: achieved = offered</text>`);
  out.push('</g>');
  return out.join('\n');
}

function stepTitle(broker: string, p: { step: number; offeredReadingsPerSecond: number; achievedReadingsPerSecond: number; latencyMs: { p99: number }; pass: boolean; failures: string[] }): string {
  return `${broker} step ${p.step}: offered ${shortNumber(p.offeredReadingsPerSecond)}, achieved ${shortNumber(p.achievedReadingsPerSecond)} readings/s, p99 ${p.latencyMs.p99.toFixed(1)} ms, ${p.pass ? 'passed' : `failed: ${p.failures.join('; ')}`}`;
}

/** The whole chart: a panel per scenario that has steps. */
export function benchChartSvg(report: BenchReport): string {
  const scenarios = report.scenarios.filter((s) => s.runs.some((r) => r.steps.length > 0));
  const height = Math.max(1, scenarios.length) * PANEL_HEIGHT;
  const body = scenarios.map((s, i) => panel(s, i * PANEL_HEIGHT)).join('\n');
  return [
    '<?xml version="1.0" encoding="UTF-8"?>',
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="sans-serif">`,
    `<title>${esc(`sluice bench ${report.startedAt}: throughput and PUBACK p99 against offered load`)}</title>`,
    `<rect width="${WIDTH}" height="${height}" fill="white"/>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}
