import type { Registry } from 'prom-client';
import { Backoff, SluiceError, StorageHealth, type Logger } from '../core/index.js';
import type { Log } from '../log/index.js';
import { CheckpointCoordinator, type CheckpointBarrier, type CheckpointOutcome, type CheckpointStore } from './checkpoint/index.js';
import type { ProcessorConfig } from './config.js';
import { ProcessorStoppedError } from './errors.js';
import { createProcessorMetrics, type ProcessorMetrics } from './metrics.js';
import { createNodeSink, type NodeSink } from './node-sink.js';
import type { LogTail } from './runtime/log-link-protocol.js';
import { Serial } from './serial.js';
import { SinkRejectedError, type WriteGate } from './sink/index.js';
import { AlertWebhook, loadRulesFile, RulesReloader, type AlertTransition, type Rule } from './rules/index.js';
import { PartitionTask } from './task/partition-task.js';

export interface ProcessorNodeDeps {
  /** The log the tasks read and the checkpoints trim (a worker's RemoteLog; JetStream later). */
  log: Log;
  /** Where checkpoints are written and restored from: a LocalCheckpointStore in embedded mode. */
  store: CheckpointStore;
  registry: Registry;
  logger: Logger;
  /** The partitions start() restores and runs (all of them in embedded mode); assign and revoke change the set later. */
  partitions?: number[];
  /** Wakes an idle loop when records arrive (a worker's RemoteLog); without it the loop polls. */
  tail?: LogTail;
  /** Where checkpoint writes the storage refuses are reported (component `checkpoint`). */
  health?: StorageHealth;
  /**
   * Told, as one line, why InfluxDB refuses this node's writes when that starts (credentials,
   * a missing GRANT or database), and undefined when it takes them again: for /readyz.
   */
  onSinkRefusal?: (problem: string | undefined) => void;
  /**
   * Told, once, that processing failed for a reason that is a bug, not bad input: the node
   * has stopped processing. The owner ends it (a worker exits, so `sluice start` exits
   * with ExitCode.internal) and the next start restores from the checkpoints.
   */
  onFatal: (err: Error) => void;
  /** Distributed mode: while closed, nothing is written to InfluxDB (a partition lease may have passed to another processor). */
  writeGate?: WriteGate;
  /**
   * Partitions move by lease: a checkpoint refused because another processor claimed the
   * partition (CheckpointFencedError) abandons that partition and tells this callback,
   * instead of failing the node.
   */
  onFenced?: (partition: number) => void;
  /** Told of every alert transition (after its point was emitted), for the MQTT and webhook effects; at least once. */
  onAlert?: (transition: AlertTransition) => void;
}

/** Records read per partition per turn: keeps partitions fair and the event loop responsive. */
const RECORDS_PER_STEP = 32;

/** A checkpoint's barrier and what its commit counts (ProcessorNode.snapshotTasks). */
interface TakenCheckpoint {
  barrier: CheckpointBarrier;
  /** The tasks' counters since the barrier before, taken from them at this one. */
  counts: { messages: number; duplicates: number; seqRestarts: number; late: number; statuses: number; copiesSkipped: number };
  /** performance.now() as the barrier began. */
  started: number;
}
/** How often the log is asked for each partition's lag, and the longest a busy loop leaves the gauges unchanged. */
const GAUGE_INTERVAL_MS = 1000;
/** How long an idle loop without a tail first sleeps before polling a remote log for new records (and advancing idle watermarks). */
const IDLE_POLL_MS = 20;
/**
 * How long an idle loop with a tail (embedded mode) waits for records before it advances
 * idle watermarks, checkpoints and gauges: new records wake it at once, so this paces only
 * that housekeeping. At 20 ms an idle `sluice start` spent ~1 % of a core per processor thread on it.
 */
const TAIL_IDLE_MS = 100;
/** The longest an idle loop without a tail waits between polls of a remote log. */
const MAX_IDLE_POLL_MS = 200;
/**
 * The least time from one turn's start to the next while no partition has a backlog: a
 * turn per commit round made a read request per round per thread, and its messages and
 * preads were ~15 % of the gateway's thread under a hostile load (profiled), which every
 * device's PUBACKs waited behind. Windows fire on event time, so 10 ms later costs nothing.
 */
