/**
 * What a report needs that only training knows, computed once by `Detector.fit` and kept in the
 * manifest's `training` field:
 * - `errorScale`: quantiles of the per-pixel error ('mse' map) of the normal validation images.
 *   Every error map vigil draws is coloured on [0, q99], so the same colour means the same error
 *   across images, reports and runs (anomalib's users ask for exactly this normalisation).
 * - `data`: the training input as given (an absolute path when it is one), so a report can find
 *   the normal validation images and the robust AAE's rejected images again.
 */
import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { quantile } from './threshold.js';

export interface ErrorScale {
  map: 'mse';
  q50: number;
  q90: number;
  q99: number;
  max: number;
  /** How many validation images it was measured on. */
  images: number;
}

export interface ReportFacts {
  errorScale: ErrorScale;
  data?: string;
}

/** At most this many pixels enter the quantiles (an even stride over all of them): enough for a 99th percentile. */
const MAX_PIXELS = 1 << 20;

/** Quantiles of the per-pixel errors in the 'mse' maps of the normal validation images. */
export function normalErrorScale(maps: readonly Float32Array[]): ErrorScale {
  const total = maps.reduce((a, m) => a + m.length, 0);
  const stride = Math.max(1, Math.ceil(total / MAX_PIXELS));
  const sample = new Float32Array(Math.ceil(total / stride));
  let k = 0, j = 0, max = 0;
  for (const m of maps) {
    for (const v of m) {
      if (v > max) max = v;
      if (j++ % stride === 0) sample[k++] = v;
    }
  }
  const values = sample.subarray(0, k);
  if (values.length === 0) return { map: 'mse', q50: 0, q90: 0, q99: 1e-12, max: 0, images: 0 };
  return { map: 'mse', q50: quantile(values, 0.5), q90: quantile(values, 0.9), q99: Math.max(quantile(values, 0.99), 1e-12), max, images: maps.length };
}

/** The facts of a fit: the error scale of the validation images' 'mse' maps, and the input's name when it is a path or spec. */
export function reportFacts(validationMaps: readonly Float32Array[], input: unknown): ReportFacts {
  const errorScale = normalErrorScale(validationMaps);
  if (typeof input !== 'string') return { errorScale };
  return { errorScale, data: existsSync(input) ? resolve(input) : input };
}
