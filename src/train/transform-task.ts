/** Training of the transformation classifier (src/models/transform-net.ts): cross-entropy over every transformation of each batch. */
import { ops, type Tensor } from '../engine/index.js';
import type { TransformNet, TransformSet } from '../models/transform-net.js';
import { SingleModelTask, type OptimizerOptions } from './autoencoder-task.js';

export class TransformTask extends SingleModelTask<TransformNet> {
  constructor(net: TransformNet, readonly set: TransformSet, opt: OptimizerOptions) {
    super(net, opt);
  }
  protected loss(x: Tensor): Tensor {
    const { x: xs, labels } = this.set.expand(x);
    return ops.crossEntropy(this.model.forward(xs), labels);
  }
}
