/**
 * What the detector sees, image by image: the preprocessed input, its reconstruction, the
 * per-pixel error map and the latent code, in one pass over the images. The report's gallery and
 * latent view, and `vigil score --maps` overlays, are drawn from these.
 */
import { planBatches } from '../train/batches.js';
import type { ImageSource, Preprocessing } from '../data/types.js';
import { scoreTensor, type MapKind, type Reconstructor } from './reconstruction.js';

export interface Inspection {
  id: string;
  /** Index of the image in its source. */
  index: number;
  /** The preprocessed input, C x H x W in [0, 1] (absent with `pixels: false`). */
  image?: Float32Array;
  /** The reconstruction, C x H x W (absent with `pixels: false`). */
  recon?: Float32Array;
  /** Per-pixel error, H x W: squared error averaged over channels ('mse') or 1 - SSIM ('ssim'). */
  map?: Float32Array;
  /** What the latent density reads: the bottleneck code, or the channel statistics of the encoder (after the image's own for 'image+stats'): DensityInput. */
  code: Float32Array;
  /** Ground-truth mask H x W in {0, 1}, where the source has one. */
  mask?: Float32Array;
}

export interface InspectOptions {
  /** Also return images, reconstructions and error maps (default true); false: only the codes. */
  pixels?: boolean;
  /** Error map kind. Default 'mse' (Detector.inspect: the model's own, Detector.mapKind). */
  map?: MapKind;
  /** Only these indices of the source. Default all. */
  indices?: readonly number[];
  batchSize?: number;
  strict?: boolean;
  onWarning?: (message: string) => void;
}

export async function inspectImages(
  model: Reconstructor, source: ImageSource, c: { preprocessing: Preprocessing; device: string }, o: InspectOptions = {},
): Promise<Inspection[]> {
  const pixels = o.pixels ?? true;
  const indices = o.indices ?? source.items.map((_, i) => i);
  const plan = await planBatches({
    source, indices, preprocessing: c.preprocessing, batchSize: o.batchSize ?? 64, device: c.device, seed: 0, strict: o.strict,
    onWarning: o.onWarning ?? (() => {}),
  });
  const { channels, height, width } = c.preprocessing;
  const plane = height * width, image = channels * plane;
  const out: Inspection[] = [];
  model.eval();
  try {
    for await (const b of plan.pass(0, false)) {
      try {
        const s = scoreTensor(model, b.x, pixels ? { maps: o.map ?? 'mse', recon: true } : {});
        const x = pixels ? b.x.toFloat32() : undefined;
        const latent = s.codes.length / b.indices.length;
        b.indices.forEach((index, i) => {
          const r: Inspection = { id: source.items[index]!.id, index, code: s.codes.slice(i * latent, (i + 1) * latent) };
          if (x) {
            r.image = x.slice(i * image, (i + 1) * image);
            r.recon = s.recon!.slice(i * image, (i + 1) * image);
            r.map = s.maps!.slice(i * plane, (i + 1) * plane);
          }
          if (b.masks) r.mask = b.masks.slice(i * plane, (i + 1) * plane);
          out.push(r);
        });
      } finally {
        b.x.dispose();
      }
    }
  } finally {
    plan.dispose();
  }
  return out;
}
