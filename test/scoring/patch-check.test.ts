import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { ops, liveTensors, type Tensor } from '../../src/engine/index.js';
import { idxSource } from '../../src/data/idx.js';
import { createRng } from '../../src/data/random.js';
import { planBatches } from '../../src/train/batches.js';
import { pastePatches, pastedPatchCheck, keepPatchSeeing, PATCH_LIMIT } from '../../src/scoring/patch-check.js';
import type { Reconstructor } from '../../src/scoring/reconstruction.js';
import { autoSettings } from '../../src/config/auto.js';

const SIDE = 32;
/** n images of one smooth gradient with a little per-image noise. */
function gradients(n: number) {
  const rng = createRng(1);
  const images = new Uint8Array(n * SIDE * SIDE);
  for (let i = 0; i < n; i++) for (let p = 0; p < SIDE * SIDE; p++) images[i * SIDE * SIDE + p] = Math.round((p % SIDE) * 6 + (p / SIDE) * 1.5 + rng() * 4);
  return idxSource(images, undefined, { height: SIDE, width: SIDE, name: 'gradients', split: 'train' });
}
const PRE = { height: SIDE, width: SIDE, channels: 1 as const, resize: 'stretch' as const };

/** Reconstructs every image perfectly: no error ever, so it cannot see a patch. */
const identity: Reconstructor = { eval() {}, encode: (x: Tensor) => ops.clone(x), decode: (c: Tensor) => ops.clone(c) } as unknown as Reconstructor;
/** Reconstructs every image as the clean gradient: a patch moved out of place is an error. */
function gradientModel(): Reconstructor {
  const g = Float32Array.from({ length: SIDE * SIDE }, (_, p) => ((p % SIDE) * 6 + (p / SIDE) * 1.5 + 2) / 255);
  return {
    eval() {},
    encode: (x: Tensor) => ops.mean(ops.flatten(x, 1), 1, true),
    decode: (c: Tensor) => ops.mul(ops.reshape(ops.add(ops.mul(c, 0), 1), [c.shape[0]!, 1, 1, 1]), ops.tensor(g, [1, 1, SIDE, SIDE])),
  } as unknown as Reconstructor;
}

describe('pastePatches', () => {
  it('pastes a rectangle of the next image into each image, and nothing else changes', () => {
    const a = Float32Array.from({ length: SIDE * SIDE }, () => 0.25);
    const b = Float32Array.from({ length: SIDE * SIDE }, () => 0.75);
    const x = ops.tensor(Float32Array.from([...a, ...b]), [2, 1, SIDE, SIDE]);
    const pasted = pastePatches(x, createRng(3));
    const again = pastePatches(x, createRng(3));
    const out = pasted.toFloat32();
    const first = out.subarray(0, SIDE * SIDE);
    const second = out.subarray(SIDE * SIDE);
    const changed = first.filter((v) => v === 0.75).length;
    assert.ok(changed >= (0.17 * SIDE) ** 2 * 0.8 && changed <= (0.33 * SIDE) ** 2, `a rectangle of 17% to 32% of each side: ${changed} px`);
    assert.equal(first.filter((v) => v !== 0.75 && v !== 0.25).length, 0);
    assert.ok(second.filter((v) => v === 0.25).length > 0, 'the last image takes its patch from the first');
    assert.deepEqual(again.toFloat32(), out, 'deterministic for an rng seed');
    for (const t of [x, pasted, again]) t.dispose();
  });
});

describe('pastedPatchCheck and keepPatchSeeing', () => {
  it('an error that cannot see patches is left out of the fusion; one that sees them stays, in the density\'s place', async () => {
    const source = gradients(24);
    const plan = await planBatches({ source, indices: source.items.map((_, i) => i), preprocessing: PRE, batchSize: 8, device: 'cpu', seed: 0 });
    await pastedPatchCheck(identity, plan, { seed: 0 }); // the SSIM window is cached on first use
    const before = liveTensors();
    try {
      const blind = await pastedPatchCheck(identity, plan, { seed: 0 });
      assert.equal(blind.images, 24);
      assert.ok(blind.mse < PATCH_LIMIT && blind.ssim < PATCH_LIMIT, JSON.stringify(blind));
      assert.deepEqual(keepPatchSeeing(['ssim', 'density'], blind), ['density']);
      const seeing = await pastedPatchCheck(gradientModel(), plan, { seed: 0 });
      assert.ok(seeing.mse > 0.9 && seeing.ssim > 0.9, JSON.stringify(seeing));
      assert.deepEqual(keepPatchSeeing(['ssim', 'density'], seeing), ['ssim'], 'an error that sees the patches takes the density\'s place');
      assert.equal(liveTensors(), before, 'no tensor left behind');
    } finally {
      plan.dispose();
    }
  });

  it("leaves out an error that barely sees the patches: a plates' training stuck on its plateau (0.65 to 0.68), not the cells' or a plates' that left it (0.72 on)", () => {
    assert.equal(PATCH_LIMIT, 0.7);
    assert.deepEqual(keepPatchSeeing(['ssim', 'density'], { mse: 0.57, ssim: 0.68, images: 49 }), ['density']);
    assert.deepEqual(keepPatchSeeing(['ssim', 'density'], { mse: 0.72, ssim: 0.72, images: 49 }), ['ssim']);
    assert.deepEqual(keepPatchSeeing(['ssim', 'density'], { mse: 0.69, ssim: 0.79, images: 64 }), ['ssim'], 'the cells');
  });

  it('never leaves the fusion empty and never drops the classifier', () => {
    const blind = { mse: 0.5, ssim: 0.5, images: 10 };
    assert.deepEqual(keepPatchSeeing(['mse', 'ssim'], blind), ['mse', 'ssim']);
    assert.deepEqual(keepPatchSeeing(['ssim', 'density', 'transform'], blind), ['density', 'transform']);
    assert.deepEqual(keepPatchSeeing(['mse', 'ssim'], { mse: 0.9, ssim: 0.5, images: 10 }), ['mse']);
    assert.deepEqual(keepPatchSeeing(['ssim', 'density', 'transform'], { mse: 0.5, ssim: 0.8, images: 10 }), ['ssim', 'transform']);
    assert.deepEqual(keepPatchSeeing(['density'], { mse: 0.9, ssim: 0.9, images: 10 }), ['density'], 'only the density: kept');
  });

  it('is asked for photographs of whole images, not for digit-sized images or tiles', () => {
    assert.equal(autoSettings({ height: 150, width: 150, count: 500 }).patchCheck, true);
    assert.equal(autoSettings({ height: 50, width: 50, count: 2000 }).patchCheck, true);
    assert.equal(autoSettings({ height: 28, width: 28, count: 6000, fixedSize: true }).patchCheck, false);
    assert.equal(autoSettings({ height: 640, width: 640, count: 300, lostDetail: 0.04 }).patchCheck, false);
  });
});