const MIN_TURN_INTERVAL_MS = 10;
/**
 * The least time between turns while records only trickle in (a turn found fewer than
 * TRICKLE_RECORDS): quiet devices (1 000 connections, 317 msgs/s in all) cost a read
 * request and reply per ~1.6 messages per thread at 10 ms; at 50 ms voluntary context
 * switches fell from 9.7–10.1 to 8.2–8.5 per message and CPU from 1 100–1 250 to 960–1 010 s
 * per million messages. An alert comes up to 50 ms later (Flink's buffer timeout is 100 ms
 * by default). Not for more than a trickle: with 50 ms after every turn without a backlog
 * the fleet load fell from ~2.4 to ~1.8 M readings/s in 4 of 6 pairs, the gateway's thread
 * spending half as much again per message. Cause not found: it is not the processors
 * reading behind the log's in-memory head, since an 8 MiB head instead of 2 did worse on
 * the fleet, not better (3 pairs: 1.94–2.23 vs 2.25–2.42 M readings/s).
 */
export const TRICKLE_TURN_INTERVAL_MS = 50;
/** A turn that found fewer records than this (all its partitions together) counts as a trickle. */
export const TRICKLE_RECORDS = 16;

/**
 * How long the loop waits after a turn that read records, given how many it found and how
 * long ago the turn began: 0 to go on at once (a backlog).
 */
export function waitAfterTurn(records: number, sinceTurnStartMs: number, backlogged: boolean): number {
  if (backlogged) return 0;
  return Math.max(0, (records < TRICKLE_RECORDS ? TRICKLE_TURN_INTERVAL_MS : MIN_TURN_INTERVAL_MS) - sinceTurnStartMs);
}

/**
 * Runs one PartitionTask per owned partition on this thread, writes their points through
 * one InfluxDB sink, and checkpoints them together through a CheckpointCoordinator
 * (snapshot, flush, write, trim; the loop's checkpoints commit beside it: checkpointBehind).
 * While InfluxDB is down the flush does not return, so no checkpoint advances and the log
 * keeps everything; when the sink is full the tasks stop reading, so memory stays bounded.
 *
 * Partitions come and go at run time (assign, revoke), as leases move in distributed
 * mode. Loop turns, checkpoints, assigns and revokes run one at a time (a Serial), so a
 * task never moves while it is snapshot, restored or dropped.
 */
export class ProcessorNode {
  private readonly tasks = new Map<number, PartitionTask>();
  private readonly out: NodeSink;
  private readonly coordinator: CheckpointCoordinator;
  private readonly metrics: ProcessorMetrics;
  private readonly serial = new Serial();
  /** Set by start, cleared by stop or a fatal error: the loop runs while it is true. */
  private running = false;
  /** stop() was called or the loop failed: no partition may be assigned any more. */
  private ended = false;
  /** The loop failed (onFatal was told): its state is not one to checkpoint. */
  private failed = false;
  /** stop() has closed the sink: nothing can be flushed any more. */
  private closed = false;
  /** The sink runs: points may have been emitted, so a revoke must checkpoint. */
  private started = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;
  private gaugesAt = 0;
  /** The commit of the loop's last checkpoint while it runs beside the loop (checkpointBehind); never rejects. */
  private committing: Promise<void> | undefined;
  /** Why that commit failed: the loop throws it (a bug, or InfluxDB refusing the flush), as a checkpoint in the loop did. */
  private commitFailure: Error | undefined;
  /** The lag refresh under way (see refreshLags), if any. */
  private lagRefresh: Promise<void> | undefined;
  /** How many of the store's problems have been logged. */
  private problemsReported = 0;
  /** When the log became unavailable (0: it answers), and how long to wait before reading again. */
  private unavailableSince = 0;
  /** The last turn read a full step of some partition: the next turn comes at once. */
  private backlogged = false;
  /** Records the last turn read, all partitions together. */
  private turnRecords = 0;
  /** How long an idle loop without a tail sleeps next. */
  private idlePoll = IDLE_POLL_MS;
  /** Partitions whose output is discarded (lease lost), until assigned again. */
  private readonly abandoned = new Set<number>();
  /** Partitions taken over after a failure, not processed before this time (Date.now()). */
  private readonly notBefore = new Map<number, number>();
  /** Per partition still catching up after its restore: how many more records read count as replayed. */
  private readonly catchUp = new Map<number, number>();
  private readonly unavailableBackoff = new Backoff(50, 2000);
  /** The alert rules in force (rules.file), handed to every task. */
  private rules: readonly Rule[] = [];
  private rulesReloader: RulesReloader | undefined;
  private webhook: AlertWebhook | undefined;

