/**
 * The manifest of a model folder (`manifest.json`), typed and checked: its format version, the
 * migrations from older versions, and the validation every load runs (`Detector.load`; `vigil
 * info` can run the same check with `readManifest`). A damaged or hand-edited manifest fails here
 * with the folder and the field named, before any tensor is built.
 *
 * Versions:
 * - 1 (vigil 0.1, and manifests with no `version`): `model` and `loss` could be absent (they meant
 *   'autoencoder' and 'mse').
 * - 2: every field written explicitly; the post-processing (`score`, `combine`, `thresholds`,
 *   `scoreStats`, see src/postprocess/postprocessor.ts) is checked field by field.
 *
 * Pure JavaScript: reading and checking a manifest loads neither libtorch nor sharp.
 */
import { checkTileSpec, type TileSpec } from '../models/tile-spec.js';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { basesOf, kindsOf, type BaseScore, type ScoreKind } from '../postprocess/kinds.js';
import { parseThresholdSpec } from '../scoring/threshold.js';
import type { PostProcessorState, ScoreStats } from '../postprocess/postprocessor.js';
import type { Architecture } from '../models/autoencoder.js';
import type { Preprocessing } from '../data/types.js';
import type { LossName } from '../train/losses.js';
import { DENSITY_ESTIMATORS, DENSITY_INPUTS, EDGE_DIRECTION_VALUES, densityInputSize, type DensityInput } from '../scoring/density-input.js';
import type { AaeJSON } from '../models/aae.js';
import type { LatentKDEState } from '../scoring/kde.js';

export const MODEL_FORMAT = 'vigil-model';
/** The manifest version this vigil writes. */
export const MANIFEST_VERSION = 2;
export const MANIFEST_FILE = 'manifest.json';

export type ModelKind = 'autoencoder' | 'aae';

/** A checked manifest, at the current version. */
export interface ModelManifest extends PostProcessorState {
  format: typeof MODEL_FORMAT;
  version: typeof MANIFEST_VERSION;
  createdAt?: string;
  vigilVersion: string;
  model: ModelKind;
  /** Model 'aae' only. */
  aae?: AaeJSON;
  loss: LossName;
  architecture: Architecture;
  preprocessing: Preprocessing;
  /** Set when the model learned tiles of the images (src/models/tiled.ts): the architecture is the tile's size. */
  tiles?: TileSpec;
  /** What the latent density reads (absent: the bottleneck code; src/scoring/density-input.ts). */
  densityInput?: DensityInput;
  /** The latent density model's JSON part (its points are in the weights file). */
  density: LatentKDEState;
  /** The transformation classifier's settings, when the model has one. */
  transforms?: Record<string, unknown>;
  /** The synthetic-anomaly segmenter's settings, when the model has one. */
  segmenter?: Record<string, unknown>;
  /** The training summary (loss history, split, device...): informative, not needed to score. */
  training?: Record<string, unknown>;
}

/** A manifest that fails the check: `where` is the manifest file, `field` the dotted path of the bad field. */
export class ManifestError extends Error {
  constructor(readonly where: string, readonly field: string, problem: string) {
    super(`${where}: damaged model manifest: ${field === '' ? '' : `'${field}' `}${problem}`);
    this.name = 'ManifestError';
  }
}

type Json = Record<string, unknown>;

/** Brings an older manifest to the current version (a new object; the input is not changed). */
export function migrateManifest(raw: Json, where = 'manifest'): Json {
  const m: Json = { ...raw };
  const version = m.version ?? 1;
  if (typeof version !== 'number' || !Number.isInteger(version) || version < 1) {
    throw new ManifestError(where, 'version', `must be a positive integer, got ${JSON.stringify(m.version)}`);
  }
  if (version > MANIFEST_VERSION) {
    throw new ManifestError(where, 'version', `is ${version}, newer than this vigil understands (${MANIFEST_VERSION}); upgrade vigil`);
  }
  if (version === 1) {
    m.model ??= 'autoencoder';
    m.loss ??= 'mse';
    m.version = 2;
  }
  return m;
}

