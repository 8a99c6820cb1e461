/**
 * The optional capability of a source to provide ground-truth masks (MVTec-style datasets). Kept
 * out of types.ts because only some sources have it; the loader checks for it at run time.
 */
import type { ImageSource, Preprocessing } from './types.js';

export interface MaskSource extends ImageSource {
  /**
   * Mask of item i as float32 1 x H x W in {0, 1} under `pre`'s geometry; all zeros for a normal
   * item without a mask file; undefined when unknown (an anomalous item without a mask).
   */
  loadMask(index: number, pre: Preprocessing): Promise<Float32Array | undefined>;
}

export function isMaskSource(source: ImageSource): source is MaskSource {
  return typeof (source as Partial<MaskSource>).loadMask === 'function';
}
