/**
 * One `sluice <role>` child process of the bench (start, gateway or processor) on port 0,
 * ready once it logs 'sluice ready'. The test harness has its own spawner, but it finds
 * the CLI relative to `test/`, which is wrong once compiled into dist/; this one sits
 * next to the CLI in dist/ and also kills its children if the bench itself dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { SERVER_NODE_FLAGS } from '../../cli/node-flags.js';

/** The compiled CLI, next to this file in dist/. */
export const SLUICE_CLI = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

const READY_TIMEOUT_MS = 60_000;
const STOP_TIMEOUT_MS = 15_000;
const KEEP_LINES = 200;

/** Every live child, so that a bench that throws or exits still takes them down. */
const children = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of children) child.kill('SIGKILL');
});

/** A running sluice process. */
export interface SluiceChild {
  name: string;
  pid: number;
  ports: { mqtt: number; http: number };
  /** The last lines it printed, for an error message. */
  output(): string[];
  /** SIGTERM, SIGKILL after a while; resolves once it has exited. */
  stop(): Promise<void>;
  /** SIGKILL (a crash: nothing flushed, nothing released); resolves once it has exited. */
  kill(): Promise<void>;
  /** Exit code or signal once it has exited; null while it runs. */
  exitStatus(): number | string | null;
}

/** Spawns `sluice <args>` (JSON logs) and resolves once it is ready; rejects (and kills it) if it exits or takes too long. */
export async function startSluiceChild(name: string, args: string[]): Promise<SluiceChild> {
  const child = spawn(process.execPath, [...SERVER_NODE_FLAGS, SLUICE_CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, SLUICE_LOG_FORMAT: 'json' } });
  children.add(child);
  const exited = new Promise<void>((resolve) => child.once('exit', () => (children.delete(child), resolve())));
  const lines: string[] = [];
  let onReady = (_ports: { mqtt: number; http: number }): void => undefined;
  const keep = (line: string): void => {
    lines.push(line);
    if (lines.length > KEEP_LINES) lines.shift();
    if (line.includes('sluice ready')) onReady((JSON.parse(line) as { ports: { mqtt: number; http: number } }).ports);
  };
  createInterface({ input: child.stdout! }).on('line', keep);
  createInterface({ input: child.stderr! }).on('line', keep);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
    await exited;
    clearTimeout(timer);
  };
  const kill = async (): Promise<void> => {
    if (child.exitCode !== null || child.signalCode !== null) return;
    child.kill('SIGKILL');
    await exited;
  };
  const ports = await new Promise<{ mqtt: number; http: number }>((resolve, reject) => {
    const fail = (why: string): void => reject(new Error(`${name} ${why}:\n${lines.slice(-30).join('\n')}`));
    const timer = setTimeout(() => fail(`was not ready after ${READY_TIMEOUT_MS / 1000} s`), READY_TIMEOUT_MS);
    onReady = (p) => (clearTimeout(timer), resolve(p));
    void exited.then(() => (clearTimeout(timer), fail(`exited with ${child.exitCode ?? child.signalCode} before it was ready`)));
  }).catch(async (err: unknown) => {
    child.kill('SIGKILL');
    await exited;
    throw err;
  });
  return { name, pid: child.pid!, ports, output: () => [...lines], stop, kill, exitStatus: () => child.exitCode ?? child.signalCode };
}
