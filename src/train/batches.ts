/**
 * Where training batches come from. In-memory datasets (IDX, built-in), and image files when the
 * caller asks (tiled models), are uploaded once to the device as uint8 and indexed per batch, as a
 * PyTorch script would keep its tensor on the GPU; everything else streams from disk through the
 * loader with bounded prefetch (on 2 CPU cores the decoding overlaps the steps: caching 150-px
 * scenes made their epochs no faster, docs/BENCHMARKS.md, session 11).
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
  /** Items that were read in the passes so far: itemCount minus those found unreadable. */
  readonly usableCount: number;
  /**
   * One pass; each yielded batch's tensor is disposed by the caller. Throws when not one of the
   * items could be read (a pass that yields nothing would train or score nothing in silence).
   */
  pass(epoch: number, shuffled: boolean): AsyncIterable<TensorBatch>;
  /**
   * Items left out as unreadable, each once with its reason: in any pass so far, and those the
   * source's validation left out (a file source probed up front: they are in no plan).
   */
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
  /**
   * Decode a file source once and keep it on the device as uint8 too (within cacheLimit), as
   * in-memory data is: every epoch after the first then reads no file. Unreadable images are left
   * out of the cache and reported by `skipped()`.
   */
  cache?: boolean;
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
  if ((isInMemory(o.source) || o.cache) && !hasAugment(o.augment) && o.indices.length * plane <= (o.cacheLimit ?? 2 ** 30)) {
    return cachedPlan(o, plane);
  }
  return streamingPlan(o);
}

async function cachedPlan(o: PlanOptions, plane: number): Promise<BatchPlan> {
  const pre = o.preprocessing;
  const n = o.indices.length;
  const bytes = new Uint8Array(n * plane);
  // the source index of each cached image: an unreadable one leaves no gap in the cache
  const sourceIndex: number[] = [];
  const stream = streamBatches(o.source, { preprocessing: pre, batchSize: 1024, indices: o.indices, strict: o.strict, onWarning: o.onWarning });
  for await (const b of stream) {
    const at = sourceIndex.length * plane;
    for (let i = 0; i < b.data.length; i++) bytes[at + i] = Math.round(b.data[i] * 255);
    sourceIndex.push(...b.indices);
  }
  const unreadable = new Map(stream.skipped.map((s) => [s.item.id, s.reason] as const));
  const k = sourceIndex.length;
  if (k === 0 && n > 0) throw noneReadable(o.source, [...unreadable].map(([id, reason]) => ({ id, reason })));
  const cache = keep(ops.tensor(bytes.subarray(0, k * plane), [k, pre.channels, pre.height, pre.width], { device: o.device }));
  const order = Array.from({ length: k }, (_, i) => i);
  return {
    batchCount: Math.ceil(k / o.batchSize),
    itemCount: n,
    usableCount: k,
    async *pass(epoch, shuffled) {
      const idx = order.slice();
      if (shuffled) shuffle(idx, createRng(deriveSeed(o.seed, epoch)));
      for (let s = 0; s < k; s += o.batchSize) {
        const part = idx.slice(s, s + o.batchSize);
        const x = tidy(() => {
          const sel = ops.indexSelect(cache, 0, ops.indices(part, o.device));
          return ops.div(ops.toDtype(sel, 'float32'), 255);
        });
        yield { x, indices: part.map((i) => sourceIndex[i]!) };
      }
    },
    skipped: () => withSourceSkips(o.source, unreadable),
    dispose: () => cache.dispose(),
  };
}

function streamingPlan(o: PlanOptions): BatchPlan {
  const unreadable = new Map<string, string>();
  const base: BatchOptions = {
    preprocessing: o.preprocessing, batchSize: o.batchSize, indices: o.indices, seed: o.seed,
    strict: o.strict, onWarning: o.onWarning,
  };
  return {
    batchCount: Math.ceil(o.indices.length / o.batchSize),
    itemCount: o.indices.length,
    get usableCount() { return o.indices.length - unreadable.size; },
    async *pass(epoch, shuffled) {
      const stream = streamBatches(o.source, { ...base, epoch, shuffle: shuffled, augment: shuffled ? o.augment : undefined });
      let read = 0;
      for await (const b of stream) {
        read += b.indices.length;
        yield { x: ops.tensor(b.data, b.shape, { device: o.device }), indices: b.indices, masks: b.masks };
      }
      for (const s of stream.skipped) if (!unreadable.has(s.item.id)) unreadable.set(s.item.id, s.reason);
      if (read === 0 && o.indices.length > 0) throw noneReadable(o.source, stream.skipped.map((s) => ({ id: s.item.id, reason: s.reason })));
    },
    skipped: () => withSourceSkips(o.source, unreadable),
    dispose: () => {},
  };
}

/** A file source's `skipped` (validation and failed loads, by path), if it has one. */
function sourceSkips(source: ImageSource): { id: string; reason: string }[] {
  const list = (source as { skipped?: readonly { path: string; reason: string }[] }).skipped;
  return Array.isArray(list) ? list.map((s) => ({ id: s.path, reason: s.reason })) : [];
}

function withSourceSkips(source: ImageSource, own: Map<string, string>): { id: string; reason: string }[] {
  const all = new Map(own);
  for (const s of sourceSkips(source)) if (!all.has(s.id)) all.set(s.id, s.reason);
  return [...all].map(([id, reason]) => ({ id, reason }));
}

/** A pass in which not one image could be read (each was reported as skipped). */
export class NothingReadableError extends Error {
  constructor(message: string, readonly skipped: number) {
    super(message);
    this.name = 'NothingReadableError';
  }
}

function noneReadable(source: ImageSource, skipped: { id: string; reason: string }[]): Error {
  const root = (source as { root?: string }).root;
  const first = skipped[0];
  return new NothingReadableError(`none of the ${skipped.length} images${root ? ` in ${root}` : ''} could be read` +
    (first ? ` (${first.id}: ${first.reason}${skipped.length > 1 ? '; each is named in the warnings above' : ''})` : ''), skipped.length);
}
