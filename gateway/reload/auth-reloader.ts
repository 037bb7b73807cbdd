import { watchFile, type FileWatch, type Logger } from '../../core/index.js';
import { AclRules, type DeviceRegistry } from '../auth/index.js';
import type { SessionControl } from '../broker-hooks.js';
import type { GatewayMetrics } from '../metrics.js';

/** The two files a running gateway takes changes from; also the `file` label of the metric. */
export type ReloadableFile = 'registry' | 'acl';

export interface AuthReloaderOptions {
  /** Registry mode only: the registry the authenticator checks against, reloaded in place. */
  registry?: DeviceRegistry;
  /** `acl.file`, when set (the built-in rules never change). */
  aclFile?: string;
  sessions: Pick<SessionControl, 'setAcl' | 'closeStale'>;
  metrics: GatewayMetrics;
  logger: Logger;
  /** auth.reload.watch and auth.reload.debounce. */
  watch: boolean;
  debounceMs: number;
}

/**
 * Applies changes to the device registry and the ACL file while the gateway runs: on a
 * change of either file (watched, debounced) and on `reload()` (SIGHUP). A reload that
 * loads replaces the rules at once and disconnects the clients whose identity no longer
 * stands; one that does not load (bad JSON, an ACL syntax error, a missing file) changes
 * nothing, logs one line saying why and counts `result="invalid"`. Reloads run one at a
 * time, in order, so a slow read can never apply an older file over a newer one.
 */
export class AuthReloader {
  private readonly watches: FileWatch[] = [];
  private queue: Promise<void> = Promise.resolve();

  constructor(private readonly o: AuthReloaderOptions) {
    if (!o.watch) return;
    const onError = (file: ReloadableFile) => (err: Error) =>
      o.logger.warn({ file, err: err.message }, `cannot watch the ${file} file any more (${err.message}); send SIGHUP to reload it`);
    const watch = (file: ReloadableFile, path: string): void => {
      try {
        this.watches.push(watchFile(path, o.debounceMs, () => void this.reload([file]), onError(file)));
      } catch (err) {
        // The registry's directory may not exist yet (no device added): start without the watch.
        onError(file)(err as Error);
      }
    };
    if (o.registry) watch('registry', o.registry.path);
    if (o.aclFile) watch('acl', o.aclFile);
  }

  /** Reloads the given files (default: every file there is), after any reload already running. */
  reload(files: readonly ReloadableFile[] = ['registry', 'acl']): Promise<void> {
    const run = async (): Promise<void> => {
      for (const file of files) await this.reloadOne(file);
    };
    this.queue = this.queue.then(run);
    return this.queue;
  }

  /** Stops watching; a reload already running finishes. */
  close(): Promise<void> {
    for (const w of this.watches.splice(0)) w.close();
    return this.queue;
  }

  private async reloadOne(file: ReloadableFile): Promise<void> {
    const { registry, aclFile, sessions, metrics, logger } = this.o;
    const path = file === 'registry' ? registry?.path : aclFile;
    if (path === undefined) return;
    const started = performance.now();
    try {
      if (file === 'registry') {
        const changes = await registry!.reload();
        const disconnected = sessions.closeStale();
        const ms = Math.round(performance.now() - started);
        // The first few ids, so an operator sees who was sent away without a line per client.
        const clients = disconnected.slice(0, 20);
        logger.info({ file, path, added: changes.added.length, removed: changes.removed.length, changed: changes.changed.length, disconnected: disconnected.length, clients, ms }, `device registry reloaded: ${registry!.size} devices`);
      } else {
        sessions.setAcl(await AclRules.load(path));
        logger.info({ file, path, ms: Math.round(performance.now() - started) }, 'ACL reloaded');
      }
      metrics.configReloads.inc({ file, result: 'ok' });
    } catch (err) {
      metrics.configReloads.inc({ file, result: 'invalid' });
      const code = (err as { code?: string }).code;
      logger.error({ file, path, code }, `${(err as Error).message}; the ${file === 'registry' ? 'registry' : 'ACL'} loaded before stays in force: fix the file (it is reloaded when it changes, or on SIGHUP)`);
    }
  }
}
