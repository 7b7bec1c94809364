/**
 * mulberry32: a small deterministic PRNG, uniform floats in [0, 1). XS-clean. Used by the
 * simulator (link reconnect jitter) and, through test/support/prng.ts, by tests and benches.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return (): number => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