  constructor(
    private readonly config: ProcessorConfig,
    private readonly deps: ProcessorNodeDeps,
  ) {
    this.metrics = createProcessorMetrics(deps.registry);
    this.out = createNodeSink(config, this.metrics, deps.logger, deps.onSinkRefusal, deps.writeGate);
    this.coordinator = new CheckpointCoordinator({
      log: deps.log,
      store: deps.store,
      flush: () => this.out.sink.flush(),
      health: deps.health ?? new StorageHealth({ registry: deps.registry, logger: deps.logger }),
      intervalMs: config.checkpoint.interval,
      fullEvery: config.checkpoint.fullEvery,
      fencedIsRecoverable: deps.onFenced !== undefined,
      // Its fired points were dropped: committing its state would skip them for good.
      outputDiscarded: (partition) => this.abandoned.has(partition),
    });
  }

  /** The partitions this node runs now, ascending. */
  get partitions(): number[] {
    return [...this.tasks.keys()].sort((a, b) => a - b);
  }

  /** Restores every partition of `deps.partitions` from its newest valid checkpoint chain, then starts processing. */
  async start(): Promise<void> {
    // A rules file that does not load fails the start (RulesInvalidError names every problem); later, a bad edit keeps the rules in force.
    const file = this.config.rules.file;
    const hook = this.config.rules.webhook;
    if (hook.url !== undefined) {
      this.webhook = new AlertWebhook({
        url: hook.url,
        timeoutMs: hook.timeout,
        maxRetryDelayMs: hook.maxRetryDelay,
        maxQueued: hook.maxQueued,
        logger: this.deps.logger,
        count: (outcome) => this.metrics.alertWebhook.inc({ outcome }),
      });
    }
    if (file !== undefined) {
      this.rules = await loadRulesFile(file, { windows: this.config.windows });
      this.rulesReloader = new RulesReloader({
        file,
        windows: this.config.windows,
        logger: this.deps.logger,
        apply: (rules) => this.replaceRules(rules),
        count: (result) => this.metrics.rulesReloads.inc({ result }),
        watch: this.config.rules.watch,
        debounceMs: this.config.rules.debounce,
      });
    }
    for (const partition of this.deps.partitions ?? []) await this.assign(partition);
    this.running = true;
    // The database check waits for InfluxDB without holding up the start: the gateway
    // takes data meanwhile, and the log keeps it until the processors can write.
    this.loop = (async () => {
      if (this.config.influx.version === 1) await this.ensureDatabase();
      if (!this.running) return; // stopped before InfluxDB ever answered
      this.out.sink.start();
      this.started = true;
      await this.run();
    })().catch((err: unknown) => {
      // Stopping closes the writer under a stuck flush: that rejection is expected.
      if (!this.running) return;
      this.running = false;
      this.ended = true;
      this.failed = true;
      // A bug, not bad input: the owner stops loudly, so a supervisor restarts from the last checkpoint.
      this.deps.onFatal(err instanceof Error ? err : new Error(String(err)));
    });
  }

  /** Reads rules.file again and applies it if it loads (SIGHUP); a file that does not load changes nothing. Never rejects. */
  async reloadRules(): Promise<void> {
    if (this.rulesReloader === undefined) this.deps.logger.info('SIGHUP: no rules.file to reload in the processors');
    await this.rulesReloader?.reload();
  }

  /** Puts `rules` in force in every task between two turns (see PartitionTask.replaceRules). */
  private async replaceRules(rules: readonly Rule[]): Promise<void> {
    await this.serial.run(() => {
      this.rules = rules;
      for (const [partition, task] of this.tasks) if (!this.abandoned.has(partition)) task.replaceRules(rules);
    });
    this.wake?.();
  }

