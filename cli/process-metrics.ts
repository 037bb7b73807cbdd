import { Gauge, collectDefaultMetrics, type Registry } from 'prom-client';
import { sluiceVersion } from '../core/index.js';

/**
 * The process's own metrics: prom-client's defaults under their usual names with `sluice_`
 * before them (`sluice_process_cpu_seconds_total`, `sluice_nodejs_heap_size_used_bytes`, as
 * dashboards made for other Node services expect), and `sluice_build_info`, the Prometheus
 * convention for "which build is this" (`count by (version) (sluice_build_info)` during an
 * upgrade).
 */
export function registerProcessMetrics(registry: Registry): void {
  collectDefaultMetrics({ register: registry, prefix: 'sluice_' });
  new Gauge({
    name: 'sluice_build_info',
    help: 'Always 1; the labels name the Sluice version and the Node.js version of this process',
    labelNames: ['version', 'node'] as const,
    registers: [registry],
  }).set({ version: sluiceVersion(), node: process.version }, 1);
}
