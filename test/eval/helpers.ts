/** Test helpers: a seeded PRNG and tolerance checks. */
import assert from 'node:assert/strict';
import { createRng } from '../../src/data/random.js';

/** mulberry32: a small seeded generator of uniforms in [0, 1). */
export function rng(seed: number): () => number {
  return createRng(seed);
}

/** Standard normal via Box-Muller. */
export function gauss(u: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - u())) * Math.cos(2 * Math.PI * u());
}

export function close(actual: number, expected: number, tol = 1e-12, msg = ''): void {
  assert.ok(
    Math.abs(actual - expected) <= tol * Math.max(1, Math.abs(expected)),
    `${msg} expected ${expected}, got ${actual} (tol ${tol})`,
  );
}

export function closeArray(actual: ArrayLike<number>, expected: ArrayLike<number>, tol = 1e-12, msg = ''): void {
  assert.equal(actual.length, expected.length, `${msg} length`);
  for (let i = 0; i < expected.length; i++) {
    if (expected[i] === actual[i]) continue; // covers ±Infinity
    close(actual[i]!, expected[i]!, tol, `${msg}[${i}]`);
  }
}
