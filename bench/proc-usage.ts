/**
 * CPU and RSS of other processes, read from Linux /proc: the sluice processes, the
 * nats-servers and brokers the bench started, and a local influxd it writes to.
 * /proc/<pid>/stat counts every thread of the process (the embedded mode's processor and
 * decode workers included), so one read per process covers it. Not portable, on purpose:
 * the bench reports what this machine did.
 */
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

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

/**
 * The process listening on TCP `port` of this machine (any address), or undefined when
 * none is or it cannot be seen (another user's, another network namespace). Walks every
 * process's descriptors: call it before a round, not while one measures.
 */
export function listeningPid(port: number): number | undefined {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    // sl local_address rem_address st … inode: a listener is state 0A, its port the hex after the colon.
    for (const line of text.split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f.length > 9 && f[3] === '0A' && Number.parseInt(f[1]!.split(':')[1]!, 16) === port) inodes.add(f[9]!);
    }
  }
  if (inodes.size === 0) return undefined;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${pid}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let link: string;
      try {
        link = readlinkSync(`/proc/${pid}/fd/${fd}`);
      } catch {
        continue;
      }
      if (link.startsWith('socket:[') && inodes.has(link.slice(8, -1))) return Number(pid);
    }
  }
  return undefined;
}

/** CPU seconds of the whole machine so far (/proc/stat): busy (every state but idle and iowait) and in all, summed over its cores. */
export function machineCpuSeconds(): { busy: number; total: number } {
  // cpu user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user already).
  const f = readFileSync('/proc/stat', 'utf8').split('\n', 1)[0]!.trim().split(/\s+/).slice(1, 9).map(Number);
  const total = f.reduce((a, b) => a + b, 0);
  return { busy: (total - f[3]! - f[4]!) / USER_HZ, total: total / USER_HZ };
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
