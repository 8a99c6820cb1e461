/**
 * Gaussian kernel density estimate over latent codes, an anomaly scorer for autoencoders:
 * normal images map to dense regions of latent space, anomalies to sparse ones.
 *
 * sklearn contract (`sklearn/neighbors/_kde.py`): the constructor only stores params, `fit` sets
 * the fitted state, `scoreSamples` returns the **log-density** (higher = more normal), and
 * `score` returns its negation, vigil's anomaly convention (higher = more anomalous). As in
 * anomalib (`models/components/stats/kde.py`, `kde_classifier.py`), codes are standardised and the
 * number of fitted points is capped (`maxPoints`, a seeded subsample), which bounds memory and
 * scoring time.
 *
 * **The density lives in standardised space.** `fit` stores the per-dimension mean and standard
 * deviation (population, ddof = 0) of the codes it sees, and every code and query is mapped to
 * `(x - mean) / std` first. `scoreSamples` returns the true log-density of the standardised query:
 *
 *     log p(x) = logsumexp_i(-||x - x_i||^2 / (2 h^2)) - log n - d * log(h * sqrt(2 pi))
 *
 * (it integrates to 1 over standardised space). The log-density in the original space is
 * `scoreSamples(x) - sum_j log std_j`, a constant shift that changes no ranking. A dimension with
 * zero spread gets std 1. With `standardize: false` the codes are used as they are.
 *
 * **The kNN estimator** (`estimator: 'knn'`, k neighbours, default 5) replaces the kernels by
 * p(x) = k / (n V_d r_k(x)^d), r_k the distance to the k-th nearest fitted point, V_d the volume of
 * the unit d-ball: a true log-density too, on the same stored points, whose reach adapts to the
 * data (the bandwidth is then unused). `groups` makes groups of dimensions weigh the same in the
 * distance (each scaled by 1 / sqrt(its size) after standardising), e.g. the statistics of
 * encoder blocks of 32 and 256 channels.
 *
 * Bandwidth rules (h in standardised units, so sigma = 1 per dimension; n = fitted points):
 * - `'scott'` (default): h = n^(-1/(d+4))                  (scipy `gaussian_kde` Scott factor)
 * - `'silverman'`: h = (n (d+2) / 4)^(-1/(d+4))
 * - `'likelihood'`: the h of `bandwidthGrid(n, d)` (15 log-spaced values 0.05..2 x Scott, plus
 *   Scott itself) maximising the mean log-likelihood of a seeded held-out 20% of the fitted
 *   points under a KDE of the other 80%. The grid and its scores are kept in `selection_`.
 * - a number: that h.
 *
 * Scoring runs on the engine (float32) in chunks of queries against all points: one matrix product
 * per chunk into a reused chunk x n buffer of at most 256 MiB, then exp and a row sum; queries so
 * far from every point that the terms underflow are redone with a max-shifted logsumexp. 10,000
 * queries against 60,000 codes of dimension 32 take about 1-2 s on 2 CPU cores; with the default
 * cap (20,000 points) about 0.5 s. The 'likelihood' rule costs about 1.5-3 s more at fit time for
 * 20,000 points (16 bandwidths x 4,000 held-out x 16,000 points). See `bench/kde.ts`.
 *
 * Persistence: `toState()` gives plain JSON scalars plus a `Map` holding `kde.points` (the
 * standardised fitted points, float32) for the bundle's safetensors file; `LatentKDE.fromState`
 * restores a KDE whose scores equal the original's.
 *
 * @example
 * ```ts
 * const kde = new LatentKDE({ bandwidth: 'scott' }).fit(codes);   // codes: Tensor [n, d]
 * kde.bandwidth_;     // Scott: n^(-1/(d+4)), n = fitted points: 0.7595 for 20000 (the default cap), d = 32
 * const logp = kde.scoreSamples(queries);   // Float32Array, log-density (standardised space)
 * const s = kde.score(queries);             // Float32Array, -logp: higher = more anomalous
 * const { json, tensors } = kde.toState();
 * saveTensors('kde.safetensors', tensors); dispose([...tensors.values()]);
 * // later: const { tensors: t } = loadTensors(...); const kde2 = LatentKDE.fromState(json, t); dispose([...t.values()]);
 * kde.dispose();
 * ```
 *
 * See Also: `src/scoring/threshold.ts` (thresholds on `score`), `src/postprocess/postprocessor.ts`.
 */
