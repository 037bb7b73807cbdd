/** A deterministic xorshift stream in [0, 1), so a failure names its case. */
export function rng(seed: number): () => number {
  let x = seed | 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

/** Every prefix of `bytes` (cut short anywhere), then `changes` copies with one byte set to a random value. */
export function prefixesAndMutations(bytes: Uint8Array, r: () => number, changes = 400): Uint8Array[] {
  const variants: Uint8Array[] = [];
  for (let cut = 0; cut <= bytes.length; cut++) variants.push(bytes.subarray(0, cut));
  for (let i = 0; i < changes; i++) {
    const v = Uint8Array.from(bytes);
    v[Math.floor(r() * v.length)] = Math.floor(r() * 256);
    variants.push(v);
  }
  return variants;
}
