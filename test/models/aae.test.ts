import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, rmSync } from 'node:fs';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { weightsPath } from '../../src/bundle/bundle.js';
import { Detector } from '../../src/detector.js';
import { builtinSource, loadBuiltin } from '../../src/data/builtin.js';
import { idxSource } from '../../src/data/idx.js';
import { ops, tidy, liveTensors, manualSeed, decodeTensors, type Tensor } from '../../src/engine/index.js';
import { defaultArchitecture } from '../../src/models/autoencoder.js';
import { AdversarialAutoencoder, aaeConfig, aaeTrainingConfig } from '../../src/models/aae.js';
import { Discriminator } from '../../src/models/discriminator.js';
import { GaussianMixture, StandardNormal } from '../../src/models/prior.js';
import { AaeTask, chiSquareQuantile, estimateRejectFraction, knnDistances, outlierScores, ranks } from '../../src/train/aae-task.js';
import { planBatches } from '../../src/train/batches.js';
import { tempDir, writeDigits, TINY } from '../fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
const ARCH = defaultArchitecture({ height: 28, width: 28, channels: 1 }, { filters: [8, 16], latent: 8 });
const PRE = { height: 28, width: 28, channels: 1 as const, resize: 'stretch' as const };
const OPT = { optimizer: 'adam' as const, lr: 5e-3, weightDecay: 0 };

/** A source of n flat 28x28 images; image i has intensity levels[i] (0..255). */
function flatSource(levels: number[]) {
  const images = new Uint8Array(levels.length * 784);
  levels.forEach((v, i) => images.fill(v, i * 784, (i + 1) * 784));
  return idxSource(images, undefined, { height: 28, width: 28, name: 'flat', split: 'train' });
}

/** MNIST training digits: n in all, a fraction `odd` of them digit 7, the rest digit 1 (label 1 = the 7s). */
function onesWithSevens(n: number, odd: number) {
  const data = loadBuiltin('mnist', 'train');
  const ones: number[] = [], sevens: number[] = [];
  for (let i = 0; i < data.count; i++) {
    if (data.labels[i] === 1 && ones.length < n * (1 - odd)) ones.push(i);
    if (data.labels[i] === 7 && sevens.length < n * odd) sevens.push(i);
  }
  const indices = [...ones, ...sevens].sort((a, b) => a - b);
  return idxSource(data.images, data.labels, { height: 28, width: 28, name: 'mnist', split: 'train', indices, classNames: data.classNames, normal: [1] });
}

test('chi-square quantiles, ranks and the outlier rankings', () => {
  // reference values: scipy.stats.chi2.ppf
  assert.ok(Math.abs(chiSquareQuantile(0.999, 8) - 26.124481) < 1e-4);
  assert.ok(Math.abs(chiSquareQuantile(0.5, 8) - 7.344121) < 1e-4);
  assert.ok(Math.abs(chiSquareQuantile(0.95, 1) - 3.841459) < 1e-4);
  assert.ok(Math.abs(chiSquareQuantile(0.999, 64) - 104.716325) < 1e-4);
  assert.deepEqual([...ranks([3, 1, 2, 1])], [3, 0.5, 2, 0.5]);
  const r = { logProb: Float32Array.from([-1, -5, -3, -2]), recon: Float32Array.from([0.9, 0.1, 0.5, 0.2]) };
  assert.deepEqual([...outlierScores(r, 'prior')], [1, 5, 3, 2]);
  // ranks of -logp: [0, 3, 2, 1]; of recon: [3, 0, 2, 1]
  assert.deepEqual([...outlierScores(r, 'prior+recon')], [1.5, 1.5, 2, 1]);
  // codes on a line: 0, 1, 2 close together, 10 far; k = 1 nearest other code
  const codes = Float32Array.from([0, 0, 1, 0, 2, 0, 10, 0]);
  assert.deepEqual([...knnDistances(codes, 2, 1)], [1, 1, 1, 8]);
  assert.deepEqual([...knnDistances(codes, 2, 2)], [1.5, 1, 1.5, 8.5]);
  assert.deepEqual([...knnDistances(codes, 2, 99)], [13 / 3, 11 / 3, 11 / 3, 27 / 3].map(Math.fround), 'k is capped at n - 1');
  // knn ranks [1, 1, 1, 3] (k = 1: the three tied distances share rank 1); averaged with the two above
  assert.deepEqual([...outlierScores({ ...r, codes }, 'prior+recon+knn', 1)], [(0 + 3 + 1) / 3, (3 + 0 + 1) / 3, (2 + 2 + 1) / 3, (1 + 1 + 3) / 3]);
  assert.throws(() => outlierScores(r, 'prior+recon+knn'), /needs the codes/);
});

