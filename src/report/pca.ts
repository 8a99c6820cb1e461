/** Latent codes projected on their first two principal components (ml-pca). */
import { PCA } from 'ml-pca';

export function pca2(codes: Float32Array[]): { points: [number, number][]; explained: [number, number] } {
  const d = codes[0]?.length ?? 0;
  if (codes.length < 3 || d < 2) return { points: codes.map((c) => [c[0] ?? 0, c[1] ?? 0]), explained: [NaN, NaN] };
  const rows = codes.map((c) => Array.from(c));
  const model = new PCA(rows, { center: true, scale: false });
  const proj = model.predict(rows, { nComponents: 2 }).to2DArray();
  const ev = model.getExplainedVariance();
  return { points: proj.map((r) => [r[0] ?? 0, r[1] ?? 0]), explained: [ev[0] ?? NaN, ev[1] ?? NaN] };
}

/**
 * A Gaussian kernel density estimate of `points` on an nx x ny grid over `extent` (Scott's
 * bandwidth per axis), scaled to a maximum of 1; cells below 3% of the maximum are left out.
 */
export function densityGrid(points: [number, number][], extent: { x: [number, number]; y: [number, number] }, nx = 44, ny = 34): { x0: number; x1: number; y0: number; y1: number; d: number }[] {
  const n = points.length;
  if (n < 2) return [];
  const sd = (k: 0 | 1) => {
    const m = points.reduce((a, p) => a + p[k], 0) / n;
    return Math.sqrt(points.reduce((a, p) => a + (p[k] - m) ** 2, 0) / (n - 1)) || 1e-9;
  };
  const f = n ** (-1 / 6);
  const hx = sd(0) * f, hy = sd(1) * f;
  const dx = (extent.x[1] - extent.x[0]) / nx, dy = (extent.y[1] - extent.y[0]) / ny;
  const grid = new Float64Array(nx * ny);
  for (let j = 0; j < ny; j++) {
    const cy = extent.y[0] + (j + 0.5) * dy;
    for (let i = 0; i < nx; i++) {
      const cx = extent.x[0] + (i + 0.5) * dx;
      let s = 0;
      for (const [px, py] of points) s += Math.exp(-0.5 * (((cx - px) / hx) ** 2 + ((cy - py) / hy) ** 2));
      grid[j * nx + i] = s;
    }
  }
  let max = 0;
  for (const v of grid) if (v > max) max = v;
  const cells: { x0: number; x1: number; y0: number; y1: number; d: number }[] = [];
  for (let j = 0; j < ny; j++) {
    for (let i = 0; i < nx; i++) {
      const d = grid[j * nx + i]! / (max || 1);
      if (d >= 0.02) cells.push({ x0: extent.x[0] + i * dx, x1: extent.x[0] + (i + 1) * dx, y0: extent.y[0] + j * dy, y1: extent.y[0] + (j + 1) * dy, d: Number(d.toFixed(3)) });
    }
  }
  return cells;
}
