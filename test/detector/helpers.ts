/** Generated images for the detector tests: no files, any number, a few bytes each. */
import type { ImageSource, Preprocessing } from '../../src/data/types.js';
import type { DetectorOptions } from '../../src/detector.js';

/**
 * `count` images of stripes whose phase and frequency depend on the index (normal), or, for the
 * indices `anomalous` picks, a checkerboard (label 1). Decoded on demand by `load`, so the source
 * streams like a folder of files (it is not in-memory data).
 */
export function stripesSource(count: number, anomalous: (i: number) => boolean = () => false): ImageSource {
  const items = Array.from({ length: count }, (_, i) => (anomalous(i) ? { id: `gen:${i}`, label: 1 as const } : { id: `gen:${i}`, label: 0 as const }));
  return {
    items,
    async load(i: number, pre: Preprocessing): Promise<Float32Array> {
      const { channels, height, width } = pre;
      const out = new Float32Array(channels * height * width);
      const odd = items[i]!.label === 1;
      for (let c = 0; c < channels; c++) {
        for (let y = 0; y < height; y++) {
          for (let x = 0; x < width; x++) {
            out[(c * height + y) * width + x] = odd ? ((x >> 1) + (y >> 1)) % 2 : 0.5 + 0.5 * Math.sin((x + (i % 7)) / (1.5 + (i % 3)));
          }
        }
      }
      return out;
    },
  };
}

/** Settings of a detector small enough to fit in a second or two. */
export const SMALL: DetectorOptions = { size: 16, epochs: 2, lr: 5e-3, batchSize: 16, architecture: { filters: [8, 16], latent: 8 }, device: 'cpu', seed: 1 };
