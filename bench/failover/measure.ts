/**
 * The clocks of one run: from an event the bench caused (a kill, a start) to the
 * partitions being owned again, and to the lag being back at its level. Both are
 * observed by polling, so each figure is late by at most one poll interval plus the
 * read itself.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import type { ProcessorMember } from './cluster.js';
import { sampleLag } from './observe.js';
import type { FailoverBenchOptions } from './options.js';

/** Polls `probe` every `everyMs` until it holds (a failed read counts as not yet); resolves with the ms since `from`. */
export async function waitFor(what: string, from: number, everyMs: number, timeoutMs: number, probe: () => Promise<boolean>): Promise<number> {
  for (;;) {
    if (await probe().catch(() => false)) return performance.now() - from;
    if (performance.now() - from > timeoutMs) throw new Error(`timed out after ${timeoutMs / 1000} s waiting for ${what}`);
    await sleep(everyMs);
  }
}

/**
 * The lag's level before a run: the highest sum seen over `baselineMs` with every
 * partition reported, and never below `lagFloor`. Under steady load the sum is a few
 * records in flight; the highest sample, not the mean, so that ordinary jitter after a
 * run does not read as a backlog left.
 */
export async function lagLevel(processors: readonly ProcessorMember[], o: FailoverBenchOptions): Promise<number> {
  const started = performance.now();
  let level: number | undefined;
  while (performance.now() - started < o.baselineMs || level === undefined) {
    const s = await sampleLag(processors);
    if (s.uncovered === 0) level = Math.max(level ?? 0, s.records);
    if (performance.now() - started > o.timeoutMs) throw new Error(`no lag sample covered every partition within ${o.timeoutMs / 1000} s`);
    await sleep(o.lagPollMs);
  }
  return Math.max(level, o.lagFloor);
}

/** What one run measured, in ms from its event. */
export interface Recovery {
  /** Until the probe of ownership first held. */
  ownedMs: number;
  /** Until the lag was back at its level (the start of the stretch of settleMs that proved it). */
  lagMs: number;
  /** The highest lag summed over the partitions reported during the run. */
  peakLagRecords: number;
}

/**
 * From `from`, watches two things at once: `owned` (read every pollMs), and the lag of
 * `processors()` (every lagPollMs). The lag counts as back at `level` from the first
 * sample, taken once ownership held, with every partition reported and the sum at most
 * `level`, that starts a stretch of settleMs of such samples: a partition just taken on
 * reports lag 0 until its first refresh (up to a second), which must not end the run.
 */
export async function measureRecovery(from: number, owned: () => Promise<boolean>, processors: () => readonly ProcessorMember[], level: number, o: FailoverBenchOptions): Promise<Recovery> {
  let ownedAt: number | undefined;
  const ownership = waitFor('every partition to be owned again', from, o.pollMs, o.timeoutMs, owned).then((ms) => {
    ownedAt = from + ms;
    return ms;
  });
  // Stops the lag loop from outliving a failed ownership wait.
  let failed = false;
  ownership.catch(() => (failed = true));
  const lag = (async () => {
    let since: number | undefined;
    let peak = 0;
    for (;;) {
      const s = await sampleLag(processors());
      if (s.uncovered === 0) peak = Math.max(peak, s.records);
      const atLevel = ownedAt !== undefined && s.uncovered === 0 && s.records <= level;
      since = atLevel ? (since ?? s.at) : undefined;
      if (since !== undefined && s.at - since >= o.settleMs) return { lagMs: since - from, peak };
      if (failed) return { lagMs: NaN, peak };
      if (s.at - from > o.timeoutMs) throw new Error(`timed out after ${o.timeoutMs / 1000} s waiting for the lag to come back to ${level} records (last ${s.records}, ${s.uncovered} partitions unreported)`);
      await sleep(o.lagPollMs);
    }
  })();
  const [ownedMs, { lagMs, peak }] = await Promise.all([ownership, lag]);
  return { ownedMs: Math.round(ownedMs), lagMs: Math.round(lagMs), peakLagRecords: peak };
}