test('knnDistances agrees with a brute-force reference in chunks', () => {
  const n = 37, d = 3, k = 4;
  const codes = Float32Array.from({ length: n * d }, (_, i) => Math.sin(i * 1.7) * 3);
  const got = knnDistances(codes, d, k, 8);
  for (let i = 0; i < n; i++) {
    const ds: number[] = [];
    for (let j = 0; j < n; j++) if (j !== i) ds.push(Math.hypot(...Array.from({ length: d }, (_, c) => codes[i * d + c]! - codes[j * d + c]!)));
    ds.sort((x, y) => x - y);
    const want = ds.slice(0, k).reduce((a, b) => a + b, 0) / k;
    assert.ok(Math.abs(got[i]! - want) < 1e-4, `code ${i}: ${got[i]} vs ${want}`);
  }
});

test('the auto fraction: about 0.1% of prior samples, the planted outliers when there are some, capped', () => {
  manualSeed(3);
  for (const prior of [new StandardNormal(8), new GaussianMixture({ dim: 8, components: 4, seed: 1 })]) {
    const z = prior.sample(20000);
    const codes = z.toFloat32();
    z.dispose();
    assert.ok(estimateRejectFraction(codes, prior) < 0.004, `${prior.toJSON().type}: clean samples`);
    // 5% of the codes moved far away: the estimate finds them
    for (let i = 0; i < 1000; i++) for (let j = 0; j < 8; j++) codes[i * 8 + j] += 12;
    const f = estimateRejectFraction(codes, prior);
    assert.ok(f > 0.045 && f < 0.06, `${prior.toJSON().type}: planted 5%, estimated ${f}`);
    assert.equal(estimateRejectFraction(codes, prior, 0.02), 0.02);
  }
});

test('config defaults and validation; the discriminator is a separate store', () => {
  assert.deepEqual(aaeTrainingConfig({}), { reject: 0.05, rejectBy: 'prior+recon+knn', warmup: 2, maxReject: 0.2 });
  assert.equal(aaeConfig({ prior: 'gmm' }).components, 10);
  assert.throws(() => aaeTrainingConfig({ reject: 1.5 }), /reject must be a fraction in \[0, 1\) or 'auto'/);
  assert.throws(() => aaeTrainingConfig({ rejectBy: 'recon' as 'prior' }), /rejectBy must be 'prior', 'prior\+recon', 'prior\+recon\+knn', got "recon"/);
  assert.throws(() => aaeConfig({ prior: 'laplace' as 'normal' }), /prior must be 'normal' or 'gmm'/);
  assert.throws(() => new Discriminator({ latent: 8, hidden: 0 }), /hidden must be a positive integer/);
  const before = liveTensors();
  const aae = new AdversarialAutoencoder(ARCH, { prior: 'gmm', components: 3, discHidden: 32 });
  const keys = [...aae.stateDict().keys()];
  assert.ok(keys.some((k) => k.startsWith('model.encoder.')) && keys.some((k) => k.startsWith('disc.net.')));
  assert.equal(aae.disc.getConfig().hidden, 32);
  const logits = tidy(() => aae.disc.forward(ops.zeros([5, 8])).shape);
  assert.deepEqual(logits, [5, 1]);
  // the encoder's parameters are a strict subset of the autoencoder's, disjoint from the discriminator's
  const enc = new Set(aae.encoderParameters());
  assert.ok(enc.size > 0 && enc.size < aae.ae.parameters().length);
  assert.ok(aae.disc.parameters().every((p) => !enc.has(p)));
  const again = AdversarialAutoencoder.fromJSON(ARCH, JSON.parse(JSON.stringify(aae.toJSON())));
  assert.deepEqual(again.toJSON(), aae.toJSON());
  again.dispose();
  aae.dispose();
  assert.equal(liveTensors(), before);
});

