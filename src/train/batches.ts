/**
 * Where training batches come from. In-memory datasets (IDX, built-in) are uploaded once to the
 * device as uint8 and indexed per batch, as a PyTorch script would keep its tensor on the GPU;
 * everything else streams from disk through the loader with bounded prefetch.
 */
import { ops, tidy, keep, type Tensor } from '../engine/index.js';
import { batches as streamBatches, type BatchOptions } from '../data/loader.js';
import { createRng, deriveSeed, shuffle } from '../data/random.js';
import type { ImageSource, Preprocessing } from '../data/types.js';
import type { AugmentOptions } from '../data/augment.js';

export interface TensorBatch {
  x: Tensor;
  /** Indices of the items in their source. */
  indices: number[];
  /** Ground-truth masks N x 1 x H x W, when the source has them (MVTec). */
  masks?: Float32Array;
}

export interface BatchPlan {
  /** Number of batches per pass. */
  readonly batchCount: number;
  readonly itemCount: number;
  /** One pass; each yielded batch's tensor is disposed by the caller. */
  pass(epoch: number, shuffled: boolean): AsyncIterable<TensorBatch>;
  /** Items skipped as unreadable during the last pass. */
  skipped(): { id: string; reason: string }[];
  dispose(): void;
}

export interface PlanOptions {
  source: ImageSource;
  indices: readonly number[];
  preprocessing: Preprocessing;
  batchSize: number;
  device: string;
  seed: number;
  augment?: AugmentOptions;
  strict?: boolean;
  onWarning?: (m: string) => void;
  /** Largest in-memory dataset to keep on the device, in bytes (uint8). Default 1 GiB. */
  cacheLimit?: number;
}

function isInMemory(source: ImageSource): boolean {
  return 'imageIndices' in source;
}

function hasAugment(a?: AugmentOptions): boolean {
  return !!a && Object.values(a).some((v) => v !== undefined && v !== false && v !== 0);
}

export async function planBatches(o: PlanOptions): Promise<BatchPlan> {
  const pre = o.preprocessing;
  const plane = pre.channels * pre.height * pre.width;
  if (isInMemory(o.source) && !hasAugment(o.augment) && o.indices.length * plane <= (o.cacheLimit ?? 2 ** 30)) {
    return cachedPlan(o, plane);
  }
  return streamingPlan(o);
}

async function cachedPlan(o: PlanOptions, plane: number): Promise<BatchPlan> {
  const pre = o.preprocessing;
  const n = o.indices.length;
  const bytes = new Uint8Array(n * plane);
  let k = 0;
  for await (const b of streamBatches(o.source, { preprocessing: pre, batchSize: 1024, indices: o.indices, strict: o.strict, onWarning: o.onWarning })) {
    for (let i = 0; i < b.data.length; i++) bytes[k * plane + i] = Math.round(b.data[i] * 255);
    k += b.items.length;
  }
  const cache = keep(ops.tensor(bytes.subarray(0, k * plane), [k, pre.channels, pre.height, pre.width], { device: o.device }));
  const order = Array.from({ length: k }, (_, i) => i);
  return {
    batchCount: Math.ceil(k / o.batchSize),
    itemCount: k,
    async *pass(epoch, shuffled) {
      const idx = order.slice();
      if (shuffled) shuffle(idx, createRng(deriveSeed(o.seed, epoch)));
      for (let s = 0; s < k; s += o.batchSize) {
        const part = idx.slice(s, s + o.batchSize);
        const x = tidy(() => {
          const sel = ops.indexSelect(cache, 0, ops.indices(part, o.device));
          return ops.div(ops.toDtype(sel, 'float32'), 255);
        });
        yield { x, indices: part.map((i) => o.indices[i]) };
      }
    },
    skipped: () => [],
    dispose: () => cache.dispose(),
  };
}

function streamingPlan(o: PlanOptions): BatchPlan {
  let lastSkipped: { id: string; reason: string }[] = [];
  const base: BatchOptions = {
    preprocessing: o.preprocessing, batchSize: o.batchSize, indices: o.indices, seed: o.seed,
    strict: o.strict, onWarning: o.onWarning,
  };
  return {
    batchCount: Math.ceil(o.indices.length / o.batchSize),
    itemCount: o.indices.length,
    async *pass(epoch, shuffled) {
      const stream = streamBatches(o.source, { ...base, epoch, shuffle: shuffled, augment: shuffled ? o.augment : undefined });
      for await (const b of stream) {
        yield { x: ops.tensor(b.data, b.shape, { device: o.device }), indices: b.indices, masks: b.masks };
      }
      lastSkipped = stream.skipped.map((s) => ({ id: s.item.id, reason: s.reason }));
    },
    skipped: () => lastSkipped,
    dispose: () => {},
  };
}
