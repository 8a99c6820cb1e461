import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ops, tidy, liveTensors, manualSeed, Adam } from '../../src/engine/index.js';
import { transformSet, TransformNet, transformScores } from '../../src/models/transform-net.js';
import { weightsPath } from '../../src/bundle/bundle.js';
import { Detector, type DetectorOptions } from '../../src/detector.js';
import { builtinSource, oneClassSource } from '../../src/data/builtin.js';
import { tempDir, TINY } from '../fixtures.js';

/** A 1x1x4x4 image 0..15, row-major. */
const grid = () => ops.reshape(ops.arange(16, { dtype: 'float32' }), [1, 1, 4, 4]);
const pixels = (t: ReturnType<typeof grid>) => Array.from(t.toArray());

describe('transformSet', () => {
  it('the GEOM set: 2 flips x 3 x-shifts x 3 y-shifts x 4 quarter turns = 72, each once', () => {
    const set = transformSet();
    assert.equal(set.count, 72);
    const keys = new Set(set.transforms.map((t) => `${t.flip}/${t.dx}/${t.dy}/${t.quarterTurns}`));
    assert.equal(keys.size, 72);
    assert.deepEqual(set.transforms[0], { flip: false, dx: 0, dy: 0, quarterTurns: 0 });
    assert.equal(transformSet({ flips: false, shifts: 0 }).count, 4);
    assert.equal(transformSet({ shifts: 0, rotations: 2 }).count, 4);
    assert.deepEqual(transformSet({ flips: false, shifts: 0, rotations: 2 }).transforms.map((t) => t.quarterTurns), [0, 2]);
  });

  it('flips, shifts (zeros come in) and quarter turns move pixels as stated (by hand)', () => {
    tidy(() => {
      const x = grid();
      const find = (set: ReturnType<typeof transformSet>, spec: object) => set.transforms.findIndex((t) => JSON.stringify(t) === JSON.stringify({ ...set.transforms[0], ...spec }));
      const set = transformSet({ shiftFraction: 0.25 }); // 1 px at side 4
      assert.deepEqual(pixels(set.apply(x, 0)), pixels(x), 'identity');
      assert.deepEqual(pixels(set.apply(x, find(set, { flip: true }))), [3, 2, 1, 0, 7, 6, 5, 4, 11, 10, 9, 8, 15, 14, 13, 12]);
      // dx = +1: the image moves right by 1 px
      assert.deepEqual(pixels(set.apply(x, find(set, { dx: 1 }))), [0, 0, 1, 2, 0, 4, 5, 6, 0, 8, 9, 10, 0, 12, 13, 14]);
      // dy = -1: up by 1 px
      assert.deepEqual(pixels(set.apply(x, find(set, { dy: -1 }))), [4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 0, 0, 0, 0]);
      // one quarter turn, as torch.rot90(x, 1, [2, 3]): the last column becomes the first row
      assert.deepEqual(pixels(set.apply(x, find(set, { quarterTurns: 1 }))), [3, 7, 11, 15, 2, 6, 10, 14, 1, 5, 9, 13, 0, 4, 8, 12]);
      assert.throws(() => set.apply(x, 72), /index 72 out of range 0..71/);
    });
  });

  it('expand: transformation-major copies with their labels', () => {
    tidy(() => {
      const set = transformSet({ flips: false, shifts: 0 });
      const x = ops.cat([grid(), ops.mul(grid(), 2)], 0);
      const { x: xs, labels } = set.expand(x);
      assert.deepEqual(xs.shape, [8, 1, 4, 4]);
      assert.deepEqual(Array.from(labels.toArray()), [0, 0, 1, 1, 2, 2, 3, 3]);
      assert.deepEqual(pixels(ops.slice(xs, 0, 3, 4)), pixels(set.apply(ops.slice(x, 0, 1, 2), 1)));
    });
  });

  it('apply, applyRange and expand (one gather) equal the op-by-op definition for every transformation', () => {
    const before = liveTensors();
    manualSeed(1);
    for (const [opts, shape] of [[{}, [2, 3, 8, 8]], [{ rotations: 2, shifts: 2, shiftFraction: 0.2 }, [3, 2, 6, 10]]] as const) {
      const set = transformSet(opts);
      tidy(() => {
        const x = ops.rand([...shape]);
        const defined = set.transforms.map((_, t) => set.reference(x, t));
        for (let t = 0; t < set.count; t++) assert.deepEqual(pixels(set.apply(x, t)), pixels(defined[t]), `transformation ${t} of ${shape}`);
        assert.deepEqual(pixels(set.applyRange(x, 2, 5)), pixels(ops.cat(defined.slice(2, 5), 0)));
        assert.deepEqual(pixels(set.expand(x).x), pixels(ops.cat(defined, 0)));
        assert.throws(() => set.applyRange(x, 3, set.count + 1), /range 3\.\.\d+ out of range/);
        assert.deepEqual(Array.from(set.labels(2, 1, 3, 'cpu').toFloat32()), [1, 1, 2, 2]);
        assert.deepEqual(Array.from(set.expand(x).labels.toFloat32()), set.transforms.flatMap((_, t) => new Array<number>(shape[0]).fill(t)));
        assert.throws(() => set.labels(2, 0, set.count + 1, 'cpu'), /out of range/);
      });
      set.dispose();
    }
    assert.equal(liveTensors(), before, 'the cached pixel maps are freed by dispose');
  });

  it('bad settings are errors that name the setting', () => {
    assert.throws(() => transformSet({ rotations: 3 as 4 }), /rotations must be 1, 2 or 4, got 3/);
    assert.throws(() => transformSet({ shifts: 5 }), /shifts must be 0, 1 or 2, got 5/);
    assert.throws(() => transformSet({ shiftFraction: 0.3, shifts: 2 }), /shiftFraction x shifts must be in \(0, 0.5\)/);
    assert.throws(() => transformSet({ flips: false, shifts: 0, rotations: 1 }), /at least 2 transformations/);
    assert.throws(() => tidy(() => transformSet().apply(ops.zeros([1, 1, 4, 6]), 1)), /quarter turns need square images, got 4x6/);
  });
});

