/**
 * An ImageSource over encoded images already in memory (uploads, test fixtures): decoded and
 * preprocessed exactly as file sources decode their files (preprocess.ts, sharp), so a model
 * scores an uploaded image as it would the same file on disk. Nothing touches the file system,
 * which is why the scoring service uses it: no request can make vigil read a path.
 */
import { CorruptImageError } from './errors.js';
import { loadImageTensor } from './preprocess.js';
import type { ImageItem, ImageSource, Preprocessing } from './types.js';

export interface MemorySourceOptions {
  /**
   * Receives each image that fails to decode (its index and the reason). When given, the loader
   * does not also warn on stderr: the caller reports the failure itself.
   */
  onError?: (index: number, reason: string) => void;
}

/** A source of `buffers` (PNG, JPEG, BMP, TIFF, WebP bytes); `ids` name them (default `buffer:i`). */
export function memorySource(buffers: readonly Uint8Array[], ids?: readonly string[], options: MemorySourceOptions = {}): ImageSource {
  if (ids && ids.length !== buffers.length) throw new Error(`memorySource: ${buffers.length} buffers but ${ids.length} ids`);
  const items: ImageItem[] = buffers.map((_, i) => ({ id: ids?.[i] ?? `buffer:${i}` }));
  return {
    items,
    async load(index: number, pre: Preprocessing): Promise<Float32Array> {
      const bytes = buffers[index];
      if (!bytes) throw new Error(`memorySource: index ${index} out of range (${buffers.length} buffers)`);
      try {
        return await loadImageTensor(bytes, pre, items[index]!.id);
      } catch (err) {
        if (err instanceof CorruptImageError && options.onError) {
          err.reported = true;
          options.onError(index, err.reason);
        }
        throw err;
      }
    },
  };
}