test('rejection leaves out exactly round(f * n) images, the least likely under the prior', async () => {
  const before = liveTensors();
  manualSeed(0);
  const n = 43;
  const levels = Array.from({ length: n }, (_, i) => (i * 37) % 256); // a shuffled ramp
  const source = flatSource(levels);
  const plan = await planBatches({ source, indices: levels.map((_, i) => i), preprocessing: PRE, batchSize: 8, device: 'cpu', seed: 0 });
  const aae = new AdversarialAutoencoder(ARCH, { discHidden: 16 });
  const task = new AaeTask(aae, 'mse', OPT, plan, { reject: 0.25, warmup: 1, rejectBy: 'prior' });
  try {
    // Constructed case: the code of an image is its mean intensity times 3 in every dimension, so the
    // brightest images are farthest from the origin, i.e. least likely under N(0, I).
    const realEncode = aae.encode.bind(aae);
    aae.encode = (x: Tensor) => tidy(() => ops.mul(ops.repeat(ops.mean(ops.flatten(x, 1), 1, true), [1, 8]), 3));
    await task.beginEpoch(0);
    assert.deepEqual(task.rejectedIndices(), [], 'no rejection during the warm-up');
    await task.beginEpoch(1);
    const k = Math.round(0.25 * n);
    const brightest = levels.map((v, i) => [v, i]).sort((a, b) => b[0] - a[0]).slice(0, k).map(([, i]) => i).sort((a, b) => a - b);
    assert.deepEqual(task.rejectedIndices(), brightest);
    assert.equal(task.epochExtra().rejected, k);
    // the same codes ranked by the ranking pass itself
    const r = await task.rank();
    const lp = r.logProb;
    const worst = [...r.indices].sort((a, b) => lp[r.indices.indexOf(a)] - lp[r.indices.indexOf(b)]).slice(0, k).sort((a, b) => a - b);
    assert.deepEqual(worst, brightest);
    // @ts-expect-error drop the instance override, back to the prototype's encode
    delete aae.encode;
    assert.equal(aae.encode.name, realEncode.name.replace('bound ', ''));

    // one real training epoch: the rejected get weight 0 and everyone else weight 1
    const zero = new Set<number>();
    let seen = 0;
    task.onWeights = (idx, w) => { seen += idx.length; idx.forEach((i, j) => { if (w[j] === 0) zero.add(i); else assert.equal(w[j], 1); }); };
    for await (const b of plan.pass(1, true)) {
      try { assert.ok(Number.isFinite(task.step(b))); } finally { b.x.dispose(); }
    }
    assert.equal(seen, n);
    assert.equal(zero.size, k);
    assert.deepEqual([...zero].sort((a, b) => a - b), brightest);
    const extra = task.epochExtra();
    assert.ok(Number.isFinite(extra.dLoss) && Number.isFinite(extra.gLoss));
  } finally {
    task.dispose();
    aae.dispose();
    plan.dispose();
  }
  assert.equal(liveTensors(), before);
});

