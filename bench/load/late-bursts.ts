/**
 * Where a round's late PUBACKs fell in time. A p99 made by a few bursts in which thousands
 * of publishes are late together (a stalled thread, a kernel thread taking a core) reads
 * differently from one made by a wide spread; and bursts at a regular period point at
 * something periodic: a checkpoint interval, a sink flush, a kernel sampler (on one VM
 * here, DAMON's kdamond took a core for 16 ms every 532 ms).
 */
export class LateBursts {
  /** Late publishes per bin (bin = floor(ms / binMs)). */
  private readonly bins = new Map<number, number>();
  private late = 0;

  constructor(
    /** Issue 15's bar: a PUBACK later than this is late. */
    readonly lateMs = 20,
    readonly binMs = 100,
  ) {}

  /** Notes one PUBACK that took `latencyMs`, acknowledged at `atMs` (performance.now()); only late ones are kept. */
  note(atMs: number, latencyMs: number): void {
    if (latencyMs <= this.lateMs) return;
    this.late++;
    const bin = Math.floor(atMs / this.binMs);
    this.bins.set(bin, (this.bins.get(bin) ?? 0) + 1);
  }

  /** Forgets everything noted (the end of a warm-up). */
  reset(): void {
    this.bins.clear();
    this.late = 0;
  }

  /** The late publishes, the bursts they came in (runs of adjacent bins holding any), the largest, and the median time between bursts' starts. */
  summary(): LateSummary {
    const bins = [...this.bins.keys()].sort((a, b) => a - b);
    const starts: number[] = [];
    let largest = 0;
    let current = 0;
    for (let i = 0; i < bins.length; i++) {
      if (i === 0 || bins[i]! !== bins[i - 1]! + 1) {
        starts.push(bins[i]!);
        current = 0;
      }
      current += this.bins.get(bins[i]!)!;
      largest = Math.max(largest, current);
    }
    const gaps = starts.slice(1).map((s, i) => (s - starts[i]!) * this.binMs);
    return { lateMs: this.lateMs, late: this.late, bursts: starts.length, largestBurst: largest, medianGapMs: gaps.length === 0 ? null : median(gaps) };
  }
}

/** What LateBursts.summary says of a round. */
export interface LateSummary {
  lateMs: number;
  /** Publishes acknowledged later than lateMs. */
  late: number;
  bursts: number;
  /** Late publishes in the largest burst. */
  largestBurst: number;
  /** Median time between the starts of consecutive bursts (to the bin), null with fewer than two. */
  medianGapMs: number | null;
}

/** '5 812 late in 18 bursts (largest 1 204), every ~530 ms': for a round's line. */
export function describeLate(s: LateSummary): string {
  if (s.late === 0) return `none later than ${s.lateMs} ms`;
  const n = (x: number): string => x.toLocaleString('en-US');
  return `${n(s.late)} later than ${s.lateMs} ms in ${n(s.bursts)} burst${s.bursts === 1 ? '' : 's'} (largest ${n(s.largestBurst)})${s.medianGapMs === null ? '' : `, every ~${n(s.medianGapMs)} ms`}`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}
