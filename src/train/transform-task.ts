/** Training step of the transformation classifier (src/models/transform-net.ts): cross-entropy over every transformation of each batch. */
import { ops, tidy, noGrad, type Tensor } from '../engine/index.js';
import type { TransformNet, TransformSet } from '../models/transform-net.js';
import { SingleModelTask, type OptimizerOptions } from './autoencoder-task.js';

export class TransformTask extends SingleModelTask<TransformNet> {
  constructor(net: TransformNet, readonly set: TransformSet, opt: OptimizerOptions) {
    super(net, opt);
  }
  step(b: { x: Tensor }): number {
    this.model.train();
    return tidy(() => {
      this.opt.zeroGrad();
      const { x, labels } = this.set.expand(b.x);
      const loss = ops.crossEntropy(this.model.forward(x), labels);
      loss.backward();
      this.opt.step();
      return loss.item();
    });
  }
  validate(x: Tensor): number {
    this.model.eval();
    return noGrad(() => tidy(() => {
      const e = this.set.expand(x);
      return ops.crossEntropy(this.model.forward(e.x), e.labels).item();
    }));
  }
}
