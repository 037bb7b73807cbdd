import { Worker } from 'node:worker_threads';
import { AggregatorRegistry, type Registry } from 'prom-client';
import { compiledWorkerFile, ExitCode, SluiceError, type Logger, type StorageHealth } from '../../core/index.js';
import type { Log } from '../../log/index.js';
import { assignPartitions } from '../../routing/index.js';
import type { ProcessorConfig } from '../config.js';
import type { AlertTransition } from '../rules/index.js';
import type { LogOffsetsMemory, WorkerMessage } from './log-link-protocol.js';
import { LogServer, type ServedLog } from './log-server.js';

/** A registry's metrics as prom-client JSON (what crosses from a worker). */
export type MetricsJson = Awaited<ReturnType<Registry['getMetricsAsJSON']>>;

/** What a processor worker is started with. */
export interface ProcessorWorkerData {
  thread: number;
  config: ProcessorConfig;
  dataDir: string;
  partitions: number[];
  memory: LogOffsetsMemory;
}

export interface ProcessorPoolDeps {
  /** The log the processors read (the FileLog, on this thread); the pool wraps it (see `log`) and serves it to its workers. */
  log: ServedLog;
  logger: Logger;
  dataDir: string;
  /** The partitions this process owns (all of them in embedded mode). */
  partitions: number[];
  /** Mirrors the workers' storage episodes (their checkpoints), so /readyz sees them. */
  health?: StorageHealth;
  /** Told of every alert transition the workers send (after its point was emitted): the MQTT effect. */
  onAlert?: (transition: AlertTransition) => void;
}

interface Thread {
  index: number;
  worker: Worker;
  partitions: number[];
  stopped: Promise<void>;
  metricRequests: Map<number, (metrics: MetricsJson) => void>;
}

/** The compiled worker script (see compiledWorkerFile). */
function workerFile(): string {
  return compiledWorkerFile(import.meta.url, 'processors/runtime/processor.worker.js');
}

/**
 * `processors.threads` worker threads, each running a ProcessorNode over its share of
 * the owned partitions (shared out by the rendezvous assignment, as nodes share them in
 * distributed mode). The log stays on this thread: writers append through `log`, which
 * wakes the workers; workers read through a LogServer. Each worker has its own InfluxDB
 * sink and checkpoints its partitions on its own clock, so a large snapshot stalls only
 * its own partitions, never the gateway.
 */
export class ProcessorPool {
  private readonly server: LogServer;
  private readonly threads: Thread[] = [];
  private stopping = false;
  private nextMetricsId = 1;
  /** Why InfluxDB refuses each thread's writes, while it does. */
  private readonly sinkProblems = new Map<number, string>();

  constructor(
    private readonly config: ProcessorConfig,
    private readonly deps: ProcessorPoolDeps,
  ) {
    this.server = new LogServer(deps.log);
  }

  /** The partitions each worker thread owns, by thread. */
  get assignment(): number[][] {
    return this.threads.map((t) => t.partitions);
  }

  /** The log writers must append through, so the workers hear of new records at once. */
  get log(): Log {
    return this.server.log;
  }

  /** Why InfluxDB refuses the processors' writes (one line), or undefined while it takes them: for /readyz. */
  get sinkProblem(): string | undefined {
    return this.sinkProblems.values().next().value;
  }

