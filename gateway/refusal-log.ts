import type { Logger } from '../core/index.js';

/** How long one logged refusal speaks for the others of its reason. */
export const REFUSAL_LOG_INTERVAL_MS = 10_000;

/**
 * Logs refusals (bad credentials, ACL denials, protocol breaches) as mosquitto does
 * ("Client x disconnected, not authorised."), so an operator sees who was refused and why,
 * not only a counter going up. A device retrying a wrong secret in a loop, or a scanner,
 * must not fill the disk, so each reason logs at most one line per interval: the first
 * refusal at once, and when the interval ends one more line with how many were not logged.
 * The metrics count every refusal.
 */
export class RefusalLog {
  private readonly open = new Map<string, { suppressed: number; timer: NodeJS.Timeout }>();

  constructor(
    private readonly logger: Logger,
    private readonly intervalMs = REFUSAL_LOG_INTERVAL_MS,
  ) {}

  /** One refusal: `fields` say who (client id, username, address, topic), `message` what happened. */
  refused(reason: string, fields: Record<string, unknown>, message: string): void {
    const window = this.open.get(reason);
    if (window) {
      window.suppressed++;
      return;
    }
    // unref: a pending summary must not keep a stopping process alive; close() writes it.
    this.open.set(reason, { suppressed: 0, timer: setTimeout(() => this.closeWindow(reason), this.intervalMs).unref() });
    this.logger.warn({ reason, ...fields }, message);
  }

  /** Writes the pending summaries (at shutdown). */
  close(): void {
    for (const reason of [...this.open.keys()]) this.closeWindow(reason);
  }

  private closeWindow(reason: string): void {
    const window = this.open.get(reason);
    if (!window) return;
    this.open.delete(reason);
    clearTimeout(window.timer);
    if (window.suppressed > 0) {
      this.logger.warn({ reason, suppressed: window.suppressed }, `${window.suppressed} more ${reason} refusals in the last ${this.intervalMs / 1000} s, not logged one by one`);
    }
  }
}
