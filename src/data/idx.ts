/**
 * MNIST-style IDX files and in-memory sources over their uint8 images.
 *
 * Format (yann.lecun.com/exdb/mnist): a 4-byte magic 0x00 0x00 <type> <ndims>, then ndims
 * big-endian u32 sizes, then the data. We accept unsigned bytes (type 0x08) with 1 dimension
 * (labels, magic 0x00000801) or 3 (images, 0x00000803), gzipped or not; gzip is detected by its
 * magic bytes 1f 8b, since names such as `train-images.idx3-ubyte` vs `...-ubyte.gz` are unreliable.
 */
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { checkPreprocessing, rawToTensor } from './preprocess.js';
import type { ImageItem, ImageSource, Preprocessing } from './types.js';

const UBYTE = 0x08;
const LABELS_MAGIC = 0x00000801;
const IMAGES_MAGIC = 0x00000803;

/** Contents of an IDX file: sizes, outermost first, and the raw bytes in row-major order. */
export interface IdxData {
  dims: number[];
  data: Uint8Array;
}

function hex(n: number): string {
  return '0x' + (n >>> 0).toString(16).padStart(8, '0');
}

/** True when the bytes start with the gzip magic 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/**
 * Parses IDX bytes. `path` only labels errors. `expect` additionally requires labels (1-D) or
 * images (3-D).
 */
