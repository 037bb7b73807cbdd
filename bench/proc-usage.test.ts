import { createServer, type Server } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cpuSecondsOf, listeningPid, machineCpuSeconds } from './proc-usage.js';

describe('proc-usage', () => {
  let server: Server | undefined;
  afterEach(() => new Promise<void>((resolve) => (server === undefined ? resolve() : server.close(() => resolve()))));

  it('finds the process listening on a port, and nothing once it has closed', async () => {
    const s = (server = createServer());
    await new Promise<void>((resolve) => s.listen(0, '127.0.0.1', resolve));
    const port = (s.address() as { port: number }).port;
    expect(listeningPid(port)).toBe(process.pid);
    await new Promise<void>((resolve) => s.close(() => resolve()));
    server = undefined;
    expect(listeningPid(port)).toBeUndefined();
  });

  it("reads the machine's CPU as busy within total, and a process's own CPU", () => {
    const before = machineCpuSeconds();
    let x = 0;
    for (let i = 0; i < 2e7; i++) x += Math.sqrt(i);
    const after = machineCpuSeconds();
    expect(x).toBeGreaterThan(0);
    expect(after.busy).toBeGreaterThanOrEqual(before.busy);
    expect(after.total).toBeGreaterThan(before.total);
    expect(after.busy).toBeLessThanOrEqual(after.total);
    expect(cpuSecondsOf(process.pid)).toBeGreaterThan(0);
  });
});
