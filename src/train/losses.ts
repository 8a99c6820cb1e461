/** Reconstruction losses for training: per-image values [N] so the robust trainers can rank and drop samples. */
import { ops, tidy, type Tensor } from '../engine/index.js';
import { ssimPerImage } from '../scoring/ssim.js';

export type LossName = 'mse' | 'ssim' | 'mse+ssim';
export const LOSSES: readonly LossName[] = ['mse', 'ssim', 'mse+ssim'];

/** Per-image loss [N]: MSE, 1 - SSIM, or their sum. */
export function perImageLoss(name: LossName, recon: Tensor, target: Tensor): Tensor {
  return tidy(() => {
    const mse = () => ops.mean(ops.flatten(ops.mseLoss(recon, target, 'none'), 1), 1);
    const dssim = () => ops.rsub(ssimPerImage(recon, target), 1);
    switch (name) {
      case 'mse': return mse();
      case 'ssim': return dssim();
      case 'mse+ssim': return ops.add(mse(), dssim());
      default: throw new Error(`unknown loss '${name as string}' (use ${LOSSES.join(', ')})`);
    }
  });
}
