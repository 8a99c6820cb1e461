/**
 * The pixel budget of the decoders: the largest image (width x height) they decode. Larger ones
 * are refused from their header, before any pixel is decoded (see preprocess.ts).
 */

/** The pixel budget unless told otherwise: 50 Mpx, above a 45-50 Mpx camera's photos, a fifth of sharp's 268 Mpx. */
export const DEFAULT_MAX_PIXELS = 50_000_000;
let maxPixelsDefault = DEFAULT_MAX_PIXELS;

/** Sets the process-wide pixel budget (what `vigil --max-pixels` sets); returns the previous one. */
export function setMaxPixels(pixels: number): number {
  if (!Number.isInteger(pixels) || pixels < 1) throw new RangeError(`maxPixels must be a positive integer, got ${JSON.stringify(pixels)}`);
  const before = maxPixelsDefault;
  maxPixelsDefault = pixels;
  return before;
}

/** The process-wide pixel budget. */
export function getMaxPixels(): number {
  return maxPixelsDefault;
}

/** The message for an image over the budget. */
export function overBudget(width: number, height: number, budget: number): string {
  const mpx = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(1)} Mpx` : `${n} px`);
  return `${width}x${height} pixels (${mpx(width * height)}) is over the pixel budget of ${mpx(budget)}; raise it with maxPixels (vigil --max-pixels) if this image is meant to be read`;
}
