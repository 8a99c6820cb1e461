/**
 * Seeded pseudo-random numbers for shuffling, splitting and augmentation.
 *
 * mulberry32: one 32-bit state word, passes the statistical tests that matter for sampling, and is
 * a few integer ops per draw. Not cryptographic. The same seed gives the same sequence on every
 * platform because only 32-bit integer arithmetic (`Math.imul`, `>>>`) is involved.
 */

/** A function returning uniform floats in [0, 1). */
export type Rng = () => number;

/** Creates a mulberry32 generator. Any finite number is accepted; it is reduced to 32 bits. */
export function createRng(seed: number): Rng {
  if (!Number.isFinite(seed)) throw new Error(`seed must be a finite number, got ${seed}`);
  // Non-integer seeds would silently collide after `>>> 0`; mixing the fraction in keeps 0.5 and 0 apart.
  let state = (Math.trunc(seed) ^ Math.trunc((seed % 1) * 0x100000000)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Derives an independent seed from a base seed and a stream number (epoch, worker, purpose), so
 * that `seed` and `seed + 1` used for different purposes do not produce overlapping sequences.
 */
export function deriveSeed(seed: number, stream: number): number {
  let h = (Math.trunc(seed) >>> 0) ^ Math.imul((Math.trunc(stream) >>> 0) + 0x9e3779b9, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 16), 0x7feb352d);
  h = Math.imul(h ^ (h >>> 15), 0x846ca68b);
  return (h ^ (h >>> 16)) >>> 0;
}

/** Uniform integer in [0, n). */
export function randomInt(rng: Rng, n: number): number {
  return Math.floor(rng() * n);
}

/** Uniform float in [lo, hi). */
export function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng();
}

/** Fisher-Yates shuffle in place; returns the same array for chaining. */
export function shuffle<T>(array: T[], rng: Rng): T[] {
  for (let i = array.length - 1; i > 0; i--) {
    const j = Math.floor(rng() * (i + 1));
    const tmp = array[i]!;
    array[i] = array[j]!;
    array[j] = tmp;
  }
  return array;
}

/** k distinct elements drawn without replacement, in the order drawn. Does not modify `from`. */
export function sample<T>(from: readonly T[], k: number, rng: Rng): T[] {
  if (!Number.isInteger(k) || k < 0 || k > from.length) {
    throw new Error(`cannot sample ${k} of ${from.length} elements`);
  }
  // Partial Fisher-Yates on a copy: O(n) copy, O(k) draws.
  const copy = from.slice();
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (copy.length - i));
    const tmp = copy[i]!;
    copy[i] = copy[j]!;
    copy[j] = tmp;
  }
  return copy.slice(0, k);
}
