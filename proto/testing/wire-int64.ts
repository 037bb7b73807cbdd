/**
 * An int64 for the generated encoder, exactly: with Long disabled (protobuf-numbers.ts) it
 * takes a number, which rounds past 2^53, or a Long-like { low, high }, which it does not.
 * Typed as the number the generated typings expect.
 */
export function wireInt64(v: bigint): number {
  return { low: Number(BigInt.asIntN(32, v)), high: Number(BigInt.asIntN(32, v >> 32n)), unsigned: false } as unknown as number;
}
