/**
 * Turning image files or buffers into model inputs: decode (sharp, or our BMP decoder), then
 * resize and lay out as float32 CHW in [0, 1] (resample.ts). Also the default size policy.
 *
 * Colour policy: images are decoded to 8-bit sRGB, EXIF orientation is applied, and any alpha
 * channel is flattened onto black. Black rather than white because transparent pixels then read
 * as "no signal" (0), which is what a premultiplied-alpha image would give, and because a
 * constant fill is what matters for a model trained on the same data. Grayscale uses libvips'
 * sRGB-to-B_W conversion (luminance in linear light), so a gray RGB image stays exactly the same.
 *
 * Decoding uses sharp's default `failOn: 'warning'`: a truncated JPEG is reported as corrupt
 * rather than silently padded with gray, which a model would score as an anomaly.
 *
 * Pixel budget: an image larger than `maxPixels` (width x height; default DEFAULT_MAX_PIXELS,
 * 50 Mpx, changed for the process with setMaxPixels or per reader) is refused from its header,
 * before any pixel is decoded, as a CorruptImageError naming the file. A 16000x16000 PNG of
 * 750 KB would otherwise take a gigabyte and tens of seconds (sharp's own limit is 268 Mpx).
 */
import { readFile } from 'node:fs/promises';
import { extname } from 'node:path';
import sharp from 'sharp';
import { decodeBmp, isBmp } from './bmp.js';
import { getMaxPixels, overBudget } from './budget.js';
import { CorruptImageError, errorMessage } from './errors.js';
import { resampleBilinear, resampleNearest, sourceBox, toChannels, type RawImage } from './resample.js';
import type { Preprocessing } from './types.js';

export { DEFAULT_MAX_PIXELS, setMaxPixels, getMaxPixels, overBudget } from './budget.js';

/** Options of the decoders. */
export interface DecodeOptions {
  /** Refuse images with more pixels than this (width x height). Default: getMaxPixels(). */
  maxPixels?: number;
}

function budgetOf(o: DecodeOptions | undefined): number {
  const m = o?.maxPixels ?? getMaxPixels();
  if (!Number.isInteger(m) || m < 1) throw new RangeError(`maxPixels must be a positive integer, got ${JSON.stringify(m)}`);
  return m;
}

/** Refuses a buffer whose header says it is over the budget, before decoding it. */
async function checkBudget(bytes: Buffer, budget: number): Promise<void> {
  const m = await sharp(bytes, { limitInputPixels: false }).metadata();
  if (m.width && m.height && m.width * m.height > budget) throw new Error(overBudget(m.width, m.height, budget));
}

/** File extensions read as images (compared lower-cased). */
export const IMAGE_EXTENSIONS: readonly string[] = ['.png', '.jpg', '.jpeg', '.bmp', '.tif', '.tiff', '.webp'];

/** True when the file name has one of IMAGE_EXTENSIONS, case-insensitively. */
export function isImageFile(name: string): boolean {
  return IMAGE_EXTENSIONS.includes(extname(name).toLowerCase());
}

/** Throws when a Preprocessing is unusable, quoting the bad value. */
export function checkPreprocessing(pre: Preprocessing): void {
  for (const key of ['height', 'width'] as const) {
    const v = pre[key];
    if (!Number.isInteger(v) || v < 1 || v > 16384) {
      throw new Error(`preprocessing.${key} must be an integer in 1..16384, got ${JSON.stringify(v)}`);
    }
  }
  if (pre.channels !== 1 && pre.channels !== 3) {
    throw new Error(`preprocessing.channels must be 1 or 3, got ${JSON.stringify(pre.channels)}`);
  }
  if (pre.resize !== 'stretch' && pre.resize !== 'crop') {
    throw new Error(`preprocessing.resize must be 'stretch' or 'crop', got ${JSON.stringify(pre.resize)}`);
  }
}

/**
 * The preprocessing used when the caller does not choose one. Known native size (IDX data):
 * keep it, unless a side exceeds `maxSide`, then scale down keeping the aspect ratio. Unknown
 * (image folders, whose files may differ in size): `maxSide` x `maxSide` RGB. Always 'stretch',
 * so no image content is cut away by default.
 */
export function defaultPreprocessing(
  nativeSize?: { height: number; width: number; channels: 1 | 3 },
  options: { maxSide?: number } = {},
): Preprocessing {
  const maxSide = options.maxSide ?? 256;
  if (!nativeSize) return { height: maxSide, width: maxSide, channels: 3, resize: 'stretch' };
  const { height, width, channels } = nativeSize;
  const scale = Math.min(1, maxSide / Math.max(height, width));
  return {
    height: Math.max(1, Math.round(height * scale)),
    width: Math.max(1, Math.round(width * scale)),
    channels,
    resize: 'stretch',
  };
}

/** Same geometry and channels: tensors produced under `a` and `b` are interchangeable. */
export function samePreprocessing(a: Preprocessing, b: Preprocessing): boolean {
  return a.height === b.height && a.width === b.width && a.channels === b.channels && a.resize === b.resize;
}

