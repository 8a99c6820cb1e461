import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ops, tidy, liveTensors, manualSeed, Adam } from '../../src/engine/index.js';
import { SegmenterNet, synthesizeAnomalies, blobMasks, focalLoss, segmenterScores } from '../../src/models/segmenter.js';
import { createRng } from '../../src/data/random.js';
import { Detector } from '../../src/detector.js';
import { stripesSource, SMALL } from '../detector/helpers.js';
import { tempDir } from '../fixtures.js';

/** Smooth normal images: a diagonal ramp whose slope and offset vary by image. */
function ramps(n: number, side: number, offset = 0): Float32Array {
  const out = new Float32Array(n * side * side);
  for (let i = 0; i < n; i++) {
    const a = 0.2 + 0.03 * ((i + offset) % 7), b = 0.2 + 0.05 * ((i + offset) % 5);
    for (let y = 0; y < side; y++) for (let x = 0; x < side; x++) out[(i * side + y) * side + x] = b + (a * (x + y)) / (2 * side);
  }
  return out;
}

describe('synthetic anomalies', () => {
  it('blob masks are 0/1, about half the images have a blob, and no tensor is left behind', () => {
    const before = liveTensors();
    manualSeed(3);
    tidy(() => {
      const m = blobMasks(64, 24, 40, 'cpu');
      assert.deepEqual(m.shape, [64, 1, 24, 40]);
      const v = m.toFloat32();
      assert.ok(v.every((p) => p === 0 || p === 1));
      const withBlob = Array.from({ length: 64 }, (_, i) => v.subarray(i * 960, (i + 1) * 960).some((p) => p === 1)).filter(Boolean).length;
      assert.ok(withBlob >= 16 && withBlob <= 40, `${withBlob} of 64 images have a blob`);
    });
    assert.equal(liveTensors(), before);
  });

  it('pixels outside the mask are the image, inside they differ for most blobs, and the result stays in [0, 1]', () => {
    manualSeed(4);
    tidy(() => {
      const n = 32, side = 20;
      const x = ops.tensor(ramps(n, side), [n, 1, side, side]);
      const { x: xa, mask } = synthesizeAnomalies(x, createRng(1));
      assert.deepEqual(xa.shape, [n, 1, side, side]);
      const [a, m, o] = [xa.toFloat32(), mask.toFloat32(), x.toFloat32()];
      let inside = 0, changed = 0;
      for (let i = 0; i < a.length; i++) {
        assert.ok(a[i]! >= 0 && a[i]! <= 1);
        if (m[i] === 0) assert.equal(a[i], o[i]);
        else { inside++; if (Math.abs(a[i]! - o[i]!) > 1e-4) changed++; }
      }
      assert.ok(inside > 0 && changed / inside > 0.5, `${changed} of ${inside} blob pixels changed`);
    });
  });

  it('non-square images keep their shape (half turns only)', () => {
    manualSeed(5);
    tidy(() => {
      const x = ops.rand([6, 3, 12, 18]);
      for (let s = 0; s < 8; s++) assert.deepEqual(synthesizeAnomalies(x, createRng(s)).x.shape, [6, 3, 12, 18]);
    });
  });
});

describe('focalLoss', () => {
  it("equals the hand-computed mean of (1 - p_right)^2 * BCE", () => {
    tidy(() => {
      const logits = [2, -1, 0.5, -3];
      const target = [1, 1, 0, 0];
      const got = focalLoss(ops.tensor(logits, [1, 1, 2, 2]), ops.tensor(target, [1, 1, 2, 2])).item();
      const want = logits.map((l, i) => {
        const p = 1 / (1 + Math.exp(-l));
        const right = target[i] ? p : 1 - p;
        return (1 - right) ** 2 * -Math.log(right);
      }).reduce((s, v) => s + v, 0) / 4;
      assert.ok(Math.abs(got - want) < 1e-6, `${got} vs ${want}`);
    });
  });
});

