import { readdir } from 'node:fs/promises';
import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import { sluiceVersion } from '../core/index.js';

/**
 * prom-client defaults whose collect() walks every handle or file descriptor on the event
 * loop's thread: with 19 000 device sockets one scrape held the gateway's thread ~50 ms
 * (readdirSync of /proc/self/fd, process._getActiveHandles(), getActiveResourcesInfo()),
 * stalling every device's PUBACK once per scrape. `sluice_gateway_connections` counts the
 * sockets; open descriptors are read off the thread below.
 */
const PER_HANDLE_DEFAULTS = ['nodejs_active_handles', 'nodejs_active_handles_total', 'nodejs_active_resources', 'nodejs_active_resources_total', 'process_open_fds'];

/**
 * The process's own metrics: prom-client's defaults under their usual names with `sluice_`
 * before them (`sluice_process_cpu_seconds_total`, `sluice_nodejs_heap_size_used_bytes`, as
 * dashboards made for other Node services expect) except those that cost a scrape per
 * handle, `sluice_process_open_fds` read asynchronously, and `sluice_build_info`, the
 * Prometheus convention for "which build is this" (`count by (version) (sluice_build_info)`
 * during an upgrade).
 */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  for (const name of PER_HANDLE_DEFAULTS) registry.removeSingleMetric(`sluice_${name}`);
  if (process.platform === 'linux') {
    new Gauge({
      name: 'sluice_process_open_fds',
      help: 'Number of open file descriptors (sockets, log segments, …); compare with sluice_process_max_fds',
      registers: [registry],
      async collect() {
        // The directory listing runs on libuv's thread pool, not the thread that serves devices.
        const fds = await readdir('/proc/self/fd').catch(() => undefined);
        if (fds !== undefined) this.set(fds.length - 1); // less the descriptor the listing itself held
      },
    });
  }
  new Gauge({
    name: 'sluice_build_info',
    help: 'Always 1; the labels name the Sluice version and the Node.js version of this process',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  }).set({ version: sluiceVersion(), node: process.version }, 1);
}