import { Tensor, tidy, noGrad, ops, resolveDevice } from '../engine/index.js';
import { createRng, deriveSeed } from '../data/random.js';
import { DENSITY_ESTIMATORS, type DensityEstimator } from './density-input.js';

export type BandwidthRule = 'scott' | 'silverman' | 'likelihood';

export interface LatentKDEOptions {
  /** A rule or a fixed h (in standardised units). Default 'scott'. */
  bandwidth?: BandwidthRule | number;
  /** Standardise codes per dimension before estimating. Default true. */
  standardize?: boolean;
  /** 'gaussian' (default) or 'knn': log p = log k - log n - log V_d - d log r_k (see the module doc). */
  estimator?: DensityEstimator;
  /** Neighbours of the 'knn' estimator. Default 5. */
  k?: number;
  /**
   * Sizes of consecutive groups of dimensions (summing to d) that should weigh the same in a
   * distance, whatever their sizes: after standardising, a group of g dimensions is scaled by
   * 1 / sqrt(g). Default: one group per dimension (plain standardisation).
   */
  groups?: readonly number[];
  /** Cap on fitted points; more codes are subsampled (seeded). Default 20000. */
  maxPoints?: number;
  /** Where points live and scoring runs ('cpu', 'cuda', 'cuda:N', 'auto'). Default: the codes tensor's device, else 'cpu'. */
  device?: string;
  /** Seed for the subsample and the held-out split. Default 0. */
  seed?: number;
  /** Most queries scored per engine call. Default 1024; lowered so that chunk x n x 4 bytes <= 256 MiB. */
  chunkSize?: number;
}

/** Plain-JSON part of a fitted KDE. The points go in the tensor map under `kde.points`. */
export interface LatentKDEState {
  kind: 'latent-kde';
  version: 1;
  /** The fitted h (standardised units). */
  bandwidth: number;
  /** How it was chosen. */
  bandwidthRule: BandwidthRule | 'fixed';
  standardize: boolean;
  /** Absent: 'gaussian' (states written before the kNN estimator). */
  estimator?: DensityEstimator;
  /** Neighbours of the 'knn' estimator. */
  k?: number;
  /** The dimension groups that weigh the same (already folded into std). */
  groups?: number[];
  /** Code dimension. */
  d: number;
  /** Fitted (stored) points. */
  n: number;
  /** Codes given to fit, before the cap. */
  nSeen: number;
  /** Per-dimension mean and std used for standardisation (0 and 1 when standardize is false; std includes the groups' scale). */
  mean: number[];
  std: number[];
  /** null: no cap (Infinity, which JSON cannot hold). */
  maxPoints: number | null;
  seed: number;
  chunkSize: number;
  /** For 'likelihood': the grid and each value's mean held-out log-likelihood. */
  selection?: BandwidthSelection;
}

export interface BandwidthSelection {
  grid: number[];
  logLik: number[];
  /** Points held out / used to build the KDE during selection. */
  nHeldOut: number;
  nTrain: number;
}

/** Name of the points tensor in the map of `toState()`. */
export const KDE_POINTS_KEY = 'kde.points';

const DEFAULT_MAX_POINTS = 20000;
const DEFAULT_CHUNK = 1024;
const MATRIX_BUDGET_BYTES = 256 * 1024 * 1024;
/** Selection builds pairwise distances and a scaled copy: keep each matrix smaller. */
const SELECTION_BUDGET_BYTES = 64 * 1024 * 1024;
const LOG_2PI = Math.log(2 * Math.PI);

/** Scott's rule on standardised data: n^(-1/(d+4)). */
export function scottBandwidth(n: number, d: number): number {
  return Math.pow(n, -1 / (d + 4));
}

/** Silverman's rule on standardised data: (n (d+2) / 4)^(-1/(d+4)). */
export function silvermanBandwidth(n: number, d: number): number {
  return Math.pow((n * (d + 2)) / 4, -1 / (d + 4));
}

/**
 * The candidates of the 'likelihood' rule: 15 log-spaced multiples of Scott's h from 0.05 to 2,
 * plus Scott's h itself (so the selected h never does worse than Scott on the held-out set).
 * Ascending.
 */
