/**
 * A seed ensemble of detectors: the same configuration trained `members` times with different
 * seeds (different weight initialisation, batch order and validation split), scores averaged.
 * Averaging removes much of the run-to-run spread of a single autoencoder, which on the one-class
 * benchmarks is of the same size as the differences between configurations (bench/quality.ts,
 * docs/BENCHMARKS.md).
 *
 * ```ts
 * import { DetectorEnsemble } from 'vigil';
 * const ens = await DetectorEnsemble.fit('photos/good', { members: 3, epochs: 30 });
 * const results = await ens.score('photos/new');        // same shape as Detector.score
 * ens.save('model-ens');                                // member-0/, member-1/, ... + ensemble.json
 * const again = DetectorEnsemble.load('model-ens');
 * ```
 *
 * Member i is `Detector.fit(input, { ...options, seed: seed + 1000 * i })`, so member 0 is exactly
 * the single detector of the same seed. Every score kind (mse, ssim, density, combined) is the
 * mean of the members' scores of that kind; the combined score of each member is already in
 * units of its own normal validation spread (z-scores), so members weigh the same. Thresholds
 * are the mean of the members' thresholds of each kind (each fitted on that member's normal
 * validation images), an approximation of the quantile of the averaged score. Training and
 * scoring cost `members` times a single detector's.
 */