/** Input to the decoder: a file path, encoded bytes, or already-decoded pixels. */
export type ImageInput = string | Uint8Array | RawImage;

async function runSharp(input: Buffer | RawImage, channels: 1 | 3, budget: number | false = false): Promise<RawImage> {
  let img =
    input instanceof Uint8Array
      ? sharp(input, { failOn: 'warning', limitInputPixels: budget })
      : sharp(input.data, { raw: { width: input.width, height: input.height, channels: input.channels as 1 | 2 | 3 | 4 } });
  img = img.autoOrient().flatten({ background: { r: 0, g: 0, b: 0 } });
  img = channels === 1 ? img.grayscale() : img.toColourspace('srgb');
  const { data, info } = await img.raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data, width: info.width, height: info.height, channels: info.channels };
}

/**
 * Decodes to 8-bit samples with `channels` channels (1 gray, 3 RGB). Errors of any kind (missing
 * file, unknown format, truncated data) become a CorruptImageError naming `name`, or the path.
 */
export async function decodeImage(input: ImageInput, channels: 1 | 3, name?: string, options?: DecodeOptions): Promise<RawImage> {
  const label = name ?? (typeof input === 'string' ? input : '<buffer>');
  const budget = budgetOf(options);
  try {
    if (typeof input !== 'string' && !(input instanceof Uint8Array)) {
      if (input.channels === channels) return input;
      return await runSharp(input, channels);
    }
    // Read the bytes ourselves: sharp's file cache would otherwise keep descriptors open, and BMP
    // needs the bytes anyway.
    const bytes = typeof input === 'string' ? await readFile(input) : Buffer.from(input.buffer, input.byteOffset, input.byteLength);
    if (bytes.length === 0) throw new Error('empty file');
    if (isBmp(bytes)) return await runSharp(decodeBmp(bytes, { maxPixels: budget }), channels);
    try {
      return await runSharp(bytes, channels, budget);
    } catch (err) {
      // sharp refused from the header; say how large the image is and how to allow it
      if (/pixel limit/i.test(errorMessage(err))) await checkBudget(bytes, budget);
      throw err;
    }
  } catch (err) {
    if (err instanceof CorruptImageError) throw err;
    throw new CorruptImageError(label, errorMessage(err), { cause: err });
  }
}

/** Resizes decoded pixels per `pre` into float32 CHW in [0, 1] (channels adapted if needed). */
export function rawToTensor(raw: RawImage, pre: Preprocessing): Float32Array {
  const box = sourceBox(raw.width, raw.height, pre.width, pre.height, pre.resize);
  const chw = resampleBilinear(raw, box, pre.width, pre.height);
  return toChannels(chw, raw.channels, pre.channels, pre.width * pre.height);
}

/** Decode + preprocess in one call: what a file-backed source's `load` does. */
export async function loadImageTensor(input: ImageInput, pre: Preprocessing, name?: string, options?: DecodeOptions): Promise<Float32Array> {
  checkPreprocessing(pre);
  return rawToTensor(await decodeImage(input, pre.channels, name, options), pre);
}

/**
 * A ground-truth mask as float32 1 x H x W in {0, 1}: same geometry as the image (so `crop`
 * masks stay aligned), nearest-neighbour so no partial labels appear, then binarised at 0.5.
 */
export async function loadMaskTensor(input: ImageInput, pre: Preprocessing, name?: string, options?: DecodeOptions): Promise<Float32Array> {
  checkPreprocessing(pre);
  const raw = await decodeImage(input, 1, name, options);
  const box = sourceBox(raw.width, raw.height, pre.width, pre.height, pre.resize);
  const out = resampleNearest(raw, box, pre.width, pre.height);
  for (let i = 0; i < out.length; i++) out[i] = out[i]! > 0.5 ? 1 : 0;
  return out;
}

/**
 * Size and channel count from the file header only (no pixel decode), for an eager validation
 * pass. Throws CorruptImageError for unreadable or non-image files.
 */
export async function probeImage(path: string, options?: DecodeOptions): Promise<{ width: number; height: number; channels: number }> {
  const budget = budgetOf(options);
  try {
    const bytes = await readFile(path);
    if (bytes.length === 0) throw new Error('empty file');
    if (isBmp(bytes)) {
      const raw = decodeBmp(bytes, { maxPixels: budget });
      return { width: raw.width, height: raw.height, channels: raw.channels };
    }
    const meta = await sharp(bytes, { limitInputPixels: false }).metadata();
    if (!meta.width || !meta.height) throw new Error('no image dimensions in header');
    if (meta.width * meta.height > budget) throw new Error(overBudget(meta.width, meta.height, budget));
    return { width: meta.width, height: meta.height, channels: meta.channels ?? 3 };
  } catch (err) {
    if (err instanceof CorruptImageError) throw err;
    throw new CorruptImageError(path, errorMessage(err), { cause: err });
  }
}
