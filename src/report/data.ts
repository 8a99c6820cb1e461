/**
 * Everything a report shows, as plain data (JSON-friendly; pictures as PNG data URIs), so the
 * HTML page (html.ts), the HTTP service and any other front end draw the same thing:
 *
 * ```ts
 * import { Detector, reportData, renderReport } from 'vigil';
 * const det = Detector.load('bottle-model');
 * const data = await reportData(det, { images: 'mvtec/bottle', modelDir: 'bottle-model' });
 * data.scores.find((s) => s.kind === 'combined')?.metrics?.auroc;   // 0.97
 * const html = await renderReport(data);                                // one offline file
 * ```
 *
 * Without labelled images the score charts compare the model's normal validation images (found
 * again from the training input the manifest names, with the seed and fraction of the fit) with
 * the images given, if any.
 */
import { readFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';
import { resolveImages, type Detector, type ImageScore, type ScoreKind } from '../detector.js';
import type { ImageSource } from '../data/types.js';
import { trainingSplit } from '../detector/fit.js';
import { evaluate, rocCurve, precisionRecallCurve, auroc, type EvaluationSummary } from '../eval/metrics.js';
import type { ThresholdSpec } from '../scoring/threshold.js';
import type { ErrorScale } from '../scoring/report-facts.js';
import type { Inspection } from '../scoring/inspect.js';
import type { MapKind } from '../scoring/reconstruction.js';
import type { EpochRecord } from '../train/trainer.js';
import { VERSION } from '../version.js';
import { subsetSource } from './select.js';
import { mapRgb, rgbToPng, toRgb, dataUri } from './render.js';
import { pca2, densityGrid } from './pca.js';

export interface ReportOptions {
  /** Images to report on: labelled (class folders with `normalClass`, an MVTec category, a labelled source) or not. */
  images?: string | string[] | ImageSource;
  normalClass?: string | string[];
  /** Scores of `images` already computed by `det.score` (same ids), so they are not computed again. */
  scores?: ImageScore[];
  /** The training input, for the normal validation images and the rejected images; default: the one the manifest names. */
  trainingData?: string | ImageSource;
  /** The model folder (its manifest adds the loss and model settings). */
  modelDir?: string;
  title?: string;
  /** How to name `images` in the report (default: the path or spec given). */
  dataName?: string;
  /** How to name the training data (default: the manifest's). */
  trainingName?: string;
  /** Images per gallery group. Default 8 (at most 5 groups: the gallery stays under 60 images). */
  perGroup?: number;
  /** Thumbnail side in pixels. Default 96. */
  thumbnail?: number;
  /** Most images in the latent view. Default 1500. */
  maxPoints?: number;
  batchSize?: number;
  strict?: boolean;
  onWarning?: (message: string) => void;
}

/** What the score charts compare: labelled normal vs anomalous images, or normal validation images vs the images given. */
export type Population = 'labelled' | 'unlabelled' | 'validation';

export interface ScoreSection {
  kind: ScoreKind;
  /** The model's ranking score (its verdicts are the report's). */
  main: boolean;
  threshold: ThresholdSpec;
  /** The threshold rule in words. */
  rule: string;
  /** Scores per group ('normal' / 'anomalous', or 'normal (validation)' / 'scored'). */
  values: Record<string, number[]>;
  /** With labels of both kinds. */
  metrics?: EvaluationSummary & { fpr: number; tpr: number };
  roc?: { fpr: number; tpr: number }[];
  pr?: { recall: number; precision: number }[];
  /** Share of each group above the threshold. */
  flagged: Record<string, number>;
}

export interface ClassRow { name: string; label?: 0 | 1; images: number; flagged: number; meanScore: number; auroc?: number }

export interface GalleryItem {
  id: string; score: number; isAnomaly: boolean; label?: 0 | 1; className?: string;
  image: string; recon: string; overlay: string; hasMask: boolean;
}
export interface GalleryGroup { key: string; title: string; note: string; items: GalleryItem[] }

export interface ReportData {
  title: string;
  generated: string;
  vigilVersion: string;
  population: Population;
  run: {
    training: { data: string; images: number; validationImages: number; seconds?: number; epochs?: number; bestEpoch?: number; stoppedEarly?: boolean; skipped?: number };
    evaluated?: { data: string; images: number; normal: number; anomalous: number; unlabelled: number; pixelAuroc?: number };
    input: { height: number; width: number; channels: number; resize: string };
    model: [string, string][];
    settings: [string, string][];
    engine?: string;
    device?: string;
  };
  history: EpochRecord[];
  rejected?: {
    count: number; fraction: number; reject: number | 'auto'; rankedBy: string; warmup: number; lastEpoch: number;
    perEpoch: { epoch: number; rejected: number }[];
    images: { id: string; rank: number; score: number; image: string; overlay: string }[];
    missing: number;
  };
  scoreKind: ScoreKind;
  scores: ScoreSection[];
  classes?: ClassRow[];
  /** The colour scale of the error maps; `map` is the model's map kind (Detector.mapKind), `label` what a pixel's value is. */
  errorScale: { top: number; source: 'model' | 'report'; note: string; scale?: ErrorScale; map: MapKind; label: string };
  gallery: GalleryGroup[];
  latent?: {
    points: { x: number; y: number; group: string; id: string }[]; explained: [number, number]; densityGroup: string;
    /** Density of the densityGroup's codes on a grid (max 1). */
    density: { x0: number; x1: number; y0: number; y1: number; d: number }[];
  };
  warnings: string[];
}

const NORMAL = 'normal', ANOMALOUS = 'anomalous', VALIDATION = 'normal (validation)', SCORED = 'scored';

/** The threshold rule in words, e.g. "95% quantile of normal validation scores". */
export function thresholdRule(t: ThresholdSpec): string {
  switch (t.method) {
    case 'quantile': return `${pctText(t.param ?? 0.95)} quantile of the normal validation scores: about ${pctText(1 - (t.param ?? 0.95))} of normal images score above it`;
    case 'contamination': return `${pctText(t.param ?? 0)} of the training images expected to be anomalous (contamination): the ${pctText(1 - (t.param ?? 0))} quantile of their scores`;
    case 'f1': return 'best F1 on labelled examples (calibrated)';
    case 'fixed': return 'fixed value set by hand';
  }
}

function pctText(v: number): string {
  return `${Number((100 * v).toPrecision(3))}%`;
}

export async function reportData(det: Detector, o: ReportOptions = {}): Promise<ReportData> {
  const warnings: string[] = [];
  const warn = (m: string) => { warnings.push(m); o.onWarning?.(m); };
  const t = det.training;
  const manifest = readManifest(o.modelDir);
  const kind = det.scoreKind;
  const kinds = det.scoreKinds;
  const scoreOpts = { batchSize: o.batchSize, strict: o.strict };

  // 1. The images scored: the ones given, and the normal validation images when they carry no labels.
  let evaluated: { source: ImageSource; results: ImageScore[] } | undefined;
  let pixelAuroc: number | undefined;
  if (o.images !== undefined) {
    const source = await resolveImages(o.images, { normalClass: o.normalClass, strict: o.strict, split: 'test', onWarning: warn });
    if (source.items.some((i) => i.maskPath !== undefined)) {
      // with masks, evaluate also scores the error maps against them (pixel AUROC)
      const ev = await det.evaluate(source, scoreOpts);
      evaluated = { source, results: ev.results };
      pixelAuroc = ev.pixelAuroc;
    } else {
      evaluated = { source, results: o.scores ?? await det.score(source, scoreOpts) };
    }
  }
  const labelled = evaluated?.results.filter((r) => r.label !== undefined) ?? [];
  const bothClasses = labelled.some((r) => r.label === 0) && labelled.some((r) => r.label === 1);
  const trainingInput = o.trainingData ?? t?.data;
  let trainingSource: ImageSource | undefined;
  const openTraining = async (): Promise<ImageSource | undefined> => {
    if (trainingSource || trainingInput === undefined) return trainingSource;
    try {
      trainingSource = await resolveImages(trainingInput, { normalClass: t?.normalClass, strict: o.strict, onWarning: () => {} });
    } catch (e) {
      warn(`the training data ${typeof trainingInput === 'string' ? trainingInput : ''} could not be opened again (${(e as Error).message})`);
    }
    return trainingSource;
  };
  let validation: { source: ImageSource; results: ImageScore[] } | undefined;
  if (!bothClasses || labelled.length === 0) {
    const src = await openTraining();
    const val = src && t && trainingInput !== undefined ? validationIndices(src, trainingInput, t, warn) : undefined;
    if (val) {
      const source = subsetSource(src!, val);
      validation = { source, results: await det.score(source, scoreOpts) };
    } else if (labelled.length === 0) {
      warn('no labelled images and no training data to take the normal validation images from: the score charts show the scored images only (pass the labelled images, or --train-data)');
    }
  }
  const population: Population = labelled.length > 0 && (bothClasses || !validation) ? 'labelled' : evaluated ? 'unlabelled' : 'validation';
  const shown: { results: ImageScore[]; source: ImageSource; group: (r: ImageScore) => string }[] = [];
  if (population === 'labelled') shown.push({ results: labelled, source: evaluated!.source, group: (r) => (r.label === 1 ? ANOMALOUS : NORMAL) });
  else {
    if (validation) shown.push({ ...validation, group: () => VALIDATION });
    if (evaluated) shown.push({ ...evaluated, group: () => SCORED });
  }
  const all = shown.flatMap((s) => s.results.map((r) => ({ r, g: s.group(r), s })));
  if (all.length === 0) throw new Error('report: no images to report on (give images, or a model whose training data can be found again)');

  // 2. Per score: distributions, curves and rates at the threshold.
  const scores: ScoreSection[] = kinds.map((k) => {
    const threshold = det.thresholds[k]!;
    const values: Record<string, number[]> = {};
    for (const { r, g } of all) (values[g] ??= []).push(r.scores[k]!);
    const flagged = Object.fromEntries(Object.entries(values).map(([g, v]) => [g, v.filter((x) => x > threshold.value).length / v.length]));
    const sec: ScoreSection = { kind: k, main: k === kind, threshold, rule: thresholdRule(threshold), values, flagged };
    if (population === 'labelled' && bothClasses) {
      const s = labelled.map((r) => r.scores[k]!), l = labelled.map((r) => r.label!);
      const m = evaluate(s, l, threshold);
      const c = m.confusion;
      sec.metrics = { ...m, fpr: c.fp / Math.max(1, c.fp + c.tn), tpr: c.tp / Math.max(1, c.tp + c.fn) };
      const roc = rocCurve(s, l, { dropIntermediate: true });
      sec.roc = thin(Array.from(roc.fpr, (fpr, i) => ({ fpr, tpr: roc.tpr[i]! })), 400);
      const pr = precisionRecallCurve(s, l);
      // points at recall 0 (sklearn's closing point, and top scores that are all normal) draw only a wall at x = 0
      sec.pr = thin(Array.from(pr.recall, (recall, i) => ({ recall, precision: pr.precision[i]! })).reverse().filter((p) => p.recall > 0), 400);
    }
    return sec;
  });

  // 3. Per class, where the images have classes.
  let classes: ClassRow[] | undefined;
  const withClass = (population === 'labelled' ? labelled : evaluated?.results ?? []).filter((r) => r.className !== undefined);
  if (withClass.length && new Set(withClass.map((r) => r.className)).size > 1) {
    const byClass = new Map<string, ImageScore[]>();
    for (const r of withClass) byClass.set(r.className!, [...(byClass.get(r.className!) ?? []), r]);
    const normals = labelled.filter((r) => r.label === 0).map((r) => r.score);
    classes = [...byClass].map(([name, rs]) => {
      const row: ClassRow = {
        name, images: rs.length, flagged: rs.filter((r) => r.isAnomaly).length / rs.length,
        meanScore: rs.reduce((a, r) => a + r.score, 0) / rs.length, ...(rs[0]!.label !== undefined ? { label: rs[0]!.label } : {}),
      };
      if (row.label === 1 && normals.length) row.auroc = auroc([...normals, ...rs.map((r) => r.score)], [...normals.map(() => 0), ...rs.map(() => 1)]);
      return row;
    }).sort((a, b) => (a.label ?? 0) - (b.label ?? 0) || b.images - a.images || (a.name < b.name ? -1 : 1));
  }

  // 4. The gallery: the extremes, the borderline and the mistakes of the ranking score.
  const thumb = o.thumbnail ?? 96;
  const per = o.perGroup ?? 8;
  const th = det.thresholds[kind]!.value;
  const pool = population === 'labelled' ? all : all.filter((a) => a.g === SCORED).length ? all.filter((a) => a.g === SCORED) : all;
  const byScore = [...pool].sort((a, b) => b.r.score - a.r.score);
  const groups: { key: string; title: string; note: string; picks: typeof all }[] = [
    // with fewer than 2 x per images the two ends share them out instead of overlapping
    { key: 'most-anomalous', title: 'Most anomalous', note: 'the highest scores', picks: byScore.slice(0, Math.min(per, Math.ceil(byScore.length / 2))) },
    { key: 'most-normal', title: 'Most normal', note: 'the lowest scores', picks: byScore.slice(byScore.length - Math.min(per, Math.floor(byScore.length / 2))).reverse() },
    { key: 'borderline', title: 'Borderline', note: 'closest to the threshold, on either side', picks: [...pool].sort((a, b) => Math.abs(a.r.score - th) - Math.abs(b.r.score - th)).slice(0, per).sort((a, b) => b.r.score - a.r.score) },
  ];
  if (population === 'labelled') {
    const fp = byScore.filter((a) => a.r.label === 0 && a.r.isAnomaly);
    const fn = byScore.filter((a) => a.r.label === 1 && !a.r.isAnomaly).reverse();
    const nfp = Math.min(fp.length, Math.max(per, 2 * per - fn.length)), nfn = Math.min(fn.length, 2 * per - nfp);
    groups.push({ key: 'misclassified', title: 'Misclassified', note: `normal images flagged (false positives, ${fp.length} in all) and anomalies missed (false negatives, ${fn.length} in all), the worst first`, picks: [...fp.slice(0, nfp), ...fn.slice(0, nfn)] });
  }
  const picked = new Map<string, (typeof all)[number]>();
  for (const g of groups) for (const p of g.picks) picked.set(p.r.id, p);
  const inspections = new Map<string, Inspection>();
  for (const s of shown) {
    const mine = [...picked.values()].filter((p) => p.s === s);
    for (const i of await inspect(det, s.source, mine.map((p) => p.r.id), { pixels: true, batchSize: o.batchSize })) inspections.set(i.id, i);
  }
  const errorScale = await chooseScale(det, t?.errorScale, validation, [...inspections.values()], warn);
  const pre = det.preprocessing;
  const card = async (r: ImageScore): Promise<GalleryItem | undefined> => {
    const i = inspections.get(r.id);
    if (!i?.image) return undefined;
    const hasMask = !!i.mask?.some((v) => v > 0.5);
    return {
      id: r.id, score: r.score, isAnomaly: r.isAnomaly, ...(r.label !== undefined ? { label: r.label } : {}), ...(r.className !== undefined ? { className: r.className } : {}),
      image: dataUri(await rgbToPng(toRgb(i.image, pre), pre, { size: thumb })),
      recon: dataUri(await rgbToPng(toRgb(i.recon!, pre), pre, { size: thumb })),
      overlay: dataUri(await rgbToPng(mapRgb(i.map!, errorScale.top, pre, 'overlay', i.image), pre, { size: thumb, mask: i.mask })),
      hasMask,
    };
  };
  const gallery: GalleryGroup[] = [];
  for (const g of groups) {
    const items = (await Promise.all(g.picks.map((p) => card(p.r)))).filter((x): x is GalleryItem => !!x);
    gallery.push({ key: g.key, title: g.title, note: g.note, items });
  }

  // 5. The latent codes of up to maxPoints images, projected on two principal components.
  let latent: ReportData['latent'];
  {
    const max = o.maxPoints ?? 1500;
    const sample = evenSample(all, max);
    const codes: { code: Float32Array; group: string; id: string }[] = [];
    for (const s of shown) {
      const mine = sample.filter((p) => p.s === s);
      const got = await inspect(det, s.source, mine.map((p) => p.r.id), { pixels: false, batchSize: o.batchSize });
      const groupOf = new Map(mine.map((p) => [p.r.id, p.g]));
      for (const i of got) codes.push({ code: i.code, group: groupOf.get(i.id)!, id: i.id });
    }
    if (codes.length >= 3) {
      const p = pca2(codes.map((c) => c.code));
      const densityGroup = population === 'labelled' ? NORMAL : validation ? VALIDATION : SCORED;
      const points = p.points.map(([x, y], j) => ({ x, y, group: codes[j]!.group, id: codes[j]!.id }));
      const pad = (v: number[]): [number, number] => { const lo = Math.min(...v), hi = Math.max(...v), m = (hi - lo) * 0.05 || 1e-6; return [lo - m, hi + m]; };
      const extent = { x: pad(points.map((q) => q.x)), y: pad(points.map((q) => q.y)) };
      const density = densityGrid(points.filter((q) => q.group === densityGroup).map((q) => [q.x, q.y]), extent);
      latent = { points, explained: p.explained, densityGroup, density };
    }
  }

  // 6. The robust AAE's rejected training images, ranked by the final model's score.
  let rejected: ReportData['rejected'];
  if (t?.rejected) {
    const rj = t.rejected;
    const perEpoch = t.history.map((h) => ({ epoch: h.epoch, rejected: h.extra?.rejected ?? 0 }));
    rejected = { count: rj.count, fraction: rj.fraction, reject: rj.reject, rankedBy: rj.rankedBy, warmup: rj.warmup, lastEpoch: t.history.at(-1)?.epoch ?? t.epochs, perEpoch, images: [], missing: 0 };
    if (rj.ids.length) {
      const src = await openTraining();
      const index = src ? new Map(src.items.map((it, i) => [it.id, i])) : undefined;
      const found = index ? rj.ids.filter((id) => index.has(id)) : rj.ids.filter((id) => existsSync(id));
      rejected.missing = rj.ids.length - found.length;
      if (found.length) {
        const source = index ? subsetSource(src!, found.map((id) => index.get(id)!)) : await resolveImages(found, { onWarning: () => {} });
        const rs = (await det.score(source, scoreOpts)).sort((a, b) => b.score - a.score).slice(0, 24);
        const ins = new Map((await inspect(det, source, rs.map((r) => r.id), { pixels: true, batchSize: o.batchSize })).map((i) => [i.id, i]));
        for (const [rank, r] of rs.entries()) {
          const i = ins.get(r.id);
          if (!i?.image) continue;
          rejected.images.push({
            id: r.id, rank: rank + 1, score: r.score,
            image: dataUri(await rgbToPng(toRgb(i.image, pre), pre, { size: 64 })),
            overlay: dataUri(await rgbToPng(mapRgb(i.map!, errorScale.top, pre, 'overlay', i.image), pre, { size: 64 })),
          });
        }
      }
      if (rejected.missing) warn(`${rejected.missing} of the ${rj.ids.length} rejected training images could not be found again (pass the training data)`);
    }
  }

  const man = manifest as Record<string, any> | undefined;
  const arch = det.architecture as unknown as Record<string, unknown>;
  const evalCounts = evaluated ? {
    data: o.dataName ?? (typeof o.images === 'string' ? o.images : Array.isArray(o.images) ? `${o.images.length} files` : 'images given'),
    images: evaluated.results.length, normal: labelled.filter((r) => r.label === 0).length, anomalous: labelled.filter((r) => r.label === 1).length,
    unlabelled: evaluated.results.length - labelled.length, ...(pixelAuroc !== undefined ? { pixelAuroc } : {}),
  } : undefined;
  return {
    title: o.title ?? `vigil report: ${o.modelDir ?? 'detector'}`,
    generated: new Date().toISOString(),
    vigilVersion: VERSION,
    population,
    run: {
      training: {
        data: o.trainingName ?? (typeof trainingInput === 'string' ? trainingInput : trainingInput ? 'an image source' : 'not recorded'),
        images: t?.items ?? 0, validationImages: t?.validationItems ?? 0, seconds: t?.seconds, epochs: t?.epochs, bestEpoch: t?.bestEpoch,
        stoppedEarly: t?.stoppedEarly, skipped: t?.skipped.length,
      },
      ...(evalCounts ? { evaluated: evalCounts } : {}),
      input: { height: pre.height, width: pre.width, channels: pre.channels, resize: pre.resize },
      model: [
        ['model', det.modelKind === 'aae' ? 'robust adversarial autoencoder (aae)' : 'convolutional autoencoder (ae)'],
        ['architecture', `${arch.kind ?? 'strided'}, filters ${Array.isArray(arch.filters) ? (arch.filters as number[]).join(', ') : '?'}, latent ${arch.latent ?? '?'}${arch.dropout ? `, dropout ${arch.dropout}` : ''}`],
        ...(man?.loss ? [['loss', String(man.loss)] as [string, string]] : []),
        ...(man?.aae ? [['aae', compact(man.aae)] as [string, string]] : []),
        ...(man?.transforms ? [['transformation classifier', `${man.transforms.epochs} epochs, filters ${(man.transforms.filters ?? []).join(', ')}`] as [string, string]] : []),
        ...(man?.segmenter ? [['synthetic-anomaly segmenter', `U-Net, base ${man.segmenter.base} filters, ${man.segmenter.steps} steps, crops of ${man.segmenter.crop} px`] as [string, string]] : []),
      ],
      settings: [
        ['ranking score', kind],
        ['combined', `${det.combine.join(' + ')} (${det.combine.length === 1 ? 'its z-score' : det.postprocessor.fusion === 'max' ? 'the largest z-score' : 'the mean of the z-scores'} on normal validation images)`],
        ['threshold', thresholdRule(det.thresholds[kind]!)],
        ...(t?.history.length ? [['learning rate (first epoch)', String(Number(t.history[0]!.lr.toPrecision(3)))] as [string, string]] : []),
        ...(t?.seed !== undefined ? [['seed', String(t.seed)] as [string, string]] : []),
        ...(t?.valFraction !== undefined ? [['validation fraction', String(t.valFraction)] as [string, string]] : []),
        ...(t?.normalClass !== undefined ? [['normal class', [t.normalClass].flat().join(', ')] as [string, string]] : []),
      ],
      engine: t?.engine, device: t?.device,
    },
    history: t?.history ?? [],
    ...(rejected ? { rejected } : {}),
    scoreKind: kind,
    scores,
    ...(classes ? { classes } : {}),
    errorScale,
    gallery,
    ...(latent ? { latent } : {}),
    warnings,
  };
}

/** The model's validation images as fit chose them (fit's own split, same seed and fraction), checked against the counts in its manifest. */
function validationIndices(source: ImageSource, trainingInput: string | ImageSource, t: NonNullable<Detector['training']>, warn: (m: string) => void): number[] | undefined {
  let split: { train: number[]; val: number[] } | undefined;
  try {
    split = trainingSplit(source, trainingInput, { normalClass: t.normalClass, valFraction: t.valFraction ?? 0.1, seed: t.seed ?? 0, warn: () => {} });
  } catch { /* fewer than 2 images: the counts below cannot match */ }
  const train = split?.train ?? [], validation = split && split.val !== split.train ? split.val.length : 0;
  if (train.length !== t.items || validation !== t.validationItems) {
    warn(`the training data now gives ${train.length} + ${validation} images, the model was trained on ${t.items} + ${t.validationItems}: its normal validation images cannot be found again`);
    return undefined;
  }
  return split!.val;
}

/** Inspections of the given ids of `source`. */
async function inspect(det: Detector, source: ImageSource, ids: string[], o: { pixels: boolean; batchSize?: number }): Promise<Inspection[]> {
  if (!ids.length) return [];
  const index = new Map(source.items.map((it, i) => [it.id, i]));
  return det.inspect(source, { indices: ids.map((id) => index.get(id)!).filter((i) => i !== undefined), pixels: o.pixels, batchSize: o.batchSize });
}

/** The top of the error colour scale: the model's stored 99th percentile, else one measured here. */
async function chooseScale(det: Detector, stored: ErrorScale | undefined, validation: { source: ImageSource } | undefined, shown: Inspection[], warn: (m: string) => void): Promise<ReportData['errorScale']> {
  // 1 - SSIM has a scale of its own, as in `vigil score --maps` (src/report/heatmap.ts)
  if (det.mapKind === 'ssim') return { top: 1, source: 'model', map: 'ssim', label: 'per-pixel 1 − SSIM', note: '0 to 1 for 1 − SSIM (the same colour means the same error in every image and every report)' };
  const mse = { map: 'mse' as const, label: 'per-pixel squared error' };
  if (stored) return { ...mse, top: stored.q99, source: 'model', scale: stored, note: `0 to the 99th percentile of the per-pixel squared error on the model's ${stored.images} normal validation images (stored in the model folder): the same colour means the same error in every image and every report of this model; brighter errors saturate` };
  let values: number[] = [];
  if (validation) {
    const ins = await det.inspect(validation.source, { pixels: true, indices: validation.source.items.map((_, i) => i).slice(0, 256) });
    values = ins.flatMap((i) => Array.from(i.map!));
  }
  const fromValidation = values.length > 0;
  if (!fromValidation) values = shown.flatMap((i) => Array.from(i.map ?? []));
  values.sort((a, b) => a - b);
  const top = Math.max(values[Math.floor(0.99 * (values.length - 1))] ?? 1e-12, 1e-12);
  warn('the model folder has no stored error scale (trained by an earlier vigil): the colour scale was measured for this report');
  return { ...mse, top, source: 'report', note: `0 to the 99th percentile of the per-pixel squared error of ${fromValidation ? 'normal validation images' : 'the images shown'}, measured for this report (retrain with this vigil to store the model's own scale)` };
}

function readManifest(dir?: string): unknown {
  if (!dir) return undefined;
  try { return JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')); } catch { return undefined; }
}

function compact(o: Record<string, unknown>): string {
  return Object.entries(o).filter(([, v]) => v !== undefined && typeof v !== 'object').map(([k, v]) => `${k} ${v}`).join(', ');
}

/** At most n points of a curve, keeping the first and last. */
function thin<T>(points: T[], n: number): T[] {
  if (points.length <= n) return points;
  const step = (points.length - 1) / (n - 1);
  return Array.from({ length: n }, (_, i) => points[Math.round(i * step)]!);
}

/** At most n items, evenly spread over the list (deterministic). */
function evenSample<T>(items: T[], n: number): T[] {
  if (items.length <= n) return items;
  const step = items.length / n;
  return Array.from({ length: n }, (_, i) => items[Math.floor(i * step)]!);
}
