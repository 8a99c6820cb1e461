/**
 * Streams a source as batches (tch-rs `Iter2` style: optional shuffle, smaller last batch kept).
 *
 * Memory is bounded by the batch size, not the dataset: at most `prefetch` batches are decoded
 * ahead of the one the consumer holds, and at most `concurrency` images are being decoded at a
 * time. The only per-image state is the index order (one number per item).
 *
 * Items whose `load` throws CorruptImageError are dropped from their batch and recorded in
 * `skipped` (and passed to `onSkip`); with `strict` they end the stream with an error instead.
 * A batch whose items were all dropped is not yielded.
 */
import { applyAugment, checkAugment, isAugmenting, sampleAugment, type AugmentOptions, type AugmentParams } from './augment.js';
import { CorruptImageError, warnToStderr } from './errors.js';
import { isMaskSource } from './masks.js';
import { Semaphore } from './pool.js';
import { checkPreprocessing } from './preprocess.js';
import { createRng, deriveSeed, shuffle as shuffleInPlace } from './random.js';
import type { Batch, ImageItem, ImageSource, Preprocessing } from './types.js';

/** An item left out of a batch. */
export interface SkippedItem {
  /** Index of the item in its source. */
  index: number;
  item: ImageItem;
  reason: string;
}

export interface BatchOptions {
  preprocessing: Preprocessing;
  batchSize: number;
  /** Which source items to use (default all), in this order unless shuffled. */
  indices?: readonly number[];
  /** Shuffle the order with `seed` and `epoch`. Default false. */
  shuffle?: boolean;
  /** Seed for shuffling and augmentation. Default 0. */
  seed?: number;
  /** Mixed into the seed, so each epoch gets a new order from one base seed. Default 0. */
  epoch?: number;
  /** Augmentation applied to each image (and its mask). Default none. */
  augment?: AugmentOptions;
  /** Batches decoded ahead of the one being consumed. Default 2; 0 decodes on demand. */
  prefetch?: number;
  /** Images decoded at the same time. Default 4. */
  concurrency?: number;
  /** Attach masks when the source provides them for every item of a batch. Default true. */
  masks?: boolean;
  /** Treat a corrupt image as an error instead of skipping it. Default false. */
  strict?: boolean;
  /** Called for each item dropped from a batch. */
  onSkip?: (skip: SkippedItem) => void;
  /** Warnings for skipped items the source has not already reported. Default: stderr. */
  onWarning?: (message: string) => void;
}

/** The batches of one pass; iterate it again for another pass in the same order. */
export interface BatchStream extends AsyncIterable<Batch> {
  /** Items dropped in the current (or last) pass. */
  readonly skipped: readonly SkippedItem[];
  /** Number of batches planned (before any are dropped). */
  readonly batchCount: number;
  /** Number of items planned. */
  readonly itemCount: number;
}

function checkCount(value: number, name: string, min: number): void {
  if (!Number.isInteger(value) || value < min) throw new Error(`${name} must be an integer >= ${min}, got ${value}`);
}

/** Checks indices against a source, quoting the first bad one. */
export function checkIndices(source: ImageSource, indices: readonly number[]): void {
  const n = source.items.length;
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= n) throw new Error(`index ${i} out of range: source has ${n} items`);
  }
}

interface Decoded {
  data: Float32Array;
  mask?: Float32Array;
}