const describe = (v: unknown): string => (v === undefined ? 'missing' : `${JSON.stringify(v)?.slice(0, 80)}`);

/**
 * Checks a parsed manifest (any version) and returns it migrated and typed. Throws a
 * ManifestError naming `where` and the first bad field: unknown format or version, a required
 * field missing, or a field of the wrong type.
 */
export function validateManifest(raw: unknown, where = 'manifest'): ModelManifest {
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new ManifestError(where, '', `must be a JSON object, got ${describe(raw)}`);
  if ((raw as Json).format !== MODEL_FORMAT) throw new ManifestError(where, 'format', `must be "${MODEL_FORMAT}" (not a vigil model?), got ${describe((raw as Json).format)}`);
  const m = migrateManifest(raw as Json, where);
  const fail = (field: string, want: string, v: unknown): never => {
    throw new ManifestError(where, field, v === undefined ? `is missing (${want})` : `must be ${want}, got ${describe(v)}`);
  };
  const obj = (field: string, v: unknown): Json => (typeof v === 'object' && v !== null && !Array.isArray(v) ? v as Json : fail(field, 'an object', v));
  const str = (field: string, v: unknown) => { if (typeof v !== 'string') fail(field, 'a string', v); };
  const num = (field: string, v: unknown) => { if (typeof v !== 'number' || !Number.isFinite(v)) fail(field, 'a finite number', v); };
  const int = (field: string, v: unknown, min = 1) => { if (!Number.isInteger(v) || (v as number) < min) fail(field, `an integer >= ${min}`, v); };
  const oneOf = (field: string, v: unknown, allowed: readonly unknown[]) => {
    if (!allowed.includes(v)) fail(field, `one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`, v);
  };

  str('vigilVersion', m.vigilVersion);
  oneOf('model', m.model, ['autoencoder', 'aae']);
  if (m.model === 'aae') {
    const a = obj('aae', m.aae);
    for (const k of ['config', 'discriminator', 'prior']) obj(`aae.${k}`, a[k]);
  }
  oneOf('loss', m.loss, ['mse', 'ssim', 'mse+ssim']);

  const arch = obj('architecture', m.architecture);
  oneOf('architecture.kind', arch.kind, ['strided', 'pooling']);
  for (const k of ['height', 'width', 'channels', 'latent']) int(`architecture.${k}`, arch[k]);
  if (!Array.isArray(arch.filters) || arch.filters.length === 0) fail('architecture.filters', 'a non-empty list of integers', arch.filters);
  (arch.filters as unknown[]).forEach((f, i) => int(`architecture.filters.${i}`, f));
  num('architecture.slope', arch.slope);
  if (typeof arch.batchNorm !== 'boolean') fail('architecture.batchNorm', 'true or false', arch.batchNorm);
  num('architecture.dropout', arch.dropout);

  const pre = obj('preprocessing', m.preprocessing);
  int('preprocessing.height', pre.height);
  int('preprocessing.width', pre.width);
  oneOf('preprocessing.channels', pre.channels, [1, 3]);
  oneOf('preprocessing.resize', pre.resize, ['stretch', 'crop']);
  if (m.tiles !== undefined) {
    const t = obj('tiles', m.tiles);
    try { checkTileSpec(t as unknown as TileSpec, 'tiles'); } catch (e) { fail('tiles', (e as Error).message.replace(/^tiles: /, 'valid: '), t); }
    if (t.size !== arch.height || t.size !== arch.width) fail('tiles.size', `the architecture's size (${arch.height}x${arch.width})`, t.size);
    if (pre.channels !== arch.channels) fail('preprocessing.channels', `the architecture's (${arch.channels})`, pre.channels);
  } else if (pre.height !== arch.height || pre.width !== arch.width || pre.channels !== arch.channels) {
    fail('preprocessing', `the architecture's size (${arch.height}x${arch.width}x${arch.channels})`, pre);
  }

  if (m.densityInput !== undefined) oneOf('densityInput', m.densityInput, DENSITY_INPUTS);
  if (m.transforms !== undefined) obj('transforms', m.transforms);
  if (m.segmenter !== undefined) obj('segmenter', m.segmenter);
  const present = { transform: m.transforms, segment: m.segmenter };
  const stats = obj('scoreStats', m.scoreStats);
  const bases = basesOf(present);
  for (const k of bases) {
    const s = obj(`scoreStats.${k}`, stats[k]);
    for (const q of ['mean', 'std', 'q50', 'q95', 'q99'] as const) num(`scoreStats.${k}.${q}`, s[q]);
    if (!((s.std as number) > 0)) fail(`scoreStats.${k}.std`, 'a positive number', s.std);
  }
  const kinds = kindsOf(present);
  oneOf('score', m.score, kinds);
  if (!Array.isArray(m.combine) || m.combine.length === 0) fail('combine', `a non-empty list of ${bases.join(', ')}`, m.combine);
  (m.combine as unknown[]).forEach((k, i) => oneOf(`combine.${i}`, k, bases));
  if (m.fusion !== undefined) oneOf('fusion', m.fusion, ['mean', 'max']);
  const th = obj('thresholds', m.thresholds);
  for (const k of kinds) {
    try {
      parseThresholdSpec(th[k]);
    } catch (e) {
      fail(`thresholds.${k}`, `a threshold like {"method":"quantile","value":0.7,"param":0.95} (${(e as Error).message})`, th[k]);
    }
  }

  const d = obj('density', m.density);
  oneOf('density.kind', d.kind, ['latent-kde']);
  num('density.bandwidth', d.bandwidth);
  int('density.d', d.d);
  int('density.n', d.n);
  const dim = densityInputSize((m.densityInput as DensityInput | undefined) ?? 'code', { latent: arch.latent as number, filters: arch.filters as number[], channels: arch.channels as number });
  if (d.d !== dim) {
    fail('density.d', m.densityInput === 'stats' ? `twice the architecture's filters (${dim}), the encoder statistics' size`
      : m.densityInput === 'image+stats' ? `${dim}, the size of the image's and the encoder's statistics${d.d === dim - EDGE_DIRECTION_VALUES ? ' (this model was saved before the image statistics gained edge directions: train it again)' : ''}`
      : `the architecture's latent size ${String(arch.latent)}`, d.d);
  }
  if (d.estimator !== undefined) oneOf('density.estimator', d.estimator, DENSITY_ESTIMATORS);
  if (d.estimator === 'knn') {
    int('density.k', d.k);
    if (!((d.k as number) >= 1 && (d.k as number) <= (d.n as number))) fail('density.k', `between 1 and density.n (${String(d.n)})`, d.k);
  }
  if (d.groups !== undefined && (!Array.isArray(d.groups) || !d.groups.every((g) => Number.isInteger(g) && g >= 1) || d.groups.reduce((a: number, g: number) => a + g, 0) !== dim)) {
    fail('density.groups', `positive whole numbers summing to density.d (${dim})`, d.groups);
  }
  if (m.training !== undefined) obj('training', m.training);
  return m as unknown as ModelManifest;
}

/**
 * Reads and checks `dir/manifest.json` without touching the weights (no libtorch needed):
 * what `vigil info` shows.
 */
export function readManifest(dir: string): ModelManifest {
  const path = join(dir, MANIFEST_FILE);
  if (!existsSync(path)) throw new Error(`${dir} is not a vigil model: ${MANIFEST_FILE} is missing`);
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new ManifestError(path, '', `is not JSON (${(e as Error).message})`);
  }
  return validateManifest(raw, path);
}

export type { BaseScore, ScoreKind, ScoreStats };
