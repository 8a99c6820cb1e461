/**
 * Training of the robust adversarial autoencoder (Beggel, Pfeiffer, Bischl, ECML-PKDD 2019,
 * https://arxiv.org/abs/1901.06355; Makhzani et al., https://arxiv.org/abs/1511.05644).
 *
 * Each batch runs three phases, each with its own Adam optimizer (anomalib ganomaly's
 * `training_step` order: generator first, then the discriminator on detached fakes):
 * 1. reconstruction: encoder + decoder on the per-image reconstruction loss (`loss`: mse, ssim,
 *    mse+ssim), at the main learning rate, with the main optimizer (adam or adamw);
 * 2. generator: the encoder alone, to make the discriminator call its codes prior samples,
 *    `BCE(D(E(x)), 1)`, at `genLr` (default lr / 2, Adam betas (0.5, 0.999));
 * 3. discriminator: `(BCE(D(z_prior), 1) + BCE(D(stopgrad E(x)), 0)) / 2` with the codes of phase 2
 *    detached, at `discLr` (default lr / 4, Adam betas (0.5, 0.999)).
 * The learning-rate schedule scales all three rates together. The defaults trade the match of the
 * codes to the prior for reconstruction quality: at genLr = lr, discLr = lr / 2 the game is balanced
 * (discriminator loss near log 2 = 0.69) but the clean-data AUROC of the reconstruction score fell
 * by about 0.1 against the plain autoencoder on MNIST; at lr / 2 and lr / 4 it is within about 0.02,
 * and the discriminator stays ahead (loss about 0.25). See docs/ROBUST.md.
 *
 * **Rejection (the robust part).** From epoch `warmup` on (default 2: epochs 1 and 2 see every
 * image), `beginEpoch` encodes every training image (eval mode, no gradient), ranks them and leaves
 * the most anomalous `round(reject * n)` out of that epoch's updates: their weight is 0 in all
 * three phases (they are dropped from the batch before the forward pass, so they do not even
 * enter batch-norm statistics; the losses are weighted means over the rest). The ranking
 * (`rejectBy`) is
 * - `'prior'`: the prior log-likelihood log p(E(x)) of the code, lowest first;
 * - `'prior+recon'`: the average of the rank of -log p(E(x)) and the rank of the reconstruction
 *   error (the training loss per image), highest first;
 * - `'prior+recon+knn'` (default): both, and the rank of the code's mean distance to its k nearest training
 *   codes, k = the number rejected (at least 10), so that a group of contaminants smaller than the
 *   rejected share counts as sparse even when its members sit close together.
 *
 * **`reject: 'auto'`** estimates the fraction each epoch from the codes: for N(0, I),
 * D = ||z||^2 is chi-square with d degrees of freedom under the prior; for a mixture, D is the
 * squared distance to the nearest mean in units of that component's std (chi-square d within the
 * component). The codes' scale never matches the prior exactly, so D is first divided by
 * median(D) / chi2_d.median (the consistency correction of robust covariance estimators), and the
 * fraction is the share of codes beyond the chi-square 99.9% quantile, capped at `maxReject`
 * (default 0.2). The last ranking's fraction is in `epochExtra().rejectFraction`.
 *
 * `epochExtra()` reports the epoch's mean discriminator loss `dLoss`, generator loss `gLoss`,
 * the number `rejected` and the `rejectFraction`; `rejectedIndices()` lists the source indices left
 * out of the last epoch. Checkpoints hold the autoencoder (`model.*`), the discriminator (`disc.*`),
 * the three optimizers' states (`opt.*`, `gopt.*`, `dopt.*`) and the rejected list. (A mixture
 * prior's component sampler is a JS generator and is not checkpointed: a resumed run draws other
 * prior samples than an uninterrupted one, as it also draws other libtorch random numbers.)
 *
 * @example
 * ```ts
 * const aae = new AdversarialAutoencoder(arch, { prior: 'normal' });
 * const task = new AaeTask(aae, 'mse', { optimizer: 'adam', lr: 1e-3, weightDecay: 0 }, trainPlan, { reject: 0.05, warmup: 2 });
 * const summary = await runTraining(task, { epochs: 10, schedule, train: trainPlan, seed: 0 });
 * task.rejectedIndices();   // e.g. [17, 230, ...]: source indices left out of the last epoch
 * task.dispose();
 * ```
 */
