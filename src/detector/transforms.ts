/**
 * The transformation classifier's part of a detector: its settings, building and training it,
 * and running it as a per-batch scorer beside the autoencoder.
 */
import type { AbortSignalLike } from '../util/abort.js';
import { makeSchedule, manualSeed, type Tensor } from '../engine/index.js';
import type { ImageSource, Preprocessing } from '../data/types.js';
import { TransformNet, transformSet, transformScores, type TransformSet } from '../models/transform-net.js';
import { planBatches } from '../train/batches.js';
import { runTraining } from '../train/trainer.js';
import { TransformTask } from '../train/transform-task.js';
import type { ResolvedTransformOptions, TransformOptions } from './options.js';

/** The trained classifier and the transformations it tells apart. */
export interface TransformParts { net: TransformNet; set: TransformSet }

export function resolveTransformOptions(o: TransformOptions): ResolvedTransformOptions {
  const r: ResolvedTransformOptions = {
    ...transformSet(o).options,
    filters: o.filters ?? [32, 64, 128], epochs: o.epochs ?? 3, batchSize: o.batchSize ?? 16, lr: o.lr ?? 1e-3,
  };
  if (!Number.isInteger(r.epochs) || r.epochs < 1) throw new RangeError(`transforms: epochs must be a positive integer, got ${r.epochs}`);
  if (!Number.isInteger(r.batchSize) || r.batchSize < 1) throw new RangeError(`transforms: batchSize must be a positive integer, got ${r.batchSize}`);
  if (!(r.lr > 0)) throw new RangeError(`transforms: lr must be positive, got ${r.lr}`);
  return r;
}

export function buildTransformNet(o: ResolvedTransformOptions, shape: { height: number; width: number; channels: number }, device: string): TransformParts {
  const set = transformSet(o);
  const net = new TransformNet({ height: shape.height, width: shape.width, channels: shape.channels, classes: set.count, filters: o.filters }).to(device);
  return { net, set };
}

/** Frees the transformation classifier and its set's cached pixel maps, when there is one. */
export function disposeTransform(t: TransformParts | undefined): void {
  t?.net.dispose();
  t?.set.dispose();
}

/** The transformation classifier as a per-batch scorer for scoreBatches, when there is one. */
export function scorerOf(t: TransformParts | undefined): ((x: Tensor) => Float32Array) | undefined {
  return t ? (x) => transformScores(t.net, t.set, x) : undefined;
}

export async function trainTransformNet(
  o: ResolvedTransformOptions,
  c: { source: ImageSource; train: number[]; preprocessing: Preprocessing; device: string; seed: number; strict?: boolean; warn: (m: string) => void; progress?: boolean; signal?: AbortSignalLike },
): Promise<TransformParts> {
  manualSeed(c.seed + 1); // its own stream: the same classifier whether trained in fit or in withTransforms
  const built = buildTransformNet(o, c.preprocessing, c.device);
  let plan;
  let task;
  try {
    plan = await planBatches({ source: c.source, indices: c.train, preprocessing: c.preprocessing, batchSize: o.batchSize, device: c.device, seed: c.seed + 1, strict: c.strict, onWarning: c.warn });
    task = new TransformTask(built.net, built.set, { optimizer: 'adam', lr: o.lr, weightDecay: 0 });
    await runTraining(task, { epochs: o.epochs, schedule: makeSchedule(o.lr, { kind: 'cosine', epochs: o.epochs }), train: plan, seed: c.seed + 1, progress: c.progress, signal: c.signal });
  } catch (e) {
    disposeTransform(built);
    throw e;
  } finally {
    task?.dispose();
    plan?.dispose();
  }
  built.net.eval();
  return built;
}
