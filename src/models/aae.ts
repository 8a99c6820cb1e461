/**
 * The robust adversarial autoencoder (Beggel, Pfeiffer, Bischl, "Robust Anomaly Detection in Images
 * using Adversarial Autoencoders", ECML-PKDD 2019, https://arxiv.org/abs/1901.06355), built on the
 * adversarial autoencoder of Makhzani et al. (https://arxiv.org/abs/1511.05644).
 *
 * Three parts, each with its own parameter store:
 * - `ae`: the convolutional autoencoder (`ConvAutoencoder`), whose encoder is q(z|x). Its
 *   `encode`/`decode`/`eval` are this model's, so every scoring path (`scoring/reconstruction.ts`)
 *   works unchanged, and its weights are saved under `model.` exactly as the plain autoencoder's.
 * - `disc`: the latent `Discriminator`, saved under `disc.`.
 * - `prior`: p(z), a `GaussianMixture` (`prior: 'gmm'`, the default: `components` Gaussians of std
 *   `priorStd` on a circle of radius `priorRadius` in the first two dimensions) or `StandardNormal`
 *   (`prior: 'normal'`).
 *
 * Training (`src/train/aae-task.ts`) alternates the reconstruction phase (encoder + decoder on the
 * reconstruction loss) and the regularisation phase (the encoder as generator against the
 * discriminator, then the discriminator on prior samples vs. detached codes), and, after a warm-up,
 * leaves out of each epoch the training images whose codes are least likely under the prior.
 *
 * @example
 * ```ts
 * const aae = new AdversarialAutoencoder(defaultArchitecture({ height: 28, width: 28, channels: 1 }), { prior: 'gmm', components: 10 });
 * const z = aae.encode(x);                  // [N, latent], as ConvAutoencoder
 * const logp = aae.prior.logProb(z);        // [N]
 * const json = aae.toJSON();                // { config, discriminator, prior } for bundles
 * const again = AdversarialAutoencoder.fromJSON(arch, JSON.parse(JSON.stringify(json)));
 * ```
 *
 * See Also: `src/models/prior.ts`, `src/models/discriminator.ts`, `src/scoring/kde.ts`.
 */
import type { Tensor } from '../engine/index.js';
import { ConvAutoencoder, type Architecture } from './autoencoder.js';
import { Discriminator, type DiscriminatorConfig } from './discriminator.js';
import { GaussianMixture, StandardNormal, priorFromJSON, type Prior, type PriorJSON } from './prior.js';

/** The model's configuration (what bundles store). */
export interface AaeConfig {
  /**
   * Latent prior: 'normal' = N(0, I), 'gmm' = mixture of `components` isotropic Gaussians. Default
   * 'gmm': its low-density centre is where the encoder tends to put images unlike the normal class
   * (weak activations, small codes), so the prior likelihood ranks them low; under N(0, I) the
   * centre is the densest point and the ranking can invert (docs/ROBUST.md).
   */
  prior: 'normal' | 'gmm';
  /** Mixture components for 'gmm'. Default 10. */
  components: number;
  /** Distance of the mixture means from the origin ('gmm'). Default 4. */
  priorRadius: number;
  /** Std of each mixture component ('gmm'). Default 0.5. */
  priorStd: number;
  /** Discriminator hidden width. Default 256. */
  discHidden: number;
  /** Discriminator hidden layers. Default 2. */
  discLayers: number;
  /** Discriminator dropout. Default 0. */
  discDropout: number;
  /** Seed of the mixture's component sampler. Default 0. */
  seed: number;
}

/** How the robust AAE trains (see `src/train/aae-task.ts`). */
export interface AaeTrainingConfig {
  /** Fraction of training images left out of each epoch after the warm-up, or 'auto' to estimate it. Default 0.05. 0 = plain AAE. */
  reject: number | 'auto';
  /** Ranking for rejection: prior log-likelihood of the code, or its rank average with the reconstruction error. Default 'prior'. */
  rejectBy: RejectBy;
  /** Epochs trained on every image before rejection starts. Default 2. */
  warmup: number;
  /** Discriminator learning rate at the schedule's start. Default: lr / 4. */
  discLr?: number;
  /** Generator (encoder vs. discriminator) learning rate. Default: lr / 2. */
  genLr?: number;
  /** Upper bound of the 'auto' fraction. Default 0.2. */
  maxReject: number;
}

