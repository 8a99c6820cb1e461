/**
 * bench/engine: throughput of the reference autoencoder on vigil's engine, side by side with
 * PyTorch running the same model in the same run (../shared/reference/torch_ae.py or
 * bench/torch_ae.py), when `python3 -c 'import torch'` works.
 *
 *   node dist/bench/engine.js [--device cpu|cuda] [--steps 20] [--rounds 3] [--infer-passes 30] [--python python3] [--reference path]
 *
 * Protocol (same as the PyTorch script): per shape, one warm-up epoch of `steps` batches of random
 * inputs, then 3 timed epochs, median; inference on batches of 256 in eval mode, 3 timed passes.
 * The last column (`--infer-passes`, default 30) times that many forwards after 5 warm-up ones, on
 * both sides (PyTorch: the reference script's own `build`, run by a snippet below), because three
 * forwards last only a few milliseconds on a GPU.
 * The two engines take turns for `rounds` rounds (vigil, PyTorch, vigil, ...) and each cell is the
 * median over rounds, so a slow spell on a shared machine hits both sides instead of one.
 */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ops, tidy, noGrad, Adam, manualSeed, synchronize, getNumThreads, engineInfo, resolveDevice } from '../src/engine/index.js';
import { referenceAutoencoder } from '../src/models/reference.js';
import { arg } from './args.js';

interface Row { engine: string; device: string; threads: number; shape: number[]; batch: number; trainImgPerSec: number; inferImgPerSec: number; steadyInferImgPerSec?: number }

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
  /** Images per second of `passes` eval forwards of the batch of 256 after `warmup` untimed ones. */
  const forwardsPerSec = (warmup: number, passes: number) => noGrad(() => {
    for (let k = 0; k < warmup; k++) tidy(() => { model.forward(inf); });
    synchronize();
    const t = performance.now();
    for (let k = 0; k < passes; k++) tidy(() => { model.forward(inf); });
    synchronize();
    return (passes * 256) / ((performance.now() - t) / 1000);
  });
  const infer = forwardsPerSec(1, 3); // the reference script's protocol
  const steady = forwardsPerSec(5, inferPasses);
  xs.dispose(); inf.dispose(); opt.dispose(); model.dispose();
  return { engine: `vigil (libtorch ${engineInfo().torch})`, device, threads: getNumThreads(), shape: [h, w, c], batch,
    trainImgPerSec: Math.round(train * 10) / 10, inferImgPerSec: Math.round(infer * 10) / 10, steadyInferImgPerSec: Math.round(steady * 10) / 10 };
}

/**
 * PyTorch's side of the steady inference column: the reference script's own model (`build`),
 * eval mode, no_grad, 5 warm-up forwards and `passes` timed ones of batch 256, per shape. The
 * script itself times only three forwards, a window of a few milliseconds on a GPU.
 */
const STEADY_PY = `
import sys, json, time, importlib.util, torch
script, dev, threads, passes = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
spec = importlib.util.spec_from_file_location('torch_ae_ref', script); mod = importlib.util.module_from_spec(spec); spec.loader.exec_module(mod)
torch.set_num_threads(threads); torch.manual_seed(0)
sync = torch.cuda.synchronize if dev == 'cuda' else (lambda: None)
for h, w, c in [(28, 28, 1), (128, 128, 3)]:
    m = mod.build(h, w, c).to(dev).eval(); x = torch.rand(256, c, h, w, device=dev)
    with torch.no_grad():
        for _ in range(5): m(x)
        sync(); t = time.perf_counter()
        for _ in range(passes): m(x)
        sync(); dt = time.perf_counter() - t
    print(json.dumps({'shape': [h, w, c], 'steadyInferImgPerSec': round(passes * 256 / dt, 1)}))
`;

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
  const rows = r.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Row);
  const steady = spawnSync(python, ['-c', STEADY_PY, script, device, String(getNumThreads()), String(inferPasses)], { encoding: 'utf8' });
  if (steady.status === 0) {
    const byShape = new Map(steady.stdout.trim().split('\n').filter((l) => l.startsWith('{')).map((l) => {
      const j = JSON.parse(l) as { shape: number[]; steadyInferImgPerSec: number };
      return [j.shape.join('x'), j.steadyInferImgPerSec] as const;
    }));
    for (const row of rows) row.steadyInferImgPerSec = byShape.get(row.shape.join('x'));
  } else {
    process.stderr.write(`steady inference on the PyTorch side failed: ${steady.stderr.slice(-300)}\n`);
  }
  return rows;
}

const device = resolveDevice(arg('device', 'cpu'));
const steps = Number(arg('steps', '20'));
const rounds = Math.max(1, Number(arg('rounds', '3')));
const inferPasses = Math.max(1, Number(arg('infer-passes', '30')));
const shapes: [number, number, number, number][] = [[28, 28, 1, 64], [128, 128, 3, 16]];

const median = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
/** One row per shape whose throughputs are the medians over rounds. */
function medianRows(perRound: Row[][]): Row[] {
  return perRound[0].map((r, i) => {
    const med = (key: 'trainImgPerSec' | 'inferImgPerSec' | 'steadyInferImgPerSec') => {
      const vs = perRound.map((rs) => rs[i][key]);
      return vs.every((v) => v !== undefined) ? Math.round(median(vs as number[]) * 10) / 10 : undefined;
    };
    return { ...r, trainImgPerSec: med('trainImgPerSec')!, inferImgPerSec: med('inferImgPerSec')!, steadyInferImgPerSec: med('steadyInferImgPerSec') };
  });
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
const steadyHead = `infer x${inferPasses}`;
const sv = (v?: number) => (v === undefined ? '-' : v);
const ratio = (a?: number, b?: number) => (a === undefined || b === undefined ? '-' : (a / b).toFixed(2) + 'x');
console.log(`${'shape'.padEnd(12)} ${pad('batch', 5)} ${'engine'.padEnd(26)} ${pad('train img/s', 12)} ${pad('infer img/s', 12)} ${pad(steadyHead, 12)}`);
ours.forEach((r, i) => {
  const t = Array.isArray(theirs) ? theirs[i] : undefined;
  const shape = r.shape.join('x');
  console.log(`${shape.padEnd(12)} ${pad(r.batch, 5)} ${r.engine.padEnd(26)} ${pad(r.trainImgPerSec, 12)} ${pad(r.inferImgPerSec, 12)} ${pad(sv(r.steadyInferImgPerSec), 12)}`);
  if (t) {
    console.log(`${''.padEnd(12)} ${pad(t.batch, 5)} ${t.engine.padEnd(26)} ${pad(t.trainImgPerSec, 12)} ${pad(t.inferImgPerSec, 12)} ${pad(sv(t.steadyInferImgPerSec), 12)}`);
    console.log(`${''.padEnd(12)} ${pad('', 5)} ${'ratio vigil/pytorch'.padEnd(26)} ${pad(ratio(r.trainImgPerSec, t.trainImgPerSec), 12)} ${pad(ratio(r.inferImgPerSec, t.inferImgPerSec), 12)} ${pad(ratio(r.steadyInferImgPerSec, t.steadyInferImgPerSec), 12)}`);
  }
});
if (!Array.isArray(theirs)) console.log(`\nPyTorch side not run: ${theirs}`);
if (process.argv.includes('--json')) console.log(JSON.stringify({ vigil: ours, pytorch: theirs, rounds: { vigil: oursPerRound, pytorch: theirsPerRound } }));
