/**
 * The reference autoencoder of the speed benchmarks (the model of shared/reference/torch_ae.py):
 * two strided conv + LeakyReLU(0.2) + BatchNorm blocks, a dense latent of 32, and the mirrored
 * transposed-conv decoder with a sigmoid output.
 */
import { nn, type Tensor } from '../engine/index.js';
import { Module } from '../engine/nn/module.js';

export class ReferenceAutoencoder extends Module {
  readonly encoder: nn.Sequential;
  readonly decoder: nn.Sequential;
  constructor(readonly h: number, readonly w: number, readonly c: number, readonly latent = 32) {
    super();
    const hh = Math.floor((h + 3) / 4), ww = Math.floor((w + 3) / 4);
    this.encoder = this.child('encoder', new nn.Sequential([
      new nn.Conv2d(c, 32, 3, { stride: 2, padding: 1 }), new nn.LeakyReLU(0.2), new nn.BatchNorm(32),
      new nn.Conv2d(32, 64, 3, { stride: 2, padding: 1 }), new nn.LeakyReLU(0.2), new nn.BatchNorm(64),
      new nn.Flatten(), new nn.Linear(64 * hh * ww, latent),
    ]));
    this.decoder = this.child('decoder', new nn.Sequential([
      new nn.Linear(latent, 64 * hh * ww), new nn.Reshape([64, hh, ww]),
      new nn.ConvTranspose2d(64, 64, 3, { stride: 2, padding: 1, outputPadding: 1 }), new nn.LeakyReLU(0.2), new nn.BatchNorm(64),
      new nn.ConvTranspose2d(64, 32, 3, { stride: 2, padding: 1, outputPadding: 1 }), new nn.LeakyReLU(0.2), new nn.BatchNorm(32),
      new nn.ConvTranspose2d(32, c, 3, { stride: 1, padding: 1 }), new nn.Sigmoid(),
    ]));
  }
  forward(x: Tensor): Tensor {
    const z = this.encoder.forward(x);
    const out = this.decoder.forward(z);
    z.dispose();
    return out;
  }
}

export function referenceAutoencoder(shape: { height: number; width: number; channels: number }): ReferenceAutoencoder {
  return new ReferenceAutoencoder(shape.height, shape.width, shape.channels);
}
