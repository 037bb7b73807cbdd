/**
 * CPU and RSS of other processes, read from Linux /proc: the sluice processes and the
 * nats-servers the bench started. /proc/<pid>/stat counts every thread of the process
 * (the embedded mode's processor and decode workers included), so one read per process
 * covers it. Not portable, on purpose: the bench reports what this machine did.
 */
import { readFileSync } from 'node:fs';

/** Linux reports /proc/<pid>/stat in USER_HZ ticks, 100 a second on every common kernel build. */
const USER_HZ = 100;
/** How often the peak RSS is sampled while a step runs. */
const RSS_EVERY_MS = 500;

/** A process the bench accounts for, by role. */
export interface Watched {
  /** e.g. "sluice start", "gateway", "processor", "nats n0". */
  name: string;
  pid: number;
}

/** User + system CPU seconds of `pid` since it started (0 once it has gone). */
export function cpuSecondsOf(pid: number): number {
  return cpuSecondsIn(`/proc/${pid}/stat`);
}

/** User + system CPU seconds of thread `tid` of `pid` (the main thread's tid is the pid; 0 once it has gone). */
export function threadCpuSecondsOf(pid: number, tid = pid): number {
  return cpuSecondsIn(`/proc/${pid}/task/${tid}/stat`);
}

function cpuSecondsIn(statFile: string): number {
  try {
    const stat = readFileSync(statFile, 'utf8');
    // The command name (field 2) may hold spaces: count fields from the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // fields[0] is field 3 (state); utime and stime are fields 14 and 15.
    return (Number(fields[11]) + Number(fields[12])) / USER_HZ;
  } catch {
    return 0;
  }
}

/** Resident set size of `pid` in bytes (VmRSS; 0 once it has gone). */
export function rssBytesOf(pid: number): number {
  try {
    const kb = /^VmRSS:\s+(\d+) kB$/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
    return kb === undefined ? 0 : Number(kb) * 1024;
  } catch {
    return 0;
  }
}

/** CPU seconds of each watched process, by name. */
export function cpuSnapshot(watched: readonly Watched[]): Map<string, number> {
  return new Map(watched.map((w) => [w.name, cpuSecondsOf(w.pid)]));
}

/** Tracks the highest RSS of each watched process, and of their sum, until stopped. */
export class PeakRss {
  readonly byName = new Map<string, number>();
  total = 0;
  private readonly timer: NodeJS.Timeout;

  constructor(private readonly watched: readonly Watched[]) {
    this.sample();
    this.timer = setInterval(() => this.sample(), RSS_EVERY_MS);
  }

  /** Takes a last sample and stops sampling. */
  stop(): void {
    clearInterval(this.timer);
    this.sample();
  }

  private sample(): void {
    let sum = 0;
    for (const w of this.watched) {
      const rss = rssBytesOf(w.pid);
      sum += rss;
      this.byName.set(w.name, Math.max(this.byName.get(w.name) ?? 0, rss));
    }
    this.total = Math.max(this.total, sum);
  }
}
