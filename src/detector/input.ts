/**
 * What a Detector is handed, turned into an ImageSource, and what the data says about its
 * images before anything is decoded (the channel count that fit uses by default).
 */
import { statSync } from 'node:fs';
import { openSource, type OpenSourceOptions } from '../data/open.js';
import { fileSource } from '../data/folder.js';
import { probeImage } from '../data/preprocess.js';
import type { ImageSource, ImageItem } from '../data/types.js';
import type { DetectorInput } from './options.js';

/** Opens what the user passed: a path/spec string, a list of image files, or a source (returned as is). */
export async function resolveImages(
  input: DetectorInput,
  o: { normalClass?: string | string[]; strict?: boolean; split?: 'train' | 'test'; onWarning?: (m: string) => void; validate?: boolean | ((item: ImageItem) => boolean) } = {},
): Promise<ImageSource> {
  if (typeof input === 'object' && !Array.isArray(input)) return input;
  if (Array.isArray(input)) {
    const items: ImageItem[] = input.map((p) => ({ id: p }));
    return fileSource('', items, { strict: o.strict, onWarning: o.onWarning, validate: o.validate });
  }
  const opts: OpenSourceOptions = { normalClass: o.normalClass, strict: o.strict, onWarning: o.onWarning, split: o.split, validate: o.validate };
  try {
    if (statSync(input).isFile() && !/idx\d-ubyte(\.gz)?$/.test(input)) return fileSource('', [{ id: input }], opts);
  } catch { /* not a file: openSource explains */ }
  return openSource(input, opts);
}

/**
 * The size and channel count of a source's images: known for in-memory data (IDX, built-in),
 * else read from the header of the first readable of its first five files (the data layer's one
 * probe, which reads PNG, JPEG, TIFF, WebP and BMP alike). Gray, with or without alpha, is 1
 * channel; anything else 3. Undefined when no file can be probed.
 */
export async function probeSource(source: ImageSource): Promise<{ height: number; width: number; channels: 1 | 3 } | undefined> {
  if (source.nativeSize) return source.nativeSize;
  for (const item of source.items.slice(0, 5)) {
    try {
      const m = await probeImage(item.id);
      return { height: m.height, width: m.width, channels: m.channels <= 2 ? 1 : 3 };
    } catch { /* try the next one */ }
  }
  return undefined;
}
