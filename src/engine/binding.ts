/**
 * Loads the native addon (native/src/addon.cc) and types its surface. Nothing else in vigil
 * touches the addon directly.
 */
import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** An opaque native tensor handle. */
export type Handle = { readonly __handle: unique symbol };

export interface AdamOptions { lr: number; beta1: number; beta2: number; eps: number; weightDecay: number; decoupled: boolean; step: number }
export interface SgdOptions { lr: number; momentum: number; weightDecay: number; nesterov: boolean; dampening: number; first: boolean }

export interface NativeBinding {
  resolveOp(name: string, overload: string): number;
  call(op: number, args: unknown[]): unknown;
  fromArray(data: ArrayBufferView, shape: number[], dtype?: string, device?: string): Handle;
  toArray(t: Handle): Float32Array | Float64Array | Int32Array | Uint8Array | Int8Array;
  shape(t: Handle): number[];
  info(t: Handle): { dtype: string; device: string; requiresGrad: boolean };
  dispose(t: Handle): void;
  liveCount(): number;
  setRequiresGrad(t: Handle, flag: boolean): void;
  grad(t: Handle): Handle | null;
  zeroGrad(ts: Handle[]): void;
  backward(t: Handle, grad?: Handle): void;
  setGradEnabled(flag: boolean): boolean;
  isGradEnabled(): boolean;
  adamStep(params: Handle[], expAvg: Handle[], expAvgSq: Handle[], o: AdamOptions): void;
  sgdStep(params: Handle[], momentum: Handle[], o: SgdOptions): void;
  manualSeed(seed: number): void;
  setNumThreads(n: number): void;
  getNumThreads(): number;
  cudaDeviceCount(): number;
  cudaSynchronize(): void;
  version(): { torch: string; cuda: boolean; parallel: string };
}

function load(): NativeBinding {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  const candidates = [
    process.env.VIGIL_NATIVE,
    join(root, 'native', 'build', 'Release', 'vigil_native.node'),
    join(root, '..', 'native', 'build', 'Release', 'vigil_native.node'),
  ].filter((p): p is string => !!p);
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error(
      `vigil: the native engine is not built (looked for ${candidates.join(', ')}).\n` +
        'Build it with `npm rebuild vigil` (or `node native/build.mjs` in a checkout); it needs libtorch:\n' +
        '  Debian/Ubuntu: apt-get install libtorch-dev libopenblas0-pthread\n' +
        '  or LIBTORCH=/path/to/libtorch (e.g. the torch folder of a PyTorch install).',
    );
  }
  try {
    return createRequire(import.meta.url)(path) as NativeBinding;
  } catch (e) {
    throw new Error(
      `vigil: could not load the native engine ${path}: ${(e as Error).message}\n` +
        'If libtorch moved or was upgraded, rebuild with `npm rebuild vigil` (or `node native/build.mjs`).',
    );
  }
}

export const native: NativeBinding = load();
