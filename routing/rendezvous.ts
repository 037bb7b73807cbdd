import { murmur3 } from './hash.js';

/** Stable preference of a member for a partition (rendezvous / highest-random-weight score). */
function score(member: string, partition: number): number {
  return murmur3(`${member}/${partition}`);
}

/** A member's fixed place in line for the larger share. */
function shareRank(member: string): number {
  return murmur3(`${member}/share`);
}

/**
 * Assigns partitions to members so that loads differ by at most one, starting from the
 * `previous` assignment when there is one (like Kafka's sticky assignor): partitions of
 * members that are still alive stay put unless their owner is above its share, and only
 * the surplus and the orphans move, each to the under-loaded member that scores it
 * highest (rendezvous hashing). A join therefore moves about P/(N+1) partitions, all to
 * the new member; a leave moves only the leaver's partitions. Deterministic for the same
 * inputs, whatever the order of `members`. Returns the owner per partition.
 */
export function assignPartitions(
  partitions: number,
  members: readonly string[],
  previous?: readonly (string | undefined)[],
): string[] {
  if (members.length === 0) throw new RangeError('assignPartitions needs at least one member');
  const alive = [...new Set(members)].sort();
  const owned = new Map<string, number[]>(alive.map((m) => [m, []]));
  const pool: number[] = [];
  for (let p = 0; p < partitions; p++) {
    const owner = previous?.[p];
    const list = owner === undefined ? undefined : owned.get(owner);
    if (list) list.push(p);
    else pool.push(p);
  }

  // The larger share (when the partitions do not divide evenly) goes to members that hold
  // at least that many already, so fewer move; among those, and among the rest, by a fixed
  // rank of the member, never by exact load. Members whose views of the holders differ
  // mid-rebalance must agree on every share: ranked by exact load, a member that had
  // released its surplus while another's release was still under way saw itself as the
  // smaller one, gave one more away, then took a partition the other had released for the
  // joiner (a move between two old members, seen in test/cluster.test.ts).
  const base = Math.floor(partitions / alive.length);
  let larger = partitions % alive.length;
  const target = new Map<string, number>();
  const large = (m: string): number => (owned.get(m)!.length > base ? 1 : 0);
  const byRank = [...alive].sort((a, b) => large(b) - large(a) || shareRank(b) - shareRank(a) || (a < b ? -1 : 1));
  for (const m of byRank) target.set(m, base + (larger-- > 0 ? 1 : 0));

  // Over-share members give up the partitions they score lowest.
  for (const m of alive) {
    const list = owned.get(m)!;
    const surplus = list.length - target.get(m)!;
    if (surplus <= 0) continue;
    list.sort((a, b) => score(m, b) - score(m, a) || a - b);
    pool.push(...list.splice(list.length - surplus, surplus));
  }

  // Free partitions go, best score first, to members still under their share.
  const pairs: { s: number; p: number; m: string }[] = [];
  for (const p of pool) for (const m of alive) if (owned.get(m)!.length < target.get(m)!) pairs.push({ s: score(m, p), p, m });
  pairs.sort((a, b) => b.s - a.s || a.p - b.p || (a.m < b.m ? -1 : 1));
  const placed = new Set<number>();
  for (const { p, m } of pairs) {
    const list = owned.get(m)!;
    if (placed.has(p) || list.length >= target.get(m)!) continue;
    list.push(p);
    placed.add(p);
  }

  const owners = new Array<string>(partitions);
  for (const [m, list] of owned) for (const p of list) owners[p] = m;
  return owners;
}

/** The partitions a member owns in an assignment. */
export function partitionsOwnedBy(member: string, owners: readonly string[]): number[] {
  const list: number[] = [];
  owners.forEach((owner, p) => owner === member && list.push(p));
  return list;
}
