import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyAugment, augment, IDENTITY, isAugmenting, sampleAugment } from '../../src/data/augment.js';
import { createRng, sample, shuffle } from '../../src/data/random.js';
import { assertClose } from './helpers.js';

// 2 channels x 2 rows x 3 columns.
const shape = { channels: 2, height: 2, width: 3 };
const img = Float32Array.from([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 0.0, 0.25]);

describe('random', () => {
  it('is deterministic per seed, uniform-ish, and shuffles into a permutation', () => {
    const a = createRng(42);
    const b = createRng(42);
    const xs = Array.from({ length: 1000 }, () => a());
    assert.deepEqual(xs, Array.from({ length: 1000 }, () => b()));
    assert.ok(xs.every((x) => x >= 0 && x < 1));
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    assert.ok(Math.abs(mean - 0.5) < 0.05);
    assert.notDeepEqual(Array.from({ length: 5 }, createRng(43)), xs.slice(0, 5));
    const p = shuffle(Array.from({ length: 100 }, (_, i) => i), createRng(1));
    assert.deepEqual([...p].sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i));
    assert.deepEqual(p, shuffle(Array.from({ length: 100 }, (_, i) => i), createRng(1)));
    const s = sample([1, 2, 3, 4, 5], 3, createRng(9));
    assert.equal(new Set(s).size, 3);
    assert.throws(() => sample([1], 2, createRng(0)), /cannot sample/);
  });
});

describe('augment', () => {
  it('is the identity when everything is off', () => {
    assert.equal(isAugmenting({}), false);
    assert.equal(isAugmenting({ hflip: false, rotate: 0 }), false);
    const p = sampleAugment({}, createRng(1));
    assert.deepEqual(p, IDENTITY);
    const out = augment(img, shape, {}, createRng(1));
    assert.deepEqual(Array.from(out.data), Array.from(img));
  });

  it('flips exactly, image and mask alike', () => {
    const mask = Float32Array.from([1, 0, 0, 0, 0, 1]);
    const h = applyAugment(img, shape, { ...IDENTITY, hflip: true }, mask);
    assert.deepEqual(Array.from(h.data), Array.from(Float32Array.from([0.3, 0.2, 0.1, 0.6, 0.5, 0.4, 0.9, 0.8, 0.7, 0.25, 0.0, 1.0])));
    assert.deepEqual(Array.from(h.mask!), [0, 0, 1, 1, 0, 0]);
    const v = applyAugment(img, shape, { ...IDENTITY, vflip: true });
    assert.deepEqual(Array.from(v.data), Array.from(Float32Array.from([0.4, 0.5, 0.6, 0.1, 0.2, 0.3, 1.0, 0.0, 0.25, 0.7, 0.8, 0.9])));
    assert.equal(v.mask, undefined);
    // Flip probability 1 always flips; the input is never modified.
    const always = augment(img, shape, { hflip: 1 }, createRng(5));
    assert.deepEqual(Array.from(always.data), Array.from(h.data));
    assert.equal(img[0], Float32Array.from([0.1])[0]);
  });

  it('is deterministic per seed and stays in [0, 1]', () => {
    const opts = { hflip: true, vflip: 0.3, rotate: 15, shift: 0.1, brightness: 0.3, contrast: 0.5 };
    const big = Float32Array.from({ length: 3 * 16 * 16 }, (_, i) => (i % 17) / 16);
    const bshape = { channels: 3, height: 16, width: 16 };
    const run = (seed: number) => {
      const rng = createRng(seed);
      return [0, 1, 2].map(() => Array.from(augment(big, bshape, opts, rng).data));
    };
    const a = run(7);
    assert.deepEqual(a, run(7));
    assert.notDeepEqual(a, run(8));
    for (const img of a) for (const v of img) assert.ok(v >= 0 && v <= 1);
  });

  it('rotates a quarter turn counter-clockwise and shifts with edge repeat', () => {
    const sq = { channels: 1, height: 3, width: 3 };
    const x = Float32Array.from([1, 2, 3, 4, 5, 6, 7, 8, 9].map((v) => v / 10));
    const r = applyAugment(x, sq, { ...IDENTITY, angle: 90 });
    assertClose(r.data, [3, 6, 9, 2, 5, 8, 1, 4, 7].map((v) => v / 10), 1e-5);
    const s = applyAugment(x, sq, { ...IDENTITY, dx: 1 / 3 });
    // Content moves one pixel right; the vacated left column repeats the edge.
    assertClose(s.data, [1, 1, 2, 4, 4, 5, 7, 7, 8].map((v) => v / 10), 1e-6);
    const mask = Float32Array.from([0, 0, 1, 0, 0, 0, 0, 0, 0]);
    const m = applyAugment(x, sq, { ...IDENTITY, angle: 90 }, mask).mask!;
    assert.deepEqual(Array.from(m), [1, 0, 0, 0, 0, 0, 0, 0, 0]);
    const m2 = applyAugment(x, sq, { ...IDENTITY, angle: 33, dx: 0.1 }, mask).mask!;
    assert.ok(m2.every((v) => v === 0 || v === 1), 'masks stay binary');
  });

  it('applies brightness and contrast about the mean, clamped', () => {
    const x = Float32Array.from([0.2, 0.4, 0.6, 0.8]);
    const s1 = { channels: 1, height: 2, width: 2 };
    assertClose(applyAugment(x, s1, { ...IDENTITY, brightness: 0.1 }).data, [0.3, 0.5, 0.7, 0.9], 1e-6);
    assertClose(applyAugment(x, s1, { ...IDENTITY, contrast: 2 }).data, [0, 0.3, 0.7, 1], 1e-6);
    assert.throws(() => sampleAugment({ hflip: 2 }, createRng(0)), /hflip/);
  });
});
