/**
 * bench/segmenter: what the synthetic-anomaly segmenter (src/models/segmenter.ts) adds to a
 * training: its step beside the autoencoder's default step on the same images, in the same run,
 * for the sizes that get it (50-px gray cells; 64-px RGB crops of larger photographs, with the
 * autoencoder at its own 256 px for the plates' step).
 *
 *   node dist/bench/segmenter.js [--device cpu|cuda] [--steps 20]
 *
 * Each step is the training task's own (forward, loss, backward and Adam; src/train) on random
 * images; 3 steps of warm-up, then `steps`.
 */
import { ops, manualSeed, getNumThreads, retainFreedMemory, resolveDevice, type Tensor } from '../src/engine/index.js';
import { ConvAutoencoder, defaultArchitecture } from '../src/models/autoencoder.js';
import { SegmenterNet } from '../src/models/segmenter.js';
import { SegmenterTask } from '../src/train/segmenter-task.js';
import { AutoencoderTask, type SingleModelTask } from '../src/train/autoencoder-task.js';
import type { Module } from '../src/engine/nn/module.js';
import { arg } from './args.js';
import { msPerCall } from './stats.js';

const device = resolveDevice(arg('device', 'cpu')!);
const steps = Number(arg('steps', '20'));
retainFreedMemory(); // as the fit does
manualSeed(0);
const adam = { optimizer: 'adam', lr: 1e-3, weightDecay: 0 } as const;

/** The training task's own step (what the fit runs) on one random batch [batch, channels, side, side]. */
function msPerStep(task: SingleModelTask<Module>, release: () => void, batch: number, channels: number, side: number): number {
  const x: Tensor = ops.rand([batch, channels, side, side], { device });
  try {
    return msPerCall(() => { task.step({ x }); }, 3, steps);
  } finally {
    x.dispose(); task.dispose(); release();
  }
}

function segmenterStep(channels: number, side: number): number {
  const net = new SegmenterNet({ channels, base: 16 }).to(device);
  // crops of 64 px, as the fit's default; images of 64 px or less are taken whole
  return msPerStep(new SegmenterTask(net, adam, 64, 32, 1), () => net.dispose(), 32, channels, side);
}

function autoencoderStep(channels: number, side: number, batch: number): number {
  const model = new ConvAutoencoder(defaultArchitecture({ height: side, width: side, channels })).to(device);
  return msPerStep(new AutoencoderTask(model, 'mse+ssim', adam), () => model.dispose(), batch, channels, side);
}

// the defaults' batches (src/config/auto.ts): 64 at 50 px; 8 for the 49 plates at 256 px
const cases = [
  { name: 'cells: 50 px gray', seg: [1, 50], ae: [1, 50, 64], aeSteps: 1020 },
  { name: 'plates: 64-px RGB crops (autoencoder at 256 px)', seg: [3, 64], ae: [3, 256, 8], aeSteps: 602 },
] as const;
console.log(`${device}, ${getNumThreads()} threads, ${steps} steps after 3 of warm-up`);
console.log('| images | autoencoder ms/step | its default steps | segmenter ms/step (32 images) | its 1,000 steps | training time added |');
console.log('| --- | --- | --- | --- | --- | --- |');
for (const c of cases) {
  const ae = autoencoderStep(c.ae[0], c.ae[1], c.ae[2]);
  const seg = segmenterStep(c.seg[0], c.seg[1]);
  const aeSeconds = (ae * c.aeSteps) / 1000;
  const segSeconds = seg; // 1,000 steps of `seg` ms each
  console.log(`| ${c.name} | ${ae.toFixed(0)} | ${c.aeSteps} (${aeSeconds.toFixed(0)} s) | ${seg.toFixed(0)} | ${segSeconds.toFixed(0)} s | ${(100 * segSeconds / aeSeconds).toFixed(0)}% |`);
}
