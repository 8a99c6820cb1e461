/**
 * Latent priors for the adversarial autoencoder (Makhzani et al., "Adversarial Autoencoders",
 * https://arxiv.org/abs/1511.05644): the discriminator learns to tell encoder codes from samples
 * of the prior, which pushes the aggregated posterior of the codes towards it. `logProb` gives
 * the prior log-density of codes, usable as a regulariser or as an anomaly score.
 *
 * - `StandardNormal(dim)`: N(0, I); log N(z; 0, I) = -||z||^2 / 2 - dim/2 log(2 pi).
 * - `GaussianMixture({dim, components, ...})`: k isotropic Gaussians,
 *   log p(z) = logsumexp_c [log w_c - ||z - mu_c||^2 / (2 s_c^2) - dim log s_c - dim/2 log(2 pi)].
 *   Default means (`layout: 'circle'`): k points evenly on a circle of radius `radius` (default 4)
 *   in the first two dimensions, zero elsewhere (one component: the origin; dim 1: evenly spaced on
 *   [-radius, radius]). `layout: 'random'`: seeded random unit directions times `radius`. Default
 *   std 0.5 per component, equal weights.
 *
 * Randomness: `GaussianMixture.sample` picks components with its own seeded JS generator (mulberry32,
 * `src/data/random.ts`), so the component sequence depends only on `seed` and the call history;
 * the Gaussian noise comes from libtorch's generator (`ops.randn`), so for bit-identical samples
 * seed it once with `manualSeed` as the trainer does.
 *
 * `logProb` works in the dtype and on the device of `z` and is differentiable with respect to `z`.
 * It takes `[n, dim]` and returns `[n]`; GaussianMixture's memory is n x k x dim values.
 *
 * @example
 * ```ts
 * const prior = new GaussianMixture({ dim: 8, components: 10, seed: 1 });
 * const z = prior.sample(128, 'cpu');                 // Tensor [128, 8]
 * const lp = prior.logProb(z);                        // Tensor [128]
 * const again = priorFromJSON(JSON.parse(JSON.stringify(prior.toJSON())));   // same means/std/weights/seed
 * new StandardNormal(2).logProb(ops.zeros([1, 2])).item();  // -1.8378770664093453 = -log(2 pi)
 * ```
 *
 * See Also: `src/scoring/kde.ts` (a nonparametric density of the codes themselves).
 */
import { Tensor, tidy, ops } from '../engine/index.js';
import { createRng, deriveSeed, type Rng } from '../data/random.js';

const LOG_2PI = Math.log(2 * Math.PI);

export interface StandardNormalJSON { type: 'standard-normal'; dim: number }
export interface GaussianMixtureJSON {
  type: 'gaussian-mixture';
  dim: number;
  components: number;
  /** [components][dim] */
  means: number[][];
  /** Isotropic standard deviation of each component. */
  std: number[];
  /** Mixture weights, summing to 1. */
  weights: number[];
  seed: number;
}
export type PriorJSON = StandardNormalJSON | GaussianMixtureJSON;

export interface Prior {
  readonly dim: number;
  /** n samples [n, dim] (float32) on device (default 'cpu'). */
  sample(n: number, device?: string): Tensor;
  /** Log-density of each row of z [n, dim]: [n], in z's dtype and on z's device. */
  logProb(z: Tensor): Tensor;
  toJSON(): PriorJSON;
}

export class StandardNormal implements Prior {
  readonly dim: number;
  constructor(dim: number) {
    checkDim(dim, 'StandardNormal');
    this.dim = dim;
  }
  sample(n: number, device = 'cpu'): Tensor {
    checkCount(n, 'StandardNormal.sample');
    return ops.randn([n, this.dim], { device });
  }
  logProb(z: Tensor): Tensor {
    checkCodes(z, this.dim, 'StandardNormal.logProb');
    return tidy(() => ops.sub(ops.mul(ops.sum(ops.mul(z, z), 1), -0.5), (this.dim / 2) * LOG_2PI));
  }
  toJSON(): StandardNormalJSON {
    return { type: 'standard-normal', dim: this.dim };
  }
}

