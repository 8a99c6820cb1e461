/**
 * vigil's tensor engine: libtorch through a small N-API addon.
 *
 * ```ts
 * import { ops, tidy, nn, Adam } from './engine/index.js';
 * const model = new nn.Sequential([new nn.Linear(4, 8), new nn.ReLU(), new nn.Linear(8, 1)]);
 * const opt = new Adam(model.parameters(), { lr: 1e-3 });
 * tidy(() => {
 *   const loss = ops.mseLoss(model.forward(x), y);
 *   opt.zeroGrad(); loss.backward(); opt.step();
 * });
 * ```
 */
import { initThreads } from './runtime.js';

export { Tensor, tidy, keep, dispose, noGrad, liveTensors, isGradEnabled } from './tensor.js';
export type { DType, Device } from './tensor.js';
export * as ops from './ops.js';
export * as nn from './nn/index.js';
export { Module, Sequential } from './nn/module.js';
export { Adam, AdamW, SGD } from './optim.js';
export type { Optimizer } from './optim.js';
export { makeSchedule } from './schedule.js';
export type { Schedule, ScheduleSpec } from './schedule.js';
export { saveTensors, loadTensors, encodeTensors, decodeTensors } from './serialize.js';
export { manualSeed, setNumThreads, getNumThreads, retainFreedMemory, cudaAvailable, cudaDeviceCount, synchronize, resolveDevice, setDefaultDevice, getDefaultDevice, engineInfo } from './runtime.js';

initThreads();