export function bandwidthGrid(n: number, d: number, size = 15, lo = 0.05, hi = 2): number[] {
  const scott = scottBandwidth(n, d);
  const factors = new Set<number>([1]);
  for (let i = 0; i < size; i++) factors.add(Math.exp(Math.log(lo) + ((Math.log(hi) - Math.log(lo)) * i) / (size - 1)));
  return [...factors].sort((a, b) => a - b).map((f) => f * scott);
}

type Codes = Tensor | Float32Array | Float64Array;

export class LatentKDE {
  readonly bandwidthParam: BandwidthRule | number;
  readonly standardize: boolean;
  readonly estimator: DensityEstimator;
  readonly k: number;
  readonly groups: readonly number[] | undefined;
  readonly maxPoints: number;
  readonly device: string | undefined;
  readonly seed: number;
  readonly chunkSize: number;

  /** Fitted state (undefined until fit). */
  bandwidth_?: number;
  bandwidthRule_?: BandwidthRule | 'fixed';
  mean_?: number[];
  std_?: number[];
  nSeen_?: number;
  selection_?: BandwidthSelection;
  /** Standardised fitted points [n, d], float32, owned by this KDE. */
  points_?: Tensor;

  constructor(opts: LatentKDEOptions = {}) {
    this.bandwidthParam = opts.bandwidth ?? 'scott';
    this.standardize = opts.standardize ?? true;
    this.estimator = opts.estimator ?? 'gaussian';
    this.k = opts.k ?? 5;
    this.groups = opts.groups ? [...opts.groups] : undefined;
    this.maxPoints = opts.maxPoints ?? DEFAULT_MAX_POINTS;
    this.device = opts.device;
    this.seed = opts.seed ?? 0;
    this.chunkSize = opts.chunkSize ?? DEFAULT_CHUNK;
  }

  get isFitted(): boolean { return this.points_ !== undefined; }
  /** Code dimension of the fitted KDE. */
  get d(): number { return this.fitted().points.shape[1]!; }
  /** Number of fitted (stored) points. */
  get n(): number { return this.fitted().points.shape[0]!; }

  /**
   * Fits on codes: a Tensor [n, d] (any device/float dtype; gradients are not tracked) or a flat
   * row-major Float32Array/Float64Array with `d` given. Refitting frees the previous points.
   */
  fit(codes: Codes, d?: number): this {
    this.checkParams();
    const device = resolveDevice(this.device ?? (codes instanceof Tensor ? codes.device : 'cpu'));
    const fitted = tidy(() => noGrad(() => {
      const x = asMatrix(codes, d, device, 'LatentKDE.fit: codes');
      const [nSeen, dim] = x.shape as [number, number];
      if (nSeen < 2) throw new Error(`LatentKDE.fit: need at least 2 codes, got ${nSeen}`);
      if (dim < 1) throw new Error('LatentKDE.fit: codes have dimension 0');
      if (this.groups && this.groups.reduce((a, g) => a + g, 0) !== dim) {
        throw new Error(`LatentKDE.fit: the groups [${this.groups.join(', ')}] sum to ${this.groups.reduce((a, g) => a + g, 0)}, but the codes have dimension ${dim}`);
      }
      if (this.estimator === 'knn' && this.k > Math.min(nSeen, this.maxPoints)) {
        throw new Error(`LatentKDE.fit: the knn estimator needs at least k = ${this.k} codes, got ${Math.min(nSeen, this.maxPoints)}`);
      }
      assertFinite(x, 'LatentKDE.fit: codes');
      let mean = new Array<number>(dim).fill(0);
      let std = new Array<number>(dim).fill(1);
      if (this.standardize) {
        const x64 = ops.toDtype(x, 'float64');
        mean = Array.from(ops.mean(x64, 0).toArray());
        std = Array.from(ops.variance(x64, 0, false).toArray(), (v) => {
          const s = Math.sqrt(v);
          return s > 1e-12 * Math.max(1, ...mean.map(Math.abs)) ? s : 1;
        });
        if (this.groups) std = withGroupScale(std, this.groups);
      }
      let sub = x;
      if (nSeen > this.maxPoints) {
        const idx = sampleIndices(nSeen, this.maxPoints, deriveSeed(this.seed, 1));
        sub = ops.indexSelect(x, 0, ops.indices(idx, device));
      }
      const points = ops.contiguous(this.standardize ? standardise(sub, mean, std) : ops.clone(sub));
      return { points, mean, std, nSeen };
    }));
    this.dispose();
    this.points_ = fitted.points;
    this.mean_ = fitted.mean;
    this.std_ = fitted.std;
    this.nSeen_ = fitted.nSeen;
    this.selection_ = undefined;
    try {
      this.selectBandwidth();
    } catch (e) {
      this.dispose();
      throw e;
    }
    return this;
  }

