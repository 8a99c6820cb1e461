/**
 * The image's own statistics, the finest scale of the texture description that the density of
 * photographs reads ('image+stats', src/scoring/density-input.ts):
 * - per channel, the mean and deviation of the pixels, and at full, half and quarter size the mean
 *   absolute horizontal and vertical differences and the differences' deviations;
 * - at the same three sizes, the histogram of the brightness gradients' orientations (how much of
 *   the edge energy runs in each of eight directions);
 * - at the same three sizes, the coherence of the structure tensor (how much the edges around a
 *   pixel share one direction), its plain and its edge-weighted mean.
 * The encoder's first block already sees the image, but only through filters trained to
 * reconstruct it; these fixed ones keep colour, texture and the run of its edges in the distance:
 * a forest's edges point every way, a street's and a building's run straight along a few
 * (docs/BENCHMARKS.md, sessions 11 and 12). The orientation histogram is HOG's (Dalal and Triggs
 * 2005) over the whole image; the coherence is the structure tensor's (Bigün and Granlund 1987).
 */
import { ops, tidy, type Tensor } from '../engine/index.js';
import { IMAGE_STATS_SCALES, ORIENTATION_BINS, COHERENCE_WINDOW } from './density-input.js';

/** [N, C, H, W] -> [N, sum(imageStatsGroups(C))], in the order of imageStatsGroups. */
export function imageStatistics(x: Tensor): Tensor {
  return tidy(() => {
    const parts: Tensor[] = [ops.mean(x, [2, 3]), ops.std(x, [2, 3], false)];
    const orientations: Tensor[] = [];
    const coherences: Tensor[] = [];
    let scaled = x;
    for (let s = 0; s < IMAGE_STATS_SCALES; s++) {
      if (s > 0) scaled = ops.avgPool2d(scaled, 2, 2);
      const [, , h, w] = scaled.shape;
      const dx = ops.sub(ops.slice(scaled, 3, 1, w), ops.slice(scaled, 3, 0, w - 1));
      const dy = ops.sub(ops.slice(scaled, 2, 1, h), ops.slice(scaled, 2, 0, h - 1));
      parts.push(ops.mean(ops.abs(dx), [2, 3]), ops.mean(ops.abs(dy), [2, 3]), ops.std(dx, [2, 3], false), ops.std(dy, [2, 3], false));
      const edges = edgeDirections(ops.mean(scaled, [1], true));
      orientations.push(edges.orientation);
      coherences.push(edges.coherence);
    }
    return ops.cat([...parts, ...orientations, ...coherences], 1);
  });
}

/**
 * The run of the brightness gradients (central differences of the channel mean [N, 1, H, W]):
 * - `orientation` [N, ORIENTATION_BINS]: bin k holds the share of the gradient magnitude whose
 *   direction, taken modulo 180°, lies in [k, k + 1) x 180° / bins. libtorch has atan2, the engine
 *   does not bind it: the doubled angle's vector (gx² - gy², 2 gx gy) finds the bin of eight by its
 *   signs and by which of its parts is the larger.
 * - `coherence` [N, 2]: the structure tensor J (gx², gy², gx gy averaged over COHERENCE_WINDOW
 *   pixels) gives (λ1 - λ2) / (λ1 + λ2) at each pixel, 1 where the edges share one direction and 0
 *   where they point every way; its mean, and its mean weighted by the edge energy tr J.
 * An image too small to have an interior at this scale gives zeros.
 */
function edgeDirections(gray: Tensor): { orientation: Tensor; coherence: Tensor } {
  const [n, , h, w] = gray.shape as [number, number, number, number];
  if (h < 3 || w < 3) return { orientation: ops.zeros([n, ORIENTATION_BINS], { device: gray.device }), coherence: ops.zeros([n, 2], { device: gray.device }) };
  const rows = ops.slice(gray, 2, 1, h - 1), cols = ops.slice(gray, 3, 1, w - 1);
  const gx = ops.sub(ops.slice(rows, 3, 2, w), ops.slice(rows, 3, 0, w - 2));
  const gy = ops.sub(ops.slice(cols, 2, 2, h), ops.slice(cols, 2, 0, h - 2));
  const xx = ops.square(gx), yy = ops.square(gy), xy = ops.mul(gx, gy);
  const cos2 = ops.sub(xx, yy);
  const sin2 = ops.mul(xy, 2);
  const magnitude = ops.sqrt(ops.add(xx, yy));
  const flag = (t: Tensor) => ops.toDtype(t, 'float32');
  const not = (t: Tensor) => ops.rsub(t, 1);
  // on the axes, the octant that starts there: 0° and 180° (horizontal and vertical gradients,
  // common in images of whole numbers) fall into bins 0 and 4, 90° and 270° into bins 2 and 6
  const upper = ops.add(flag(ops.gt(sin2, 0)), ops.mul(flag(ops.eq(sin2, 0)), flag(ops.ge(cos2, 0))));
  const right = ops.add(flag(ops.gt(cos2, 0)), ops.mul(flag(ops.eq(cos2, 0)), flag(ops.lt(sin2, 0))));
  const steep = flag(ops.gt(ops.abs(sin2), ops.abs(cos2)));
  const lower = not(upper), left = not(right), flat = not(steep);
  // the octants of the doubled angle, counter-clockwise from 0°
  const octants = [
    [upper, right, flat], [upper, right, steep], [upper, left, steep], [upper, left, flat],
    [lower, left, flat], [lower, left, steep], [lower, right, steep], [lower, right, flat],
  ];
  const bins = octants.map(([a, b, c]) => ops.sum(ops.mul(magnitude, ops.mul(ops.mul(a!, b!), c!)), [1, 2, 3]));
  const orientation = ops.div(ops.stack(bins, 1), ops.add(ops.reshape(ops.sum(magnitude, [1, 2, 3], true), [n, 1]), 1e-8));

  const k = Math.min(COHERENCE_WINDOW, h - 2, w - 2);
  const [jxx, jyy, jxy] = [xx, yy, xy].map((t) => ops.avgPool2d(t, k, 1));
  const energy = ops.add(jxx!, jyy!);
  const spread = ops.sqrt(ops.add(ops.square(ops.sub(jxx!, jyy!)), ops.mul(ops.square(jxy!), 4)));
  const coherence = ops.div(spread, ops.add(energy, 1e-8));
  const weighted = ops.div(ops.sum(ops.mul(coherence, energy), [1, 2, 3]), ops.add(ops.sum(energy, [1, 2, 3]), 1e-8));
  return { orientation, coherence: ops.stack([ops.mean(coherence, [1, 2, 3]), weighted], 1) };
}

/** The image's statistics followed by the encoder's `stats` [N, D], which it takes over (disposes). */
export function prependImageStatistics(x: Tensor, stats: Tensor): Tensor {
  const out = tidy(() => ops.cat([imageStatistics(x), stats], 1));
  stats.dispose();
  return out;
}