test('checkpoints hold all three networks and optimizers; a restored task continues identically', async () => {
  const before = liveTensors();
  const source = onesWithSevens(96, 0.1);
  const plan = await planBatches({ source, indices: source.items.map((_, i) => i), preprocessing: PRE, batchSize: 32, device: 'cpu', seed: 0 });
  manualSeed(1);
  // N(0, I): its samples come from libtorch's generator alone (a mixture's component sampler is
  // a JS generator that checkpoints do not hold)
  const a = new AdversarialAutoencoder(ARCH, { discHidden: 32, prior: 'normal' });
  const ta = new AaeTask(a, 'mse', OPT, plan, { reject: 0.1, warmup: 0 });
  manualSeed(2);
  const b = new AdversarialAutoencoder(ARCH, { discHidden: 32, prior: 'normal' });
  const tb = new AaeTask(b, 'mse', OPT, plan, { reject: 0.1, warmup: 0 });
  try {
    await ta.beginEpoch(0);
    for await (const batch of plan.pass(0, true)) { try { ta.step(batch); } finally { batch.x.dispose(); } }
    const ck = ta.checkpoint();
    const names = [...ck.tensors.keys()];
    for (const p of ['model.', 'disc.', 'opt.', 'gopt.', 'dopt.']) assert.ok(names.some((k) => k.startsWith(p)), `checkpoint has ${p}*`);
    // through JSON, as the trainer writes it
    tb.restore(ck.tensors, JSON.parse(JSON.stringify(ck.state)));
    assert.deepEqual(tb.rejectedIndices(), ta.rejectedIndices());
    assert.equal(tb.rejectedIndices().length, Math.round(0.1 * 96));
    const same = () => {
      const sa = ta.checkpoint().tensors, sb = tb.checkpoint().tensors;
      for (const [k, t] of sa) assert.deepEqual(sb.get(k)!.toFloat32(), t.toFloat32(), k);
    };
    same();
    // one more step on the same batch with the same random numbers gives the same weights
    const x = (await plan.pass(0, false)[Symbol.asyncIterator]().next()).value!;
    try {
      manualSeed(9); const la = ta.step(x);
      manualSeed(9); const lb = tb.step(x);
      assert.equal(la, lb);
    } finally { x.x.dispose(); }
    same();
  } finally {
    ta.dispose(); tb.dispose(); a.dispose(); b.dispose(); plan.dispose();
  }
  assert.equal(liveTensors(), before);
});

test('MNIST 1s with 10% 7s: the 7s dominate the rejected; save/load gives identical scores in a fresh process', async () => {
  const before = liveTensors();
  const source = onesWithSevens(1000, 0.1);
  const det = await Detector.fit(source, { ...TINY, epochs: 5, batchSize: 32, model: 'aae', aae: { reject: 0.1, warmup: 2, rejectBy: 'prior' } });
  assert.equal(det.modelKind, 'aae');
  const t = det.training!;
  const rj = t.rejected!;
  assert.equal(rj.count, Math.round(0.1 * t.items));
  assert.equal(rj.ids.length, rj.count);
  assert.deepEqual(t.history.map((h) => h.extra!.rejected), [0, 0, rj.count, rj.count, rj.count]);
  const label = new Map(source.items.map((it) => [it.id, it.label]));
  const sevens = rj.ids.filter((id) => label.get(id) === 1).length;
  // 10% of the training images are 7s; among the rejected there are at least three times as many
  assert.ok(sevens / rj.count >= 0.3, `7s among the rejected: ${sevens} of ${rj.count}`);

  const dir = tempDir();
  const model = join(dir, 'model');
  det.save(model);
  const manifest = JSON.parse(readFileSync(join(model, 'manifest.json'), 'utf8'));
  assert.equal(manifest.model, 'aae');
  assert.equal(manifest.aae.prior.type, 'gaussian-mixture');
  assert.equal(manifest.aae.config.prior, 'gmm');
  assert.deepEqual(manifest.training.rejected.ids, rj.ids);
  const { tensors } = decodeTensors(readFileSync(weightsPath(model)), 'weights');
  const names = [...tensors.keys()];
  for (const tt of tensors.values()) tt.dispose();
  assert.ok(names.some((k) => k.startsWith('disc.net.')) && names.some((k) => k.startsWith('model.')) && names.some((k) => k.startsWith('kde.')));

  const test = builtinSource('mnist', 'test', { normal: [1], limit: 60, seed: 2 });
  const ours = (await det.score(test)).map((r) => r.scores);
  const script = `
    import { Detector } from ${JSON.stringify(join(here, '..', '..', 'src', 'detector.js'))};
    import { builtinSource } from ${JSON.stringify(join(here, '..', '..', 'src', 'data', 'builtin.js'))};
    const det = Detector.load(${JSON.stringify(model)}, { device: 'cpu' });
    if (det.modelKind !== 'aae') throw new Error('not loaded as aae');
    const r = await det.score(builtinSource('mnist', 'test', { normal: [1], limit: 60, seed: 2 }));
    console.log(JSON.stringify(r.map((x) => x.scores)));`;
  const out = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' });
  assert.equal(out.status, 0, out.stderr);
  assert.deepEqual(JSON.parse(out.stdout), JSON.parse(JSON.stringify(ours)));
  // and in this process
  const again = Detector.load(model, { device: 'cpu' });
  assert.deepEqual((await again.score(test)).map((r) => r.scores), ours);
  again.dispose();
  det.dispose();
  rmSync(dir, { recursive: true, force: true });
  assert.ok(liveTensors() <= before + 1, `tensors leaked: ${liveTensors() - before}`); // + the cached SSIM window
});

