/**
 * bench/layout: NCHW against channels-last (NHWC) for vigil's two convolutional nets, a training
 * step (Adam) and an eval forward, on the same random batch; the evidence for running the
 * transformation classifier channels-last and keeping the autoencoder NCHW.
 *
 *   node dist/bench/layout.js [--device cuda] [--steps 100] [--rounds 2]
 *
 * The NCHW column calls the nets' layers on the NCHW input directly; the channels-last column
 * converts the input with ops.channelsLast first (each layer then keeps that layout). Rounds
 * alternate the two; the table shows the median per round of the mean over `steps` steps (after
 * 10 of warm-up).
 */
import { ops, tidy, noGrad, Adam, manualSeed, engineInfo, resolveDevice, type Tensor, type Module } from '../src/engine/index.js';
import { TransformNet } from '../src/models/transform-net.js';
import { ConvAutoencoder, defaultArchitecture } from '../src/models/autoencoder.js';
import { arg } from './args.js';
import { median, msPerCall } from './stats.js';

const device = resolveDevice(arg('device', 'cuda'));
const steps = Number(arg('steps', '100'));
const rounds = Number(arg('rounds', '2'));

interface Case {
  name: string;
  build: () => Module;
  input: () => Tensor;
  /** The net's output from an input already in the layout under test (channelsLast says which), and a scalar loss on it. */
  forward: (net: Module, x: Tensor, channelsLast: boolean) => Tensor;
  loss: (out: Tensor, x: Tensor) => Tensor;
}

const classifier = (): Case => {
  const n = 16 * 72; // a training step of the classifier: 16 images x 72 transformations
  let labels: Tensor | undefined;
  return {
    name: 'transformation classifier, 28x28x1, 1152 images',
    build: () => new TransformNet({ height: 28, width: 28, channels: 1, classes: 72 }),
    input: () => {
      labels ??= ops.indices(Array.from({ length: n }, (_, i) => i % 72), device);
      return ops.rand([n, 1, 28, 28], { device });
    },
    forward: (net, x) => {
      const t = net as unknown as { body: Module & { forward(x: Tensor): Tensor }; head: Module & { forward(x: Tensor): Tensor } };
      return t.head.forward(ops.mean(t.body.forward(x), [2, 3]));
    },
    loss: (out) => ops.crossEntropy(out, labels!),
  };
};

const autoencoder = (side: number, channels: number, batch: number): Case => ({
  name: `autoencoder, ${side}x${side}x${channels}, batch ${batch}`,
  build: () => new ConvAutoencoder(defaultArchitecture({ height: side, width: side, channels })),
  input: () => ops.rand([batch, channels, side, side], { device }),
  forward: (net, x, channelsLast) => {
    const ae = net as ConvAutoencoder;
    const flat = ae.fromLatent.forward(ae.toLatent.forward(ae.encoderConv.forward(x))); // [N, C, h, w] from a linear layer: NCHW
    return ae.decoderConv.forward(channelsLast ? ops.channelsLast(flat) : flat);
  },
  loss: (out, x) => ops.mean(ops.square(ops.sub(out, x))),
});

function time(c: Case, channelsLast: boolean): { train: number; forward: number } {
  manualSeed(0);
  const net = c.build().to(device);
  const opt = new Adam(net.parameters(), { lr: 1e-3 });
  const raw = c.input();
  const x = channelsLast ? ops.channelsLast(raw) : raw;
  const step = () => tidy(() => {
    opt.zeroGrad();
    c.loss(c.forward(net, x, channelsLast), x).backward();
    opt.step();
  });
  const forward = () => noGrad(() => tidy(() => { c.forward(net, x, channelsLast); }));
  const measure = (fn: () => void): number => msPerCall(fn, 10, steps);
  try {
    net.train();
    const train = measure(step);
    net.eval();
    return { train, forward: measure(forward) };
  } finally {
    if (x !== raw) x.dispose();
    raw.dispose();
    opt.dispose();
    net.dispose();
  }
}

const info = engineInfo();
console.log(`# bench/layout  ${new Date().toISOString()}  libtorch ${info.torch}  device ${device}  steps ${steps}  rounds ${rounds}`);
console.log('\n| net | NCHW train ms/step | channels-last train ms/step | speed-up | NCHW forward ms | channels-last forward ms | speed-up |');
console.log('| --- | --- | --- | --- | --- | --- | --- |');
for (const c of [classifier(), autoencoder(28, 1, 64), autoencoder(28, 1, 256), autoencoder(128, 3, 16)]) {
  const r: Record<'nchw' | 'nhwc', { train: number[]; forward: number[] }> = { nchw: { train: [], forward: [] }, nhwc: { train: [], forward: [] } };
  for (let i = 0; i < rounds; i++) {
    for (const layout of ['nchw', 'nhwc'] as const) {
      const t = time(c, layout === 'nhwc');
      r[layout].train.push(t.train);
      r[layout].forward.push(t.forward);
    }
  }
  const [tn, tc, fn, fc] = [median(r.nchw.train), median(r.nhwc.train), median(r.nchw.forward), median(r.nhwc.forward)];
  console.log(`| ${c.name} | ${tn.toFixed(2)} | ${tc.toFixed(2)} | ${(tn / tc).toFixed(2)}x | ${fn.toFixed(2)} | ${fc.toFixed(2)} | ${(fn / fc).toFixed(2)}x |`);
}
