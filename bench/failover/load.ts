/**
 * The steady load under which failovers are measured: one `sluice simulate` over both
 * gateways, started once with a duration longer than the bench and stopped at its end.
 * Its own process (as a user would run it), killed with the bench if the bench dies.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { SLUICE_CLI } from '../jetstream/sluice-child.js';

/** Far longer than the bench: it is stopped when the runs are done. */
const DURATION = '2h';
const KEEP_CHARS = 4000;

/** A running simulator. */
export interface SteadyLoad {
  /** Throws (with its last output) when the simulator has exited: the runs would measure an idle cluster. */
  assertRunning(): void;
  /** SIGKILL; resolves once it has exited. Safe to call twice. */
  stop(): Promise<void>;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Starts `sluice simulate` with `devices` devices sending `rate` readings/s (10 a message, QoS 1) to `urls`. */
export function startSteadyLoad(o: { configFile: string; urls: string; devices: number; rate: number }): SteadyLoad {
  const args = [
    SLUICE_CLI, 'simulate', '--config', o.configFile, '--url', o.urls,
    '--devices', String(o.devices), '--rate', String(o.rate), '--batch', '10',
    '--duration', DURATION, '--device-prefix', `failover-${Date.now()}-`, '--no-progress',
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  live.add(child);
  let output = '';
  const keep = (chunk: Buffer): void => {
    output = (output + chunk.toString('utf8')).slice(-KEEP_CHARS);
  };
  child.stdout.on('data', keep);
  child.stderr.on('data', keep);
  const exited = new Promise<void>((resolve) => child.once('exit', () => (live.delete(child), resolve())));
  return {
    assertRunning: () => {
      if (child.exitCode !== null || child.signalCode !== null) throw new Error(`sluice simulate exited (${child.exitCode ?? child.signalCode}):\n${output}`);
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
  };
}
