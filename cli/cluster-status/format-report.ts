/** `sluice cluster status` for people: the members, then one row per partition, in aligned columns. */
import { formatPartitionSet } from '../../routing/index.js';
import type { ClusterReport } from './cluster-report.js';

/** The header of the partition table (tests look for it). */
export const PARTITION_TABLE_HEADER = ['partition', 'owner', 'lease age', 'checkpoint', 'lag'] as const;

/** The report as text: a members table, then the partition table; "-" where there is no value. */
export function formatClusterReport(report: ClusterReport): string {
  const members = report.members.map((m) => [m.id, seconds(m.heartbeatAgeSeconds), String(m.partitions.length), formatPartitionSet(m.partitions) || '-']);
  const partitions = report.partitions.map((p) => [String(p.partition), p.owner ?? '-', p.leaseAgeSeconds === null ? '-' : seconds(p.leaseAgeSeconds), p.checkpointOffset === null ? '-' : String(p.checkpointOffset), String(p.lag)]);
  const unowned = report.partitions.filter((p) => p.owner === null).length;
  return [
    `members: ${report.members.length}`,
    table(['member', 'heartbeat age', 'owns', 'partitions'], members),
    '',
    `partitions: ${report.partitions.length}${unowned > 0 ? ` (${unowned} without an owner)` : ''}, lag ${report.partitions.reduce((n, p) => n + p.lag, 0)} records in all`,
    table([...PARTITION_TABLE_HEADER], partitions),
    '',
  ].join('\n');
}

function seconds(value: number): string {
  return `${value.toFixed(1)} s`;
}

/** Left-aligned columns two spaces apart. */
function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  return [header, ...rows].map((r) => r.map((cell, i) => (i === r.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ')).join('\n');
}