import { ops, tidy, noGrad, Adam, type Optimizer, type Tensor } from '../engine/index.js';
import type { AdversarialAutoencoder, AaeOptions, AaeTrainingConfig, RejectBy } from '../models/aae.js';
import { aaeTrainingConfig } from '../models/aae.js';
import type { Prior, GaussianMixtureJSON } from '../models/prior.js';
import type { BatchPlan } from './batches.js';
import { perImageLoss, type LossName } from './losses.js';
import type { TrainingTask } from './trainer.js';
import { makeOptimizer, cloneState, optimizerTensors, tensorsUnder, type OptimizerOptions } from './autoencoder-task.js';

const ADV_BETAS: [number, number] = [0.5, 0.999];

/** What one ranking pass found, per training image (aligned arrays). */
export interface Ranking {
  /** Source indices. */
  indices: number[];
  /** log p(E(x)) under the prior. */
  logProb: Float32Array;
  /** Per-image reconstruction loss. */
  recon: Float32Array;
  /** Codes [n * latent]. */
  codes: Float32Array;
}

export class AaeTask implements TrainingTask {
  readonly recOpt: Optimizer;
  readonly genOpt: Optimizer;
  readonly discOpt: Optimizer;
  readonly config: AaeTrainingConfig;
  /** Called with each batch's source indices and their weights (0 = left out); for tests and diagnostics. */
  onWeights?: (indices: number[], weights: Float32Array) => void;

  private readonly baseLr: number;
  private readonly discLr0: number;
  private readonly genLr0: number;
  private rejected = new Set<number>();
  private rejectedList: number[] = [];
  private fraction = 0;
  private sums = { d: 0, g: 0, batches: 0 };

  constructor(readonly model: AdversarialAutoencoder, readonly loss: LossName, opt: OptimizerOptions, readonly plan: BatchPlan, options: AaeOptions = {}) {
    this.config = aaeTrainingConfig(options);
    this.baseLr = opt.lr;
    this.discLr0 = this.config.discLr ?? opt.lr / 4;
    this.genLr0 = this.config.genLr ?? opt.lr / 2;
    this.recOpt = makeOptimizer(model.ae.parameters(), opt);
    this.genOpt = new Adam(model.encoderParameters(), { lr: this.genLr0, betas: ADV_BETAS });
    this.discOpt = new Adam(model.disc.parameters(), { lr: this.discLr0, betas: ADV_BETAS });
  }

  setLr(lr: number): void {
    const scale = lr / this.baseLr;
    this.recOpt.lr = lr;
    this.genOpt.lr = this.genLr0 * scale;
    this.discOpt.lr = this.discLr0 * scale;
  }

  /** Source indices left out of the current (last begun) epoch, ascending. */
  rejectedIndices(): number[] {
    return [...this.rejectedList];
  }
  /** The fraction used by the last ranking (0 before the warm-up ends). */
  get rejectFraction(): number {
    return this.fraction;
  }