  /** Starts the workers; resolves once every one has restored its checkpoints. */
  async start(): Promise<void> {
    const count = Math.min(this.config.processors.threads, this.deps.partitions.length);
    const names = Array.from({ length: count }, (_, i) => `thread-${i}`);
    const owners = assignPartitions(this.deps.partitions.length, names);
    const file = workerFile();
    const slots: number[] = [];
    this.deps.partitions.forEach((partition, i) => (slots[partition] = names.indexOf(owners[i]!)));
    this.server.assign(slots);
    await this.server.open();
    const started = names.map((_, index) => {
      const partitions = this.deps.partitions.filter((_, i) => owners[i] === names[index]);
      const data: ProcessorWorkerData = { thread: index, config: this.config, dataDir: this.deps.dataDir, partitions, memory: this.server.memory };
      const worker = new Worker(file, { workerData: data, name: `sluice-processor-${index}` });
      let stoppedResolve!: () => void;
      const thread: Thread = { index, worker, partitions, stopped: new Promise<void>((r) => (stoppedResolve = r)), metricRequests: new Map() };
      this.threads.push(thread);
      return new Promise<void>((resolve, reject) => {
        worker.on('message', (message: WorkerMessage) => {
          switch (message.kind) {
            case 'log':
              void this.server.serve(message.request, worker);
              break;
            case 'started':
              resolve();
              break;
            case 'start-failed':
              reject(new SluiceError(message.code, message.message));
              break;
            case 'storage':
              this.deps.health?.mirror(`${message.component} (processor thread ${index})`, message.errno);
              break;
            case 'sink':
              this.onSinkProblem(index, message.problem);
              break;
            case 'alert':
              this.deps.onAlert?.(message.transition);
              break;
            case 'metrics-response':
              thread.metricRequests.get(message.id)?.(message.metrics as MetricsJson);
              thread.metricRequests.delete(message.id);
              break;
          }
        });
        worker.on('error', (err) => {
          reject(err);
          this.onThreadFailed(thread, err);
        });
        worker.on('exit', (code) => {
          stoppedResolve();
          for (const answer of thread.metricRequests.values()) answer([]);
          if (code !== 0) {
            const err = new SluiceError('SLUICE_PROCESSOR_THREAD_EXITED', `processor thread ${index} exited with code ${code}`);
            reject(err);
            this.onThreadFailed(thread, err);
          }
        });
      });
    });
    try {
      await Promise.all(started);
    } catch (err) {
      await this.stop({ checkpoint: false });
      throw err;
    }
    this.deps.logger.info({ threads: this.threads.map((t) => t.partitions.length) }, 'processor threads started (partitions per thread)');
  }

  /**
   * Logs a refusal once for the whole pool when the first thread meets it (every thread
   * writes to the same InfluxDB with the same user), and once when the last one is past it.
   */
  private onSinkProblem(thread: number, problem: string | undefined): void {
    const before = this.sinkProblem;
    if (problem === undefined) this.sinkProblems.delete(thread);
    else this.sinkProblems.set(thread, problem);
    const after = this.sinkProblem;
    if (after !== undefined && after !== before) this.deps.logger.error(`${after}; the processors keep the points and retry with backoff, so the fix takes effect without a restart`);
    if (after === undefined && before !== undefined) this.deps.logger.warn('InfluxDB takes the processors\' writes again');
  }

  /** A thread died outside a stop: a bug, so exit loudly and let a supervisor restart from the checkpoints. */
  private onThreadFailed(thread: Thread, err: Error): void {
    if (this.stopping) return;
    this.deps.logger.fatal({ err, thread: thread.index }, 'processor thread failed; exiting');
    process.exit(ExitCode.internal);
  }

  /** Every worker's metrics, as prom-client JSON, for aggregation with this thread's. */
  async metrics(): Promise<MetricsJson[]> {
    return Promise.all(
      this.threads.map(
        (thread) =>
          new Promise<MetricsJson>((resolve) => {
            const id = this.nextMetricsId++;
            thread.metricRequests.set(id, resolve);
            thread.worker.postMessage({ kind: 'metrics', id } satisfies WorkerMessage);
          }),
      ),
    );
  }

  /** Has every worker read rules.file again (SIGHUP); each applies it if it loads, or logs why not and keeps its rules. */
  reloadRules(): void {
    for (const thread of this.threads) thread.worker.postMessage({ kind: 'reload-rules' } satisfies WorkerMessage);
  }

  /** Stops every worker (each takes a last checkpoint when InfluxDB allows) and waits for them to exit. */
  async stop(options: { checkpoint?: boolean; timeoutMs?: number } = {}): Promise<void> {
    this.stopping = true;
    const message: WorkerMessage = { kind: 'stop', checkpoint: options.checkpoint ?? true, timeoutMs: options.timeoutMs ?? 10_000 };
    await Promise.all(
      this.threads.map(async (thread) => {
        thread.worker.postMessage(message);
        // A worker that does not finish in time is ended; its partitions replay from their checkpoints.
        let timer: NodeJS.Timeout | undefined;
        const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, message.timeoutMs + 5_000)));
        await Promise.race([thread.stopped, late]);
        clearTimeout(timer);
        await thread.worker.terminate();
      }),
    );
  }
}

/** Merges this thread's metrics with the workers' (counters and histograms add up; gauges per partition stay distinct). */
export function aggregateMetrics(own: MetricsJson, workers: MetricsJson[]): Registry {
  return AggregatorRegistry.aggregate([own, ...workers]);
}
