/**
 * The two kinds of run. A kill run: kill -9 of one processor (the slots take turns), then
 * a replacement in its slot and a wait for balance. A join run: a 4th processor starts,
 * takes its share, and leaves by SIGTERM. Each starts from a balanced cluster and
 * measures against the lag level sampled just before.
 */
import { PARTITIONS, type FailoverCluster, type ProcessorMember } from './cluster.js';
import type { SteadyLoad } from './load.js';
import { lagLevel, measureRecovery, waitFor } from './measure.js';
import { allHeldBy, balanced, type LeaseView } from './observe.js';
import type { FailoverBenchOptions } from './options.js';

/** One kill -9 run, in ms from the kill. */
export interface KillRun {
  run: number;
  victim: string;
  /** Kill → every partition held by a live member. */
  ownedMs: number;
  /** Kill → the lag back at its level. */
  lagMs: number;
  lagLevelRecords: number;
  peakLagRecords: number;
  /** Replacement spawned → the cluster balanced again over it (not a measure of the issue: it readies the next run). */
  replacementBalancedMs: number;
}

/** One join run, in ms from the spawn of the 4th processor. */
export interface JoinRun {
  run: number;
  member: string;
  /** Spawn → its 'sluice ready' line (Node start, NATS connect, joined): the part of shareMs that is not the handover. */
  readyMs: number;
  /** Spawn → the new member holds its share (P/4 partitions); includes the process start. */
  shareMs: number;
  /** Spawn → the lag back at its level. */
  lagMs: number;
  lagLevelRecords: number;
  peakLagRecords: number;
  /** SIGTERM of the 4th → the three balanced again (a graceful handover). */
  leaveBalancedMs: number;
}

/** What the runs share. */
export interface RunContext {
  cluster: FailoverCluster;
  view: LeaseView;
  load: SteadyLoad;
  options: FailoverBenchOptions;
}

const ids = (members: readonly ProcessorMember[]): string[] => members.map((m) => m.memberId);

/** Waits until the processors of the cluster are balanced, and returns the lag level to measure against. */
async function ready(ctx: RunContext): Promise<number> {
  const { cluster, view, load, options: o } = ctx;
  load.assertRunning();
  await waitFor('a balanced cluster', performance.now(), o.pollMs, o.timeoutMs, async () => balanced(await view.holders(), ids(cluster.processors)));
  return lagLevel(cluster.processors, o);
}

/** Run `run` (0-based) of kill -9: the victim is the processor in slot run mod N. */
export async function killRun(ctx: RunContext, run: number): Promise<KillRun> {
  const { cluster, view, options: o } = ctx;
  const level = await ready(ctx);
  const slot = run % cluster.processors.length;
  const victim = cluster.processors[slot]!;
  const survivors = cluster.processors.filter((p) => p !== victim);
  const killed = performance.now();
  await victim.child.kill();
  const recovery = await measureRecovery(killed, async () => allHeldBy(await view.holders(), ids(survivors)), () => survivors, level, o);
  const spawned = performance.now();
  const replacement = await cluster.startProcessor();
  cluster.processors[slot] = replacement;
  const replacementBalancedMs = await waitFor('the replacement to take its share', spawned, o.pollMs, o.timeoutMs, async () => balanced(await view.holders(), ids(cluster.processors)));
  return { run: run + 1, victim: victim.memberId, ownedMs: recovery.ownedMs, lagMs: recovery.lagMs, lagLevelRecords: level, peakLagRecords: recovery.peakLagRecords, replacementBalancedMs: Math.round(replacementBalancedMs) };
}

/** Run `run` (0-based) of a 4th processor joining, then leaving by SIGTERM. */
export async function joinRun(ctx: RunContext, run: number): Promise<JoinRun> {
  const { cluster, view, options: o } = ctx;
  const level = await ready(ctx);
  const share = Math.floor(PARTITIONS / (cluster.processors.length + 1));
  const members: ProcessorMember[] = [...cluster.processors];
  const spawned = performance.now();
  // Watched from the spawn: the new member's /metrics joins the lag sum once it is ready.
  let readyMs = NaN;
  const starting = cluster.startProcessor().then((m) => {
    readyMs = performance.now() - spawned;
    members.push(m);
    return m;
  });
  let joiner: ProcessorMember | undefined;
  const holdsShare = async (): Promise<boolean> => {
    joiner ??= await starting;
    return (await view.holders()).filter((h) => h === joiner!.memberId).length >= share;
  };
  try {
    const recovery = await measureRecovery(spawned, holdsShare, () => members, level, o);
    joiner ??= await starting;
    const termed = performance.now();
    await joiner.child.stop();
    const leaveBalancedMs = await waitFor('the three to be balanced again', termed, o.pollMs, o.timeoutMs, async () => balanced(await view.holders(), ids(cluster.processors)));
    return { run: run + 1, member: joiner.memberId, readyMs: Math.round(readyMs), shareMs: recovery.ownedMs, lagMs: recovery.lagMs, lagLevelRecords: level, peakLagRecords: recovery.peakLagRecords, leaveBalancedMs: Math.round(leaveBalancedMs) };
  } finally {
    // A failed run must not leave a 4th member behind for the next one.
    await (await starting.catch(() => undefined))?.child.stop();
  }
}
