/** Process-wide engine settings: seeding, threads, devices. */
import { availableParallelism } from 'node:os';
import { native, whenNativeLoaded } from './binding.js';

let threadsSet = false;

/** Seeds libtorch's generators (CPU and every GPU) for reproducible runs. */
export function manualSeed(seed: number): void {
  if (!Number.isInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative integer, got ${seed}`);
  native.manualSeed(seed);
}

/** Sets the number of CPU threads libtorch uses for intra-op parallelism. */
export function setNumThreads(n: number): void {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`threads must be a positive integer, got ${n}`);
  native.setNumThreads(n);
  threadsSet = true;
}
export function getNumThreads(): number {
  return native.getNumThreads();
}

/**
 * Applied once when the addon loads (not at import, so that a later setNumThreads, e.g. from
 * `--threads`, is never overridden): VIGIL_THREADS, else all cores (libtorch alone picks
 * physical cores only).
 */
export function initThreads(): void {
  whenNativeLoaded(() => {
    if (threadsSet) return;
    const env = process.env.VIGIL_THREADS;
    if (env && !/^\s*[1-9]\d*\s*$/.test(env)) throw new RangeError(`VIGIL_THREADS must be a positive integer, got '${env}'`);
    setNumThreads(env ? Number(env) : availableParallelism());
  });
}

/**
 * From now on, this process keeps the native memory it frees for reuse instead of returning it to
 * the system (native/src/addon.cc says how and at what price): a CPU training step no longer
 * page-faults its activations in afresh, which halves it at 150 px on 2 cores (bench/allocator).
 * The fit turns it on; a process that only scores keeps the system's way. False where it stays
 * off: `VIGIL_MALLOC=system`, a C library other than glibc, or an addon built before it existed.
 */
export function retainFreedMemory(): boolean {
  return native.retainFreedMemory?.() ?? false;
}

export function cudaAvailable(): boolean {
  return native.cudaDeviceCount() > 0;
}
export function cudaDeviceCount(): number {
  return native.cudaDeviceCount();
}
/** Waits for queued GPU work (for timing). A no-op without CUDA. */
export function synchronize(): void {
  native.cudaSynchronize();
}

/** 'auto' means CUDA when this libtorch has a GPU, else CPU. Asking for CUDA without one is an error. */
export function resolveDevice(device: string = 'auto'): string {
  if (device === 'auto') return cudaAvailable() ? 'cuda' : 'cpu';
  if (device.startsWith('cuda') && !cudaAvailable()) {
    throw new Error(`device ${device} requested but this libtorch has no CUDA GPU (built against ${native.version().torch}${native.version().cuda ? ' with CUDA' : ', CPU only'}). ` +
      'Rebuild vigil with LIBTORCH pointing at a CUDA libtorch, or use --device cpu.');
  }
  if (device !== 'cpu' && !/^cuda(:\d+)?$/.test(device)) throw new Error(`unknown device '${device}' (use cpu, cuda, cuda:N or auto)`);
  return device;
}

let defaultDevice = 'cpu';
/**
 * The device that creation calls naming none put new tensors on (like PyTorch's
 * `torch.set_default_device`); 'cpu' unless changed. The engine tests set it from VIGIL_TEST_DEVICE.
 */
export function setDefaultDevice(device: string): void {
  defaultDevice = resolveDevice(device);
}
export function getDefaultDevice(): string {
  return defaultDevice;
}

export function engineInfo(): { torch: string; cuda: boolean; threads: number; gpus: number } {
  const v = native.version();
  return { torch: v.torch, cuda: v.cuda, threads: getNumThreads(), gpus: native.cudaDeviceCount() };
}