export function batches(source: ImageSource, options: BatchOptions): BatchStream {
  const pre = options.preprocessing;
  checkPreprocessing(pre);
  checkCount(options.batchSize, 'batchSize', 1);
  const prefetch = options.prefetch ?? 2;
  const concurrency = options.concurrency ?? 4;
  checkCount(prefetch, 'prefetch', 0);
  checkCount(concurrency, 'concurrency', 1);
  if (options.augment) checkAugment(options.augment);
  const base = options.indices ?? Array.from({ length: source.items.length }, (_, i) => i);
  checkIndices(source, base);
  const batchSize = options.batchSize;
  const batchCount = Math.ceil(base.length / batchSize);
  const seed = deriveSeed(options.seed ?? 0, options.epoch ?? 0);
  const augmenting = isAugmenting(options.augment);
  const maskSource = options.masks !== false && isMaskSource(source) ? source : undefined;
  const strict = options.strict ?? false;
  const warn = options.onWarning ?? warnToStderr;
  const { channels, height, width } = pre;
  const size = channels * height * width;
  const plane = height * width;
  const skipped: SkippedItem[] = [];

  async function decode(index: number, params: AugmentParams | undefined): Promise<Decoded> {
    let data = await source.load(index, pre);
    if (!(data instanceof Float32Array) || data.length !== size) {
      throw new Error(
        `source item ${index} (${source.items[index]?.id}) gave ${data?.length} values, expected ${channels}x${height}x${width}`,
      );
    }
    let mask = maskSource ? await maskSource.loadMask(index, pre) : undefined;
    if (mask && mask.length !== plane) {
      throw new Error(`mask of item ${index} (${source.items[index]?.id}) has ${mask.length} values, expected 1x${height}x${width}`);
    }
    if (params) ({ data, mask } = applyAugment(data, { channels, height, width }, params, mask));
    return mask ? { data, mask } : { data };
  }

  async function* pass(): AsyncGenerator<Batch> {
    skipped.length = 0;
    const order = options.shuffle ? shuffleInPlace(base.slice(), createRng(seed)) : base;
    const augRng = augmenting ? createRng(deriveSeed(seed, 0x617567)) : undefined;
    const sem = new Semaphore(concurrency);
    let stopped = false;

    const build = async (b: number): Promise<Batch | undefined> => {
      const idx = order.slice(b * batchSize, (b + 1) * batchSize);
      // Drawn here, in batch order, not when decodes finish, so results do not depend on timing.
      const params = augRng ? idx.map(() => sampleAugment(options.augment!, augRng)) : undefined;
      const data = new Float32Array(idx.length * size);
      const masks: Array<Float32Array | undefined> = new Array(idx.length);
      const ok: boolean[] = new Array(idx.length).fill(false);
      await Promise.all(
        idx.map((index, k) =>
          sem.run(async () => {
            if (stopped) return;
            try {
              const d = await decode(index, params?.[k]);
              data.set(d.data, k * size);
              masks[k] = d.mask;
              ok[k] = true;
            } catch (err) {
              if (!(err instanceof CorruptImageError)) throw err;
              if (strict) throw new Error(`${err.message} (strict mode: fix or remove the file)`, { cause: err });
              const skip: SkippedItem = { index, item: source.items[index]!, reason: err.reason };
              skipped.push(skip);
              if (!err.reported) warn(`skipping ${err.path}: ${err.reason}`);
              options.onSkip?.(skip);
            }
          }),
        ),
      );
      if (stopped) return undefined;
      const keep: number[] = [];
      for (let k = 0; k < idx.length; k++) if (ok[k]) keep.push(k);
      if (keep.length === 0) return undefined;
      let out = data;
      if (keep.length < idx.length) {
        out = new Float32Array(keep.length * size);
        keep.forEach((k, j) => out.set(data.subarray(k * size, (k + 1) * size), j * size));
      }
      const batch: Batch = {
        data: out,
        shape: [keep.length, channels, height, width],
        items: keep.map((k) => source.items[idx[k]!]!),
        indices: keep.map((k) => idx[k]!),
      };
      if (maskSource && keep.every((k) => masks[k] !== undefined)) {
        const m = new Float32Array(keep.length * plane);
        keep.forEach((k, j) => m.set(masks[k]!, j * plane));
        batch.masks = m;
      }
      return batch;
    };

    const queue: Array<Promise<Batch | undefined>> = [];
    let next = 0;
    const schedule = (atLeastOne: boolean): void => {
      while (next < batchCount && (queue.length < prefetch || (atLeastOne && queue.length === 0))) {
        const p = build(next++);
        // A queued batch may fail while an earlier one is awaited; its error surfaces when its turn comes.
        p.catch(() => {});
        queue.push(p);
      }
    };
    try {
      for (;;) {
        schedule(true);
        const head = queue.shift();
        if (!head) return;
        const batch = await head;
        // Refill before handing the batch over, so decoding overlaps the consumer's work.
        schedule(false);
        if (batch) yield batch;
      }
    } finally {
      // The consumer stopped early (break) or a batch failed: do not start decodes nobody will read.
      stopped = true;
    }
  }

  return {
    skipped,
    batchCount,
    itemCount: base.length,
    [Symbol.asyncIterator]: () => pass(),
  };
}

/**
 * Everything in one batch: convenient for small evaluation sets. Skipped items are dropped as
 * in `batches` (the result may be empty: shape [0, C, H, W]).
 */
export async function loadAll(
  source: ImageSource,
  indices: readonly number[] | undefined,
  pre: Preprocessing,
  options: Pick<BatchOptions, 'concurrency' | 'strict' | 'onSkip' | 'onWarning' | 'masks'> = {},
): Promise<Batch> {
  const count = indices?.length ?? source.items.length;
  const stream = batches(source, { ...options, indices, preprocessing: pre, batchSize: Math.max(1, count), prefetch: 0 });
  for await (const batch of stream) return batch;
  return { data: new Float32Array(0), shape: [0, pre.channels, pre.height, pre.width], items: [], indices: [] };
}
