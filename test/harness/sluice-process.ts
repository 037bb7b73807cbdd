import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../../cli/node-flags.js';

/** The compiled CLI; tests run after `npm run build`. */
export const SLUICE_BIN = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface SluiceProcess {
  child: ChildProcess;
  /** Resolves with the ports from the 'sluice ready' log line. */
  ready: Promise<{ mqtt: number; http: number }>;
  exited: Promise<number | null>;
  /** Lines the process printed (stdout and stderr), for diagnosing failures. */
  output: string[];
}

export interface SpawnOptions {
  /** Soft and hard RLIMIT_NOFILE of the child (through util-linux `prlimit`). */
  maxOpenFiles?: number;
}

/** Runs `sluice <args>` as a real child process, with the node flags the `sluice` command runs with. */
export function spawnSluice(args: string[], env: NodeJS.ProcessEnv = {}, options: SpawnOptions = {}): SluiceProcess {
  const command = [process.execPath, ...SERVER_NODE_FLAGS, SLUICE_BIN, ...args];
  if (options.maxOpenFiles !== undefined) command.unshift('prlimit', `--nofile=${options.maxOpenFiles}:${options.maxOpenFiles}`, '--');
  const child = spawn(command[0]!, command.slice(1), { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const ready = new Promise<{ mqtt: number; http: number }>((resolve, reject) => {
    createInterface({ input: child.stderr! }).on('line', (line) => output.push(line));
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      if (!line.includes('sluice ready')) return;
      resolve((JSON.parse(line) as { ports: { mqtt: number; http: number } }).ports);
    });
    exited.then((code) => reject(new Error(`sluice exited with ${code} before it was ready:\n${output.join('\n')}`)));
  });
  return { child, ready, exited, output };
}
