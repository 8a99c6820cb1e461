import type { ThresholdOption } from '../detector.js';

/** Parses `quantile:0.95`, `contamination:0.05` or `fixed:0.02`. */
export function parseThresholdOption(s: string): ThresholdOption {
  const m = /^(quantile|contamination|fixed):([-+0-9.eE]+)$/.exec(s.trim());
  if (!m) throw new Error(`--threshold must look like quantile:0.95, contamination:0.05 or fixed:0.02; got '${s}'`);
  const v = Number(m[2]);
  if (!Number.isFinite(v)) throw new Error(`--threshold: '${m[2]}' is not a number`);
  if (m[1] === 'quantile') {
    if (!(v > 0 && v < 1)) throw new Error(`--threshold quantile must be in (0, 1), got ${v}`);
    return { method: 'quantile', q: v };
  }
  if (m[1] === 'contamination') {
    if (!(v > 0 && v <= 0.5)) throw new Error(`--threshold contamination must be in (0, 0.5], got ${v}`);
    return { method: 'contamination', contamination: v };
  }
  return { method: 'fixed', value: v };
}
