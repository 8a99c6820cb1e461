/** Timing and the summaries the bench scripts print over their repeated runs. */
import { synchronize } from '../src/engine/index.js';

/** The middle value after sorting (for an even count, the upper of the two middle ones). */
export const median = (xs: readonly number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

/** Milliseconds per call of `fn`: `warmup` calls first, then the mean of `calls`, the device synchronized around them. */
export function msPerCall(fn: () => void, warmup: number, calls: number): number {
  for (let i = 0; i < warmup; i++) fn();
  synchronize();
  const t0 = performance.now();
  for (let i = 0; i < calls; i++) fn();
  synchronize();
  return (performance.now() - t0) / calls;
}