export interface GaussianMixtureOptions {
  dim: number;
  /** Number of components k. May be left out when `means` is given. */
  components?: number;
  /** Distance of the default means from the origin. Default 4. */
  radius?: number;
  /** Isotropic std, one for all or one per component. Default 0.5. */
  std?: number | number[];
  /** Positive weights, normalised to sum 1. Default equal. */
  weights?: number[];
  /** Explicit means [k][dim]; overrides radius and layout. */
  means?: number[][];
  /** How default means are placed. Default 'circle'. */
  layout?: 'circle' | 'random';
  /** Seeds component choice in sample() (and the 'random' layout). Default 0. */
  seed?: number;
}

export class GaussianMixture implements Prior {
  readonly dim: number;
  readonly components: number;
  readonly means: number[][];
  readonly std: number[];
  readonly weights: number[];
  readonly seed: number;
  private readonly rng: Rng;
  private readonly cumulative: Float64Array;

  constructor(opts: GaussianMixtureOptions) {
    const what = 'GaussianMixture';
    checkDim(opts.dim, what);
    const dim = opts.dim;
    const seed = opts.seed ?? 0;
    if (!Number.isFinite(seed)) throw new Error(`${what}: seed must be a finite number, got ${seed}`);
    const k = opts.components ?? opts.means?.length;
    if (!(Number.isInteger(k) && k! >= 1)) throw new Error(`${what}: components must be a positive integer, got ${opts.components}`);
    const radius = opts.radius ?? 4;
    if (!(radius >= 0 && Number.isFinite(radius))) throw new Error(`${what}: radius must be a finite number >= 0, got ${radius}`);

    let means: number[][];
    if (opts.means) {
      if (opts.means.length !== k) throw new Error(`${what}: ${opts.means.length} means given for ${k} components`);
      means = opts.means.map((m, c) => {
        if (!Array.isArray(m) || m.length !== dim) throw new Error(`${what}: mean ${c} has ${Array.isArray(m) ? m.length : 'no'} entries, expected dim = ${dim}`);
        if (!m.every(Number.isFinite)) throw new Error(`${what}: mean ${c} has a non-finite entry`);
        return [...m];
      });
    } else {
      const layout = opts.layout ?? 'circle';
      if (layout !== 'circle' && layout !== 'random') throw new Error(`${what}: layout must be 'circle' or 'random', got ${JSON.stringify(layout)}`);
      means = layout === 'circle' ? circleMeans(k!, dim, radius) : randomMeans(k!, dim, radius, deriveSeed(seed, 1));
    }

    const stdIn = opts.std ?? 0.5;
    const std = typeof stdIn === 'number' ? new Array<number>(k!).fill(stdIn) : [...stdIn];
    if (std.length !== k) throw new Error(`${what}: ${std.length} std values given for ${k} components`);
    std.forEach((s, c) => { if (!(s > 0 && Number.isFinite(s))) throw new Error(`${what}: std of component ${c} must be positive and finite, got ${s}`); });

    const w = opts.weights ? [...opts.weights] : new Array<number>(k!).fill(1);
    if (w.length !== k) throw new Error(`${what}: ${w.length} weights given for ${k} components`);
    w.forEach((v, c) => { if (!(v > 0 && Number.isFinite(v))) throw new Error(`${what}: weight of component ${c} must be positive and finite, got ${v}`); });
    const total = w.reduce((a, b) => a + b, 0);

    this.dim = dim;
    this.components = k!;
    this.means = means;
    this.std = std;
    this.weights = w.map((v) => v / total);
    this.seed = seed;
    this.rng = createRng(deriveSeed(seed, 2));
    this.cumulative = new Float64Array(k!);
    let acc = 0;
    this.weights.forEach((v, c) => { acc += v; this.cumulative[c] = acc; });
    this.cumulative[k! - 1] = 1;
  }

  /** Component index of each of n draws (advances the generator). */
  sampleComponents(n: number): Int32Array {
    checkCount(n, 'GaussianMixture.sampleComponents');
    const out = new Int32Array(n);
    const cum = this.cumulative;
    for (let i = 0; i < n; i++) {
      const u = this.rng();
      let lo = 0, hi = cum.length - 1;
      while (lo < hi) { const mid = (lo + hi) >> 1; if (u < cum[mid]!) hi = mid; else lo = mid + 1; }
      out[i] = lo;
    }
    return out;
  }

