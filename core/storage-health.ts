/**
 * Which components cannot write to storage right now, for /readyz, the metric
 * `sluice_storage_errors_total{component,code}` and the log. An episode runs from a
 * component's first failed write to its next successful one: every failure is counted,
 * but only the start and the end of an episode are logged (a full disk fails every
 * append and every retry; one line each would bury everything else).
 */
import { Counter, type Registry } from 'prom-client';
import type { Logger } from './logger.js';
import { storageErrno } from './storage.js';

/** One component's failing storage. */
export interface StorageEpisode {
  errno: string;
  since: number;
  message: string;
  /** False for best-effort writes (dead letters): counted and logged, but the node stays ready. */
  gatesReadiness: boolean;
}

export interface StorageHealthOptions {
  registry?: Registry;
  logger?: Logger;
  /** Told when an episode starts (errno) or ends (undefined); a worker thread forwards it to the main thread. */
  onChange?: (component: string, errno: string | undefined) => void;
}

export class StorageHealth {
  private readonly episodes = new Map<string, StorageEpisode>();
  private readonly errors: Counter<'component' | 'code'> | undefined;

  constructor(private readonly o: StorageHealthOptions = {}) {
    const registers = o.registry ? [o.registry] : [];
    const existing = o.registry?.getSingleMetric('sluice_storage_errors_total') as Counter<'component' | 'code'> | undefined;
    this.errors =
      existing ??
      (o.registry
        ? new Counter({ name: 'sluice_storage_errors_total', help: 'Failed storage writes (disk full, quota, read-only) by component and errno', labelNames: ['component', 'code'], registers })
        : undefined);
  }

  /** Counts a failed write of `component`; logs and reports it when it starts an episode. */
  failed(component: string, err: unknown, gatesReadiness = true): void {
    const errno = storageErrno(err) ?? String((err as { code?: unknown } | undefined)?.code ?? 'EIO');
    this.errors?.inc({ component, code: errno });
    if (this.episodes.has(component)) return;
    const message = err instanceof Error ? err.message : String(err);
    this.episodes.set(component, { errno, since: Date.now(), message, gatesReadiness });
    this.o.logger?.error({ storage: component, code: errno, err: message }, `storage refuses writes (${errno}): ${component} retries with backoff and resumes by itself; free space or remount read-write`);
    this.o.onChange?.(component, errno);
  }

  /** A write of `component` succeeded: ends its episode, if one runs. */
  recovered(component: string): void {
    const episode = this.episodes.get(component);
    if (!episode) return;
    this.episodes.delete(component);
    this.o.logger?.warn({ storage: component, code: episode.errno, downMs: Date.now() - episode.since }, `storage writes again: ${component} resumed`);
    this.o.onChange?.(component, undefined);
  }

  /** Takes the state another thread reported (it counted and logged it there). */
  mirror(component: string, errno: string | undefined): void {
    if (errno === undefined) this.episodes.delete(component);
    else if (!this.episodes.has(component)) this.episodes.set(component, { errno, since: Date.now(), message: errno, gatesReadiness: true });
  }

  /** Whether `component` is in an episode. */
  isFailing(component: string): boolean {
    return this.episodes.has(component);
  }

  /** Why the node is not ready, one line, or undefined while every write that gates readiness works. */
  get problem(): string | undefined {
    const parts = [...this.episodes].filter(([, e]) => e.gatesReadiness).map(([c, e]) => `${c} ${e.errno} since ${new Date(e.since).toISOString()}`);
    return parts.length === 0 ? undefined : `storage refuses writes: ${parts.join('; ')}`;
  }
}
