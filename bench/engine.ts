/**
 * bench/engine: throughput of the reference autoencoder on vigil's engine, side by side with
 * PyTorch running the same model in the same run (../shared/reference/torch_ae.py or
 * bench/torch_ae.py), when `python3 -c 'import torch'` works.
 *
 *   node dist/bench/engine.js [--device cpu|cuda] [--steps 20] [--rounds 3] [--python python3] [--reference path]
 *
 * Protocol (same as the PyTorch script): per shape, one warm-up epoch of `steps` batches of random
 * inputs, then 3 timed epochs, median; inference on batches of 256 in eval mode, 3 timed passes.
 * The two engines take turns for `rounds` rounds (vigil, PyTorch, vigil, ...) and each cell is the
 * median over rounds, so a slow spell on a shared machine hits both sides instead of one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ops, tidy, noGrad, Adam, manualSeed, synchronize, getNumThreads, engineInfo, resolveDevice } from '../src/engine/index.js';
import { referenceAutoencoder } from '../src/models/reference.js';

interface Row { engine: string; device: string; threads: number; shape: number[]; batch: number; trainImgPerSec: number; inferImgPerSec: number }

function arg(name: string, def: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : def;
}

function runVigil(device: string, h: number, w: number, c: number, batch: number, steps: number): Row {
  manualSeed(0);
  const model = referenceAutoencoder({ height: h, width: w, channels: c }).to(device);
  const opt = new Adam(model.parameters(), { lr: 1e-3 });
  const xs = ops.rand([batch * steps, c, h, w], { device });
  const epoch = () => {
    for (let i = 0; i < steps; i++) {
      tidy(() => {
        const x = ops.slice(xs, 0, i * batch, (i + 1) * batch);
        opt.zeroGrad();
        const loss = ops.mseLoss(model.forward(x), x);
        loss.backward();
        opt.step();
      });
    }
    synchronize();
  };
  epoch();
  const times: number[] = [];
  for (let k = 0; k < 3; k++) {
    const t = performance.now();
    epoch();
    times.push((performance.now() - t) / 1000);
  }
  const train = (batch * steps) / times.sort((a, b) => a - b)[1];
  model.eval();
  const inf = ops.rand([256, c, h, w], { device });
  const infer = noGrad(() => {
    tidy(() => { model.forward(inf); });
    synchronize();
    const t = performance.now();
    for (let k = 0; k < 3; k++) tidy(() => { model.forward(inf); });
    synchronize();
    return (3 * 256) / ((performance.now() - t) / 1000);
  });
  xs.dispose(); inf.dispose(); opt.dispose(); model.dispose();
  return { engine: `vigil (libtorch ${engineInfo().torch})`, device, threads: getNumThreads(), shape: [h, w, c], batch,
    trainImgPerSec: Math.round(train * 10) / 10, inferImgPerSec: Math.round(infer * 10) / 10 };
}

function runTorch(device: string, steps: number): Row[] | string {
  const here = dirname(fileURLToPath(import.meta.url));
  const candidates = [arg('reference', ''), join(here, '..', '..', '..', 'shared', 'reference', 'torch_ae.py'), join(here, '..', '..', 'bench', 'torch_ae.py')].filter(Boolean);
  const script = candidates.find((p) => existsSync(p));
  if (!script) return 'no reference script found (pass --reference path/to/torch_ae.py)';
  const pythons = [arg('python', ''), process.env.PYTHON ?? '', 'python3', '/usr/bin/python3'].filter(Boolean);
  const python = pythons.find((p) => spawnSync(p, ['-c', 'import torch'], { stdio: 'ignore' }).status === 0);
  if (!python) return 'PyTorch not importable (Debian: apt-get install python3-torch)';
  const r = spawnSync(python, [script, device, '--steps', String(steps), '--threads', String(getNumThreads()), '--json'], { encoding: 'utf8' });
  if (r.status !== 0) return `reference failed: ${r.stderr.slice(-500)}`;
  return r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
}

const device = resolveDevice(arg('device', 'cpu'));
const steps = Number(arg('steps', '20'));
const rounds = Math.max(1, Number(arg('rounds', '3')));
const shapes: [number, number, number, number][] = [[28, 28, 1, 64], [128, 128, 3, 16]];

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
/** One row per shape whose throughputs are the medians over rounds. */
function medianRows(perRound: Row[][]): Row[] {
  return perRound[0].map((r, i) => ({ ...r,
    trainImgPerSec: Math.round(median(perRound.map((rs) => rs[i].trainImgPerSec)) * 10) / 10,
    inferImgPerSec: Math.round(median(perRound.map((rs) => rs[i].inferImgPerSec)) * 10) / 10 }));
}

const oursPerRound: Row[][] = [];
const theirsPerRound: Row[][] = [];
let theirsFailure = '';
for (let round = 0; round < rounds; round++) {
  oursPerRound.push(shapes.map(([h, w, c, b]) => runVigil(device, h, w, c, b, steps)));
  if (theirsFailure) continue;
  const t = runTorch(device, steps);
  if (Array.isArray(t)) theirsPerRound.push(t); else theirsFailure = t;
  process.stderr.write(`round ${round + 1}/${rounds} done\n`);
}
const ours = medianRows(oursPerRound);
const theirs: Row[] | string = theirsFailure || medianRows(theirsPerRound);

const pad = (s: string | number, n: number) => String(s).padStart(n);
console.log(`\nbench/engine: reference autoencoder, device ${device}, ${getNumThreads()} threads, ${steps} steps/epoch, median of ${rounds} alternating rounds\n`);
console.log(`${'shape'.padEnd(12)} ${pad('batch', 5)} ${'engine'.padEnd(26)} ${pad('train img/s', 12)} ${pad('infer img/s', 12)}`);
ours.forEach((r, i) => {
  const t = Array.isArray(theirs) ? theirs[i] : undefined;
  const shape = r.shape.join('x');
  console.log(`${shape.padEnd(12)} ${pad(r.batch, 5)} ${r.engine.padEnd(26)} ${pad(r.trainImgPerSec, 12)} ${pad(r.inferImgPerSec, 12)}`);
  if (t) {
    console.log(`${''.padEnd(12)} ${pad(t.batch, 5)} ${t.engine.padEnd(26)} ${pad(t.trainImgPerSec, 12)} ${pad(t.inferImgPerSec, 12)}`);
    console.log(`${''.padEnd(12)} ${pad('', 5)} ${'ratio vigil/pytorch'.padEnd(26)} ${pad((r.trainImgPerSec / t.trainImgPerSec).toFixed(2) + 'x', 12)} ${pad((r.inferImgPerSec / t.inferImgPerSec).toFixed(2) + 'x', 12)}`);
  }
});
if (!Array.isArray(theirs)) console.log(`\nPyTorch side not run: ${theirs}`);
if (process.argv.includes('--json')) console.log(JSON.stringify({ vigil: ours, pytorch: theirs, rounds: { vigil: oursPerRound, pytorch: theirsPerRound } }));