  /**
   * Takes `partition` on: restores it from its checkpoint chain in the store (or starts it
   * at the log's start offset when there is none) and processes it from there. A no-op
   * when it is already assigned; rejects with ProcessorStoppedError once the node stops.
   * `since` is performance.now() when taking the partition on began (before the caller's
   * checkpoint claim), so sluice_processor_restore_seconds covers claim and restore.
   */
  async assign(partition: number, options: { notBefore?: number; since?: number } = {}): Promise<void> {
    const since = options.since ?? performance.now();
    await this.serial.run(async () => {
      if (this.ended) throw new ProcessorStoppedError(`partition ${partition} cannot be assigned: the processor node is stopping`);
      // A commit under way may hold this partition's snapshot from before its output was discarded: it must see the discard.
      await this.committing;
      if (this.tasks.has(partition)) {
        if (!this.abandoned.has(partition)) return;
        // Its output was discarded and its state moved on without it: start again from the checkpoint.
        this.dropTask(partition);
      }
      const task = this.createTask(partition);
      await this.restore(task);
      this.deps.logger.debug({ partition, offset: task.offset }, 'partition taken on');
      await this.startCatchUp(task);
      this.metrics.restoreSeconds.observe((performance.now() - since) / 1000);
      this.abandoned.delete(partition);
      this.out.sink.readmit(partition);
      this.tasks.set(partition, task);
      // Taken over from a processor that may still have a write in flight: process (and so write) only after it.
      if (options.notBefore !== undefined && options.notBefore > Date.now()) this.notBefore.set(partition, options.notBefore);
    });
    this.wake?.();
  }

  /**
   * Stops emitting `partition`'s output at once and drops what of it the sink still
   * buffers (its lease passed to another processor, which writes it again from the last
   * checkpoint). Synchronous, so it takes effect before the next write is sent; from then
   * on the partition is neither processed nor checkpointed, and abandon() removes the task.
   */
  discardOutput(partition: number): void {
    this.abandoned.add(partition);
    this.metrics.pointsDiscarded.inc(this.out.sink.discard(partition));
  }

  /** Gives `partition` up without a checkpoint (its lease was lost): output discarded, task and state dropped. */
  async abandon(partition: number): Promise<void> {
    this.deps.logger.debug({ partition }, 'partition abandoned without a checkpoint');
    this.discardOutput(partition);
    await this.serial.run(async () => this.dropTask(partition));
  }

  private dropTask(partition: number): void {
    if (!this.tasks.delete(partition)) return;
    this.notBefore.delete(partition);
    this.catchUp.delete(partition);
    const labels = { partition: String(partition) };
    this.metrics.lag.remove(labels);
    this.metrics.watermarkDelay.remove(labels);
  }

  /**
   * Gives `partition` up: a final checkpoint of it (committed: the sink flushed), then its
   * task and state are dropped, so its next owner restores from that checkpoint and
   * neither repeats nor loses a record. A write the storage refuses is logged: the next
   * owner then replays from the checkpoint before, which rewrites the same points. The
   * partition is released even when the checkpoint throws (the error is passed on).
   * A no-op for a partition not assigned.
   */
  async revoke(partition: number | readonly number[]): Promise<void> {
    const partitions = typeof partition === 'number' ? [partition] : partition;
    await this.serial.run(async () => {
      const tasks = partitions.flatMap((p) => this.tasks.get(p) ?? []);
      if (tasks.length === 0) return;
      try {
        // Before the sink runs nothing was emitted; a failed loop's state is not to be kept; after a stop its final checkpoint was taken.
        if (!this.started || this.failed || this.closed) return;
        // One flush and one checkpoint round for all of them: a join hands several partitions over at once.
        const outcome = await this.checkpointTasks(tasks, { partial: true });
        this.deps.logger.debug({ written: outcome.written, fenced: outcome.fenced, discarded: outcome.discarded }, 'partitions handed over');
        if (outcome.refused.length > 0) this.deps.logger.warn({ partitions: outcome.refused }, 'storage refused the final checkpoint of a revoked partition; its next owner replays from the one before');
      } finally {
        for (const task of tasks) {
          this.tasks.delete(task.partition);
          this.catchUp.delete(task.partition);
          const labels = { partition: String(task.partition) };
          this.metrics.lag.remove(labels);
          this.metrics.watermarkDelay.remove(labels);
        }
      }
    });
  }

