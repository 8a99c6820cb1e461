/**
 * The synthetic-anomaly segmenter's part of a detector: its settings, building and training it,
 * and running it as a per-batch scorer beside the autoencoder.
 */
import type { AbortSignalLike } from '../util/abort.js';
import { makeSchedule, manualSeed, type Tensor } from '../engine/index.js';
import type { ImageSource, Preprocessing } from '../data/types.js';
import { SegmenterNet, segmenterScores } from '../models/segmenter.js';
import { planBatches } from '../train/batches.js';
import { runTraining } from '../train/trainer.js';
import { SegmenterTask } from '../train/segmenter-task.js';
import type { ResolvedSegmenterOptions, SegmenterOptions } from './options.js';

export function resolveSegmenterOptions(o: SegmenterOptions): ResolvedSegmenterOptions {
  const r: ResolvedSegmenterOptions = { base: o.base ?? 16, steps: o.steps ?? 1000, batchSize: o.batchSize ?? 32, crop: o.crop ?? 64, lr: o.lr ?? 1e-3 };
  for (const k of ['base', 'steps', 'batchSize', 'crop'] as const) {
    if (!Number.isInteger(r[k]) || r[k] < 1) throw new RangeError(`segmenter: ${k} must be a positive integer, got ${r[k]}`);
  }
  if (r.crop < 8) throw new RangeError(`segmenter: crop must be at least 8 px, got ${r.crop}`);
  if (!(r.lr > 0)) throw new RangeError(`segmenter: lr must be positive, got ${r.lr}`);
  return r;
}

export function buildSegmenter(o: ResolvedSegmenterOptions, channels: number, device: string): SegmenterNet {
  return new SegmenterNet({ channels, base: o.base }).to(device);
}

/** The segmenter as a per-batch scorer for scoreBatches, when there is one. */
export function segmentScorerOf(net: SegmenterNet | undefined): ((x: Tensor) => Float32Array) | undefined {
  return net ? (x) => segmenterScores(net, x) : undefined;
}

export async function trainSegmenter(
  o: ResolvedSegmenterOptions,
  c: { source: ImageSource; train: number[]; preprocessing: Preprocessing; device: string; seed: number; strict?: boolean; warn: (m: string) => void; progress?: boolean; signal?: AbortSignalLike },
): Promise<SegmenterNet> {
  manualSeed(c.seed + 2); // its own stream, as the transformation classifier has seed + 1
  const net = buildSegmenter(o, c.preprocessing.channels, c.device);
  // whole images a step: up to batchSize, at most a quarter of the images so that an epoch has several steps
  const batchSize = Math.max(1, Math.min(o.batchSize, Math.floor(c.train.length / 4)));
  let plan;
  let task;
  try {
    plan = await planBatches({ source: c.source, indices: c.train, preprocessing: c.preprocessing, batchSize, device: c.device, seed: c.seed + 2, strict: c.strict, onWarning: c.warn, cache: true });
    const epochs = Math.max(1, Math.ceil(o.steps / plan.batchCount));
    task = new SegmenterTask(net, { optimizer: 'adam', lr: o.lr, weightDecay: 0 }, o.crop, o.batchSize, c.seed);
    await runTraining(task, { epochs, schedule: makeSchedule(o.lr, { kind: 'cosine', epochs }), train: plan, seed: c.seed + 2, progress: c.progress, signal: c.signal });
  } catch (e) {
    net.dispose();
    throw e;
  } finally {
    task?.dispose();
    plan?.dispose();
  }
  net.eval();
  return net;
}
