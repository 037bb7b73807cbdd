/**
 * One `sluice simulate` run as a child process, as a user would run it against a
 * set-up: its own process, so its CPU is not the bench's nor the set-up's. Resolves with
 * its JSON report and, with `verify`, whether its verify line said exact.
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import type { SimulationReport } from '../../simulator/index.js';
import { cpuSecondsOf } from '../proc-usage.js';
import { SLUICE_CLI } from './sluice-child.js';

/** The simulator's CPU is read this often: /proc/<pid> is gone once it has exited, so the last read is what it used (to within this). */
const CPU_EVERY_MS = 250;

/** What one run offers. */
export interface SimulateRun {
  configFile: string;
  urls: string;
  devices: number;
  /** Offered readings/s, whole fleet. */
  rate: number;
  durationMs: number;
  /** Fresh per run: the processors de-duplicate by (device, seq), and seq restarts at 1. */
  devicePrefix: string;
  seed: number;
  reportFile: string;
  verify: boolean;
}

/** A finished run. */
export interface SimulateOutcome {
  report: SimulationReport;
  exitCode: number | null;
  /** With verify: the verify line ("verify: exact (…)" or what differed); undefined without. */
  verifyLine?: string;
  exact?: boolean;
  /** CPU seconds the simulator used (sampled; within CPU_EVERY_MS of its end). */
  simulatorCpuSeconds: number;
  /** Its stdout, for an error message. */
  stdout: string;
}

/** Runs `sluice simulate --batch 100 --shape series --metrics 1` (QoS 1) with `run`'s figures; rejects when no report was written. */
export async function runSimulate(run: SimulateRun): Promise<SimulateOutcome> {
  const args = [
    SLUICE_CLI, 'simulate', '--config', run.configFile, '--url', run.urls,
    '--devices', String(run.devices), '--rate', String(run.rate), '--batch', '100', '--shape', 'series', '--metrics', '1',
    '--duration', `${run.durationMs}ms`, '--device-prefix', run.devicePrefix, '--seed', String(run.seed),
    '--report', run.reportFile, '--no-progress', ...(run.verify ? ['--verify'] : []),
  ];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  child.stderr.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
  let cpu = 0;
  const sampler = setInterval(() => (cpu = Math.max(cpu, cpuSecondsOf(child.pid!))), CPU_EVERY_MS);
  const exitCode = await new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  clearInterval(sampler);
  const text = await readFile(run.reportFile, 'utf8').catch(() => undefined);
  if (text === undefined) throw new Error(`sluice simulate wrote no report (exit ${exitCode}):\n${stdout.slice(-3000)}`);
  const verifyLine = run.verify ? /^verify: (?:exact|NOT exact).*$/m.exec(stdout)?.[0] ?? 'verify: no verdict' : undefined;
  return {
    report: JSON.parse(text) as SimulationReport,
    exitCode,
    verifyLine,
    exact: run.verify ? verifyLine!.startsWith('verify: exact') : undefined,
    simulatorCpuSeconds: cpu,
    stdout,
  };
}