  async beginEpoch(epoch: number): Promise<void> {
    this.sums = { d: 0, g: 0, batches: 0 };
    const { reject, warmup } = this.config;
    if (reject === 0 || epoch < warmup) {
      this.setRejected([], 0);
      return;
    }
    const r = await this.rank();
    const n = r.indices.length;
    const fraction = reject === 'auto'
      ? estimateRejectFraction(r.codes, this.model.prior, this.config.maxReject)
      : reject;
    const k = Math.min(n, Math.round(fraction * n));
    const outlying = outlierScores(r, this.config.rejectBy, Math.max(10, k));
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => outlying[b] - outlying[a] || a - b);
    this.setRejected(order.slice(0, k).map((i) => r.indices[i]), fraction);
  }

  private setRejected(indices: number[], fraction: number): void {
    this.rejectedList = [...indices].sort((a, b) => a - b);
    this.rejected = new Set(indices);
    this.fraction = fraction;
  }

  /** Encodes every training image (eval mode, no gradient): prior log-likelihood, reconstruction loss, codes. */
  async rank(): Promise<Ranking> {
    this.model.eval();
    const indices: number[] = [];
    const lp: Float32Array[] = [], rec: Float32Array[] = [], codes: Float32Array[] = [];
    try {
      for await (const b of this.plan.pass(0, false)) {
        try {
          const s = noGrad(() => tidy(() => {
            const z = this.model.encode(b.x);
            const recon = perImageLoss(this.loss, this.model.decode(z), b.x);
            return { lp: this.model.prior.logProb(z).toFloat32(), rec: recon.toFloat32(), codes: z.toFloat32() };
          }));
          indices.push(...b.indices);
          lp.push(s.lp); rec.push(s.rec); codes.push(s.codes);
        } finally {
          b.x.dispose();
        }
      }
    } finally {
      this.model.train();
    }
    return { indices, logProb: concat(lp), recon: concat(rec), codes: concat(codes) };
  }

  private weightsFor(indices: number[]): Float32Array {
    const w = new Float32Array(indices.length).fill(1);
    if (this.rejected.size) indices.forEach((i, j) => { if (this.rejected.has(i)) w[j] = 0; });
    return w;
  }

  step(b: { x: Tensor; indices: number[] }): number {
    const w = this.weightsFor(b.indices);
    this.onWeights?.(b.indices, w);
    const kept: number[] = [];
    w.forEach((v, i) => { if (v > 0) kept.push(i); });
    if (kept.length === 0) return this.validate(b.x);
    this.model.train();
    const m = this.model;
    const device = b.x.device;
    const k = kept.length;
    const r = tidy(() => {
      const x = k === b.indices.length ? b.x : ops.indexSelect(b.x, 0, ops.indices(kept, device));
      const wv = Float32Array.from(kept, (i) => w[i]);
      const wsum = wv.reduce((a, v) => a + v, 0);
      const wt = ops.tensor(wv, [k], { device });
      const wmean = (v: Tensor) => ops.div(ops.sum(ops.mul(ops.flatten(v), wt)), wsum);

      // 1. reconstruction phase: encoder + decoder
      this.recOpt.zeroGrad();
      const recLoss = wmean(perImageLoss(this.loss, m.ae.forward(x), x));
      recLoss.backward();
      this.recOpt.step();

      // 2. regularisation, generator: the encoder tries to pass its codes off as prior samples
      this.genOpt.zeroGrad();
      const z = m.encode(x);
      const ones = ops.ones([k, 1], { device });
      const gLoss = wmean(ops.bceWithLogits(m.disc.forward(z), ones, 'none'));
      gLoss.backward();
      this.genOpt.step();

      // 3. regularisation, discriminator: prior samples are real, the (detached) codes fake
      this.discOpt.zeroGrad();
      const real = m.prior.sample(k, device);
      const fake = ops.detach(z);
      const dReal = ops.bceWithLogits(m.disc.forward(real), ones);
      const dFake = wmean(ops.bceWithLogits(m.disc.forward(fake), ops.zeros([k, 1], { device }), 'none'));
      const dLoss = ops.mul(ops.add(dReal, dFake), 0.5);
      dLoss.backward();
      this.discOpt.step();
      return { rec: recLoss.item(), g: gLoss.item(), d: dLoss.item() };
    });
    this.sums.d += r.d;
    this.sums.g += r.g;
    this.sums.batches++;
    return r.rec;
  }

  validate(x: Tensor): number {
    this.model.eval();
    try {
      return noGrad(() => tidy(() => ops.mean(perImageLoss(this.loss, this.model.forward(x), x)).item()));
    } finally {
      this.model.train();
    }
  }

  epochExtra(): Record<string, number> {
    const nb = Math.max(this.sums.batches, 1);
    return { dLoss: this.sums.d / nb, gLoss: this.sums.g / nb, rejected: this.rejectedList.length, rejectFraction: this.fraction };
  }

  checkpoint() {
    const tensors = this.model.stateDict();
    const opt = optimizerTensors('opt', this.recOpt, tensors);
    const gopt = optimizerTensors('gopt', this.genOpt, tensors);
    const dopt = optimizerTensors('dopt', this.discOpt, tensors);
    return { tensors, state: { opt, gopt, dopt, rejected: this.rejectedList, rejectFraction: this.fraction } };
  }

  restore(tensors: Map<string, Tensor>, state: unknown): void {
    const s = state as { opt: Record<string, number>; gopt?: Record<string, number>; dopt?: Record<string, number>; rejected?: number[]; rejectFraction?: number };
    if (!s?.gopt || !s?.dopt) throw new Error('checkpoint: not an adversarial autoencoder checkpoint (no discriminator optimizer state); delete the checkpoint folder or train with the model it was written for');
    this.model.loadStateDict(tensors, 'checkpoint');
    this.recOpt.loadStateDict({ tensors: tensorsUnder('opt', tensors), scalars: s.opt });
    this.genOpt.loadStateDict({ tensors: tensorsUnder('gopt', tensors), scalars: s.gopt });
    this.discOpt.loadStateDict({ tensors: tensorsUnder('dopt', tensors), scalars: s.dopt });
    this.setRejected(s.rejected ?? [], s.rejectFraction ?? 0);
  }

  snapshot(): Map<string, Tensor> {
    return cloneState(this.model.stateDict());
  }
  loadSnapshot(s: Map<string, Tensor>): void {
    this.model.loadStateDict(s, 'snapshot');
  }

  dispose(): void {
    this.recOpt.dispose();
    this.genOpt.dispose();
    this.discOpt.dispose();
  }
}