  /**
   * Log-density of each query (rows of a Tensor [m, d], or a flat Float32Array/Float64Array of
   * m * d values) in standardised space; see the module doc. Higher = more normal.
   */
  scoreSamples(queries: Codes): Float32Array {
    const { points, h, mean, std } = this.fitted();
    const [n, d] = points.shape as [number, number];
    const device = points.device;
    return tidy(() => noGrad(() => {
      const q0 = asMatrix(queries, d, device, 'LatentKDE.scoreSamples: queries');
      if (q0.shape[1] !== d) {
        throw new Error(`LatentKDE.scoreSamples: queries have dimension ${q0.shape[1]} but the KDE was fitted on dimension ${d}`);
      }
      assertFinite(q0, 'LatentKDE.scoreSamples: queries');
      const q = this.standardize ? standardise(q0, mean, std) : q0;
      return this.estimator === 'knn' ? knnLogDensity(q, points, this.k, this.chunkSize) : logDensity(q, points, h, this.chunkSize);
    }));
  }

  /** Anomaly score: -scoreSamples(queries). Higher = more anomalous. */
  score(queries: Codes): Float32Array {
    const s = this.scoreSamples(queries);
    for (let i = 0; i < s.length; i++) s[i] = -s[i]!;
    return s;
  }

  /**
   * The fitted state: JSON scalars and a new Map holding a copy of the points under
   * `kde.points` (the caller owns and disposes it, e.g. after `saveTensors`).
   */
  toState(): { json: LatentKDEState; tensors: Map<string, Tensor> } {
    const { points, h, mean, std } = this.fitted();
    const json: LatentKDEState = {
      kind: 'latent-kde',
      version: 1,
      bandwidth: h,
      bandwidthRule: this.bandwidthRule_!,
      standardize: this.standardize,
      ...(this.estimator !== 'gaussian' ? { estimator: this.estimator, k: this.k } : {}),
      ...(this.groups ? { groups: [...this.groups] } : {}),
      d: points.shape[1]!,
      n: points.shape[0]!,
      nSeen: this.nSeen_!,
      mean: [...mean],
      std: [...std],
      maxPoints: Number.isFinite(this.maxPoints) ? this.maxPoints : null,
      seed: this.seed,
      chunkSize: this.chunkSize,
    };
    if (this.selection_) json.selection = structuredClone(this.selection_);
    const copy = tidy(() => noGrad(() => ops.clone(points)));
    return { json, tensors: new Map([[KDE_POINTS_KEY, copy]]) };
  }

