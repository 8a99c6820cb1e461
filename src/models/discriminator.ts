/**
 * The latent discriminator of the adversarial autoencoder (Makhzani et al., "Adversarial
 * Autoencoders", https://arxiv.org/abs/1511.05644): an MLP on codes that outputs one logit per
 * code, trained to say "sample of the prior" (1) or "code of the encoder" (0).
 *
 * It is a Module of its own, with its own parameter store and, in training, its own optimizer
 * (tch-rs `examples/gan`: the discriminator gets its own VarStore). Bundles save it under `disc.`.
 *
 * Layout: `latent -> hidden -> ... -> hidden -> 1`, `layers` hidden layers (default 2 of 256 units),
 * each Linear + LeakyReLU(`slope`, default 0.2) + optional Dropout(`dropout`, default 0).
 *
 * @example
 * ```ts
 * const d = new Discriminator({ latent: 8 });      // 8 -> 256 -> 256 -> 1
 * const logits = d.forward(codes);                 // [N, 1]
 * d.getConfig();                                    // { latent: 8, hidden: 256, layers: 2, slope: 0.2, dropout: 0 }
 * ```
 *
 * See Also: `src/models/aae.ts` (the model that holds it), `src/train/aae-task.ts` (its training).
 */
import { nn, type Tensor } from '../engine/index.js';
import { Module } from '../engine/nn/module.js';

export interface DiscriminatorConfig {
  /** Code size (the autoencoder's latent). */
  latent: number;
  /** Units of each hidden layer. Default 256. */
  hidden: number;
  /** Number of hidden layers. Default 2. */
  layers: number;
  /** Negative slope of the LeakyReLUs. Default 0.2. */
  slope: number;
  /** Dropout after each hidden activation (0 = off). Default 0. */
  dropout: number;
}

export const DISCRIMINATOR_DEFAULTS: Omit<DiscriminatorConfig, 'latent'> = { hidden: 256, layers: 2, slope: 0.2, dropout: 0 };

export function discriminatorConfig(c: Partial<DiscriminatorConfig> & { latent: number }): DiscriminatorConfig {
  const cfg: DiscriminatorConfig = { ...DISCRIMINATOR_DEFAULTS, ...dropUndefined(c) } as DiscriminatorConfig;
  const bad = (why: string) => { throw new RangeError(`discriminator: ${why}`); };
  if (!Number.isInteger(cfg.latent) || cfg.latent < 1) bad(`latent must be a positive integer, got ${cfg.latent}`);
  if (!Number.isInteger(cfg.hidden) || cfg.hidden < 1) bad(`hidden must be a positive integer, got ${cfg.hidden}`);
  if (!Number.isInteger(cfg.layers) || cfg.layers < 1) bad(`layers must be a positive integer, got ${cfg.layers}`);
  if (!(cfg.slope >= 0 && cfg.slope < 1)) bad(`slope must be in [0, 1), got ${cfg.slope}`);
  if (!(cfg.dropout >= 0 && cfg.dropout < 1)) bad(`dropout must be in [0, 1), got ${cfg.dropout}`);
  return cfg;
}

export class Discriminator extends Module {
  readonly config: DiscriminatorConfig;
  readonly net: nn.Sequential;

  constructor(config: Partial<DiscriminatorConfig> & { latent: number }) {
    super();
    this.config = discriminatorConfig(config);
    const { latent, hidden, layers, slope, dropout } = this.config;
    const mods: Module[] = [];
    for (let i = 0; i < layers; i++) {
      mods.push(new nn.Linear(i === 0 ? latent : hidden, hidden), new nn.LeakyReLU(slope));
      if (dropout > 0) mods.push(new nn.Dropout(dropout));
    }
    mods.push(new nn.Linear(hidden, 1));
    this.net = this.child('net', new nn.Sequential(mods));
  }

  /** Logits [N, 1]: high = "looks like a prior sample". */
  forward(z: Tensor): Tensor {
    return this.net.forward(z);
  }

  getConfig(): DiscriminatorConfig {
    return { ...this.config };
  }
}

function dropUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}
