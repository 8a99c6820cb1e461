/**
 * Seeded train/validation split of a source's item indices. Deterministic for a given seed and
 * input; both parts come back sorted ascending, so file order (and cache locality) is kept.
 */
import { createRng, shuffle } from './random.js';
import type { ImageSource } from './types.js';

export interface Split {
  train: number[];
  val: number[];
}

export interface SplitOptions {
  /** Fraction of the items that go to validation, in [0, 1). Rounded to the nearest count. */
  fraction: number;
  /** Default 0. */
  seed?: number;
  /**
   * Split each group separately (e.g. by className or label), so that every group keeps about
   * the same fraction in validation. Default: no stratification.
   */
  stratify?: (index: number) => string | number | undefined;
}

/** Splits `0..n-1`, or the given indices, into train and validation parts. */
export function splitIndices(indicesOrCount: number | readonly number[], options: SplitOptions): Split {
  const { fraction } = options;
  if (!(fraction >= 0 && fraction < 1)) throw new Error(`split fraction must be in [0, 1), got ${fraction}`);
  const all =
    typeof indicesOrCount === 'number' ? Array.from({ length: indicesOrCount }, (_, i) => i) : indicesOrCount.slice();
  if (new Set(all).size !== all.length) throw new Error('split: indices contain duplicates');
  const rng = createRng(options.seed ?? 0);
  const groups = new Map<string | number | undefined, number[]>();
  if (options.stratify) {
    for (const i of all) {
      const key = options.stratify(i);
      const g = groups.get(key);
      if (g) g.push(i);
      else groups.set(key, [i]);
    }
  } else {
    groups.set(undefined, all);
  }
  const train: number[] = [];
  const val: number[] = [];
  // Groups in first-seen order so the random draws do not depend on Map hashing.
  for (const members of groups.values()) {
    const order = shuffle(members.slice(), rng);
    const k = Math.round(order.length * fraction);
    for (let j = 0; j < order.length; j++) (j < k ? val : train).push(order[j]!);
  }
  train.sort((a, b) => a - b);
  val.sort((a, b) => a - b);
  return { train, val };
}

/** Splits a source's items; `stratify: true` keeps each className's share in validation. */
export function splitSource(
  source: ImageSource,
  options: Omit<SplitOptions, 'stratify'> & { indices?: readonly number[]; stratify?: boolean },
): Split {
  const indices = options.indices ?? source.items.length;
  return splitIndices(indices, {
    fraction: options.fraction,
    seed: options.seed,
    stratify: options.stratify ? (i) => source.items[i]?.className ?? source.items[i]?.label : undefined,
  });
}