  /**
   * Restores a fitted KDE from `toState()` output (e.g. after decodeTensors). The tensors are
   * copied (to `device`, default the tensor's own); the caller still owns and disposes the map.
   */
  static fromState(json: LatentKDEState, tensors: Map<string, Tensor>, device?: string): LatentKDE {
    const bad = (why: string) => new Error(`LatentKDE.fromState: invalid state (${why})`);
    if (json?.kind !== 'latent-kde') throw bad(`kind is ${JSON.stringify(json?.kind)}, expected "latent-kde"`);
    if (json.version !== 1) throw bad(`unsupported version ${json.version}`);
    const src = tensors.get(KDE_POINTS_KEY);
    if (!src) throw bad(`no tensor named ${KDE_POINTS_KEY}; found ${[...tensors.keys()].join(', ') || 'none'}`);
    const { d, n } = json;
    if (src.rank !== 2 || src.shape[0] !== n || src.shape[1] !== d) throw bad(`${KDE_POINTS_KEY} has shape [${src.shape}], expected [${n},${d}]`);
    if (!(json.bandwidth > 0 && Number.isFinite(json.bandwidth))) throw bad(`bandwidth ${json.bandwidth}`);
    if (json.mean?.length !== d || json.std?.length !== d) throw bad(`mean/std must have ${d} entries`);
    const estimator = json.estimator ?? 'gaussian';
    if (!DENSITY_ESTIMATORS.includes(estimator)) throw bad(`estimator ${JSON.stringify(estimator)}`);
    if (estimator === 'knn' && !(Number.isInteger(json.k) && json.k! >= 1 && json.k! <= n)) throw bad(`k ${json.k} for ${n} points`);
    if (json.groups !== undefined && (!Array.isArray(json.groups) || json.groups.reduce((a, g) => a + g, 0) !== d)) throw bad(`groups must sum to ${d}`);
    const kde = new LatentKDE({
      bandwidth: json.bandwidthRule === 'fixed' ? json.bandwidth : json.bandwidthRule,
      standardize: json.standardize,
      estimator,
      k: json.k,
      groups: json.groups,
      maxPoints: json.maxPoints ?? Infinity,
      device,
      seed: json.seed,
      chunkSize: json.chunkSize,
    });
    const dev = resolveDevice(device ?? src.device);
    kde.points_ = tidy(() => noGrad(() => ops.contiguous(ops.clone(ops.toDtype(ops.toDevice(src, dev), 'float32')))));
    kde.bandwidth_ = json.bandwidth;
    kde.bandwidthRule_ = json.bandwidthRule;
    kde.mean_ = [...json.mean];
    kde.std_ = [...json.std];
    kde.nSeen_ = json.nSeen;
    if (json.selection) kde.selection_ = structuredClone(json.selection);
    return kde;
  }

  /** Frees the fitted points; the KDE is unfitted afterwards. Safe to call twice. */
  dispose(): void {
    this.points_?.dispose();
    this.points_ = undefined;
    this.bandwidth_ = undefined;
    this.bandwidthRule_ = undefined;
  }

  // -------------------------------------------------------------------------------------------

  private fitted(): { points: Tensor; h: number; mean: number[]; std: number[] } {
    if (!this.points_ || this.bandwidth_ === undefined) {
      throw new Error('LatentKDE is not fitted; call fit(codes) first (or LatentKDE.fromState)');
    }
    return { points: this.points_, h: this.bandwidth_, mean: this.mean_!, std: this.std_! };
  }

  private checkParams(): void {
    const b = this.bandwidthParam;
    if (typeof b === 'number') {
      if (!(b > 0 && Number.isFinite(b))) throw new Error(`LatentKDE: bandwidth must be a positive finite number or 'scott', 'silverman', 'likelihood'; got ${b}`);
    } else if (b !== 'scott' && b !== 'silverman' && b !== 'likelihood') {
      throw new Error(`LatentKDE: unknown bandwidth rule ${JSON.stringify(b)} (use 'scott', 'silverman', 'likelihood' or a number)`);
    }
    if (!(Number.isInteger(this.maxPoints) && this.maxPoints >= 2) && this.maxPoints !== Infinity) {
      throw new Error(`LatentKDE: maxPoints must be an integer >= 2 (or Infinity), got ${this.maxPoints}`);
    }
    if (!(Number.isInteger(this.chunkSize) && this.chunkSize >= 1)) throw new Error(`LatentKDE: chunkSize must be a positive integer, got ${this.chunkSize}`);
    if (!Number.isFinite(this.seed)) throw new Error(`LatentKDE: seed must be a finite number, got ${this.seed}`);
    if (!DENSITY_ESTIMATORS.includes(this.estimator)) throw new Error(`LatentKDE: unknown estimator ${JSON.stringify(this.estimator)} (use ${DENSITY_ESTIMATORS.join(' or ')})`);
    if (!(Number.isInteger(this.k) && this.k >= 1)) throw new Error(`LatentKDE: k must be a positive integer, got ${this.k}`);
    if (this.groups && !this.groups.every((g) => Number.isInteger(g) && g >= 1)) throw new Error(`LatentKDE: groups must be positive integers, got [${this.groups.join(', ')}]`);
    if (this.groups && !this.standardize) throw new Error('LatentKDE: groups need standardize: true (their scale is part of the standardisation)');
  }

