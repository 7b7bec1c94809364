/**
 * Small seeded PRNGs for tests and benches. Deterministic and XS-clean (ES2022 only), so they can
 * also be bundled into code that runs inside the XS engine. Each keeps the exact sequence the
 * tests were written against: changing one changes generated cases.
 */

/** mulberry32: uniform floats in [0, 1) (the simulator's own PRNG). */
export { mulberry32 } from "../../host-sim/kernel/prng";

/** Numerical Recipes LCG (a = 1664525, c = 1013904223, mod 2^32): uniform floats in [0, 1). */
export function lcg(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1664525) + 1013904223) >>> 0;
    return a / 4294967296;
  };
}

/** ANSI C LCG (a = 1103515245, c = 12345, mod 2^32): raw 32-bit unsigned integers. */
export function lcgU32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (Math.imul(a, 1103515245) + 12345) >>> 0;
    return a;
  };
}

/** Approximately standard-normal deviates: sum of 12 uniforms from `r`, minus 6 (Irwin-Hall). */
export function gauss12(r: () => number): number {
  let s = 0;
  for (let i = 0; i < 12; i++) s += r();
  return s - 6;
}
