/** Training step of the transformation classifier (src/models/transform-net.ts): cross-entropy over every transformation of each batch. */
import { ops, tidy, noGrad, type Optimizer, type Tensor } from '../engine/index.js';
import type { TransformNet, TransformSet } from '../models/transform-net.js';
import { makeOptimizer, cloneState, optimizerTensors, optimizerSubset, modelSubset, type OptimizerOptions } from './autoencoder-task.js';
import type { TrainingTask } from './trainer.js';

export class TransformTask implements TrainingTask {
  readonly opt: Optimizer;
  constructor(readonly net: TransformNet, readonly set: TransformSet, opt: OptimizerOptions) {
    this.opt = makeOptimizer(net.parameters(), opt);
  }
  setLr(lr: number): void {
    this.opt.lr = lr;
  }
  step(b: { x: Tensor }): number {
    this.net.train();
    return tidy(() => {
      this.opt.zeroGrad();
      const { x, labels } = this.set.expand(b.x);
      const loss = ops.crossEntropy(this.net.forward(x), labels);
      loss.backward();
      this.opt.step();
      return loss.item();
    });
  }
  validate(x: Tensor): number {
    this.net.eval();
    return noGrad(() => tidy(() => {
      const e = this.set.expand(x);
      return ops.crossEntropy(this.net.forward(e.x), e.labels).item();
    }));
  }
  checkpoint() {
    const tensors = new Map<string, Tensor>();
    for (const [k, t] of this.net.stateDict()) tensors.set(`model.${k}`, t);
    const scalars = optimizerTensors('opt', this.opt, tensors);
    return { tensors, state: { opt: scalars } };
  }
  restore(tensors: Map<string, Tensor>, state: unknown): void {
    this.net.loadStateDict(modelSubset(tensors), 'checkpoint');
    this.opt.loadStateDict({ tensors: optimizerSubset('opt', tensors), scalars: (state as { opt: Record<string, number> }).opt });
  }
  snapshot() {
    return cloneState(this.net.stateDict());
  }
  loadSnapshot(s: Map<string, Tensor>): void {
    this.net.loadStateDict(s, 'snapshot');
  }
  dispose(): void {
    this.opt.dispose();
  }
}