test('Detector resumes an AAE run from its checkpoint folder', async () => {
  const dir = tempDir();
  const ck = join(dir, 'ck');
  const source = onesWithSevens(120, 0.1);
  const opts = { ...TINY, batchSize: 32, model: 'aae' as const, aae: { reject: 0.1, warmup: 1, prior: 'gmm' as const, components: 3 }, checkpointDir: ck };
  const first = await Detector.fit(source, { ...opts, epochs: 2 });
  assert.ok(existsSync(join(ck, 'checkpoint.json')));
  const state = JSON.parse(readFileSync(join(ck, 'checkpoint.json'), 'utf8'));
  assert.ok(state.task.dopt && state.task.gopt && state.task.opt, 'optimizer states of all three phases');
  assert.equal(state.task.rejected.length, first.training!.rejected!.count);
  first.dispose();
  const resumed = await Detector.fit(source, { ...opts, epochs: 3, resume: true });
  assert.equal(resumed.training!.resumedFrom, 1);
  assert.equal(resumed.training!.history.length, 3);
  assert.equal(resumed.training!.rejected!.count, Math.round(0.1 * resumed.training!.items));
  resumed.dispose();
  // a plain autoencoder checkpoint cannot be resumed as an AAE
  const ck2 = join(dir, 'ck2');
  (await Detector.fit(source, { ...TINY, batchSize: 32, epochs: 1, checkpointDir: ck2 })).dispose();
  await assert.rejects(Detector.fit(source, { ...opts, checkpointDir: ck2, epochs: 2, resume: true }), /trained with model "ae", this run asks for "aae"/);
  rmSync(dir, { recursive: true, force: true });
});

test('vigil train --model aae end to end: options, the rejected list on stderr and in the manifest', async () => {
  const dir = tempDir();
  await writeDigits(join(dir, 'imgs'), 1, 36);
  await writeDigits(join(dir, 'imgs'), 7, 4);
  const bin = join(here, '..', '..', 'src', 'cli', 'bin.js');
  const vigil = (...args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8' });
  const out = join(dir, 'm');
  const r = vigil('train', join(dir, 'imgs'), '--out', out, '--size', '28', '--channels', '1', '--filters', '8,16', '--latent', '8', '--epochs', '2',
    '--batch-size', '16', '--val-split', '0', '--device', 'cpu', '-q', '--model', 'aae', '--prior', 'gmm', '--components', '4', '--reject', '0.1', '--reject-by', 'prior+recon', '--warmup', '1');
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stderr, /robust AAE: left 4 training images \(10\.0%\) out of the last epoch/);
  assert.equal(JSON.parse(r.stdout).rejected, 4);
  const manifest = JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8'));
  assert.equal(manifest.model, 'aae');
  assert.equal(manifest.aae.prior.components, 4);
  assert.deepEqual({ ...manifest.training.rejected, ids: manifest.training.rejected.ids.length }, { count: 4, fraction: 0.1, reject: 0.1, rankedBy: 'prior+recon', warmup: 1, ids: 4 });
  const bad = vigil('train', join(dir, 'imgs'), '--reject', '0.1');
  assert.notEqual(bad.status, 0);
  assert.match(bad.stderr, /--reject applies to the robust adversarial autoencoder only; add --model aae/);
  const bad2 = vigil('train', join(dir, 'imgs'), '--model', 'aae', '--reject', 'lots');
  assert.match(bad2.stderr, /--reject must be a fraction in \[0, 1\) or auto, got 'lots'/);
  rmSync(dir, { recursive: true, force: true });
});
