/** Training of the synthetic-anomaly segmenter (src/models/segmenter.ts): focal loss on the blobs blended into each batch. */
import type { Tensor } from '../engine/index.js';
import { SegmenterNet, synthesizeAnomalies, focalLoss } from '../models/segmenter.js';
import { randomTiles } from '../models/tiled.js';
import { createRng, type Rng } from '../data/random.js';
import { SingleModelTask, type OptimizerOptions } from './autoencoder-task.js';

export class SegmenterTask extends SingleModelTask<SegmenterNet> {
  private readonly rng: Rng;
  /**
   * `crop`: images larger than this learn from square crops of this side, `perStep` of them a
   * step, so that a step costs the same at 256 px as at 64 (the net is convolutional and scores
   * whole images).
   */
  constructor(net: SegmenterNet, opt: OptimizerOptions, readonly crop: number, readonly perStep: number, seed: number) {
    super(net, opt);
    this.rng = createRng(seed + 0x5e6);
  }
  protected loss(x: Tensor): Tensor {
    const [, , h, w] = x.shape as [number, number, number, number];
    // called inside the step's tidy scope, which frees the crops and the blends
    const input = Math.min(h, w) > this.crop ? randomTiles(x, this.crop, this.perStep, this.rng) : x;
    const { x: xa, mask } = synthesizeAnomalies(input, this.rng);
    return focalLoss(this.model.forward(xa), mask);
  }
}