  sample(n: number, device = 'cpu'): Tensor {
    checkCount(n, 'GaussianMixture.sample');
    const comp = this.sampleComponents(n);
    const d = this.dim;
    const mu = new Float32Array(n * d);
    const sd = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      const c = comp[i]!;
      mu.set(this.means[c]!, i * d);
      sd[i] = this.std[c]!;
    }
    return tidy(() => {
      const noise = ops.randn([n, d], { device });
      return ops.add(ops.tensor(mu, [n, d], { device }), ops.mul(noise, ops.tensor(sd, [n, 1], { device })));
    });
  }

  logProb(z: Tensor): Tensor {
    checkCodes(z, this.dim, 'GaussianMixture.logProb');
    const k = this.components;
    const d = this.dim;
    const opts = { dtype: z.dtype, device: z.device };
    const coef = Float64Array.from(this.std, (s) => -0.5 / (s * s));
    const bias = Float64Array.from(this.std, (s, c) => Math.log(this.weights[c]!) - d * Math.log(s) - (d / 2) * LOG_2PI);
    return tidy(() => {
      const mu = ops.tensor(Float64Array.from(this.means.flat()), [1, k, d], opts);
      const diff = ops.sub(ops.unsqueeze(z, 1), mu); // [n, k, d]
      const sq = ops.sum(ops.mul(diff, diff), 2); // [n, k]
      const logits = ops.add(ops.mul(sq, ops.tensor(coef, [1, k], opts)), ops.tensor(bias, [1, k], opts));
      return ops.logsumexp(logits, 1);
    });
  }

  toJSON(): GaussianMixtureJSON {
    return {
      type: 'gaussian-mixture',
      dim: this.dim,
      components: this.components,
      means: this.means.map((m) => [...m]),
      std: [...this.std],
      weights: [...this.weights],
      seed: this.seed,
    };
  }
}

/** Rebuilds a prior from `toJSON()` output (also after a JSON round trip), validating it. */
export function priorFromJSON(json: unknown): Prior {
  const j = json as Partial<PriorJSON> | null;
  if (!j || typeof j !== 'object') throw new Error(`priorFromJSON: expected an object, got ${JSON.stringify(json)}`);
  switch (j.type) {
    case 'standard-normal':
      return new StandardNormal(j.dim as number);
    case 'gaussian-mixture': {
      const g = j as Partial<GaussianMixtureJSON>;
      if (!Array.isArray(g.means)) throw new Error('priorFromJSON: gaussian-mixture needs means');
      return new GaussianMixture({ dim: g.dim as number, components: g.components, means: g.means, std: g.std, weights: g.weights, seed: g.seed });
    }
    default:
      throw new Error(`priorFromJSON: unknown prior type ${JSON.stringify(j.type)} (expected 'standard-normal' or 'gaussian-mixture')`);
  }
}

function circleMeans(k: number, dim: number, radius: number): number[][] {
  return Array.from({ length: k }, (_, c) => {
    const m = new Array<number>(dim).fill(0);
    if (k === 1) return m;
    if (dim === 1) { m[0] = -radius + (2 * radius * c) / (k - 1); return m; }
    const a = (2 * Math.PI * c) / k;
    m[0] = radius * Math.cos(a);
    m[1] = radius * Math.sin(a);
    return m;
  });
}

function randomMeans(k: number, dim: number, radius: number, seed: number): number[][] {
  const rng = createRng(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rng())) * Math.cos(2 * Math.PI * rng());
  return Array.from({ length: k }, () => {
    let v: number[];
    let norm: number;
    do {
      v = Array.from({ length: dim }, gauss);
      norm = Math.hypot(...v);
    } while (norm < 1e-12);
    return v.map((x) => (radius * x) / norm);
  });
}

function checkDim(dim: number, what: string): void {
  if (!(Number.isInteger(dim) && dim >= 1)) throw new Error(`${what}: dim must be a positive integer, got ${dim}`);
}

function checkCount(n: number, what: string): void {
  if (!(Number.isInteger(n) && n >= 0)) throw new Error(`${what}: n must be a non-negative integer, got ${n}`);
}

function checkCodes(z: Tensor, dim: number, what: string): void {
  if (z.rank !== 2 || z.shape[1] !== dim) {
    throw new Error(`${what}: z must have shape [n, ${dim}], got [${z.shape}]` + (z.rank === 2 ? ` (dimension ${z.shape[1]} vs the prior's ${dim})` : ''));
  }
}
