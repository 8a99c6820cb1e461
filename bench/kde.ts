/**
 * bench/kde: time LatentKDE fit and scoring on random latent codes.
 *
 *   node dist/bench/kde.js [--n 60000] [--d 32] [--queries 10000] [--device cpu] [--repeat 3]
 *
 * Fits n standard-normal codes of dimension d and scores `queries` fresh ones, for: all n points
 * with Scott's rule, the default cap (maxPoints 20000), and the 'likelihood' rule (with the cap).
 * Prints one line per case with the median over `repeat` runs (after one warm-up run), in seconds
 * of wall time, plus the process CPU time of scoring (user + system, all threads): on a shared
 * machine the wall time includes waiting for cores; CPU time / threads is the uncontended wall time.
 * Threads: VIGIL_THREADS, else all cores.
 */
import { ops, manualSeed, synchronize, engineInfo, resolveDevice, liveTensors } from '../src/engine/index.js';
import { LatentKDE } from '../src/scoring/kde.js';
import type { LatentKDEOptions } from '../src/scoring/kde.js';
import { arg } from './args.js';
import { median } from './stats.js';

const n = Number(arg('n', '60000'));
const d = Number(arg('d', '32'));
const m = Number(arg('queries', '10000'));
const repeat = Number(arg('repeat', '3'));
const device = resolveDevice(arg('device', 'cpu'));

function run(label: string, opts: LatentKDEOptions): void {
  manualSeed(0);
  const codes = ops.randn([n, d], { device });
  const queries = ops.randn([m, d], { device });
  const fits: number[] = [];
  const scores: number[] = [];
  const cpus: number[] = [];
  let h = NaN;
  let fitted = 0;
  for (let r = 0; r <= repeat; r++) {
    const kde = new LatentKDE({ device, ...opts });
    let t = performance.now();
    kde.fit(codes);
    synchronize();
    const fit = (performance.now() - t) / 1000;
    t = performance.now();
    const cpu0 = process.cpuUsage();
    const s = kde.scoreSamples(queries);
    const score = (performance.now() - t) / 1000;
    const cpu = process.cpuUsage(cpu0);
    if (!s.every(Number.isFinite)) throw new Error('non-finite scores');
    h = kde.bandwidth_!;
    fitted = kde.n;
    kde.dispose();
    if (r > 0) { fits.push(fit); scores.push(score); cpus.push((cpu.user + cpu.system) / 1e6); } // r = 0 is the warm-up
  }
  codes.dispose();
  queries.dispose();
  console.log(
    `${label.padEnd(34)} fitted ${String(fitted).padStart(6)}  h ${h.toFixed(4)}  fit ${median(fits).toFixed(3)} s  ` +
      `score ${m} queries ${median(scores).toFixed(3)} s (cpu ${median(cpus).toFixed(2)} s)  ${Math.round((m * fitted) / median(scores) / 1e6)} M pairs/s`,
  );
}

const info = engineInfo();
console.log(`vigil KDE bench: n=${n} d=${d} queries=${m} device=${device} threads=${info.threads} torch=${info.torch} repeat=${repeat}`);
const live = liveTensors();
run('scott, all points', { bandwidth: 'scott', maxPoints: Infinity });
run('scott, default cap (20000)', { bandwidth: 'scott' });
run('likelihood, default cap (20000)', { bandwidth: 'likelihood' });
if (liveTensors() !== live) throw new Error(`leaked ${liveTensors() - live} tensors`);
