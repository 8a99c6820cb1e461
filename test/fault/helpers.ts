/** Shared by the fault tests: the CLI as a child process, tiny training settings, small image folders. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeDigits } from '../fixtures.js';

export { tempDir, writeDigits } from '../fixtures.js';

const here = dirname(fileURLToPath(import.meta.url));
export const bin = join(here, '..', '..', 'src', 'cli', 'bin.js');
export const distSrc = join(here, '..', '..', 'src');

/** Fast settings: 28 px digits, a small network, two epochs on the CPU. */
export const TINY_ARGS = ['--size', '28', '--epochs', '2', '--lr', '5e-3', '--batch-size', '16', '--filters', '8,16', '--latent', '8', '--device', 'cpu', '--quiet'];

const env = (extra: Record<string, string> = {}) => ({ ...process.env, VIGIL_THREADS: '1', ...extra });

export function vigil(args: string[], extraEnv: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', env: env(extraEnv) });
}

/** Starts the CLI without waiting; resolves with its exit code and output when it ends. */
export function vigilAsync(args: string[], extraEnv: Record<string, string> = {}): { pid: number; done: Promise<{ code: number | null; signal: string | null; stderr: string }> } {
  const child = spawn(process.execPath, [bin, ...args], { env: env(extraEnv), stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  const done = new Promise<{ code: number | null; signal: string | null; stderr: string }>((res) => child.on('close', (code, signal) => res({ code, signal, stderr })));
  return { pid: child.pid!, done };
}

/** Runs an ES module script in a child process (the library, no CLI). */
export function nodeScript(script: string, extraEnv: Record<string, string> = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8', env: env(extraEnv) });
}

/** A folder of `count` MNIST digit PNGs (28x28). */
export async function digitFolder(dir: string, count: number, digit = 1): Promise<string> {
  await writeDigits(dir, digit, count);
  return dir;
}

export function writeBytes(path: string, data: Uint8Array | string): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return path;
}
