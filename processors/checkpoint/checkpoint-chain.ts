/**
 * The chain rules every checkpoint store shares: which checkpoints a delta depends on,
 * which ones retention keeps, where the log may be trimmed, and which chain a restore
 * takes. They work on what a store knows without reading checkpoints (id, kind, base),
 * so the local store can use file names and the NATS store its manifest.
 */
import type { PartitionCheckpoint } from './checkpoint-file.js';

/** A stored checkpoint as its store lists it: the fields that place it in a chain. */
export interface ChainLink {
  id: number;
  kind: 'full' | 'delta';
  /** The checkpoint a delta applies to; 0 for a full one. */
  base: number;
}

/**
 * Ids to keep of `links` (newest first): the newest `keep` and, for each delta among
 * them, the chain back to its full checkpoint. When they all rest on one full, also the
 * newest checkpoint before that full (and its chain): a corrupt full takes every delta
 * built on it down with it, and the restore must still find an earlier one to fall back to.
 */
export function retainedIds(links: readonly ChainLink[], keep: number): Set<number> {
  const byId = new Map(links.map((l) => [l.id, l]));
  const kept = new Set<number>();
  const keepChain = (newest: ChainLink): void => {
    for (let l: ChainLink | undefined = newest; l !== undefined && !kept.has(l.id); l = l.kind === 'delta' ? byId.get(l.base) : undefined) kept.add(l.id);
  };
  for (const newest of links.slice(0, keep)) keepChain(newest);
  const fulls = [...kept].filter((id) => byId.get(id)!.kind === 'full');
  const fallback = fulls.length === 1 ? links.find((l) => l.id < fulls[0]!) : undefined;
  if (fallback) keepChain(fallback);
  return kept;
}

/**
 * The log offset below which no kept checkpoint needs records: the lowest offset of the
 * retained ones. Undefined while fewer than `keep` exist (a fallback past all of them
 * starts from the log's first record) or while an offset is unknown.
 */
export async function lowestRetainedOffset<L extends ChainLink>(
  links: readonly L[],
  keep: number,
  offsetOf: (link: L) => number | undefined | Promise<number | undefined>,
): Promise<number | undefined> {
  if (links.length < keep) return undefined;
  const kept = retainedIds(links, keep);
  let lowest: number | undefined;
  for (const link of links) {
    if (!kept.has(link.id)) continue;
    const offset = await offsetOf(link);
    if (offset !== undefined && (lowest === undefined || offset < lowest)) lowest = offset;
  }
  return lowest;
}

/**
 * The newest restorable chain of `links` (newest first): a full checkpoint and its
 * deltas in order, [] when there is none. `load` gives a checkpoint or undefined when
 * it is corrupt (and reports that itself); a delta whose base is not listed is reported
 * through `missingBase`. A corrupt or missing link ends every chain through it, so a
 * corrupt delta falls back to the checkpoint before it, a corrupt full one to the
 * previous full one's chain. Each link is loaded at most once.
 */
export async function newestRestorableChain<L extends ChainLink>(
  links: readonly L[],
  load: (link: L) => Promise<PartitionCheckpoint | undefined>,
  missingBase: (link: L, base: number) => void,
): Promise<PartitionCheckpoint[]> {
  const byId = new Map(links.map((l) => [l.id, l]));
  const chains = new Map<number, PartitionCheckpoint[] | null>();
  const chainOf = async (link: L): Promise<PartitionCheckpoint[] | null> => {
    const known = chains.get(link.id);
    if (known !== undefined) return known;
    let chain: PartitionCheckpoint[] | null = null;
    const checkpoint = await load(link);
    if (checkpoint?.kind === 'full') {
      chain = [checkpoint];
    } else if (checkpoint !== undefined) {
      const base = byId.get(checkpoint.base);
      if (base === undefined) missingBase(link, checkpoint.base);
      const before = base === undefined ? null : await chainOf(base);
      if (before) chain = [...before, checkpoint];
    }
    chains.set(link.id, chain);
    return chain;
  };
  for (const link of links) {
    const chain = await chainOf(link);
    if (chain) return chain;
  }
  return [];
}