export type AaeOptions = Partial<AaeConfig> & Partial<AaeTrainingConfig>;

export const AAE_DEFAULTS: AaeConfig = { prior: 'gmm', components: 10, priorRadius: 4, priorStd: 0.5, discHidden: 256, discLayers: 2, discDropout: 0, seed: 0 };
/**
 * How training images are ranked for rejection: the prior log-likelihood of the code; its rank
 * averaged with the reconstruction error's; or both averaged with the rank of the code's distance
 * to its k nearest training codes (k = the number of images rejected, at least 10), which also
 * catches contaminants that sit together in a small cluster of their own.
 */
export type RejectBy = 'prior' | 'prior+recon' | 'prior+recon+knn';
export const REJECT_BY: readonly RejectBy[] = ['prior', 'prior+recon', 'prior+recon+knn'];

export const AAE_TRAINING_DEFAULTS: AaeTrainingConfig = { reject: 0.05, rejectBy: 'prior+recon+knn', warmup: 2, maxReject: 0.2 };

function defined<T extends object>(o: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(o ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The model part of the options, with defaults, validated. */
export function aaeConfig(o: AaeOptions = {}): AaeConfig {
  const c: AaeConfig = { ...AAE_DEFAULTS };
  for (const k of Object.keys(AAE_DEFAULTS) as (keyof AaeConfig)[]) {
    const v = (defined(o) as Record<string, unknown>)[k];
    if (v !== undefined) (c as unknown as Record<string, unknown>)[k] = v;
  }
  const bad = (why: string) => { throw new RangeError(`aae: ${why}`); };
  if (c.prior !== 'normal' && c.prior !== 'gmm') bad(`prior must be 'normal' or 'gmm', got ${JSON.stringify(c.prior)}`);
  if (!Number.isInteger(c.components) || c.components < 1) bad(`components must be a positive integer, got ${c.components}`);
  if (!(c.priorRadius >= 0 && Number.isFinite(c.priorRadius))) bad(`priorRadius must be a finite number >= 0, got ${c.priorRadius}`);
  if (!(c.priorStd > 0 && Number.isFinite(c.priorStd))) bad(`priorStd must be positive, got ${c.priorStd}`);
  return c;
}

/** The training part of the options, with defaults, validated. */
export function aaeTrainingConfig(o: AaeOptions = {}): AaeTrainingConfig {
  const d = defined(o);
  const c: AaeTrainingConfig = {
    reject: d.reject ?? AAE_TRAINING_DEFAULTS.reject,
    rejectBy: d.rejectBy ?? AAE_TRAINING_DEFAULTS.rejectBy,
    warmup: d.warmup ?? AAE_TRAINING_DEFAULTS.warmup,
    maxReject: d.maxReject ?? AAE_TRAINING_DEFAULTS.maxReject,
    ...(d.discLr !== undefined ? { discLr: d.discLr } : {}),
    ...(d.genLr !== undefined ? { genLr: d.genLr } : {}),
  };
  const bad = (why: string) => { throw new RangeError(`aae: ${why}`); };
  if (c.reject !== 'auto' && !(typeof c.reject === 'number' && c.reject >= 0 && c.reject < 1)) bad(`reject must be a fraction in [0, 1) or 'auto', got ${JSON.stringify(c.reject)}`);
  if (!REJECT_BY.includes(c.rejectBy)) bad(`rejectBy must be ${REJECT_BY.map((r) => `'${r}'`).join(', ')}, got ${JSON.stringify(c.rejectBy)}`);
  if (!Number.isInteger(c.warmup) || c.warmup < 0) bad(`warmup must be a non-negative integer (epochs), got ${c.warmup}`);
  if (!(c.maxReject > 0 && c.maxReject < 1)) bad(`maxReject must be in (0, 1), got ${c.maxReject}`);
  for (const k of ['discLr', 'genLr'] as const) if (c[k] !== undefined && !(c[k]! > 0)) bad(`${k} must be positive, got ${c[k]}`);
  return c;
}

export function makePrior(c: AaeConfig, latent: number): Prior {
  return c.prior === 'gmm'
    ? new GaussianMixture({ dim: latent, components: c.components, radius: c.priorRadius, std: c.priorStd, seed: c.seed })
    : new StandardNormal(latent);
}

export interface AaeJSON { config: AaeConfig; discriminator: DiscriminatorConfig; prior: PriorJSON }

export class AdversarialAutoencoder {
  readonly ae: ConvAutoencoder;
  readonly disc: Discriminator;
  readonly prior: Prior;
  readonly config: AaeConfig;

  constructor(readonly arch: Architecture, options: AaeOptions = {}, prior?: Prior, discriminator?: DiscriminatorConfig) {
    this.config = aaeConfig(options);
    this.ae = new ConvAutoencoder(arch);
    this.prior = prior ?? makePrior(this.config, arch.latent);
    if (this.prior.dim !== arch.latent) throw new RangeError(`aae: the prior has dimension ${this.prior.dim} but the latent code has ${arch.latent}`);
    this.disc = new Discriminator(discriminator ?? { latent: arch.latent, hidden: this.config.discHidden, layers: this.config.discLayers, dropout: this.config.discDropout });
    if (this.disc.config.latent !== arch.latent) throw new RangeError(`aae: the discriminator takes codes of ${this.disc.config.latent} but the latent code has ${arch.latent}`);
  }

  /** Rebuilds the model (fresh weights) from `toJSON()`; load weights afterwards. */
  static fromJSON(arch: Architecture, json: AaeJSON): AdversarialAutoencoder {
    if (!json || typeof json !== 'object' || !json.config || !json.prior || !json.discriminator) {
      throw new Error(`aae: damaged model description (needs config, discriminator and prior), got ${JSON.stringify(json)?.slice(0, 200)}`);
    }
    return new AdversarialAutoencoder(arch, json.config, priorFromJSON(json.prior), json.discriminator);
  }

  toJSON(): AaeJSON {
    return { config: { ...this.config }, discriminator: this.disc.getConfig(), prior: this.prior.toJSON() };
  }

  encode(x: Tensor): Tensor { return this.ae.encode(x); }
  decode(z: Tensor): Tensor { return this.ae.decode(z); }
  forward(x: Tensor): Tensor { return this.ae.forward(x); }

  /** Parameters of q(z|x): the convolutional encoder and the bottleneck. */
  encoderParameters(): Tensor[] {
    return [...this.ae.encoderConv.parameters(), ...this.ae.toLatent.parameters()];
  }

  train(flag = true): this {
    this.ae.train(flag);
    this.disc.train(flag);
    return this;
  }
  eval(): this { return this.train(false); }

  to(device: string): this {
    this.ae.to(device);
    this.disc.to(device);
    return this;
  }

  /** Every tensor by bundle name: `model.*` (autoencoder) and `disc.*` (discriminator). */
  stateDict(): Map<string, Tensor> {
    const out = new Map<string, Tensor>();
    for (const [k, t] of this.ae.stateDict()) out.set(`model.${k}`, t);
    for (const [k, t] of this.disc.stateDict()) out.set(`disc.${k}`, t);
    return out;
  }

  /** Loads `model.*` and `disc.*` (other names are ignored). */
  loadStateDict(all: Map<string, Tensor>, source = 'state'): void {
    const pick = (p: string) => new Map([...all].filter(([k]) => k.startsWith(p)).map(([k, t]) => [k.slice(p.length), t] as [string, Tensor]));
    this.ae.loadStateDict(pick('model.'), source);
    this.disc.loadStateDict(pick('disc.'), `${source} (discriminator)`);
  }

  dispose(): void {
    this.ae.dispose();
    this.disc.dispose();
  }
}