export function parseIdx(bytes: Uint8Array, path: string, expect?: 'images' | 'labels'): IdxData {
  if (isGzip(bytes)) {
    try {
      bytes = gunzipSync(bytes);
    } catch (err) {
      throw new Error(`${path}: corrupt gzip data (${err instanceof Error ? err.message : String(err)})`);
    }
  }
  if (bytes.length < 4) throw new Error(`${path}: too short for an IDX file (${bytes.length} bytes)`);
  const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = dv.getUint32(0, false);
  const ndims = bytes[3]!;
  if (bytes[0] !== 0 || bytes[1] !== 0 || bytes[2] !== UBYTE || (magic !== LABELS_MAGIC && magic !== IMAGES_MAGIC)) {
    throw new Error(
      `${path}: bad IDX magic number ${hex(magic)}; expected ${hex(LABELS_MAGIC)} (labels) or ` +
        `${hex(IMAGES_MAGIC)} (images) with unsigned-byte data`,
    );
  }
  if (expect === 'labels' && magic !== LABELS_MAGIC) {
    throw new Error(`${path}: expected an IDX labels file (magic ${hex(LABELS_MAGIC)}), found images (${hex(magic)})`);
  }
  if (expect === 'images' && magic !== IMAGES_MAGIC) {
    throw new Error(`${path}: expected an IDX images file (magic ${hex(IMAGES_MAGIC)}), found labels (${hex(magic)})`);
  }
  const header = 4 + 4 * ndims;
  if (bytes.length < header) {
    throw new Error(`${path}: truncated IDX header: ${ndims} dimensions need ${header} bytes, file has ${bytes.length}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < ndims; i++) dims.push(dv.getUint32(4 + 4 * i, false));
  const expected = dims.reduce((a, b) => a * b, 1);
  const actual = bytes.length - header;
  if (actual !== expected) {
    throw new Error(
      `${path}: ${actual < expected ? 'truncated' : 'oversized'} IDX data: dims ${dims.join('x')} need ` +
        `${expected} bytes after the ${header}-byte header, file has ${actual}`,
    );
  }
  return { dims, data: bytes.subarray(header) };
}

/** Reads an IDX file (gzipped or not). Every error message starts with the path. */
export function readIdx(path: string, expect?: 'images' | 'labels'): IdxData {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new Error(`${path}: cannot read IDX file (${code === 'ENOENT' ? 'no such file' : String(err)})`);
  }
  return parseIdx(bytes, path, expect);
}

/** Decides which items are normal (label 0); the rest get label 1. */
export type NormalSpec = readonly number[] | ((label: number) => boolean);

export interface IdxSourceOptions {
  /** Image height and width; `images.length` must be a multiple of height*width. */
  height: number;
  width: number;
  /** Dataset name used in item ids `<name>:<split>:<i>`. Default 'idx'. */
  name?: string;
  /** Split name used in item ids. Default 'all'. */
  split?: string;
  /** Which of the images to expose, by index into `images`, in this order. Default: all. */
  indices?: readonly number[];
  /** Normal classes (or a predicate on the label byte). When given, items get label 0/1. */
  normal?: NormalSpec;
  /** Names per label byte for `className`; default the digit itself ('0'..'9'). */
  classNames?: readonly string[];
}

/** An ImageSource over in-memory images, plus the original image index of each item. */
export interface IdxSource extends ImageSource {
  /** Index into the original image array of each item. */
  readonly imageIndices: readonly number[];
  /** The label byte of each item, when labels were given. */
  readonly classes?: Uint8Array;
}

/** Resolves a NormalSpec to a predicate. */
export function normalPredicate(normal: NormalSpec): (label: number) => boolean {
  if (typeof normal === 'function') return normal;
  const set = new Set(normal);
  return (label) => set.has(label);
}

/**
 * An ImageSource over uint8 images laid out [n, height, width] (no copy is made). `load`
 * converts to [0, 1], resizes when the preprocessing size differs from the native one, and
 * replicates gray into 3 channels when asked for RGB.
 */
export function idxSource(images: Uint8Array, labels: Uint8Array | undefined, options: IdxSourceOptions): IdxSource {
  const { height, width } = options;
  const name = options.name ?? 'idx';
  const split = options.split ?? 'all';
  if (!Number.isInteger(height) || !Number.isInteger(width) || height < 1 || width < 1) {
    throw new Error(`${name}: image height and width must be positive integers, got ${height}x${width}`);
  }
  const plane = height * width;
  if (images.length % plane !== 0) {
    throw new Error(`${name}: ${images.length} bytes is not a whole number of ${height}x${width} images`);
  }
  const count = images.length / plane;
  if (labels && labels.length !== count) {
    throw new Error(`${name}: ${count} images but ${labels.length} labels`);
  }
  const indices = options.indices ?? Array.from({ length: count }, (_, i) => i);
  for (const i of indices) {
    if (!Number.isInteger(i) || i < 0 || i >= count) throw new Error(`${name}: image index ${i} out of range 0..${count - 1}`);
  }
  if (options.normal && !labels) throw new Error(`${name}: 'normal' classes given but no labels`);
  const isNormal = options.normal ? normalPredicate(options.normal) : undefined;
  const items: ImageItem[] = indices.map((i) => {
    const item: ImageItem = { id: `${name}:${split}:${i}` };
    if (labels) {
      const c = labels[i]!;
      item.className = options.classNames?.[c] ?? String(c);
      if (isNormal) item.label = isNormal(c) ? 0 : 1;
    }
    return item;
  });
  const classes = labels ? Uint8Array.from(indices, (i) => labels[i]!) : undefined;

  return {
    items,
    imageIndices: indices,
    classes,
    nativeSize: { height, width, channels: 1 },
    async load(index: number, pre: Preprocessing): Promise<Float32Array> {
      const i = indices[index];
      if (i === undefined) throw new Error(`${name}:${split}: item ${index} out of range 0..${indices.length - 1}`);
      checkPreprocessing(pre);
      const data = images.subarray(i * plane, (i + 1) * plane);
      return rawToTensor({ data, width, height, channels: 1 }, pre);
    },
  };
}

/**
 * The labels file that belongs to an images file by the MNIST naming convention
 * (`train-images-idx3-ubyte[.gz]` -> `train-labels-idx1-ubyte[.gz]`), or undefined if the name
 * does not follow it.
 */
export function labelsPathFor(imagesPath: string): string | undefined {
  const m = /^(.*)images([-.]idx)3([-.]ubyte(?:\.gz)?)$/i.exec(imagesPath);
  return m ? `${m[1]}labels${m[2]}1${m[3]}` : undefined;
}
