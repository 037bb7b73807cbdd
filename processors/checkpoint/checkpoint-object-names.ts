/**
 * Names of checkpoint objects in the NATS store: `p<partition>/e<epoch>/<id>.full` or
 * `p<partition>/e<epoch>/<id>.delta-<base>` (ids 16 digits, as in local file names).
 * The writer's epoch is part of the name so that a fenced processor's blob can never
 * replace one the partition's new owner committed under the same checkpoint id, and so
 * that a sweep can tell an older owner's leftovers from a newer owner's blob in flight.
 */
import type { ChainLink } from './checkpoint-chain.js';

const pad = (n: number): string => String(n).padStart(16, '0');
const NAME = /^p(\d+)\/e(\d+)\/(\d{16})\.(?:full|delta-(\d{16}))$/;

/** The object name of checkpoint `link` of `partition`, written at `epoch`. */
export function checkpointObjectName(partition: number, epoch: number, link: ChainLink): string {
  const tail = link.kind === 'full' ? 'full' : `delta-${pad(link.base)}`;
  return `p${partition}/e${epoch}/${pad(link.id)}.${tail}`;
}

/** The parts of a checkpoint object name; undefined for any other name. */
export function parseCheckpointObjectName(name: string): (ChainLink & { partition: number; epoch: number }) | undefined {
  const m = NAME.exec(name);
  if (!m) return undefined;
  const delta = m[4] !== undefined;
  return { partition: Number(m[1]), epoch: Number(m[2]), id: Number(m[3]), kind: delta ? 'delta' : 'full', base: delta ? Number(m[4]) : 0 };
}