/**
 * Higher = more anomalous: -log p; or the mean of the ranks of -log p and of the reconstruction
 * error; or the mean of those two ranks and the rank of the mean distance to the `k` nearest other
 * codes (`knnDistances`).
 */
export function outlierScores(r: Pick<Ranking, 'logProb' | 'recon'> & Partial<Pick<Ranking, 'codes'>>, by: RejectBy, k = 10): Float64Array {
  const n = r.logProb.length;
  const neg = Float64Array.from(r.logProb, (v) => -v);
  if (by === 'prior') return neg;
  const parts = [ranks(neg), ranks(r.recon)];
  if (by === 'prior+recon+knn') {
    if (!r.codes) throw new Error("outlierScores: 'prior+recon+knn' needs the codes");
    parts.push(ranks(knnDistances(r.codes, r.codes.length / n, k)));
  }
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = parts.reduce((s, p) => s + p[i]!, 0) / parts.length;
  return out;
}

/**
 * Mean Euclidean distance of each code to its `k` nearest other codes (itself excluded; k is capped
 * at n - 1), computed on the engine in chunks of rows: [n * d] row-major codes in, n distances out.
 */
export function knnDistances(codes: Float32Array, d: number, k: number, chunk = 1024): Float64Array {
  const n = codes.length / d;
  if (!Number.isInteger(n) || n < 2) throw new Error(`knnDistances: need at least 2 codes of dimension ${d}`);
  const kk = Math.max(1, Math.min(Math.round(k), n - 1));
  const out = new Float64Array(n);
  noGrad(() => tidy(() => {
    const all = ops.tensor(codes, [n, d]);
    for (let s = 0; s < n; s += chunk) {
      tidy(() => {
        const e = Math.min(n, s + chunk);
        const dist = ops.sqrt(ops.pairwiseSqDist(ops.slice(all, 0, s, e), all)); // clamped at 0 already
        // the smallest is the code itself (distance 0): take k + 1 and drop the first
        const [v] = ops.topk(dist, kk + 1, 1, false);
        out.set(ops.mean(ops.slice(v, 1, 1, kk + 1), [1]).toFloat32(), s);
      });
    }
  }));
  return out;
}

/** Ranks 0..n-1 ascending, ties sharing their mean rank. */
export function ranks(v: ArrayLike<number>): Float64Array {
  const n = v.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => v[a] - v[b]);
  const out = new Float64Array(n);
  for (let s = 0; s < n;) {
    let e = s;
    while (e + 1 < n && v[order[e + 1]] === v[order[s]]) e++;
    for (let j = s; j <= e; j++) out[order[j]] = (s + e) / 2;
    s = e + 1;
  }
  return out;
}

