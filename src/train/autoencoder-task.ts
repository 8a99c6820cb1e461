/** The plain autoencoder's training step: reconstruct, per-image loss, mean, Adam(W). */
import { ops, tidy, noGrad, Adam, AdamW, type Optimizer, type Tensor } from '../engine/index.js';
import type { ConvAutoencoder } from '../models/autoencoder.js';
import { randomTiles } from '../models/tiled.js';
import { createRng, type Rng } from '../data/random.js';
import type { Module } from '../engine/nn/module.js';
import { perImageLoss, type LossName } from './losses.js';
import type { TrainingTask } from './trainer.js';

export interface OptimizerOptions {
  optimizer: 'adam' | 'adamw';
  lr: number;
  weightDecay: number;
}

export function makeOptimizer(params: Tensor[], o: OptimizerOptions): Optimizer {
  return o.optimizer === 'adamw'
    ? new AdamW(params, { lr: o.lr, weightDecay: o.weightDecay })
    : new Adam(params, { lr: o.lr, weightDecay: o.weightDecay });
}

/** Copies of a module's tensors (for best-epoch snapshots). */
export function cloneState(state: Map<string, Tensor>): Map<string, Tensor> {
  return noGrad(() => new Map([...state].map(([k, t]) => [k, ops.clone(ops.detach(t))])));
}

export function optimizerTensors(prefix: string, opt: Optimizer, into: Map<string, Tensor>): Record<string, number> {
  const s = opt.stateDict();
  for (const [k, t] of s.tensors) into.set(`${prefix}.${k}`, t);
  return s.scalars;
}

/** The tensors named `prefix.*`, with the prefix taken off (a module's or an optimizer's part of a checkpoint or bundle). */
export function tensorsUnder(prefix: string, all: Map<string, Tensor>): Map<string, Tensor> {
  const out = new Map<string, Tensor>();
  for (const [k, t] of all) if (k.startsWith(`${prefix}.`)) out.set(k.slice(prefix.length + 1), t);
  return out;
}

/**
 * What every task that trains one module with one optimizer shares: the training step and the
 * validation loss (both from `loss`, the one thing a subclass writes), learning rate, checkpoints
 * (`model.*` and `opt.*` tensors), best-epoch snapshots, disposal.
 */
export abstract class SingleModelTask<M extends Module> implements TrainingTask {
  readonly opt: Optimizer;
  constructor(readonly model: M, opt: OptimizerOptions) {
    this.opt = makeOptimizer(model.parameters(), opt);
  }
  /** The scalar loss of a batch (called in train mode for steps, in eval mode without gradient for validation). */
  protected abstract loss(x: Tensor): Tensor;
  step(b: { x: Tensor }): number {
    this.model.train();
    return tidy(() => {
      this.opt.zeroGrad();
      const loss = this.loss(b.x);
      loss.backward();
      this.opt.step();
      return loss.item();
    });
  }
  validate(x: Tensor): number {
    this.model.eval();
    return noGrad(() => tidy(() => this.loss(x).item()));
  }
  setLr(lr: number): void {
    this.opt.lr = lr;
  }
  checkpoint() {
    const tensors = new Map<string, Tensor>();
    for (const [k, t] of this.model.stateDict()) tensors.set(`model.${k}`, t);
    const scalars = optimizerTensors('opt', this.opt, tensors);
    return { tensors, state: { opt: scalars } };
  }
  restore(tensors: Map<string, Tensor>, state: unknown): void {
    this.model.loadStateDict(tensorsUnder('model', tensors), 'checkpoint');
    this.opt.loadStateDict({ tensors: tensorsUnder('opt', tensors), scalars: (state as { opt: Record<string, number> }).opt });
  }
  snapshot() {
    return cloneState(this.model.stateDict());
  }
  loadSnapshot(s: Map<string, Tensor>): void {
    this.model.loadStateDict(s, 'snapshot');
  }
  dispose(): void {
    this.opt.dispose();
  }
}

export class AutoencoderTask extends SingleModelTask<ConvAutoencoder> {
  constructor(model: ConvAutoencoder, readonly lossName: LossName, opt: OptimizerOptions) {
    super(model, opt);
  }
  protected loss(x: Tensor): Tensor {
    return ops.mean(perImageLoss(this.lossName, this.model.forward(x), x));
  }
}

/**
 * The tiled autoencoder's training step (src/models/tiled.ts): the batch holds whole images; the
 * loss is taken on `tilesPerStep` random tiles of them, so each step sees many places of many images.
 */
export class TiledAutoencoderTask extends SingleModelTask<ConvAutoencoder> {
  private readonly rng: Rng;
  constructor(model: ConvAutoencoder, readonly lossName: LossName, opt: OptimizerOptions, readonly tile: number, readonly tilesPerStep: number, seed: number) {
    super(model, opt);
    this.rng = createRng(seed + 0x7117);
  }
  protected loss(x: Tensor): Tensor {
    const tiles = randomTiles(x, this.tile, this.tilesPerStep, this.rng);
    return ops.mean(perImageLoss(this.lossName, this.model.forward(tiles), tiles));
  }
}
