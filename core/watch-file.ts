import { watch, type FSWatcher } from 'node:fs';
import { basename, dirname } from 'node:path';

/** A running watch; `close()` stops it and any pending call. */
export interface FileWatch {
  close(): void;
}

/**
 * Calls `onChange` once `debounceMs` after the last change to the file at `path`.
 *
 * The directory is watched, not the file: tools replace a file by renaming a new one over
 * it (our registry writes do, and so do most editors), and a watch on the file itself
 * follows the old inode and goes quiet after the first replace. Events for other names in
 * the directory (the temp file before its rename) are ignored. Debounced because one save
 * is several events (create, write, rename), and a file read between them may be partial.
 */
export function watchFile(path: string, debounceMs: number, onChange: () => void, onError: (err: Error) => void): FileWatch {
  const name = basename(path);
  let timer: NodeJS.Timeout | undefined;
  const watcher: FSWatcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
    // Some platforms do not say which file changed: then any change may be ours.
    if (filename !== null && filename.toString() !== name) return;
    clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  });
  watcher.on('error', onError);
  return {
    close() {
      clearTimeout(timer);
      watcher.close();
    },
  };
}