/**
 * The 'auto' reject fraction (see the module comment): the share of codes whose scale-corrected
 * squared (component) distance exceeds the chi-square_d 99.9% quantile, capped at `cap`.
 */
export function estimateRejectFraction(codes: Float32Array, prior: Prior, cap = 0.2, q = 0.999): number {
  const d = prior.dim;
  const n = codes.length / d;
  if (n === 0) return 0;
  const dist = priorDistances(codes, prior);
  const med = median(dist);
  const scale = med > 0 ? med / chiSquareQuantile(0.5, d) : 1;
  const cut = chiSquareQuantile(q, d);
  let beyond = 0;
  for (const v of dist) if (v / scale > cut) beyond++;
  return Math.min(cap, beyond / n);
}

/** ||z||^2 for N(0, I); min_c ||z - mu_c||^2 / s_c^2 for a mixture. */
export function priorDistances(codes: Float32Array, prior: Prior): Float64Array {
  const d = prior.dim;
  const n = codes.length / d;
  const json = prior.toJSON();
  const out = new Float64Array(n);
  const comps = json.type === 'gaussian-mixture'
    ? (json as GaussianMixtureJSON).means.map((mu, c) => ({ mu, inv: 1 / (json as GaussianMixtureJSON).std[c] ** 2 }))
    : [{ mu: new Array<number>(d).fill(0), inv: 1 }];
  for (let i = 0; i < n; i++) {
    let best = Infinity;
    for (const { mu, inv } of comps) {
      let s = 0;
      for (let j = 0; j < d; j++) { const t = codes[i * d + j] - mu[j]; s += t * t; }
      best = Math.min(best, s * inv);
    }
    out[i] = best;
  }
  return out;
}

function median(v: Float64Array): number {
  const s = Float64Array.from(v).sort();
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

function concat(parts: Float32Array[]): Float32Array {
  const out = new Float32Array(parts.reduce((a, p) => a + p.length, 0));
  let o = 0;
  for (const p of parts) { out.set(p, o); o += p.length; }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Chi-square quantiles through the regularized lower incomplete gamma function.

function logGamma(x: number): number {
  // Lanczos approximation (g = 7, n = 9), |error| < 1e-13 for x > 0.
  const c = [0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
    12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  x -= 1;
  let a = c[0];
  const t = x + 7.5;
  for (let i = 1; i < 9; i++) a += c[i] / (x + i);
  return 0.5 * Math.log(2 * Math.PI) + (x + 0.5) * Math.log(t) - t + Math.log(a);
}

/** P(a, x) = gamma(a, x) / Gamma(a) (series below a + 1, continued fraction above). */
export function gammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const lg = logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a, term = sum;
    for (let k = 1; k < 1000; k++) {
      term *= x / (a + k);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-15) break;
    }
    return sum * Math.exp(-x + a * Math.log(x) - lg);
  }
  // Lentz's continued fraction for Q(a, x)
  const tiny = 1e-300;
  let b = x + 1 - a, c = 1 / tiny, d = 1 / b, h = d;
  for (let i = 1; i < 1000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b; if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c; if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const del = d * c;
    h *= del;
    if (Math.abs(del - 1) < 1e-15) break;
  }
  return 1 - Math.exp(-x + a * Math.log(x) - lg) * h;
}

/** The p-quantile of the chi-square distribution with k degrees of freedom. */
export function chiSquareQuantile(p: number, k: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`chiSquareQuantile: p must be in (0, 1), got ${p}`);
  if (!(k > 0)) throw new RangeError(`chiSquareQuantile: k must be positive, got ${k}`);
  let lo = 0, hi = Math.max(1, k);
  while (gammaP(k / 2, hi / 2) < p) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-12 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (gammaP(k / 2, mid / 2) < p) lo = mid; else hi = mid;
  }
  return (lo + hi) / 2;
}
