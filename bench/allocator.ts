/**
 * bench/allocator: a default training step on the CPU with the fit's memory policy (freed memory
 * kept for reuse, `retainFreedMemory` in src/engine/runtime.ts) beside glibc's own
 * (`VIGIL_MALLOC=system`), in the same run. Each side runs in its own process, since the policy,
 * once on, stays on.
 *
 *   node dist/bench/allocator.js [--side 150] [--channels 3] [--batch 16] [--steps 10] [--rounds 3]
 *
 * The model and the loss are the defaults' for the size (src/models/autoencoder.ts, mse+ssim from
 * 48 px); the step is forward, loss, backward and Adam, on random images. Each cell is the median of
 * `rounds` processes taking turns (retained, system, retained, ...).
 */
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { ops, tidy, Adam, manualSeed, getNumThreads, retainFreedMemory } from '../src/engine/index.js';
import { ConvAutoencoder, defaultArchitecture } from '../src/models/autoencoder.js';
import { perImageLoss } from '../src/train/losses.js';
import { arg, flag } from './args.js';
import { median, msPerCall } from './stats.js';

const side = Number(arg('side', '150'));
const channels = Number(arg('channels', '3'));
const batch = Number(arg('batch', '16'));
const steps = Number(arg('steps', '10'));

/** One side's measurement, printed as JSON by the child process. */
function measure(): { msPerStep: number; threads: number } {
  retainFreedMemory(); // as the fit does; VIGIL_MALLOC=system keeps it off
  manualSeed(0);
  const model = new ConvAutoencoder(defaultArchitecture({ height: side, width: side, channels }));
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const x = ops.rand([batch, channels, side, side]);
  const loss = side >= 48 ? 'mse+ssim' : 'mse';
  const step = () => tidy(() => {
    opt.zeroGrad();
    ops.mean(perImageLoss(loss, model.forward(x), x)).backward();
    opt.step();
  });
  return { msPerStep: msPerCall(step, 2, steps), threads: getNumThreads() };
}

if (flag('child')) {
  console.log(JSON.stringify(measure()));
} else {
  const rounds = Number(arg('rounds', '3'));
  const self = fileURLToPath(import.meta.url);
  const run = (malloc: 'retained' | 'system') => {
    const env = { ...process.env };
    if (malloc === 'system') env.VIGIL_MALLOC = 'system'; else delete env.VIGIL_MALLOC;
    const r = spawnSync(process.execPath, [self, '--child', ...process.argv.slice(2)], { env, encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`bench/allocator child (${malloc}) failed: ${r.stderr}`);
    return JSON.parse(r.stdout.trim().split('\n').at(-1)!) as { msPerStep: number; threads: number };
  };
  const ms = { retained: [] as number[], system: [] as number[] };
  let threads = 0;
  for (let i = 0; i < rounds; i++) {
    for (const k of ['retained', 'system'] as const) { const r = run(k); ms[k].push(r.msPerStep); threads = r.threads; }
  }
  console.log(`default training step, ${batch} x ${channels} x ${side} x ${side}, CPU, ${threads} threads, median of ${rounds} processes of ${steps} steps`);
  console.log('| memory policy | ms per step |');
  console.log('| --- | --- |');
  console.log(`| freed memory kept for reuse (the fit's policy) | ${median(ms.retained).toFixed(0)} |`);
  console.log(`| glibc's own (VIGIL_MALLOC=system) | ${median(ms.system).toFixed(0)} |`);
  console.log(`speed-up ${(median(ms.system) / median(ms.retained)).toFixed(2)}x`);
}