describe('TransformNet', () => {
  it('learns to tell quarter turns apart, and scores unseen turned images as anomalous', () => {
    const before = liveTensors();
    manualSeed(0);
    const set = transformSet({ flips: false, shifts: 0 });
    const net = new TransformNet({ height: 16, width: 16, channels: 1, classes: set.count, filters: [8, 16] });
    const opt = new Adam(net.parameters(), { lr: 3e-3 });
    // "normal": an L shape at random positions; a quarter turn is always recognisable
    const images = (n: number, seed: number) => tidy(() => {
      const data = new Float32Array(n * 256);
      let s = seed;
      const r = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
      for (let i = 0; i < n; i++) {
        const ox = 2 + Math.floor(r() * 4), oy = 2 + Math.floor(r() * 4);
        for (let k = 0; k < 8; k++) { data[i * 256 + (oy + k) * 16 + ox] = 1; data[i * 256 + (oy + 7) * 16 + ox + Math.min(k, 5)] = 1; }
      }
      return ops.tensor(data, [n, 1, 16, 16]);
    });
    const train = images(32, 1);
    const first = tidy(() => ops.crossEntropy(net.forward(set.expand(train).x), set.expand(train).labels).item());
    let last = first;
    for (let step = 0; step < 60; step++) {
      last = tidy(() => {
        opt.zeroGrad();
        const { x, labels } = set.expand(train);
        const loss = ops.crossEntropy(net.forward(x), labels);
        loss.backward();
        opt.step();
        return loss.item();
      });
    }
    assert.ok(last < 0.25 * first, `loss ${first} -> ${last}`);
    const normal = images(16, 7);
    const turned = tidy(() => ops.rot90(images(16, 7), 1, [2, 3])); // upright for nothing the net saw
    const sn = transformScores(net, set, normal), sa = transformScores(net, set, turned);
    const mean = (a: Float32Array) => a.reduce((p, v) => p + v, 0) / a.length;
    assert.equal(sn.length, 16);
    assert.ok(mean(sa) > mean(sn) + 1, `turned ${mean(sa)} vs normal ${mean(sn)}`);
    // several transformations per forward (the default) or one at a time: the same scores
    const oneAtATime = transformScores(net, set, normal, 1);
    sn.forEach((v, i) => assert.ok(Math.abs(v - oneAtATime[i]!) < 1e-5, `image ${i}: ${v} vs ${oneAtATime[i]}`));
    for (const t of [train, normal, turned]) t.dispose();
    set.dispose();
    opt.dispose();
    net.dispose();
    assert.equal(liveTensors(), before, 'no tensors leak');
  });

  it('rejects bad configurations', () => {
    assert.throws(() => new TransformNet({ height: 16, width: 16, channels: 1, classes: 1 }), /classes must be an integer >= 2, got 1/);
    assert.throws(() => new TransformNet({ height: 16, width: 16, channels: 1, classes: 4, filters: [] }), /filters must be positive integers/);
  });
});

