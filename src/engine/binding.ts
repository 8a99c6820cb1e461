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
  /** Absent from addons built before session 13. */
  retainFreedMemory?(): boolean;
  cudaDeviceCount(): number;
  cudaSynchronize(): void;
  version(): { torch: string; cuda: boolean; parallel: string };
}

/** Where the addon is looked for: VIGIL_NATIVE, then the build folder of the package (or checkout). */
export function nativeCandidates(): string[] {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
  return [
    process.env.VIGIL_NATIVE,
    join(root, 'native', 'build', 'Release', 'vigil_native.node'),
    join(root, '..', 'native', 'build', 'Release', 'vigil_native.node'),
  ].filter((p): p is string => !!p);
}

const FIXES =
  'Fix one of these, then run `npm rebuild vigil-anomaly` (or `node native/build.mjs` in a checkout):\n' +
  '  - Debian/Ubuntu: apt-get install libtorch-dev libopenblas0-pthread build-essential python3\n' +
  '  - or set LIBTORCH to a libtorch folder (with include/ and lib/), e.g. the torch folder of a PyTorch install\n' +
  '  - or point VIGIL_NATIVE at a built vigil_native.node';

function load(): NativeBinding {
  const candidates = nativeCandidates();
  const path = candidates.find((p) => existsSync(p));
  if (!path) {
    throw new Error(`vigil: the native engine is not built (looked for ${candidates.join(', ')}).\n${FIXES}`);
  }
  // libtorch's OpenMP threads spin between parallel regions by default, on the very cores that
  // OpenBLAS's own threads then wait for (perf: a third of the time in spinning and sched_yield);
  // on 2 CPU cores passive waiting makes a training epoch 1.75x as fast (docs/BENCHMARKS.md,
  // session 10). libgomp reads this when the addon loads it; a value the user set wins.
  process.env.OMP_WAIT_POLICY ??= 'PASSIVE';
  try {
    return createRequire(import.meta.url)(path) as NativeBinding;
  } catch (e) {
    throw new Error(
      `vigil: could not load the native engine ${path}: ${(e as Error).message}\n` +
        `If libtorch moved or was upgraded, rebuild. ${FIXES}`,
    );
  }
}

let loaded: NativeBinding | undefined;
const onLoad: (() => void)[] = [];

/**
 * Runs `fn` once the addon is loaded (now, if it is). Process-wide settings such as the thread
 * count wait for the load this way, so importing the engine costs no libtorch start-up.
 */
export function whenNativeLoaded(fn: () => void): void {
  if (loaded) fn();
  else onLoad.push(fn);
}

/** Loads the addon now; throws the error with the fixes when it cannot. */
export function loadNative(): NativeBinding {
  if (!loaded) {
    loaded = load();
    for (const fn of onLoad.splice(0)) fn();
  }
  return loaded;
}

/** Whether the addon loads, without throwing: for `vigil info` and other diagnostics. */
export function nativeStatus(): { ok: true } | { ok: false; error: string } {
  try {
    loadNative();
    return { ok: true };
  } catch (e) {
    return { ok: false, error: (e as Error).message };
  }
}

/**
 * The addon, loaded on first use: importing vigil (its metrics, data readers, `--help`) neither
 * needs the addon built nor pays for starting libtorch.
 */
export const native: NativeBinding = new Proxy({} as NativeBinding, {
  get: (_, key) => (loaded ?? loadNative())[key as keyof NativeBinding],
});