  private selectBandwidth(): void {
    const points = this.points_!;
    const [n, d] = points.shape as [number, number];
    const b = this.bandwidthParam;
    if (typeof b === 'number') { this.bandwidth_ = b; this.bandwidthRule_ = 'fixed'; return; }
    this.bandwidthRule_ = b;
    if (b === 'scott') { this.bandwidth_ = scottBandwidth(n, d); return; }
    if (b === 'silverman') { this.bandwidth_ = silvermanBandwidth(n, d); return; }
    const grid = bandwidthGrid(n, d);
    const nHeld = Math.min(n - 1, Math.max(1, Math.floor(0.2 * n)));
    const perm = sampleIndices(n, n, deriveSeed(this.seed, 2), false);
    const logLik = heldOutLogLik(points, perm.subarray(0, nHeld), perm.subarray(nHeld), grid);
    let best = 0;
    for (let i = 1; i < grid.length; i++) if (logLik[i]! > logLik[best]!) best = i;
    this.bandwidth_ = grid[best]!;
    this.selection_ = { grid, logLik, nHeldOut: nHeld, nTrain: n - nHeld };
  }
}

/**
 * log p(q_j) for the rows of q (standardised) under the KDE of `points`, in chunks of queries.
 *
 * Fast path, per chunk: one matrix product of augmented rows gives every exponent directly,
 * t_ji = -||q_j - x_i||^2 / (2h^2) = [q_j/h^2, 1, -||q_j||^2/(2h^2)] . [x_i, -||x_i||^2/(2h^2), 1],
 * written into a buffer reused across chunks; then exp in place and a row sum. As t <= 0 the sum
 * cannot overflow, and it is at least exp(max_i t_ji), so a row whose sum is >= 1e-30 lost nothing
 * that matters. Rows below (queries far from every point, where the terms underflow) are redone
 * exactly with a max-shifted logsumexp.
 */
function logDensity(q: Tensor, points: Tensor, h: number, maxChunk: number): Float32Array {
  const [n, d] = points.shape as [number, number];
  const m = q.shape[0]!;
  const out = new Float32Array(m);
  if (m === 0) return out;
  const device = points.device;
  const inv = 1 / (h * h);
  const constant = Math.log(n) + d * Math.log(h * Math.sqrt(2 * Math.PI));
  const rows = chunkRows(n, maxChunk, MATRIX_BUDGET_BYTES);
  const negHalfSqNorms = ops.mul(ops.sum(ops.mul(points, points), 1), -0.5 * inv); // [n]
  const aug = ops.contiguous(ops.transpose(ops.cat([points, ops.unsqueeze(negHalfSqNorms, 1), ops.ones([n, 1], { device })], 1), 0, 1)); // [d+2, n]
  const buf = ops.zeros([Math.min(rows, m), n], { device });
  for (let start = 0; start < m; start += rows) {
    const end = Math.min(m, start + rows);
    const c = end - start;
    tidy(() => {
      const qc = ops.slice(q, 0, start, end);
      const qq = ops.sum(ops.mul(qc, qc), 1, true);
      const qa = ops.cat([ops.mul(qc, inv), ops.ones([c, 1], { device }), ops.mul(qq, -0.5 * inv)], 1); // [c, d+2]
      const t = ops.slice(buf, 0, 0, c);
      ops.callOp('mm', 'out', [qa, aug, t]);
      ops.callOp('exp_', '', [t]);
      const sums = ops.sum(t, 1).toFloat32();
      const redo: number[] = [];
      for (let i = 0; i < c; i++) {
        if (sums[i]! >= 1e-30) out[start + i] = Math.log(sums[i]!) - constant;
        else redo.push(i);
      }
      if (redo.length === 0) return;
      // Exact: logsumexp_i((q.x_i)/h^2 - ||x_i||^2/(2h^2)) - ||q||^2/(2h^2).
      const qr = ops.indexSelect(qc, 0, ops.indices(redo, device));
      const logits = ops.callOp('addmm', '', [negHalfSqNorms, qr, ops.transpose(points, 0, 1), 1, inv]) as Tensor;
      const qrr = ops.sum(ops.mul(qr, qr), 1);
      const exact = ops.sub(ops.logsumexp(logits, 1), ops.mul(qrr, 0.5 * inv)).toFloat32();
      redo.forEach((i, k) => { out[start + i] = exact[k]! - constant; });
    });
  }
  return out;
}