describe('Detector with transforms', () => {
  const FAST: DetectorOptions = { ...TINY, epochs: 2, transforms: { epochs: 1, flips: false, shifts: 0, filters: [8, 16], batchSize: 8 } };

  it('adds the transform score, fuses it into combined, and reloads to identical scores', async () => {
    const before = liveTensors();
    const train = oneClassSource('mnist', 'train', 7, { limit: 120, seed: 0 });
    const test = builtinSource('mnist', 'test', { normal: [7], limit: 60, seed: 3 });
    const det = await Detector.fit(train, FAST);
    assert.deepEqual(det.scoreKinds, ['mse', 'ssim', 'density', 'transform', 'combined']);
    const results = await det.score(test);
    for (const r of results) {
      assert.ok(Number.isFinite(r.scores.transform), 'every image has a transform score');
      assert.equal(typeof r.flags.transform, 'boolean');
    }
    const { summary } = await det.evaluate(test);
    assert.ok(summary.transform!.auroc >= 0 && summary.transform!.auroc <= 1);
    assert.ok(det.thresholds.transform!.value > 0);

    const dir = tempDir();
    try {
      det.save(dir);
      const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8'));
      assert.deepEqual(manifest.combine, ['ssim', 'density', 'transform']);
      assert.equal(manifest.transforms.epochs, 1);
      assert.equal(manifest.transforms.rotations, 4);
      const again = Detector.load(dir, { device: 'cpu' });
      const r2 = await again.score(test);
      assert.deepEqual(r2.map((r) => r.scores), results.map((r) => r.scores));
      assert.deepEqual((await again.score(test, { score: 'transform' })).map((r) => r.score), results.map((r) => r.scores.transform));
      again.dispose();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    det.dispose();
    // + 1: SSIM's window, cached once per process (src/scoring/ssim.ts)
    assert.ok(liveTensors() <= before + 1, `tensors leaked: ${liveTensors() - before}`);
  });

  it('withTransforms adds the classifier to a trained detector: the same as fitting with it, the original untouched', async () => {
    const before = liveTensors();
    const train = oneClassSource('mnist', 'train', 7, { limit: 120, seed: 0 });
    const test = builtinSource('mnist', 'test', { normal: [7], limit: 60, seed: 3 });
    const { transforms, ...plain } = FAST;
    const withIt = await Detector.fit(train, FAST);
    const base = await Detector.fit(train, plain);
    const baseScores = (await base.score(test)).map((r) => r.scores);
    const added = await base.withTransforms(train, transforms as object, { batchSize: FAST.batchSize });
    assert.deepEqual(added.scoreKinds, withIt.scoreKinds);
    assert.deepEqual((await added.score(test)).map((r) => r.scores), (await withIt.score(test)).map((r) => r.scores));
    assert.deepEqual(added.thresholds, withIt.thresholds);
    assert.deepEqual((await base.score(test)).map((r) => r.scores), baseScores, 'the original detector is unchanged');
    await assert.rejects(added.withTransforms(train), /already has the transformation classifier/);
    await assert.rejects(base.withTransforms(oneClassSource('mnist', 'train', 7, { limit: 100, seed: 0 })), /trained on \d+ \+ \d+ images, the input gives/);
    for (const d of [withIt, base, added]) d.dispose();
    assert.ok(liveTensors() <= before + 1, `tensors leaked: ${liveTensors() - before}`);
  });

  it('withTransforms on a robust AAE: the classifier learns from the kept images, as in fit', async () => {
    const train = oneClassSource('mnist', 'train', 7, { limit: 120, seed: 0 });
    const test = builtinSource('mnist', 'test', { normal: [7], limit: 40, seed: 3 });
    const { transforms, ...plain } = FAST;
    const aae = { ...plain, epochs: 3, batchSize: 32, model: 'aae' as const, aae: { reject: 0.2, warmup: 1, rejectBy: 'prior' as const } };
    const withIt = await Detector.fit(train, { ...aae, transforms });
    const base = await Detector.fit(train, aae);
    assert.ok(base.training!.rejected!.count > 0);
    const added = await base.withTransforms(train, transforms as object, { batchSize: 32 });
    assert.deepEqual((await added.score(test)).map((r) => r.scores), (await withIt.score(test)).map((r) => r.scores));
    for (const d of [withIt, base, added]) d.dispose();
  });

  it("'transform' without the classifier is a clear error, at fit and at scoring", async () => {
    const train = oneClassSource('mnist', 'train', 7, { limit: 40, seed: 0 });
    await assert.rejects(Detector.fit(train, { ...TINY, epochs: 1, combine: ['ssim', 'transform'] }), /'transform' needs the transformation classifier/);
    await assert.rejects(Detector.fit(train, { ...TINY, epochs: 1, transforms: { epochs: 0 } }), /transforms: epochs must be a positive integer, got 0/);
    const det = await Detector.fit(train, { ...TINY, epochs: 1 });
    assert.ok(!det.scoreKinds.includes('transform'));
    assert.throws(() => det.resolveKind('transform'), /score 'transform' needs the transformation classifier/);
    const dir = tempDir();
    det.save(dir);
    assert.equal(JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')).transforms, undefined);
    assert.ok(existsSync(weightsPath(dir)));
    rmSync(dir, { recursive: true, force: true });
    det.dispose();
  });
});
