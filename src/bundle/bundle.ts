/**
 * Model bundles: one folder holding `manifest.json` (format version, architecture,
 * preprocessing, thresholds, score statistics, training summary) and `weights.safetensors`
 * (every tensor: model parameters and buffers, density-model points). Written atomically: a
 * reader sees the old bundle or the new one, never a mix.
 */
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeTensors, decodeTensors, type Tensor } from '../engine/index.js';
import { writeDirAtomic } from '../util/fs.js';

export const BUNDLE_FORMAT = 'vigil-model';
export const BUNDLE_VERSION = 2; // the manifest version: src/bundle/manifest.ts migrates older ones
export const MANIFEST = 'manifest.json';
export const WEIGHTS = 'weights.safetensors';

export interface BundleManifest {
  format: typeof BUNDLE_FORMAT;
  version: number;
  createdAt: string;
  vigilVersion: string;
  [key: string]: unknown;
}

export function saveBundle(dir: string, manifest: { vigilVersion: string } & Record<string, unknown>, tensors: Map<string, Tensor>): void {
  const full: BundleManifest = { format: BUNDLE_FORMAT, version: BUNDLE_VERSION, createdAt: new Date().toISOString(), ...manifest };
  const weights = Buffer.concat(encodeTensors(tensors, { format: BUNDLE_FORMAT }));
  writeDirAtomic(dir, (tmp) => {
    writeFileSync(join(tmp, WEIGHTS), weights);
    writeFileSync(join(tmp, MANIFEST), JSON.stringify(full, null, 2) + '\n');
  });
}

export function loadBundle(dir: string, device = 'cpu'): { manifest: BundleManifest; tensors: Map<string, Tensor> } {
  if (!existsSync(dir)) throw new Error(`model folder ${dir} does not exist`);
  if (!statSync(dir).isDirectory()) throw new Error(`${dir} is not a model folder (it is a file); pass the folder that \`vigil train --out\` wrote`);
  const mPath = join(dir, MANIFEST);
  if (!existsSync(mPath)) throw new Error(`${dir} is not a vigil model: ${MANIFEST} is missing`);
  let manifest: BundleManifest;
  try {
    manifest = JSON.parse(readFileSync(mPath, 'utf8'));
  } catch (e) {
    throw new Error(`${mPath}: damaged model manifest (${(e as Error).message})`);
  }
  if (manifest?.format !== BUNDLE_FORMAT) throw new Error(`${mPath}: not a vigil model manifest (format is ${JSON.stringify(manifest?.format)})`);
  if (manifest.version > BUNDLE_VERSION) {
    throw new Error(`${mPath}: model format version ${manifest.version} is newer than this vigil understands (${BUNDLE_VERSION}); upgrade vigil`);
  }
  const wPath = join(dir, WEIGHTS);
  if (!existsSync(wPath)) throw new Error(`${dir}: damaged model: ${WEIGHTS} is missing`);
  const { tensors } = decodeTensors(readFileSync(wPath), wPath, device);
  return { manifest, tensors };
}
