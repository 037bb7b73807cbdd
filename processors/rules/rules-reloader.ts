import { watchFile, type FileWatch, type Logger } from '../../core/index.js';
import type { WindowSpec } from '../windowing/window-spec.js';
import { loadRulesFile } from './rules-file.js';
import type { Rule } from './rule.js';

export interface RulesReloaderOptions {
  /** rules.file. */
  file: string;
  windows: readonly WindowSpec[];
  logger: Logger;
  /** Called with the rules of each reload that loads, in order. */
  apply: (rules: Rule[]) => Promise<void>;
  /** Counts each reload by outcome (sluice_processor_rules_reloads_total). */
  count: (result: 'ok' | 'invalid') => void;
  /** Watch the file (auth.reload.watch); SIGHUP reloads either way. */
  watch: boolean;
  debounceMs: number;
}

/**
 * Takes changes to the rules file while the processors run: on a change of the file
 * (its directory is watched, debounced) and on reload() (SIGHUP). A file that loads is
 * applied; one that does not changes nothing, logs every problem on one line and counts
 * `result="invalid"`. Reloads run one at a time, in order, so a slow read can never apply
 * an older file over a newer one.
 */
export class RulesReloader {
  private watch: FileWatch | undefined;
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: RulesReloaderOptions) {
    if (!o.watch) return;
    const onError = (err: Error): void => o.logger.warn({ file: 'rules', err: err.message }, `cannot watch the rules file any more (${err.message}); send SIGHUP to reload it`);
    try {
      this.watch = watchFile(o.file, o.debounceMs, () => void this.reload(), onError);
    } catch (err) {
      onError(err as Error);
    }
  }

  /** Reads the file again and applies it if it loads, after any reload already running; never rejects. */
  reload(): Promise<void> {
    this.queue = this.queue.then(async () => {
      let rules: Rule[];
      try {
        rules = await loadRulesFile(this.o.file, { windows: this.o.windows });
      } catch (err) {
        this.o.count('invalid');
        this.o.logger.error({ file: 'rules', path: this.o.file, code: (err as { code?: string }).code }, `${(err as Error).message.replace(/\n/g, '; ')}; the rules loaded before stay in force: fix the file (it is reloaded when it changes, or on SIGHUP)`);
        return;
      }
      await this.o.apply(rules);
      this.o.count('ok');
      this.o.logger.info({ file: 'rules', path: this.o.file, rules: rules.length }, 'rules reloaded');
    });
    return this.queue;
  }

  /** Stops watching; a reload already running finishes. */
  close(): void {
    this.watch?.close();
  }
}