describe('SegmenterNet', () => {
  it('gives a map of the input size for odd and non-square sizes', () => {
    const net = new SegmenterNet({ channels: 3, base: 4 });
    try {
      tidy(() => {
        for (const [h, w] of [[50, 50], [37, 45], [9, 9]]) assert.deepEqual(net.forward(ops.rand([2, 3, h!, w!])).shape, [2, 1, h, w]);
      });
    } finally {
      net.dispose();
    }
    assert.throws(() => new SegmenterNet({ channels: 1, base: 0 }), /base must be a positive integer/);
  });

  it('scores large batches in chunks of pixels, each image as it scores alone', () => {
    manualSeed(7);
    const net = new SegmenterNet({ channels: 1, base: 4 });
    try {
      tidy(() => {
        const x = ops.rand([3, 1, 600, 600]); // 360,000 px an image: one image per chunk
        const all = segmenterScores(net, x);
        const alone = [0, 1, 2].map((i) => segmenterScores(net, ops.slice(x, 0, i, i + 1))[0]!);
        all.forEach((v, i) => assert.ok(Math.abs(v - alone[i]!) < 1e-5, `image ${i}: ${v} in the batch, ${alone[i]} alone`));
      });
    } finally {
      net.dispose();
    }
  });

  it('after a short training, ranks images with a foreign blob above normal ones', () => {
    manualSeed(6);
    const side = 24;
    const net = new SegmenterNet({ channels: 1, base: 8 });
    const opt = new Adam(net.parameters(), { lr: 3e-3 });
    const rng = createRng(2);
    const before = liveTensors();
    try {
      const train = ops.tensor(ramps(64, side), [64, 1, side, side]);
      net.train();
      for (let step = 0; step < 120; step++) {
        tidy(() => {
          const batch = ops.slice(train, 0, (step * 16) % 64, (step * 16) % 64 + 16);
          const { x, mask } = synthesizeAnomalies(batch, rng);
          opt.zeroGrad();
          const loss = focalLoss(net.forward(x), mask);
          loss.backward();
          opt.step();
        });
      }
      const normal = ramps(16, side, 100);
      const odd = Float32Array.from(normal);
      // a dark square in each image: what a stain or a parasite looks like
      for (let i = 0; i < 16; i++) for (let y = 8; y < 14; y++) for (let x = 6 + (i % 8); x < 12 + (i % 8); x++) odd[(i * side + y) * side + x] = 0.02;
      const [sn, so] = tidy(() => [segmenterScores(net, ops.tensor(normal, [16, 1, side, side])), segmenterScores(net, ops.tensor(odd, [16, 1, side, side]))]);
      let above = 0;
      for (const o of so) for (const n of sn) if (o > n) above++;
      assert.ok(above / 256 > 0.9, `AUROC ${above / 256}`);
      train.dispose();
      assert.equal(liveTensors(), before);
    } finally {
      opt.dispose();
      net.dispose();
    }
  });
});

describe('a detector with the segmenter', () => {
  it("trains it, fuses its 'segment' score by the mean, and saves and loads it with the same scores", async () => {
    const dir = tempDir();
    try {
      const source = stripesSource(48);
      const det = await Detector.fit(source, { ...SMALL, segmenter: { steps: 12, base: 4 } });
      try {
        assert.ok(det.scoreKinds.includes('segment'));
        assert.deepEqual(det.combine, ['ssim', 'density', 'segment']);
        assert.equal(det.postprocessor.fusion, 'mean');
        const test = stripesSource(12, (i) => i % 2 === 1);
        const a = await det.score(test);
        det.save(join(dir, 'm'));
        const manifest = JSON.parse(readFileSync(join(dir, 'm', 'manifest.json'), 'utf8'));
        assert.deepEqual(manifest.segmenter, { base: 4, steps: 12, batchSize: 32, crop: 64, lr: 1e-3 });
        const back = Detector.load(join(dir, 'm'), { device: 'cpu' });
        try {
          const b = await back.score(test);
          assert.deepEqual(b.map((r) => r.scores.segment), a.map((r) => r.scores.segment));
          assert.deepEqual(b.map((r) => r.score), a.map((r) => r.score));
        } finally {
          back.dispose();
        }
      } finally {
        det.dispose();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('is left out of digit-sized images by default, and its settings are checked before any image is read', async () => {
    const det = await Detector.fit(stripesSource(24), SMALL);
    try {
      assert.ok(!det.scoreKinds.includes('segment'));
      assert.throws(() => det.resolveKind('segment'), /needs the synthetic-anomaly segmenter/);
    } finally {
      det.dispose();
    }
    await assert.rejects(Detector.fit(stripesSource(24), { ...SMALL, segmenter: { steps: 0 } }), /segmenter: steps must be a positive integer/);
    await assert.rejects(Detector.fit(stripesSource(24), { ...SMALL, combine: ['ssim', 'segment'] }), /'segment' needs the synthetic-anomaly segmenter/);
    // a model ranked by a score it does not compute could not be scored or loaded
    await assert.rejects(Detector.fit(stripesSource(24), { ...SMALL, score: 'segment' }), /score 'segment' needs the synthetic-anomaly segmenter/);
  });
});
