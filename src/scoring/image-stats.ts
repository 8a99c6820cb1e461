/**
 * The image's own statistics, the finest scale of the texture description that the density of
 * photographs reads ('image+stats', src/scoring/density-input.ts): per channel, the mean and
 * deviation of the pixels, and at full, half and quarter size the mean absolute horizontal and
 * vertical differences and the differences' deviations. The encoder's first block already sees the image, but
 * only through filters trained to reconstruct it; these fixed ones keep colour and fine texture in
 * the distance, which separate forests from other scenes (docs/BENCHMARKS.md, session 11).
 */
import { ops, tidy, type Tensor } from '../engine/index.js';
import { IMAGE_STATS_SCALES } from './density-input.js';

/** [N, C, H, W] -> [N, sum(imageStatsGroups(C))], in the order of imageStatsGroups. */
export function imageStatistics(x: Tensor): Tensor {
  return tidy(() => {
    const parts: Tensor[] = [ops.mean(x, [2, 3]), ops.std(x, [2, 3], false)];
    let scaled = x;
    for (let s = 0; s < IMAGE_STATS_SCALES; s++) {
      if (s > 0) scaled = ops.avgPool2d(scaled, 2, 2);
      const [, , h, w] = scaled.shape;
      const dx = ops.sub(ops.slice(scaled, 3, 1, w), ops.slice(scaled, 3, 0, w - 1));
      const dy = ops.sub(ops.slice(scaled, 2, 1, h), ops.slice(scaled, 2, 0, h - 1));
      parts.push(ops.mean(ops.abs(dx), [2, 3]), ops.mean(ops.abs(dy), [2, 3]), ops.std(dx, [2, 3], false), ops.std(dy, [2, 3], false));
    }
    return ops.cat(parts, 1);
  });
}

/** The image's statistics followed by the encoder's `stats` [N, D], which it takes over (disposes). */
export function prependImageStatistics(x: Tensor, stats: Tensor): Tensor {
  const out = tidy(() => ops.cat([imageStatistics(x), stats], 1));
  stats.dispose();
  return out;
}