import { readFileSync, writeFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { Detector } from './detector.js';
import type { DetectorInput, DetectorOptions, ImageScore, Prediction, ScoreOptions } from './options.js';
import type { ScoreKind, ScoreRecord } from '../postprocess/kinds.js';
import { decide } from '../postprocess/postprocessor.js';
import { evaluate as evaluateScores, type EvaluationSummary } from '../eval/metrics.js';
import { writeDirAtomic } from '../util/fs.js';
import { VERSION } from '../version.js';

export interface EnsembleOptions extends DetectorOptions {
  /** Number of detectors, each with its own seed. Default 3. */
  members?: number;
}

const MANIFEST = 'ensemble.json';

export class DetectorEnsemble {
  private constructor(readonly members: Detector[], private readonly seeds: number[]) {}

  /** Trains `members` detectors (default 3) with seeds seed, seed + 1000, seed + 2000, ... */
  static async fit(input: DetectorInput, options: EnsembleOptions = {}): Promise<DetectorEnsemble> {
    const { members: n = 3, ...rest } = options;
    if (!Number.isInteger(n) || n < 1) throw new Error(`ensemble members must be a positive integer, got ${n}`);
    const seed = rest.seed ?? 0;
    const dets: Detector[] = [];
    const seeds: number[] = [];
    try {
      for (let i = 0; i < n; i++) {
        seeds.push(seed + 1000 * i);
        dets.push(await Detector.fit(input, { ...rest, seed: seed + 1000 * i }));
      }
    } catch (e) {
      for (const d of dets) d.dispose();
      throw e;
    }
    return new DetectorEnsemble(dets, seeds);
  }

  /**
   * An ensemble of detectors trained elsewhere (for example a single detector you already have
   * plus `members - 1` more with other seeds). They must share the preprocessing and the ranking
   * score kind; the ensemble takes ownership (dispose() frees them).
   */
  static from(detectors: Detector[], seeds: number[] = []): DetectorEnsemble {
    if (detectors.length === 0) throw new Error('an ensemble needs at least one detector');
    const [a] = detectors;
    for (const d of detectors) {
      if (d.scoreKind !== a!.scoreKind) throw new Error(`ensemble members rank by different scores (${a!.scoreKind}, ${d.scoreKind})`);
      const p = d.preprocessing, q = a!.preprocessing;
      if (p.height !== q.height || p.width !== q.width || p.channels !== q.channels) throw new Error('ensemble members have different input sizes');
    }
    return new DetectorEnsemble(detectors, seeds);
  }

  /** The ranking score kind (the members share it). */
  get scoreKind(): ScoreKind { return this.members[0]!.scoreKind; }

  /** Mean of the members' thresholds of each kind. */
  get thresholds(): ScoreRecord<number> {
    return Object.fromEntries(this.scoreKinds.map((k) => [k, mean(this.members.map((m) => m.thresholds[k]!.value))])) as ScoreRecord<number>;
  }

  /** The scores the members compute (they share their options). */
  get scoreKinds(): ScoreKind[] { return this.members[0]!.scoreKinds; }

  /** Scores images like Detector.score; every score is the mean over the members. */
  async score(input: DetectorInput, options: ScoreOptions = {}): Promise<ImageScore[]> {
    const per: ImageScore[][] = [];
    for (const m of this.members) per.push(await m.score(input, options));
    return this.average(per, options);
  }

  /** The verdicts only, as Detector.predict, against the mean thresholds. */
  async predict(input: DetectorInput, options: Omit<ScoreOptions, 'maps'> = {}): Promise<Prediction[]> {
    const threshold = this.thresholds[this.members[0]!.resolveKind(options.score)]!;
    return (await this.score(input, { ...options, maps: false })).map((r) => ({ id: r.id, isAnomaly: r.isAnomaly, score: r.score, threshold }));
  }

  /**
   * Scores labelled images and computes the metrics of every score kind, as Detector.evaluate
   * (image level only: no pixel-level AUROC; error maps are averaged when asked for with `maps`).
   */
  async evaluate(input: DetectorInput, options: ScoreOptions = {}): Promise<{ summary: ScoreRecord<EvaluationSummary>; results: ImageScore[] }> {
    const per: ImageScore[][] = [];
    for (const m of this.members) per.push((await m.evaluate(input, { ...options, maps: options.maps ?? false })).results);
    const results = this.average(per, options);
    const labels = results.map((r) => r.label!);
    const th = this.thresholds;
    const summary = {} as ScoreRecord<EvaluationSummary>;
    for (const k of this.scoreKinds) summary[k] = evaluateScores(results.map((r) => r.scores[k]!), labels, th[k]!);
    return { summary, results };
  }

  private average(per: ImageScore[][], options: ScoreOptions): ImageScore[] {
    const first = per[0]!;
    for (const p of per) if (p.length !== first.length) throw new Error('ensemble members scored different numbers of images');
    const kind = this.members[0]!.resolveKind(options.score);
    const recon = this.members[0]!.postprocessor.recon;
    const th = this.thresholds;
    const kinds = this.scoreKinds;
    return first.map((r0, i) => {
      const scores = Object.fromEntries(kinds.map((k) => [k, mean(per.map((p) => p[i]!.scores[k]!))])) as ScoreRecord<number>;
      const { score, isAnomaly, flags } = decide(scores, th, { kind, rule: options.rule, recon });
      const out: ImageScore = { ...r0, score, scores, flags, isAnomaly };
      if (r0.map) {
        const map = new Float32Array(r0.map.length);
        for (const p of per) { const m = p[i]!.map!; for (let j = 0; j < map.length; j++) map[j]! += m[j]! / per.length; }
        out.map = map;
      }
      return out;
    });
  }

  /** Writes member-0/ ... member-(n-1)/ and ensemble.json into dir (atomically). */
  save(dir: string): void {
    writeDirAtomic(dir, (tmp) => {
      this.members.forEach((m, i) => m.save(join(tmp, `member-${i}`)));
      writeFileSync(join(tmp, MANIFEST), JSON.stringify({ kind: 'vigil-ensemble', vigilVersion: VERSION, members: this.members.length, seeds: this.seeds }, null, 1));
    });
  }

  static load(dir: string, options: { device?: string } = {}): DetectorEnsemble {
    const path = join(dir, MANIFEST);
    if (!existsSync(path)) throw new Error(`${dir}: not a vigil ensemble folder (${MANIFEST} is missing)`);
    const manifest = JSON.parse(readFileSync(path, 'utf8')) as { kind: string; members: number; seeds: number[] };
    if (manifest.kind !== 'vigil-ensemble' || !(manifest.members >= 1)) throw new Error(`${path}: damaged ensemble manifest`);
    const dets: Detector[] = [];
    try {
      for (let i = 0; i < manifest.members; i++) dets.push(Detector.load(join(dir, `member-${i}`), options));
    } catch (e) {
      for (const d of dets) d.dispose();
      throw e;
    }
    return new DetectorEnsemble(dets, manifest.seeds ?? []);
  }

  dispose(): void {
    for (const m of this.members) m.dispose();
  }
}

function mean(xs: number[]): number {
  let s = 0;
  for (const x of xs) s += x;
  return s / xs.length;
}