/**
 * The k-nearest-neighbour density estimate (Loftsgaarden and Quesenberry 1965) of the rows of q
 * against `points`: p(q) = k / (n V_d r_k(q)^d), with r_k the distance to the k-th nearest point
 * and V_d the volume of the unit d-ball. It adapts its reach to the data where a single Gaussian
 * bandwidth cannot: in hundreds of dimensions Scott's h makes a KDE the distance to the single
 * nearest point (docs/BENCHMARKS.md, session 10). Squared distances per chunk come from one matrix
 * product of augmented rows ([q, 1, ||q||^2] . [-2x, ||x||^2, 1]); r_k is floored at 1e-6 so a
 * query equal to k points gets a large finite log-density, not Infinity.
 */
function knnLogDensity(q: Tensor, points: Tensor, k: number, maxChunk: number): Float32Array {
  const [n, d] = points.shape as [number, number];
  const m = q.shape[0]!;
  const out = new Float32Array(m);
  if (m === 0) return out;
  const device = points.device;
  const constant = Math.log(k) - Math.log(n) - logUnitBallVolume(d);
  const rows = chunkRows(n, maxChunk, MATRIX_BUDGET_BYTES);
  const aug = ops.contiguous(ops.transpose(ops.cat([ops.mul(points, -2), ops.sum(ops.mul(points, points), 1, true), ops.ones([n, 1], { device })], 1), 0, 1)); // [d+2, n]
  const buf = ops.zeros([Math.min(rows, m), n], { device });
  for (let start = 0; start < m; start += rows) {
    const end = Math.min(m, start + rows);
    const c = end - start;
    tidy(() => {
      const qc = ops.slice(q, 0, start, end);
      const qa = ops.cat([qc, ops.ones([c, 1], { device }), ops.sum(ops.mul(qc, qc), 1, true)], 1); // [c, d+2]
      const sq = ops.slice(buf, 0, 0, c);
      ops.callOp('mm', 'out', [qa, aug, sq]);
      const [nearest] = ops.topk(sq, k, 1, false);
      const kth = ops.slice(nearest, 1, k - 1, k).toFloat32();
      for (let i = 0; i < c; i++) out[start + i] = constant - (d / 2) * Math.log(Math.max(kth[i]!, 1e-12));
    });
  }
  return out;
}

/** log of the volume of the unit d-ball, pi^(d/2) / Gamma(d/2 + 1), with Gamma stepped down exactly to Gamma(1) or Gamma(3/2). */
export function logUnitBallVolume(d: number): number {
  let x = d / 2 + 1;
  let logGamma = 0;
  while (x > 1.75) { x -= 1; logGamma += Math.log(x); }
  if (Math.abs(x - 1.5) < 0.25) logGamma += Math.log(Math.sqrt(Math.PI) / 2);
  return (d / 2) * Math.log(Math.PI) - logGamma;
}

/** std scaled so that each group of g dimensions, standardised, has total variance 1: std * sqrt(g). */
function withGroupScale(std: number[], groups: readonly number[]): number[] {
  const out = [...std];
  let j = 0;
  for (const g of groups) for (let i = 0; i < g; i++, j++) out[j] = out[j]! * Math.sqrt(g);
  return out;
}

/**
 * Mean log-likelihood of points[held] under a KDE of points[train], for each h of grid. Per chunk
 * of held-out rows, the squared distances D come from one matrix product of augmented rows
 * ([a, 1, ||a||^2] . [-2b, ||b||^2, 1]) into a reused buffer and are shifted by their row minimum
 * (so every row sum is >= 1 and nothing underflows); each h then costs one scaled exp and a sum.
 */