  /**
   * Checkpoints every assigned partition now (see CheckpointCoordinator): snapshot, flush,
   * write, trim, once the loop's checkpoint under way (if any) is committed; resolves when
   * this one is. A write the storage refuses is skipped, not fatal; other errors throw.
   */
  async checkpoint(): Promise<void> {
    await this.serial.run(() => this.checkpointTasks([...this.tasks.values()]));
  }

  /** Stops processing, takes a last checkpoint when InfluxDB allows, and closes the sink. */
  async stop(options: { checkpoint?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.rulesReloader?.close();
    this.webhook?.close();
    this.running = false;
    this.ended = true;
    this.wake?.();
    if (this.loop === undefined) {
      // Never started (its restore failed): nothing was emitted, there is nothing to save.
      this.out.writer.close();
      this.closed = true;
      await this.out.sink.close();
      return;
    }
    // With InfluxDB down, a checkpoint's pre-commit flush (the loop's, or the final one)
    // would wait forever. Give both a deadline; nothing is lost by giving up: the last
    // checkpoint and the log still hold everything the next start replays.
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), options.timeoutMs ?? 10_000)));
    let clean = await Promise.race([this.loop.then(() => true), deadline]);
    if (clean && this.started && !this.failed && options.checkpoint !== false) {
      const final = this.checkpoint().then(
        () => true,
        (err: unknown) => {
          this.deps.logger.warn({ err: (err as Error).message }, 'final checkpoint failed');
          return false;
        },
      );
      clean = await Promise.race([final, deadline]);
    }
    clearTimeout(timer);
    if (!clean) this.deps.logger.warn('stopping without a final checkpoint: InfluxDB did not take the last points in time; the next start replays them');
    this.out.writer.close(); // ends any retrying write, so a stuck flush settles
    this.closed = true;
    await this.loop;
    await this.committing;
    await this.out.sink.close();
  }

  private createTask(partition: number): PartitionTask {
    const { windows, time, outputs } = this.config;
    const out = this.out;
    const abandoned = this.abandoned;
    return new PartitionTask({
      partition,
      log: this.deps.log,
      windows,
      time,
      raw: outputs.raw,
      emit: (point) => void (abandoned.has(partition) || out.emit(point, partition)),
      emitWindow: (w) => void (abandoned.has(partition) || out.emitWindow(w, partition)),
      emitDelete: (point) => void (abandoned.has(partition) || out.emitDelete(point, partition)),
      rules: this.rules,
      onAlert: (t) => {
        if (abandoned.has(partition)) return;
        this.metrics.alerts.inc({ rule: t.rule, severity: t.severity, state: t.state });
        this.webhook?.send(t);
        this.deps.onAlert?.(t);
      },
    });
  }

  /** Restores a task from the newest chain that passes its checks, and reports what was passed over. */
  private async restore(task: PartitionTask): Promise<void> {
    const chain = await this.deps.store.restorable(task.partition);
    if (chain.length === 0) {
      await task.startFresh();
    } else {
      const { problem } = task.restore(chain);
      if (problem !== undefined) {
        this.metrics.checkpointFallbacks.inc();
        this.deps.logger.warn({ partition: task.partition, err: problem.message }, 'checkpoint state does not decode; restored from the one before it');
      }
      // Past every id in the chain, restored or not: a new checkpoint must not take an existing file's name.
      this.coordinator.restored(chain[chain.length - 1]!.id);
    }
    for (const problem of this.deps.store.problems.slice(this.problemsReported)) {
      this.metrics.checkpointFallbacks.inc();
      this.deps.logger.warn({ file: problem.file }, 'checkpoint is corrupt; restored from the one before it');
    }
    this.problemsReported = this.deps.store.problems.length;
  }

  /**
   * Notes how far behind the log's end a restored task starts (one pending() call, which
   * also sets its lag gauge): that many of the records it reads next count as replayed.
   * A log that cannot say now is no reason to refuse the partition: then the records read
   * until the task first finds nothing more count.
   */
  private async startCatchUp(task: PartitionTask): Promise<void> {
    let behind: number;
    try {
      behind = await task.refreshLag();
    } catch (err) {
      if (!(err instanceof SluiceError && err.canRetry)) throw err;
      behind = Infinity;
    }
    if (behind > 0) this.catchUp.set(task.partition, behind);
  }

  /** Counts `read` records of a catching-up partition as replayed; a read that found nothing (`read` 0) ends its catch-up. */
  private countReplayed(partition: number, read: number): void {
    const left = this.catchUp.get(partition);
    if (left === undefined) return;
    const replayed = Math.min(read, left);
    if (replayed > 0) this.metrics.replayedRecords.inc(replayed);
    if (read === 0 || left - replayed <= 0) this.catchUp.delete(partition);
    else this.catchUp.set(partition, left - replayed);
  }

  /**
   * Makes sure the database and the retention policies the outputs are written to exist (see
   * InfluxWriter.ensureDatabase and ensureRetentionPolicies), waiting for InfluxDB to
   * come up rather than failing the start. A database that is missing, or credentials
   * InfluxDB refuses, are logged and left to the writes: they wait (not ready, with the
   * reason) until an operator fixes it, and then go on without a restart.
   */
  private async ensureDatabase(): Promise<void> {
    for (let attempt = 1; this.running; attempt++) {
      try {
        const found = await this.out.writer.ensureDatabase();
        if (found.state === 'missing') {
          this.deps.logger.warn({ url: this.config.influx.url }, `InfluxDB: ${found.reason}`);
          return;
        }
        for (const rp of await this.out.writer.ensureRetentionPolicies()) {
          if (rp.state === 'missing') this.deps.logger.warn({ url: this.config.influx.url, retentionPolicy: rp.name }, `InfluxDB: ${rp.reason}`);
          else if (rp.state === 'created') this.deps.logger.info({ url: this.config.influx.url, retentionPolicy: rp.name }, `InfluxDB: created retention policy ${rp.name}`);
        }
        return;
      } catch (err) {
        if (err instanceof SinkRejectedError) {
          this.deps.logger.warn({ url: this.config.influx.url }, `InfluxDB: ${err.message}`);
          return;
        }
        if (attempt === 1) this.deps.logger.warn({ err: (err as Error).message, url: this.config.influx.url }, 'InfluxDB is not reachable yet; waiting for it');
        await this.sleep(Math.min(5000, 100 * 2 ** attempt));
      }
    }
  }

  private async run(): Promise<void> {
    while (this.running) {
      if (this.commitFailure !== undefined) throw this.commitFailure;
      const mark = this.deps.tail?.mark() ?? 0;
      // Monotonic: a wall clock stepped back mid-turn would otherwise stretch the wait by the step.
      const turnStart = performance.now();
      let worked: boolean;
      try {
        worked = await this.serial.run(() => this.turn());
        if (this.unavailableSince !== 0) {
          this.deps.logger.info({ seconds: (Date.now() - this.unavailableSince) / 1000 }, 'the log answers again; processing goes on');
          this.unavailableSince = 0;
          this.unavailableBackoff.reset();
        }
      } catch (err) {
        // A remote log that is unreachable for now (a NATS leader election, a lost
        // connection): a read failed before it changed any task, so wait and read again.
        if (!(err instanceof SluiceError && err.canRetry)) throw err;
        if (this.unavailableSince === 0) {
          this.unavailableSince = Date.now();
          this.deps.logger.warn({ err: err.message }, 'the log is unavailable; processing waits for it');
        }
        await this.sleep(this.unavailableBackoff.next());
        continue;
      }
      if (this.running && this.committing === undefined && this.coordinator.due(this.out.sink.saturated)) await this.checkpointBehind();
      if (worked) {
        this.idlePoll = IDLE_POLL_MS;
        const wait = waitAfterTurn(this.turnRecords, performance.now() - turnStart, this.backlogged);
        if (wait > 0) await this.sleep(wait);
        else await new Promise((resolve) => setImmediate(resolve));
      } else if (this.deps.tail) await this.deps.tail.appendedSince(mark, TAIL_IDLE_MS);
      else {
        // Without a tail (a remote log), every poll is a request per partition: poll less
        // the longer nothing comes, up to MAX_IDLE_POLL_MS; the first record resets it.
        await this.sleep(this.idlePoll);
        this.idlePoll = Math.min(MAX_IDLE_POLL_MS, this.idlePoll * 2);
      }
    }
  }

  /** One turn: a step of every task (while the sink takes points), then idle advancement and gauges. True when a task read records. */
  private async turn(): Promise<boolean> {
    let worked = false;
    this.backlogged = false;
    this.turnRecords = 0;
    const due: PartitionTask[] = [];
    for (const task of this.tasks.values()) {
      if (this.abandoned.has(task.partition)) continue;
      const after = this.notBefore.get(task.partition);
      if (after !== undefined) {
        if (after > Date.now()) continue;
        this.notBefore.delete(task.partition);
      }
      due.push(task);
    }
    // One request for every partition's records where the log can (a log behind a link);
    // what a saturated sink leaves unprocessed is read again next turn.
    const read = this.deps.log.readMany && !this.out.sink.saturated ? await this.deps.log.readMany(due.map((t) => ({ partition: t.partition, from: t.offset, max: RECORDS_PER_STEP }))) : undefined;
    for (let i = 0; i < due.length; i++) {
      const task = due[i]!;
      if (this.out.sink.saturated) break;
      const before = task.stats.records;
      if (await task.step(RECORDS_PER_STEP, read?.[i])) worked = true;
      if (task.stats.records - before >= RECORDS_PER_STEP) this.backlogged = true;
      this.turnRecords += task.stats.records - before;
      // A counter per step, not per record: the catch-up costs no extra work while it lasts.
      if (this.catchUp.size > 0) this.countReplayed(task.partition, task.stats.records - before);
    }
    const now = Date.now();
    // Lag and watermark delay stay fresh while busy too: a processor falling behind is never idle.
    // The log is asked for the lag at this interval only, beside the turn (see refreshLags);
    // in between a task's own reads keep it.
    if (now - this.gaugesAt >= GAUGE_INTERVAL_MS && this.lagRefresh === undefined) {
      this.gaugesAt = now;
      this.refreshLags();
    }
    if (!worked) {
      for (const task of this.tasks.values()) if (!this.notBefore.has(task.partition) && !this.abandoned.has(task.partition)) task.advanceIfIdle(now);
      this.updateGauges(now);
    }
    return worked;
  }

  /**
   * Asks the log for every task's lag beside the loop, not in a turn: a gauge is no reason
   * to stop processing. On JetStream, pending() creates a short-lived R1 consumer, which
   * nats-server places on any of the stream's peers, a killed one too (2.9.10 does not
   * look; from 2.9.12 it skips a peer marked offline, which a SIGKILLed one is only minutes
   * later): that create is never answered and times out after 5 s. Awaited in the turn,
   * a third of the creates failing stopped processing for 30-50 s after one NATS server
   * of three died. One refresh at a time; a failed one leaves the gauges as they were
   * (PartitionTask.refreshLag keeps a step's newer answer either way).
   */
  private refreshLags(): void {
    const tasks = [...this.tasks.values()];
    this.lagRefresh = Promise.allSettled(tasks.map((task) => task.refreshLag())).then((results) => {
      this.lagRefresh = undefined;
      const failed = results.flatMap((r) => (r.status === 'rejected' ? [r.reason as Error] : []));
      if (failed.length > 0) this.deps.logger.debug({ err: failed[0]!.message, failed: failed.length }, 'the log did not say every partition\'s lag; the gauges keep the last answers');
      this.updateGauges(Date.now());
    });
  }

  /** Sets the lag and watermark-delay gauges from what the tasks know, without asking the log. */
  private updateGauges(now: number): void {
    for (const task of this.tasks.values()) {
      const labels = { partition: String(task.partition) };
      this.metrics.lag.set(labels, task.lag);
      if (Number.isFinite(task.currentWatermark)) this.metrics.watermarkDelay.set(labels, (now - task.currentWatermark) / 1000);
    }
  }

  /**
   * The loop's checkpoint: the barrier (every task's snapshot) in the Serial, then its
   * commit beside the loop, which goes on processing while the sink's flush waits for
   * InfluxDB. Under the fleet load that wait was 4–11 s of every checkpoint, and the
   * processors did nothing else meanwhile. The next checkpoint, assign and revoke wait
   * for the commit.
   */
  private async checkpointBehind(): Promise<void> {
    await this.serial.run(async () => {
      const taken = await this.snapshotTasks([...this.tasks.values()]);
      // Set inside the Serial: every job queued after this one (an assign) sees the commit under way.
      this.committing = this.commitTasks(taken, false)
        .then(
          () => undefined,
          (err: unknown) => {
            this.commitFailure = err instanceof Error ? err : new Error(String(err));
          },
        )
        .finally(() => {
          this.committing = undefined;
        });
    });
  }

  /** A coordinated checkpoint of `tasks`, committed before it resolves, then the metrics that move at checkpoints. Call inside the Serial. */
  private async checkpointTasks(tasks: PartitionTask[], options: { partial?: boolean } = {}): Promise<CheckpointOutcome> {
    await this.committing;
    return this.commitTasks(await this.snapshotTasks(tasks, options), true);
  }

  /** The barrier of a checkpoint of `tasks`, with the counts their work since the last one adds. Call inside the Serial. */
  private async snapshotTasks(tasks: PartitionTask[], options: { partial?: boolean } = {}): Promise<TakenCheckpoint> {
    const started = performance.now();
    const barrier = await this.coordinator.snapshot(tasks, options);
    const counts = { messages: 0, duplicates: 0, seqRestarts: 0, late: 0, statuses: 0, copiesSkipped: 0 };
    for (const task of tasks) {
      const stats = task.stats;
      counts.messages += stats.messages;
      counts.duplicates += stats.duplicates;
      counts.seqRestarts += stats.seqRestarts;
      counts.late += stats.late;
      counts.statuses += stats.statuses;
      counts.copiesSkipped += stats.copiesSkipped;
      stats.messages = stats.duplicates = stats.seqRestarts = stats.late = stats.statuses = stats.copiesSkipped = 0;
    }
    return { barrier, counts, started };
  }

  /**
   * Commits a barrier, lets go of the partitions another processor claimed, and counts.
   * `inSerial`: the caller holds the Serial; otherwise a fenced task is dropped in a turn of
   * its own, and only if it is still the one snapshot (it may have been assigned again).
   */
  private async commitTasks(taken: TakenCheckpoint, inSerial: boolean): Promise<CheckpointOutcome> {
    const { barrier, counts } = taken;
    const outcome = await this.coordinator.commit(barrier);
    for (const partition of outcome.fenced) {
      const task = barrier.snapshots.find((s) => s.task.partition === partition)?.task;
      this.discardOutput(partition);
      if (inSerial) this.dropTask(partition);
      else void this.serial.run(() => (this.tasks.get(partition) === task ? this.dropTask(partition) : undefined));
      this.deps.logger.warn({ partition }, 'another processor has claimed this partition; it is let go without a checkpoint');
      this.deps.onFenced?.(partition);
    }
    // Counted at checkpoints, so work a crash makes the processors replay is counted once.
    this.metrics.messages.inc(counts.messages);
    this.metrics.duplicates.inc(counts.duplicates);
    this.metrics.seqRestarts.inc(counts.seqRestarts);
    this.metrics.late.inc(counts.late);
    this.metrics.deviceStatus.inc(counts.statuses);
    this.metrics.frameCopiesSkipped.inc(counts.copiesSkipped);
    this.metrics.checkpointSeconds.observe((performance.now() - taken.started) / 1000);
    this.metrics.checkpointBytes.set(outcome.bytes);
    return outcome;
  }

  /** Waits `ms`, or less when stop or assign wakes the loop. */
  private sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      this.wake = resolve;
      setTimeout(resolve, ms);
    });
  }
}