function heldOutLogLik(points: Tensor, held: Int32Array, train: Int32Array, grid: number[]): number[] {
  const d = points.shape[1]!;
  const nTr = train.length;
  const sums = new Float64Array(grid.length);
  tidy(() => noGrad(() => {
    const dev = points.device;
    const tr = ops.indexSelect(points, 0, ops.indices(train, dev));
    const ho = ops.indexSelect(points, 0, ops.indices(held, dev));
    const trAug = ops.contiguous(ops.transpose(ops.cat([ops.mul(tr, -2), ops.sum(ops.mul(tr, tr), 1, true), ops.ones([nTr, 1], { device: dev })], 1), 0, 1));
    const rows = chunkRows(nTr, DEFAULT_CHUNK, SELECTION_BUDGET_BYTES);
    const dBuf = ops.zeros([Math.min(rows, held.length), nTr], { device: dev });
    const eBuf = ops.zeros([Math.min(rows, held.length), nTr], { device: dev });
    const scales = grid.map((h) => ops.scalar(-0.5 / (h * h), { device: dev }));
    for (let start = 0; start < held.length; start += rows) {
      const end = Math.min(held.length, start + rows);
      const c = end - start;
      tidy(() => {
        const hc = ops.slice(ho, 0, start, end);
        const hAug = ops.cat([hc, ops.ones([c, 1], { device: dev }), ops.sum(ops.mul(hc, hc), 1, true)], 1);
        const dist = ops.slice(dBuf, 0, 0, c);
        ops.callOp('mm', 'out', [hAug, trAug, dist]);
        const [dmin] = ops.minDim(dist, 1, true);
        ops.callOp('sub_', 'Tensor', [dist, dmin, 1]);
        const t = ops.slice(eBuf, 0, 0, c);
        const perH = scales.map((s) => {
          ops.callOp('mul', 'out', [dist, s, t]);
          ops.callOp('exp_', '', [t]);
          return ops.sum(ops.toDtype(ops.log(ops.sum(t, 1)), 'float64'));
        });
        const all = ops.stack([...perH, ops.sum(ops.toDtype(dmin, 'float64'))]).toArray();
        const sumMin = all[grid.length]!;
        grid.forEach((h, k) => { sums[k] += all[k]! - (0.5 / (h * h)) * sumMin; });
      });
    }
  }));
  return grid.map((h, k) => sums[k]! / held.length - Math.log(nTr) - d * Math.log(h) - (d / 2) * LOG_2PI);
}

/** Queries per chunk: at most `max`, and chunk x n float32 within the budget. */
function chunkRows(n: number, max: number, budget: number): number {
  return Math.max(1, Math.min(max, Math.floor(budget / (4 * n))));
}

/** (x - mean) / std with float32 constants, so fit and score standardise identically. */
function standardise(x: Tensor, mean: number[], std: number[]): Tensor {
  const d = mean.length;
  const m = ops.tensor(Float32Array.from(mean), [1, d], { device: x.device });
  const s = ops.tensor(Float32Array.from(std, (v) => 1 / v), [1, d], { device: x.device });
  return ops.mul(ops.sub(x, m), s);
}

/** A float32 [n, d] tensor on device from a Tensor or a flat typed array (d required for arrays). */
function asMatrix(codes: Codes, d: number | undefined, device: string, what: string): Tensor {
  if (codes instanceof Tensor) {
    if (codes.isDisposed) throw new Error(`${what}: tensor is disposed`);
    if (codes.rank !== 2) throw new Error(`${what} must be a 2-D tensor [n, d], got shape [${codes.shape}]`);
    return ops.toDtype(ops.toDevice(ops.detach(codes), device), 'float32');
  }
  if (!(codes instanceof Float32Array || codes instanceof Float64Array)) {
    throw new Error(`${what} must be a Tensor [n, d], a Float32Array or a Float64Array`);
  }
  if (d === undefined) throw new Error(`${what}: a flat array needs its dimension d`);
  if (!(Number.isInteger(d) && d >= 1)) throw new Error(`${what}: d must be a positive integer, got ${d}`);
  if (codes.length % d !== 0) throw new Error(`${what}: length ${codes.length} is not a multiple of d = ${d}`);
  return ops.tensor(codes, [codes.length / d, d], { dtype: 'float32', device });
}

function assertFinite(x: Tensor, what: string): void {
  const finite = ops.callOp('isfinite', '', [x]) as Tensor;
  const count = ops.sum(finite).item();
  if (count === x.size) return;
  const flags = finite.toArray();
  const d = x.shape[1]!;
  let first = 0;
  while (first < flags.length && flags[first]) first++;
  throw new Error(`${what} contain ${x.size - count} non-finite value(s) (NaN or Infinity), the first at row ${Math.floor(first / d)}, column ${first % d}`);
}

/** k distinct indices of 0..n-1 by a seeded partial Fisher-Yates; ascending when `sorted`. */
function sampleIndices(n: number, k: number, seed: number, sorted = true): Int32Array {
  const rng = createRng(seed);
  const a = new Int32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rng() * (n - i));
    const t = a[i]!; a[i] = a[j]!; a[j] = t;
  }
  const out = a.slice(0, k);
  return sorted ? out.sort() : out;
}
